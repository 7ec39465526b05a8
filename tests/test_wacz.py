"""The web archive (issue 17): every response a harvest reads kept as WARC 1.1 in a WACZ,
each record naming its capture, and the same run replayed from the WACZ with no network.

Crawls run real Scrapy in this process against the replica over loopback; every WACZ a test
makes is checked by py-wacz's validator and read back with warcio, clients that are not ours.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from scrapy.utils.defer import deferred_f_from_coro_f
from warcio.archiveiterator import ArchiveIterator

from replica.process import running_replica
from tests.conftest import read_jsonl
from tests.crawling import crawl
from tests.test_items import validator

SEED_QUERY = "Korean Workers' Party"


def py_wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    """py-wacz's own validator (``wacz validate -f FILE``), in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "wacz", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_valid(path: Path) -> None:
    result = py_wacz_validate(path)
    assert result.returncode == 0 and "is valid" in result.stdout, result.stdout + result.stderr


def warc_records(path: Path) -> list[Any]:
    """Every record of the WACZ's WARC, read by warcio: (type, headers, http status, payload)."""
    with zipfile.ZipFile(path) as wacz:
        data = wacz.read("archive/data.warc.gz")
    out = []
    for record in ArchiveIterator(io.BytesIO(data)):
        status = record.http_headers.get_statuscode() if record.http_headers else None
        payload = record.content_stream().read()
        out.append((record.rec_type, record.rec_headers, status, payload))
    return out


def index_of(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    with zipfile.ZipFile(path) as wacz:
        lines = wacz.read("indexes/index.cdxj").decode("utf-8").splitlines()
    return [(key, ts, json.loads(rest)) for key, ts, rest in (line.split(" ", 2) for line in lines)]


def pages_of(path: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(path) as wacz:
        return [json.loads(line) for line in wacz.read("pages/pages.jsonl").decode("utf-8").splitlines()]


def responses_by_id(records: list[Any]) -> dict[str, Any]:
    return {
        h.get_header("WARC-Record-ID"): (h, status) for kind, h, status, _ in records if kind == "response"
    }


def without_run_time(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["url"]: {k: v for k, v in r.items() if k != "harvested_at"} for r in records}


# Pages of 10 over 40 documents: 4 results pages; aliases: 301 redirects and /node/ pages;
# the first results page answers 503 once (an error page, then its retry).
FAULTS = "aliases,503@/search?page=1#1"
FAST = {"HARVESTER_BACKOFF_BASE": 0}


@deferred_f_from_coro_f
async def test_a_details_run_keeps_every_response_and_replays_offline(tmp_path: Path) -> None:
    out = tmp_path / "out" / "korea.jsonl"
    with running_replica(documents=40, faults=FAULTS) as rep:
        online = await crawl(rep.base_url, "details=true", out=out, settings=FAST)
    assert online.verdict == "ok", online.reasons
    wacz = out.with_name("korea.wacz")  # auto: <dataset name>.wacz beside the first output
    assert sorted(p.name for p in out.parent.iterdir() if not p.name.endswith((".html", ".json"))) == [
        "korea.jsonl",
        "korea.wacz",
    ]  # and no capture file left behind
    assert_valid(wacz)

    # Every response the run read, as warcio reads it: robots.txt, the 503 and its retry,
    # the redirects, every page; each with the request that asked for it.
    records = warc_records(wacz)
    assert records[0][0] == "warcinfo"
    assert all(h.protocol == "WARC/1.1" for _, h, _, _ in records)
    responses = [(h, status) for kind, h, status, _ in records if kind == "response"]
    requests = {h.get_header("WARC-Concurrent-To"): h for kind, h, _, _ in records if kind == "request"}
    assert len(responses) == online.stat("downloader/response_count")
    assert all(h.get_header("WARC-Record-ID") in requests for h, _ in responses)
    statuses = [status for _, status in responses]
    for code in ("200", "301", "503"):
        assert statuses.count(code) == online.stat(f"downloader/response_status_count/{code}") > 0, code
    urls = [h.get_header("WARC-Target-URI") for h, _ in responses]
    assert f"{rep.base_url}/robots.txt" in urls

    # The index names every response record where warcio finds it (offset and length).
    index = index_of(wacz)
    assert [line[0] for line in index] == sorted(line[0] for line in index)
    with zipfile.ZipFile(wacz) as zf:
        data = zf.read("archive/data.warc.gz")
    by_id = responses_by_id(records)
    assert len(index) == len(by_id)
    for _, _, fields in index:
        start, length = int(fields["offset"]), int(fields["length"])
        record = next(iter(ArchiveIterator(io.BytesIO(data[start : start + length]))))
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == fields["url"]
        assert record.http_headers.get_statuscode() == fields["status"]

    # Provenance: each record names the document page's response it was read from.
    dataset = read_jsonl(out)
    assert len(dataset) == 40
    for record in dataset:
        validator().validate(record)
        headers, status = by_id[record["capture_id"]]
        assert status == "200"
        # The canonical page, or a /node/ shortlink's page (served in place).
        target = headers.get_header("WARC-Target-URI")
        assert target == record["url"] or target.startswith(f"{rep.base_url}/node/")
        assert headers.get_header("WARC-Date") == record["captured_at"]
    assert sum(by_id[r["capture_id"]][0].get_header("WARC-Target-URI") == r["url"] for r in dataset) > 20
    # The page list: each document page, by the record's title.
    pages = pages_of(wacz)
    assert pages[0]["format"] == "json-pages-1.0"
    titled = {(p["url"], p["ts"]): p.get("title") for p in pages[1:]}
    expected = {
        (by_id[r["capture_id"]][0].get_header("WARC-Target-URI"), r["captured_at"]): r["title"]
        for r in dataset
    }
    assert titled == expected

    # Replay, the replica stopped: the same dataset, field for field, with no network at all.
    replayed_out = tmp_path / "replayed.jsonl"
    replay = await crawl(rep.base_url, "details=true", f"replay={wacz}", out=replayed_out, settings=FAST)
    assert replay.verdict == "ok", replay.reasons
    assert without_run_time(read_jsonl(replayed_out)) == without_run_time(dataset)
    assert replay.stat("harvester/replay/answered") == len(responses)
    assert replay.stat("downloader/exception_count") == 0
    assert not replayed_out.with_name("replayed.wacz").exists()  # a replay reads an archive, keeps none
