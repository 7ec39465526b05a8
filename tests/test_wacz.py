"""The web archive (issue 17): every response a harvest reads kept as WARC 1.1 in a WACZ,
each record naming its capture, and the same run replayed from the WACZ with no network.

Crawls run real Scrapy in this process against the replica over loopback; every WACZ a test
makes is checked by py-wacz's validator and read back with warcio, clients that are not ours.
"""

from __future__ import annotations

import base64
import errno
import gzip
import hashlib
import html
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import brotli
import pytest
from scrapy.http import Headers
from scrapy.utils.defer import deferred_f_from_coro_f
from warcio.archiveiterator import ArchiveIterator

from harvester.exceptions import ArgumentError
from harvester.pages.worker import PageWorker
from harvester.webarchive.middleware import ReplayMiddleware
from harvester.webarchive.reader import WaczArchive
from harvester.webarchive.warc import HELD_RECORDS, WarcStorage
from replica.process import running_replica
from tests import crawling
from tests.conftest import read_jsonl, run_crawl
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
    """Every record of the WACZ's WARCs (in order), read by warcio: (type, headers, http
    status, payload)."""
    with zipfile.ZipFile(path) as wacz:
        warcs = [wacz.read(name) for name in wacz.namelist() if name.startswith("archive/")]
    out = []
    for data in warcs:
        for record in ArchiveIterator(io.BytesIO(data)):
            status = record.http_headers.get_statuscode() if record.http_headers else None
            payload = record.content_stream().read()
            out.append((record.rec_type, record.rec_headers, status, payload))
    return out


