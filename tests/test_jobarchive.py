"""A scheduled job's growing web archive (issue 17): night after night on a churning replica,
one WARC a night copied as stored, revisit records for the 304s the job trusts, every record's
capture_id found in the archive, a failed night publishing nothing, replay of the job's archive.

Nights are crawled in the test process (tests/crawling.py) with the job's history moved a day
back between them (tests/nights.py); every archive is checked by py-wacz's validator and read
back with warcio.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import Headers
from scrapy.utils.defer import deferred_f_from_coro_f
from warcio.archiveiterator import ArchiveIterator

from harvester.webarchive.jobarchive import Source, grow, salvage
from harvester.webarchive.partials import abandoned_captures, open_capture
from harvester.webarchive.reader import WaczArchive
from harvester.webarchive.wacz import WaczWriter, write_wacz
from harvester.webarchive.warc import SERVER_NOT_MODIFIED, WarcStorage
from replica.process import running_replica
from tests.conftest import ROOT, read_jsonl, run_crawl
from tests.crawling import Crawl, crawl
from tests.nights import a_day_passes
from tests.test_jobs import committed, crawl_cmd, free_port, kill_when, summary
from tests.test_wacz import assert_valid, index_of, pages_of, rewritten, without_run_time

DOCUMENTS = 120


def members(path: Path) -> dict[str, bytes]:
    """The WARCs of a WACZ, by name, as stored."""
    with zipfile.ZipFile(path) as wacz:
        for info in wacz.infolist():
            if info.filename.startswith("archive/"):
                assert info.compress_type == zipfile.ZIP_STORED
        return {n: wacz.read(n) for n in wacz.namelist() if n.startswith("archive/")}


def records(path: Path) -> dict[str, Any]:
    """Every response and revisit record of a WACZ by record id: (type, WARC headers, HTTP
    status, payload as stored (a compressed page compressed, as a replay serves it), size of
    its gzip member)."""
    out = {}
    for data in members(path).values():
        iterator = ArchiveIterator(io.BytesIO(data))
        for record in iterator:
            if record.rec_type not in ("response", "revisit"):
                continue
            status = record.http_headers.get_statuscode() if record.http_headers else None
            payload = record.raw_stream.read()
            iterator.read_to_end(record)
            size = iterator.get_record_length()
            out[record.rec_headers.get_header("WARC-Record-ID")] = (
                record.rec_type, record.rec_headers, status, payload, size,
            )  # fmt: skip
    return out


async def night(base_url: str, jobs: Path, **settings: Any) -> Crawl:
    return await crawl(
        base_url, "job=nightly", "details=true",
        settings={"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_PAGE_SIZE": 20, "HARVESTER_WACZ": "auto",
                  "HARVESTER_REPORT": False, "LOG_LEVEL": "WARNING", "HARVESTER_BACKOFF_BASE": 0, **settings},
    )  # fmt: skip


def assert_every_capture_resolves(folder: Path) -> dict[str, Any]:
    """Each record of the job's dataset names a response or revisit record of its archive."""
    found = records(folder / "archive.wacz")
    dataset = read_jsonl(folder / "archive.jsonl")
    assert dataset
    for record in dataset:
        kind, headers, status, _, _ = found[record["capture_id"]]
        assert kind == "response" and status == "200", record["url"]
        assert headers.get_header("WARC-Date") == record["captured_at"]
    return found


def assert_revisits_confirm(found: dict[str, Any]) -> list[Any]:
    revisits = [r for r in found.values() if r[0] == "revisit"]
    for _, headers, status, payload, size in revisits:
        assert status is None and payload == b""  # an empty block: pywb resolves it to what it confirms
        assert headers.get_header("WARC-Profile") == SERVER_NOT_MODIFIED
        kind, original, _, _, _ = found[headers.get_header("WARC-Refers-To")]
        assert kind == "response"
        assert headers.get_header("WARC-Refers-To-Target-URI") == original.get_header("WARC-Target-URI")
        assert headers.get_header("WARC-Refers-To-Date") == original.get_header("WARC-Date")
        assert headers.get_header("WARC-Payload-Digest") == original.get_header("WARC-Payload-Digest")
        assert size <= 1024  # the goal: a quiet night's 304 costs at most 1 KB
    return revisits


