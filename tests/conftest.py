"""Shared fixtures: where ../shared is, a running replica, a crawl runner."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy.utils.defer import deferred_from_coro

from replica.process import Replica, crawl_command, running_replica
from tests.crawling import Crawl, crawl
from tests.shared import require_shared

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures" / "real" / "document"
DATA = SHARED / "data"


def shared_data(name: str) -> Any:
    """A file of ``../shared/data``: skipped without it, failed under HARVESTER_REQUIRE_SHARED=1."""
    return json.loads(require_shared(DATA / name).read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def run_crawl(
    base_url: str, out: Path, *args: str, settings: dict[str, str] | None = None, timeout: float = 1200
) -> subprocess.CompletedProcess[str]:
    """Run the real ``scrapy crawl archive`` CLI against ``base_url``, exporting to ``out``."""
    cmd = crawl_command(base_url, "-s", "HARVESTER_PROGRESS_INTERVAL=0", "-O", str(out))
    for name, value in (settings or {}).items():
        cmd += ["-s", f"{name}={value}"]
    for arg in args:
        cmd += ["-a", arg]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    """The default replica (16,153 documents) with its truth, shared by the crawl tests."""
    truth = tmp_path_factory.mktemp("replica") / "truth.jsonl"
    # The truth's listing URLs as a harvest with the default HARVESTER_PAGE_SIZE names them.
    with running_replica(dump_truth=truth, truth_page_size=100) as rep:
        yield rep


@pytest.fixture(scope="session")
def truth(replica: Replica) -> dict[str, dict[str, Any]]:
    assert replica.truth_path is not None
    return {rec["url"]: rec for rec in read_jsonl(replica.truth_path)}


@dataclass
class DetailsExport:
    """One details crawl of a 300-document replica, exported to every published format."""

    result: Crawl
    jsonl: Path
    csv: Path
    parquet: Path


@pytest.fixture(scope="session")
def details_300(tmp_path_factory: pytest.TempPathFactory) -> DetailsExport:
    """Shared by the tests of the schema, the exporters and the analysis recipes: the
    crawl runs once whatever uses it (pytest-twisted's async fixtures are per test only:
    this one waits on the crawl with ``blockon``)."""
    out = tmp_path_factory.mktemp("details300")
    files = [out / "archive.jsonl", out / "archive.csv", out / "archive.parquet"]
    with running_replica(documents=300) as rep:
        coro = crawl(rep.base_url, "details=true", out=files, settings={"HARVESTER_PAGE_SIZE": 100})
        result = pytest_twisted.blockon(deferred_from_coro(coro))
    assert result.verdict == "ok", result.reasons
    return DetailsExport(result, *files)


#: Session fixtures that cost a crawl or a whole-archive replica: with ``-n 2 --dist loadgroup``
#: (scripts/test.sh) every test using one runs on the same worker, so it is built once.
SHARED_FIXTURES = ("replica", "details_300")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        for fixture in SHARED_FIXTURES:
            if fixture in names:
                item.add_marker(pytest.mark.xdist_group(fixture))
                break