def index_of(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    with zipfile.ZipFile(path) as wacz:
        lines = wacz.read("indexes/index.cdx").decode("utf-8").splitlines()
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


@pytest.fixture(autouse=True)
def capture_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The crawls of this module write their web archive, as a run does by default."""
    monkeypatch.setattr(crawling, "WACZ_DEFAULT", "auto")


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
    # With two cores or more the document pages were read by the page worker, every one.
    assert replay.stat("harvester/pages/document") == 40
    assert replay.stat("harvester/replay/worker_pages", None) == (40 if MANY_CORES else None)


#: The page worker runs only on a machine of more than one core (harvester.spiders.archive).
MANY_CORES = (
    len(os.sched_getaffinity(0)) > 1 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) > 1
)

#: Document pages that make the page classes retry, warn, drop and refuse: their first
#: attempts truncated, or not UTF-8; links no record may hold; offsite canonical links;
#: a text pane nested past the parser's depth limit.
PAGE_FAULTS = (
    "truncate@0.15/document/#1,badutf8@0.1/document/#1,links@0.2/document/,"
    "canonical:to=offsite@0.1/document/,deepnest:depth=3000@0.1/document/"
)
#: What the page classes count: a replay counts the same, whichever process read the pages.
PAGE_STATS = (
    "harvester/pages/document",
    "harvester/pages/incomplete_retried",
    "retry/reason_count/invalid_utf8",  # asked again (accepted with U+FFFD had it stayed so)
    "harvester/links/dropped",
    "harvester/identity/canonical_rejected",
    "harvester/pages/failed",
    "harvester/structure_errors",
    "item_scraped_count",
)


@deferred_f_from_coro_f
async def test_a_replay_reads_pages_in_its_worker_as_in_its_own_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "online.jsonl"
    with running_replica(documents=60, faults=PAGE_FAULTS) as rep:
        online = await crawl(rep.base_url, "details=true", out=out, settings=FAST)
    assert online.verdict == "ok", online.reasons
    deep_online = [r.message for r in caplog.records if r.name == "harvester.pages.raw"]
    assert deep_online  # a deep page, read whole, said so
    counted = {key: online.stat(key) for key in PAGE_STATS}
    assert all(counted[key] for key in PAGE_STATS[:5]), counted  # every fault bit
    wacz = out.with_name("online.wacz")
    dataset = without_run_time(read_jsonl(out))
    for worker in (True, False):
        caplog.clear()
        replayed = tmp_path / f"replay-{worker}.jsonl"
        replay = await crawl(
            rep.base_url, "details=true", f"replay={wacz}", out=replayed,
            settings={**FAST, "HARVESTER_REPLAY_WORKER": worker},
        )  # fmt: skip
        assert replay.verdict == "ok", replay.reasons
        assert without_run_time(read_jsonl(replayed)) == dataset
        assert {key: replay.stat(key) for key in PAGE_STATS} == counted
        assert replay.stat("downloader/exception_count") == 0
        # Every attempt at a document page (the truncated first ones too) went to the worker.
        attempts = counted["harvester/pages/document"] + counted["harvester/pages/incomplete_retried"]
        attempts += counted["retry/reason_count/invalid_utf8"]
        assert replay.stat("harvester/replay/worker_pages", None) == (
            attempts if worker and MANY_CORES else None
        )
        # The deep pages' warnings, written in the worker, are in the run's log as in process.
        assert sorted(r.message for r in caplog.records if r.name == "harvester.pages.raw") == sorted(
            deep_online
        )


@deferred_f_from_coro_f
async def test_a_replay_whose_page_worker_dies_reads_the_pages_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if not MANY_CORES:
        pytest.skip("one core: a replay starts no page worker to lose")
    out = tmp_path / "online.jsonl"
    with running_replica(documents=40) as rep:
        online = await crawl(rep.base_url, "details=true", out=out, settings=FAST)
    assert online.verdict == "ok", online.reasons
    started = PageWorker.start
    # A worker that reads one page's length and exits: as if killed while the run goes on.
    monkeypatch.setattr(
        PageWorker,
        "start",
        classmethod(lambda cls: started([sys.executable, "-c", "import sys; sys.stdin.buffer.read(4)"])),
    )
    replayed = tmp_path / "replayed.jsonl"
    replay = await crawl(rep.base_url, "details=true", f"replay={out.with_name('online.wacz')}", out=replayed)
    assert replay.verdict == "ok", replay.reasons
    assert without_run_time(read_jsonl(replayed)) == without_run_time(read_jsonl(out))
    assert replay.stat("harvester/replay/worker_pages") == 0
    assert replay.stat("harvester/pages/document") == 40
    assert any(
        "document pages are read in the crawl's process from now on" in r.message for r in caplog.records
    )


@pytest.mark.parametrize("coding", ["gzip", "br"])
@deferred_f_from_coro_f
async def test_a_compressed_page_is_kept_as_the_site_sent_it_and_replayed(
    tmp_path: Path, coding: str
) -> None:
    # The replica compresses for a client that asks, as the site's front (Cloudflare) does,
    # in gzip or (--brotli) Brotli: the archive keeps what came over the wire, and the
    # digest is of those bytes.
    out = tmp_path / "gz.jsonl"
    with running_replica(documents=12, extra_args=["--brotli"] if coding == "br" else []) as rep:
        online = await crawl(rep.base_url, "details=true", out=out, settings=FAST)
    assert online.verdict == "ok", online.reasons
    wacz = out.with_name("gz.wacz")
    assert_valid(wacz)
    with zipfile.ZipFile(wacz) as zf:
        data = zf.read("archive/data.warc.gz")
    titles = {r["url"]: r["title"] for r in read_jsonl(out)}
    pages = 0
    for record in ArchiveIterator(io.BytesIO(data)):
        url = record.rec_headers.get_header("WARC-Target-URI")
        if record.rec_type != "response" or url not in titles:
            continue
        raw = record.raw_stream.read()  # the payload as it came, not inflated
        assert record.http_headers.get_header("Content-Encoding") == coding
        assert int(record.http_headers.get_header("Content-Length")) == len(raw)
        digest = "sha1:" + base64.b32encode(hashlib.sha1(raw).digest()).decode()
        assert record.rec_headers.get_header("WARC-Payload-Digest") == digest
        page = (gzip.decompress(raw) if coding == "gzip" else brotli.decompress(raw)).decode("utf-8")
        assert page.rstrip().endswith("</html>") and html.escape(titles[url], quote=False) in page
        pages += 1
    assert pages == len(titles) == 12
    # Replayed, Scrapy inflates the archived bytes as it did online: the same dataset.
    replayed = tmp_path / "replayed.jsonl"
    replay = await crawl(rep.base_url, "details=true", f"replay={wacz}", out=replayed, settings=FAST)
    assert replay.verdict == "ok", replay.reasons
    assert without_run_time(read_jsonl(replayed)) == without_run_time(read_jsonl(out))
    inflated = online.stat("httpcompression/response_count")
    assert inflated >= 13 and replay.stat("httpcompression/response_count") == inflated


@deferred_f_from_coro_f
async def test_where_the_archive_goes_and_what_a_listing_record_names(tmp_path: Path) -> None:
    # What a run killed while it packaged its archive leaves: the next run removes it.
    (tmp_path / "a").mkdir()
    killed = tmp_path / "a" / ".list.wacz.k2j_x9.partial"
    killed.write_bytes(b"PK\x03\x04 half an archive")
    with running_replica(documents=40) as rep:
        listing = await crawl(rep.base_url, out=tmp_path / "a" / "list.csv")
        stream = await crawl(rep.base_url, out=Path("/dev/null"))
        named = await crawl(
            rep.base_url,
            out=Path("/dev/null"),
            settings={"HARVESTER_WACZ": str(tmp_path / "b" / "%(name)s.wacz")},
        )
        none = await crawl(rep.base_url, out=tmp_path / "c" / "x.jsonl", settings={"HARVESTER_WACZ": ""})
    for result in (listing, stream, named, none):
        assert result.verdict == "ok", result.reasons
    # auto: beside the first output file, named after its dataset.
    wacz = tmp_path / "a" / "list.wacz"
    assert_valid(wacz)
    assert not killed.exists()
    # A listing record names the results page it was read from.
    by_id = responses_by_id(warc_records(wacz))
    assert len(listing.items) == 40
    for item in listing.items:
        headers, status = by_id[item["capture_id"]]
        target = headers.get_header("WARC-Target-URI")
        assert status == "200" and urlsplit(target).path == "/search"
        assert parse_qs(urlsplit(target).query).get("page") == parse_qs(
            urlsplit(item["listing_url"]).query
        ).get("page")
        assert headers.get_header("WARC-Date") == item["captured_at"]
    # The page list: the results pages the records came from.
    assert [p["title"] for p in pages_of(wacz)[1:]] == [f"Results page {n}" for n in range(1, 5)]
    # A run that writes no file keeps no archive (nor any capture file); records say so.
    assert stream.stat("harvester/wacz/responses") == 0
    assert all(i["capture_id"] is None and i["captured_at"] is None for i in stream.items)
    assert_valid(tmp_path / "b" / "archive.wacz")  # unless a path is given
    assert named.items[0]["capture_id"] in responses_by_id(warc_records(tmp_path / "b" / "archive.wacz"))
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "x.jsonl",
        "x.report.html",
        "x.summary.json",
    ]
    assert none.items[0]["capture_id"] is None


@deferred_f_from_coro_f
async def test_a_failed_run_never_publishes_its_archive(tmp_path: Path) -> None:
    out = tmp_path / "korea.jsonl"
    wacz = out.with_name("korea.wacz")
    with running_replica(documents=40) as rep:
        good = await crawl(rep.base_url, "details=true", out=out)
    assert good.verdict == "ok"
    before = wacz.read_bytes()
    # The fault: one document page answers 500 at every attempt, and the run fails.
    slug = good.items[5]["id"]
    with running_replica(documents=40, faults=f"500@/document/{slug}") as rep:
        failed = await crawl(rep.base_url, "details=true", out=out, settings={"RETRY_TIMES": 1, **FAST})
    assert failed.verdict == "failed"
    assert wacz.read_bytes() == before  # the published archive, byte for byte
    aside = out.with_name("korea.failed.wacz")
    assert_valid(aside)  # kept aside, with the error pages it met
    statuses = [
        status
        for kind, headers, status, _ in warc_records(aside)
        if kind == "response" and headers.get_header("WARC-Target-URI").endswith(f"/document/{slug}")
    ]
    assert statuses == ["500", "500"]


@deferred_f_from_coro_f
async def test_a_job_keeps_the_pages_of_every_run(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    settings = {"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_PAGE_SIZE": 100}
    with running_replica(documents=60) as rep:
        first = await crawl(rep.base_url, "job=nightly", "details=true", settings=settings)
        wacz = jobs / "nightly" / "archive.wacz"
        assert_valid(wacz)
        first_ids = set(responses_by_id(warc_records(wacz)))
        published = read_jsonl(jobs / "nightly" / "archive.jsonl")
        second = await crawl(rep.base_url, "job=nightly", "details=true", settings=settings)
    assert first.verdict == second.verdict == "ok"
    assert len(published) == 60 and {r["capture_id"] for r in published} <= first_ids
    # The next run's archive holds the first run's captures and what it fetched itself
    # (tests/test_jobarchive.py follows a job's archive night after night).
    assert_valid(wacz)
    again = responses_by_id(warc_records(wacz))
    assert len(again) == len(first_ids) + second.stat("downloader/response_count")
    assert first_ids <= again.keys()


def rewritten(source: Path, target: Path, *, drop: str = "", damage: str = "") -> Path:
    """A copy of a WACZ without the member ``drop``, or with one byte of ``damage`` flipped."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename == drop:
                continue
            data = old.read(info.filename)
            if info.filename == damage:
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
            new.writestr(info, data)
    return target


@deferred_f_from_coro_f
async def test_a_page_the_archive_lacks_is_a_failed_page(tmp_path: Path) -> None:
    with running_replica(documents=40) as rep:
        listing = await crawl(rep.base_url, f"query={SEED_QUERY}", out=tmp_path / "list.jsonl")
    assert listing.verdict == "ok"
    # A listing run's archive has no document pages: a details replay from it lacks 11.
    out = tmp_path / "details.jsonl"
    replay = await crawl(
        rep.base_url, f"query={SEED_QUERY}", "details=true", f"replay={tmp_path / 'list.wacz'}", out=out
    )
    assert replay.verdict == "failed"
    assert replay.stat("harvester/replay/missing") == replay.stat("harvester/pages/failed") == 11
    assert any("could not be fetched" in reason for reason in replay.reasons), replay.reasons
    assert not out.exists()  # nothing published


@deferred_f_from_coro_f
async def test_bad_archives_are_refused_before_any_request(tmp_path: Path) -> None:
    with running_replica(documents=40) as rep:
        await crawl(rep.base_url, f"query={SEED_QUERY}", out=tmp_path / "good.jsonl")
    good = tmp_path / "good.wacz"
    truncated = tmp_path / "truncated.wacz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    not_wacz = tmp_path / "good.jsonl"
    plain_zip = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("hello.txt", "not an archive")
    cases = {
        truncated: "is not a WACZ: not a ZIP file",
        not_wacz: "is not a WACZ: not a ZIP file",
        plain_zip: "is not a WACZ: a ZIP without datapackage.json",
        rewritten(good, tmp_path / "corrupt.wacz", damage="archive/data.warc.gz"): (
            "is corrupt: archive/data.warc.gz does not match its sha256 in datapackage.json"
        ),
        rewritten(good, tmp_path / "nopages.wacz", drop="pages/pages.jsonl"): (
            "lacks its page list pages/pages.jsonl"
        ),
        rewritten(
            good, tmp_path / "noindex.wacz", drop="indexes/index.cdx"
        ): "lacks its index indexes/index.cdx",
        tmp_path / "missing.wacz": "no such file",
    }
    # The damage, were the digests not checked: a corrupt archive opens like a good one.
    assert WaczArchive.open(tmp_path / "corrupt.wacz", verify=False).origins() == [rep.base_url]
    out = tmp_path / "replayed.jsonl"
    for path, problem in cases.items():
        with pytest.raises(ArgumentError) as refused:
            await crawl(rep.base_url, f"query={SEED_QUERY}", f"replay={path}", out=out)
        message = str(refused.value)
        assert message.startswith(f"argument replay='{path}'") and problem in message, message
        assert "\n" not in message
    # A WACZ of another site: replayed with another base URL, it names the one to give.
    with pytest.raises(
        ArgumentError, match=rf"is an archive of another site .* -s HARVESTER_BASE_URL={rep.base_url}$"
    ):
        await crawl("http://127.0.0.1:9", f"query={SEED_QUERY}", f"replay={good}", out=out)
    assert not out.exists()


def test_the_command_line_refuses_a_bad_archive_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.wacz"
    bad.write_text('{"not": "a wacz"}\n')
    out = tmp_path / "out.jsonl"
    result = run_crawl("http://127.0.0.1:9", out, f"replay={bad}")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].endswith(
        f"Run FAILED: argument replay='{bad}': {bad} is not a WACZ: not a ZIP file (File is not a zip file; "
        "truncated, or another kind of file); give the .wacz file a harvest wrote (HARVESTER_WACZ)"
    )
    assert "Traceback" not in result.stderr
    assert not out.exists() and not out.with_name("out.wacz").exists()