@deferred_f_from_coro_f
async def test_a_job_archive_grows_night_by_night(tmp_path: Path) -> None:
    port, jobs = free_port(), tmp_path / "jobs"
    folder = jobs / "nightly"
    wacz = folder / "archive.wacz"
    faults = "aliases"  # rows linking /node/<nid> (pages captured at another address) and redirects

    # Night 0: the first archive.
    with running_replica(port=port, documents=DOCUMENTS, faults=faults) as rep:
        first = await night(rep.base_url, jobs)
    assert first.verdict == "ok", first.reasons
    assert_valid(wacz)
    assert len(members(wacz)) == 1
    assert_every_capture_resolves(folder)
    lines = [len(index_of(wacz))]

    # Nights 1 and 2: uploads, edits, removals; untrusted 304s on night 2 (a lying front).
    for number, extra in ((1, ""), (2, ",lie304@0.3/document/#1")):
        a_day_passes(jobs)
        before = members(wacz)
        with running_replica(port=port, documents=DOCUMENTS, faults=faults + extra, night=number) as rep:
            run = await night(rep.base_url, jobs)
        assert run.verdict == "ok", run.reasons
        assert_valid(wacz)
        after = members(wacz)
        # The last archive's WARCs copied byte for byte, and one more: tonight's.
        assert {n: after[n] for n in before} == before and len(after) == len(before) + 1
        found = assert_every_capture_resolves(folder)
        revisits = assert_revisits_confirm(found)
        assert len(revisits) >= run.stat("harvester/job/not_modified") > 0
        index = index_of(wacz)
        assert [" ".join(line[:2]) for line in index] == sorted(" ".join(line[:2]) for line in index)
        lines.append(len(index))
        assert lines[-1] == lines[-2] + run.stat("harvester/wacz/responses") + run.stat(
            "harvester/wacz/revisits"
        )
        assert all(line[2]["warc-record-id"] in found for line in index)
    # An untrusted 304 is the plain response it was, never a revisit: the page was asked again.
    assert run.stat("harvester/job/untrusted_304") > 0
    tonight = records(wacz).keys() - records_before(before)
    plain_304 = [r for i, r in records(wacz).items() if i in tonight and r[0] == "response" and r[2] == "304"]
    assert len(plain_304) == run.stat("harvester/job/untrusted_304")

    # Night 3 fails (document pages answer 500): nothing published, tonight's capture aside.
    a_day_passes(jobs)
    published = wacz.read_bytes()
    with running_replica(
        port=port, documents=DOCUMENTS, faults=faults + ",500@0.5/document/", night=3
    ) as rep:
        failed = await night(rep.base_url, jobs, RETRY_TIMES=0, HARVESTER_JOB_MAX_FAILING=1)
    assert failed.verdict == "failed"
    assert wacz.read_bytes() == published
    aside = folder / "archive.failed.wacz"
    assert_valid(aside)
    assert len(members(aside)) == 1  # that night's capture alone
    recorded = failed.stat("harvester/job/recorded")
    assert recorded > 0

    # Night 4 publishes the records the failed night recorded: its capture joins the archive.
    a_day_passes(jobs)
    with running_replica(port=port, documents=DOCUMENTS, faults=faults, night=4) as rep:
        fourth = await night(rep.base_url, jobs)
    assert fourth.verdict == "ok", fourth.reasons
    assert_valid(wacz)
    assert len(members(wacz)) == 5 and not aside.exists()
    found = assert_every_capture_resolves(folder)
    assert_revisits_confirm(found)
    assert summary(jobs)["web_archive"]["unresolved"] == 0

    # A quiet night (the archive as it stood): only revisits and the pages the job fetched.
    a_day_passes(jobs)
    size = wacz.stat().st_size
    before = members(wacz)
    with running_replica(port=port, documents=DOCUMENTS, faults=faults, night=4) as rep:
        quiet = await night(rep.base_url, jobs)
    assert quiet.verdict == "ok", quiet.reasons
    assert_valid(wacz)
    added = records(wacz)
    new = {i: r for i, r in added.items() if i not in records_before(before)}
    responses = [r for r in new.values() if r[0] == "response"]
    revisits = [r for r in new.values() if r[0] == "revisit"]
    assert len(revisits) == quiet.stat("harvester/job/not_modified") > 0
    fetched = quiet.stat("downloader/response_count") - quiet.stat("downloader/response_status_count/304", 0)
    assert len(responses) == fetched
    assert all(r[4] <= 1024 for r in revisits)
    web = summary(jobs)["web_archive"]
    assert web["added_bytes"] == wacz.stat().st_size - size > 0
    assert web["revisits"] == len(revisits)
    print(
        f"\nquiet night: {len(revisits)} revisits ({web['revisit_bytes']} bytes with their requests; "
        f"largest record {max(r[4] for r in revisits)} bytes), {len(responses)} responses, "
        f"archive +{web['added_bytes']} bytes"
    )
    assert_every_capture_resolves(folder)

    # Replay of the job's archive: each URL answers with its latest capture, a revisit with
    # the capture it confirms; each record's page is the one its capture_id names.
    archive = WaczArchive.open(wacz)
    try:
        for record in read_jsonl(folder / "archive.jsonl"):
            _, headers, _, payload, _ = added[record["capture_id"]]
            answer = archive.answer("GET", headers.get_header("WARC-Target-URI"))
            assert answer is not None and answer.record_id == record["capture_id"], record["url"]
            assert answer.body == payload
    finally:
        archive.close()
    pages = pages_of(wacz)
    assert len(pages) - 1 == len({p["id"] for p in pages[1:]}) >= len(read_jsonl(folder / "archive.jsonl"))


