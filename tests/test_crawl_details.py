"""Details crawls (``-a details=true``) of the replica, end to end over loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from parsel import Selector

from harvester.items import FIELD_ORDER
from replica.process import Replica, running_replica
from tests.conftest import read_jsonl, run_crawl
from tests.test_items import validator

SEED_QUERY = "Korean Workers' Party"
TRUTH_FIELDS = [f for f in FIELD_ORDER if f not in ("query", "harvested_at")]


def _diff(items: list[dict[str, Any]], truth: dict[str, dict[str, Any]], fields: list[str]) -> list[tuple[str, str]]:
    return [(i["url"], f) for i in items for f in fields if i.get(f) != truth[i["url"]][f]]


def test_seed_search_gives_eleven_full_records(replica: Replica, truth: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "seed.jsonl"
    result = run_crawl(replica.base_url, out, f"query={SEED_QUERY}", "details=true")
    assert result.returncode == 0, result.stderr[-3000:]
    items = read_jsonl(out)
    assert len(items) == len({i["url"] for i in items}) == 11
    # Every field, including the document page's, equals the replica's truth; positions
    # are the seed's ranks.
    fields = [f for f in TRUTH_FIELDS if f not in ("position", "listing_url")]
    assert _diff(items, truth, fields) == []
    assert sorted(i["position"] for i in items) == list(range(1, 12))
    for item in items:
        assert list(item) == list(FIELD_ORDER)
        validator().validate(item)
        assert item["record_id"] and item["uploaded_date"] and item["download_url"]


@pytest.mark.slow
def test_whole_archive_details_equal_the_truth(replica: Replica, truth: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    result = run_crawl(replica.base_url, out, "details=true")
    assert result.returncode == 0, result.stderr[-3000:]
    items = read_jsonl(out)
    assert len(items) == len({i["url"] for i in items}) == len(truth) == 16_153
    assert _diff(items, truth, TRUTH_FIELDS) == []
    # The coverage the run reports is the truth's coverage, field by field.
    stats_line = next(line for line in result.stderr.splitlines() if "Field coverage:" in line)
    reported = dict(part.rsplit(" ", 1) for part in stats_line.split("Field coverage: ", 1)[1].split(", "))
    for name in TRUTH_FIELDS:
        share = sum(1 for rec in truth.values() if rec[name] not in (None, "", [])) / len(truth)
        assert reported[name] == f"{100 * share:.1f}%", name
    assert float(reported["credits"].rstrip("%")) < 100  # sections really are missing at times


def test_other_addresses_of_a_document_are_one_record(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    with running_replica(documents=60, faults="aliases,repeat", dump_truth=truth_path) as rep:
        truth = {r["url"]: r for r in read_jsonl(truth_path)}
        # Protection off (listing only: no document page, no canonical link): legacy and
        # node addresses stand in for the identity, and the repeated rows are not caught.
        off = tmp_path / "off.jsonl"
        run_crawl(rep.base_url, off)
        listed = read_jsonl(off)
        assert sum(1 for i in listed if i["url"] not in truth) > 20
        # Details: every record under its canonical address, each once.
        on = tmp_path / "on.jsonl"
        result = run_crawl(rep.base_url, on, "details=true")
    assert result.returncode == 0, result.stderr[-3000:]
    items = read_jsonl(on)
    assert sorted(i["url"] for i in items) == sorted(truth)
    assert _diff(items, truth, [f for f in TRUTH_FIELDS if f not in ("position", "listing_url")]) == []
    assert "'harvester/duplicates/dropped': 5" in result.stderr
    assert "'harvester/identity/alias_links': " in result.stderr


def test_a_changed_layout_fails_the_run_naming_page_and_landmark(tmp_path: Path) -> None:
    with running_replica(documents=40, faults="layout") as rep:
        # The damage without protection: a naive reader finds no title on the redesigned
        # page and would export an empty record without a word.
        import urllib.request

        slug = read_jsonl_line(rep, tmp_path)
        with urllib.request.urlopen(f"{rep.base_url}/document/{slug}") as response:
            page = response.read().decode("utf-8")
        assert Selector(text=page).css("h1.title span::text").get() is None
        out = tmp_path / "x.jsonl"
        result = run_crawl(rep.base_url, out, f"query={SEED_QUERY}", "details=true")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "Structure error" in line]
    assert len(errors) == 11
    assert f"{rep.base_url}/document/" in errors[0]
    assert "layout changed: missing landmark h1.title" in errors[0]
    assert "Run FAILED: layout changed: 11 page(s) lacked their landmarks" in result.stderr
    assert read_jsonl(out) == [] if out.exists() else True


def read_jsonl_line(rep: Replica, tmp_path: Path) -> str:
    """The slug of one seed document, from a listing crawl (listing pages are unchanged)."""
    out = tmp_path / "listing.jsonl"
    result = run_crawl(rep.base_url, out, f"query={SEED_QUERY}")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8").splitlines()[0])["id"]