@deferred_f_from_coro_f
async def test_a_full_disk_during_capture_fails_the_run_and_keeps_no_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "korea.jsonl"
    wacz = out.with_name("korea.wacz")
    with running_replica(documents=40) as rep:
        good = await crawl(rep.base_url, "details=true", out=out)
        assert good.verdict == "ok", good.reasons
        before = wacz.read_bytes()
        # The disk fills up once the capture holds 200 KB.
        real_write = WarcStorage._write_bytes
        failed: list[int] = []

        def write(storage: WarcStorage, *parts: bytes) -> None:
            if storage.file.tell() > 200_000:
                failed.append(storage.file.tell())
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_write(storage, *parts)

        monkeypatch.setattr(WarcStorage, "_write_bytes", write)
        full = await crawl(rep.base_url, "details=true", out=out)
    assert failed, "the full disk was not staged"
    assert full.verdict == "failed"
    assert "an output could not be written in full (see the errors above)" in full.reasons
    assert full.stat("harvester/output/lost") == [f"{wacz} (No space left on device)"]
    # Nothing published, no half-written WACZ where a reader looks (nor kept aside), no capture left.
    assert wacz.read_bytes() == before
    assert not out.with_name("korea.failed.wacz").exists()
    assert not list(tmp_path.glob(".*.partial"))
    assert out.with_name("korea.failed.jsonl").exists()  # the records themselves are kept aside