def records_before(previous: dict[str, bytes]) -> set[str]:
    ids = set()
    for data in previous.values():
        for record in ArchiveIterator(io.BytesIO(data)):
            ids.add(record.rec_headers.get_header("WARC-Record-ID"))
    return ids


@deferred_f_from_coro_f
async def test_a_replay_of_a_job_archive_resolves_revisits(tmp_path: Path) -> None:
    port, jobs = free_port(), tmp_path / "jobs"
    folder = jobs / "nightly"
    with running_replica(port=port, documents=60) as rep:
        assert (await night(rep.base_url, jobs)).verdict == "ok"
        a_day_passes(jobs)
        second = await night(rep.base_url, jobs, HARVESTER_JOB_FULL_EVERY_DAYS=1)  # refresh all: 304s
    assert second.verdict == "ok" and second.stat("harvester/job/not_modified") == 60
    dataset = read_jsonl(folder / "archive.jsonl")
    # Replayed with the job's walk (newest upload first) and the replica stopped: every
    # document page's latest capture is a revisit, answered with the page it confirms.
    out = tmp_path / "replayed.jsonl"
    start = f"{rep.base_url}/search?items_per_page=20&sort_bef_combine=created_DESC"
    replay = await crawl(
        rep.base_url, f"start_url={start}", "details=true", f"replay={folder / 'archive.wacz'}", out=out,
        settings={"HARVESTER_PAGE_SIZE": 20},
    )  # fmt: skip
    assert replay.verdict == "ok", replay.reasons
    assert replay.stat("harvester/replay/missing", 0) == 0
    assert without_run_time(read_jsonl(out)) == without_run_time(dataset)


@pytest.mark.parametrize("in_wacz", [True, False], ids=["wacz being written", "plain warc"])
def test_a_killed_capture_is_salvaged_whole_records_only(tmp_path: Path, in_wacz: bool) -> None:
    # A run's capture file is the WACZ being written, its WARC after the ZIP's first local
    # header (WaczWriter); one written before that was a plain WARC.
    path = tmp_path / "capture.warc.gz.partial"
    writer = WaczWriter(path.open("wb"), "data.warc.gz") if in_wacz else None
    storage = WarcStorage(path, "test", file=writer)
    for n in range(3):
        storage.store(
            url=f"http://h/document/{n}", method="GET", request_headers=Headers(), status=200,
            response_headers=Headers({"Content-Type": "text/html"}), body=b"<html>%d</html>" % n,
        )  # fmt: skip
    storage.file.flush()  # killed: never packaged
    whole = path.read_bytes()
    base = len(whole) - storage.file.tell()  # where the WARC starts in the file
    storage.close()
    assert (base > 0) is in_wacz
    path.write_bytes(whole[:-7])  # killed while writing the last request record
    data, captures = salvage(path)
    assert [c.url for c in captures] == [f"http://h/document/{n}" for n in range(3)]
    assert [c.record_id for c in captures] == [c.record_id for c in storage.captures]
    for capture in captures:
        record = next(
            iter(ArchiveIterator(io.BytesIO(data[capture.offset : capture.offset + capture.length])))
        )
        assert record.rec_headers.get_header("WARC-Record-ID") == capture.record_id
    # Cut inside a response record: that one is dropped, the records before it kept.
    path.write_bytes(whole[: base + storage.captures[2].offset + 20])
    assert [c.url for c in salvage(path)[1]] == ["http://h/document/0", "http://h/document/1"]
    path.write_bytes(b"")
    assert salvage(path) == (b"", [])


def test_a_source_lists_its_warcs(tmp_path: Path) -> None:
    bad = tmp_path / "x.wacz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(Exception, match="cannot read"):
        Source.open(bad)


def capture_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".harvester-capture.*.partial"))