@deferred_f_from_coro_f
async def test_a_replay_has_no_http_client_for_a_request_the_archive_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_replica(documents=40) as rep:
        online = await crawl(rep.base_url, "details=true", out=tmp_path / "online.jsonl", settings=FAST)
        assert online.verdict == "ok", online.reasons
        # The replica still listens: a request let past the archive would be answered by it.
        answer = ReplayMiddleware.process_request
        passed: list[str] = []

        def let_one_past(self: ReplayMiddleware, request: Any, spider: Any = None) -> Any:
            if "/document/" in request.url and not passed:
                passed.append(request.url)
                return None  # as if the archive were not asked: on to the downloader
            return answer(self, request, spider)

        monkeypatch.setattr(ReplayMiddleware, "process_request", let_one_past)
        out = tmp_path / "replayed.jsonl"
        replay = await crawl(
            rep.base_url, "details=true", f"replay={tmp_path / 'online.wacz'}", out=out, settings=FAST
        )
    assert len(passed) == 1
    assert replay.verdict == "failed"  # the page is lost, not fetched
    assert replay.stat("harvester/pages/failed") == 1
    assert replay.stat("downloader/exception_type_count/scrapy.exceptions.NotSupported") == 1
    assert replay.stat("downloader/response_count") == replay.stat("harvester/replay/answered")


def test_records_read_back_by_warcio_with_their_digests_checked(tmp_path: Path) -> None:
    """Our own serialiser (not warcio's builder) writes what warcio reads and verifies: each
    response and its request, the message as received less its transfer coding, a header
    that is not ASCII percent-encoded as warcio encodes it, a request's Host first."""
    storage = WarcStorage(tmp_path / "capture.warc.gz", "test")
    body = "<html><title>Caf\u00e9</title></html>".encode() * 200
    asked = [
        ("http://h:8000/document/1", Headers({"Accept": "*/*"}), 200,
         Headers({"Content-Type": "text/html; charset=utf-8", "Transfer-Encoding": "chunked",
                  "Set-Cookie": [b"a=1", b"b=2"]}), body),
        ("http://h:8000/search?page=2&x=%C3%A9", Headers({"Host": "h:8000", "X-Name": "caf\u00e9".encode()}), 599,
         Headers({"X-Name": "caf\u00e9".encode()}), b""),
    ]  # fmt: skip
    captures = [
        storage.store(
            url=url, method="GET", request_headers=req, status=status, response_headers=resp, body=data
        )
        for url, req, status, resp, data in asked
    ]
    storage.close()
    with (tmp_path / "capture.warc.gz").open("rb") as handle:
        records = [
            (r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
            for r in ArchiveIterator(handle, check_digests="raise")
        ]
    assert [kind for kind, *_ in records] == ["warcinfo", "response", "request", "response", "request"]
    assert len({h.get_header("WARC-Record-ID") for _, h, _, _ in records}) == 5
    for (url, _, status, _, data), capture, n in zip(asked, captures, (1, 3), strict=True):
        _, response, http, payload = records[n]
        assert payload == data and http.get_statuscode() == str(status) == str(capture.status)
        assert response.get_header("WARC-Record-ID") == capture.record_id
        assert response.get_header("WARC-Date") == capture.date
        assert response.get_header("WARC-Target-URI") == url
        assert response.get_header("WARC-Payload-Digest") == capture.digest
        _, request, request_http, _ = records[n + 1]
        assert request.get_header("WARC-Concurrent-To") == capture.record_id
        assert request.get_header("WARC-Date") == capture.date
        assert request_http.headers[0] == ("Host", "h:8000")
    assert records[1][2].get_header("Transfer-Encoding") is None
    assert records[1][2].headers[1:] == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert captures[0].mime == "text/html"
    # warcio's encoding of a header that is not ASCII (each byte taken as a character).
    assert records[3][2].get_header("X-Name") == "caf%C3%83%C2%A9"
    assert records[4][2].protocol == "GET" and records[4][2].statusline == "/search?page=2&x=%C3%A9 HTTP/1.1"


def test_records_held_for_later_keep_their_order_ids_and_dates(tmp_path: Path) -> None:
    """A single run's records are written a few dozen at a time (store_later), each with the
    id and date it was given when its response came, in the order they came."""

    def message(n: int) -> dict[str, Any]:
        return {
            "url": f"http://h/document/{n}", "method": "GET", "request_headers": Headers(), "status": 200,
            "response_headers": Headers({"Content-Type": "text/html"}), "body": b"<html>%d</html>" % n,
        }  # fmt: skip

    storage = WarcStorage(tmp_path / "capture.warc.gz", "test")
    given = [storage.store_later(**message(n)) for n in range(3)]
    assert len(storage.captures) == 0  # held, not written yet
    now = storage.store(**message(3))  # written after those held before it
    given += [(now.record_id, now.date), storage.store_later(**message(4))]
    storage.close()  # writes what is still held
    assert [(c.record_id, c.date) for c in storage.captures] == given
    with (tmp_path / "capture.warc.gz").open("rb") as handle:
        responses = [
            (r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Record-ID"),
             r.rec_headers.get_header("WARC-Date"))
            for r in ArchiveIterator(handle, check_digests="raise") if r.rec_type == "response"
        ]  # fmt: skip
    assert responses == [(f"http://h/document/{n}", *given[n]) for n in range(5)]

    storage = WarcStorage(tmp_path / "full.warc.gz", "test")
    for n in range(HELD_RECORDS):
        storage.store_later(**message(n))
    assert len(storage.captures) == HELD_RECORDS  # the batch full: written
    storage.close()