def test_a_killed_run_leaves_its_capture_and_the_next_run_removes_it(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    out = folder / "korea.jsonl"
    with running_replica(documents=300) as rep:
        kill_when(
            crawl_cmd(rep.base_url, "-a", "details=true", "-O", str(out)),
            lambda: any(p.stat().st_size > 200_000 for p in capture_files(folder)),
        )
        # The fault: a killed run leaves its capture file (gigabytes, for a whole archive).
        left = capture_files(folder)
        assert len(left) == 1 and abandoned_captures(folder) == left
        # A run going on in the same folder (this process, holding its file's lock) keeps its file.
        live = open_capture(folder)
        try:
            assert abandoned_captures(folder) == left
            result = run_crawl(rep.base_url, out, "details=true")
            assert result.returncode == 0, result.stderr[-2000:]
            assert "the capture of a run that was killed" in result.stderr
            assert capture_files(folder) == [live.path]
        finally:
            live.release()
            live.path.unlink()
    assert not list(folder.glob(".*.partial"))
    assert_valid(folder / "korea.wacz")


def test_a_killed_job_run_is_salvaged_into_the_next(tmp_path: Path) -> None:
    port, jobs = free_port(), tmp_path / "jobs"
    folder = jobs / "nightly"
    job = crawl_cmd(
        f"http://127.0.0.1:{port}", "-a", "job=nightly", "-a", "details=true",
        "-s", f"HARVESTER_JOBS_DIR={jobs}", "-s", "HARVESTER_PAGE_SIZE=100",
    )  # fmt: skip
    with running_replica(port=port, documents=600):
        kill_when(job, lambda: committed(jobs) >= 150)
        # The fault: the records the killed run committed name captures in its file alone.
        left = capture_files(folder)
        assert len(left) == 1
        with sqlite3.connect(f"file:{folder / 'state.sqlite'}?mode=ro", uri=True) as db:
            named = {json.loads(r)["capture_id"] for (r,) in db.execute("SELECT record FROM documents")}
        assert len(named) >= 150
        assert named <= {c.record_id for c in salvage(left[0])[1]}
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        resumed = subprocess.run(job, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    done = summary(jobs)
    assert done["resumed"] is True and done["documents"]["already_done"] > 0
    assert done["web_archive"]["salvaged"] >= len(named)
    assert done["web_archive"]["unresolved"] == 0
    assert_valid(folder / "archive.wacz")
    assert_every_capture_resolves(folder)
    assert not list(folder.glob(".*.partial"))


@deferred_f_from_coro_f
async def test_a_damaged_job_archive_is_never_grown_and_a_lost_one_is_healed(tmp_path: Path) -> None:
    port, jobs = free_port(), tmp_path / "jobs"
    folder = jobs / "nightly"
    wacz = folder / "archive.wacz"
    with running_replica(port=port, documents=60) as rep:
        assert (await night(rep.base_url, jobs)).verdict == "ok"
        # A bit flipped in the stored WARC (the ZIP's own CRC rewritten to match).
        name = next(iter(members(wacz)))
        damaged = rewritten(wacz, tmp_path / "damaged.wacz", damage=name)
        os.replace(damaged, wacz)
        before = wacz.read_bytes()
        a_day_passes(jobs)
        refused = await night(rep.base_url, jobs)
        assert refused.verdict == "failed"
        assert any("could not grow the job's web archive" in r and "sha256" in r for r in refused.reasons)
        assert wacz.read_bytes() == before  # never extended, never replaced
        # Moved away, the archive starts again: the records whose capture is gone are named
        # and counted, and their next refresh reads the whole page (a 304 would confirm a page
        # the archive cannot show).
        wacz.rename(tmp_path / "damaged-moved.wacz")
        a_day_passes(jobs)
        restarted = await night(rep.base_url, jobs)
        assert restarted.verdict == "ok", restarted.reasons
        assert summary(jobs)["web_archive"]["unresolved"] == 60
        a_day_passes(jobs)
        healed = await night(rep.base_url, jobs, HARVESTER_JOB_FULL_EVERY_DAYS=1)  # every one refreshed
    assert healed.verdict == "ok", healed.reasons
    assert healed.stat("harvester/job/not_modified", 0) == 0
    assert summary(jobs)["web_archive"]["unresolved"] == 0
    assert_valid(wacz)
    assert_every_capture_resolves(folder)


def small_wacz(path: Path, name: str, pages: int) -> list[str]:
    """A WACZ of ``pages`` responses in ``archive/<name>``; their record ids."""
    storage = WarcStorage(path.with_suffix(".warc.gz"), "test", name)
    for n in range(pages):
        storage.store(
            url=f"http://h/document/{name}-{n}", method="GET", request_headers=Headers(), status=200,
            response_headers=Headers({"Content-Type": "text/html"}), body=b"<html>%d</html>" % n,
        )  # fmt: skip
    storage.close()
    with path.open("wb") as out:
        write_wacz(out, storage.path, storage.captures, [], title="t", software="s", warc_name=name)
    return [c.record_id for c in storage.captures]


def test_an_archive_written_before_archives_grew_is_grown_with_its_record_ids(tmp_path: Path) -> None:
    old_ids = small_wacz(tmp_path / "new.wacz", "data.warc.gz", 3)
    # As harvester wrote it before: indexes/index.cdxj, no warc-record-id in its lines.
    legacy = tmp_path / "legacy.wacz"
    with zipfile.ZipFile(tmp_path / "new.wacz") as new, zipfile.ZipFile(legacy, "w") as out:
        for info in new.infolist():
            data = new.read(info)
            if info.filename == "indexes/index.cdx":
                info.filename = "indexes/index.cdxj"
                lines = [line.rsplit(', "warc-record-id"', 1)[0] + "}" for line in data.decode().splitlines()]
                data = ("\n".join(lines) + "\n").encode()
            out.writestr(info, data)
    tonight_ids = small_wacz(tmp_path / "tonight.wacz", "data.warc.gz", 2)  # the same WARC name
    grown = tmp_path / "grown.wacz"
    sources = [Source.open(legacy), Source.open(tmp_path / "tonight.wacz")]
    with grown.open("wb") as out:
        result = grow(out, sources, title="t", software="s", main_page=None, wanted={*old_ids, *tonight_ids})
    for source in sources:
        source.close()
    assert result.missing == set() and result.warcs == 2 and result.captures == 5
    assert sorted(members(grown)) == ["archive/data-2.warc.gz", "archive/data.warc.gz"]
    assert_valid(grown)
    archive = WaczArchive.open(grown)
    try:
        assert sorted(archive.by_id) == sorted([*old_ids, *tonight_ids])
        answer = archive.answer("GET", "http://h/document/data.warc.gz-1")
        assert answer is not None and answer.body == b"<html>1</html>"
        assert answer.record_id == tonight_ids[1]  # the later night's capture of that URL
    finally:
        archive.close()
