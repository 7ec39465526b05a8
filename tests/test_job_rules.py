"""The rules a scheduled job keeps, each proven over simulated nights against the replica:
a known document that keeps failing, alias rows resolved once, a lost state, and a state
written by the previous release.

Each test reproduces what a hostile tester measured on the release before these rules
(the figures are in the docstrings) and checks the rule holds.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from harvester.jobs.policy import Place, ranks
from harvester.jobs.store import SCHEMA_VERSION, JobStateError, JobStore
from replica.process import running_replica
from tests.conftest import ROOT, read_jsonl
from tests.crawling import Crawl, crawl
from tests.nights import a_day_passes
from tests.test_jobs import free_port, summary

#: The port of the replica the previous release's state was written against.
OLD_RELEASE_PORT = 18731


async def job_run(base_url: str, jobs: Path, *args: str, **settings: Any) -> Crawl:
    return await crawl(
        base_url, "job=nightly", *args,
        settings={"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_PAGE_SIZE": 100, **settings},
    )  # fmt: skip


def dump_truth(path: Path, *, port: int, documents: int, changes: str) -> None:
    """The replica's truth for these options, written without serving (``--dump-only``)."""
    subprocess.run(
        [sys.executable, "-m", "replica", "--port", str(port), "--documents", str(documents), "--changes", changes,
         "--dump-truth", str(path), "--truth-page-size", "100", "--dump-only"],
        cwd=ROOT, check=True, timeout=120,
    )  # fmt: skip


def requests_for(fault_log: Path, path: str) -> int:
    """How many times the replica staged its fault on ``path`` (one per request)."""
    if not fault_log.exists():
        return 0
    return sum(1 for entry in read_jsonl(fault_log) if entry.get("path") == path)


@deferred_f_from_coro_f
async def test_a_known_document_that_keeps_failing_keeps_its_record_and_holds_back_nothing(
    tmp_path: Path,
) -> None:
    """Before: one known document answering 500 every time failed the job every night, and
    5 new uploads were never published."""
    port, jobs, documents = free_port(), tmp_path / "jobs", 300
    truth = tmp_path / "truth.jsonl"
    with running_replica(port=port, documents=documents, dump_truth=truth, truth_page_size=100) as rep:
        first = await job_run(rep.base_url, jobs, "details=true")
        assert first.verdict == "ok", first.reasons
    records = {r["url"]: r for r in read_jsonl(jobs / "nightly" / "archive.jsonl")}
    # A document deep in the archive, first in the rolling refresh's order (oldest fetch,
    # then by address), so that it is asked for on the first night.
    broken = min(records)
    path = "/document/" + broken.rsplit("/", 1)[1]
    log = tmp_path / "faults.jsonl"
    with running_replica(
        port=port, documents=documents, changes="5,0,0", faults=f"500@{path}", fault_log=log
    ) as rep:
        nights = []
        for _ in range(4):
            a_day_passes(jobs)
            before = requests_for(log, path)
            run = await job_run(rep.base_url, jobs, "details=true", RETRY_TIMES=1)
            nights.append((run, summary(jobs), requests_for(log, path) - before))
    first_night, night_stats, asked = nights[0][0], nights[0][1], [n[2] for n in nights]
    # The run did its job: the 5 uploads are published, the broken document keeps its record.
    assert first_night.verdict == "ok", first_night.reasons
    assert night_stats["changes"] == {"added": 5, "changed": 0, "removed": 0}
    published = {r["url"]: r for r in read_jsonl(jobs / "nightly" / "archive.jsonl")}
    assert len(published) == documents + 5
    kept = {k: v for k, v in published[broken].items() if k not in ("position", "listing_url")}
    assert kept == {k: v for k, v in records[broken].items() if k not in ("position", "listing_url")}
    # Named in the summary: since when, with what.
    assert [s["url"] for s in night_stats["stale_documents"]] == [broken]
    assert night_stats["documents"]["stale"] == 1
    last = summary(jobs)["stale_documents"]
    assert [(s["url"], s["error"], s["attempts"]) for s in last] == [(broken, "HTTP 500", 3)]
    assert last[0]["since"] < summary(jobs)["started"]
    # ... and in the report, with since when and what.
    html = (jobs / "nightly" / "report.html").read_text(encoding="utf-8")
    section = html[html.index('id="stale"') :]
    assert broken.rsplit("/", 1)[1] in section and "HTTP 500" in section
    # Backed off: tried on nights 1, 2, then not on night 3 (2 nights later), again on night 4.
    assert [a > 0 for a in asked] == [True, True, False, True], asked
    assert all(n[0].verdict == "ok" for n in nights), [n[0].reasons for n in nights]


@deferred_f_from_coro_f
async def test_alias_rows_are_resolved_once_and_remembered(tmp_path: Path) -> None:
    """Before: rows linking by the legacy id or /node/N cost 508 requests a night for 500
    documents in a listing job, every night."""
    port, jobs = free_port(), tmp_path / "jobs"
    with running_replica(port=port, documents=300, faults="aliases") as rep:
        first = await job_run(rep.base_url, jobs)
        assert first.verdict == "ok", first.reasons
        assert first.stat("harvester/identity/alias_links") > 100  # the first night resolves them
        a_day_passes(jobs)
        quiet = await job_run(rep.base_url, jobs)
    assert quiet.verdict == "ok", quiet.reasons
    assert summary(jobs)["requests"] <= 5
    assert summary(jobs)["changes"] == {"added": 0, "changed": 0, "removed": 0}
    ids = [r["id"] for r in read_jsonl(jobs / "nightly" / "archive.jsonl")]
    assert len(ids) == len(set(ids)) == 300
    assert all(not i.isdigit() for i in ids)


@pytest.mark.parametrize("loss", ["deleted", "truncated"])
@deferred_f_from_coro_f
async def test_a_lost_state_starts_from_the_published_dataset(tmp_path: Path, loss: str) -> None:
    """Before: with state.sqlite deleted or truncated to 0 bytes, the next run exited 0 and
    changes.jsonl listed all 300 documents as added, without a warning."""
    port, jobs = free_port(), tmp_path / "jobs"
    with running_replica(port=port, documents=300) as rep:
        first = await job_run(rep.base_url, jobs)
        assert first.verdict == "ok", first.reasons
        published = (jobs / "nightly" / "archive.jsonl").read_bytes()
        state = jobs / "nightly" / "state.sqlite"
        for extra in ("-wal", "-shm"):
            Path(f"{state}{extra}").unlink(missing_ok=True)
        if loss == "deleted":
            state.unlink()
        else:
            state.write_bytes(b"")
        again = await job_run(rep.base_url, jobs)
    assert again.verdict == "ok", again.reasons
    after = summary(jobs)
    assert after["changes"] == {"added": 0, "changed": 0, "removed": 0}
    assert after["state_rebuilt_from_published"] == 300
    assert read_jsonl(jobs / "nightly" / "changes.jsonl") == []
    assert (jobs / "nightly" / "archive.jsonl").read_bytes().count(b"\n") == published.count(b"\n")


def test_a_state_that_is_not_a_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    directory = tmp_path / "nightly"
    directory.mkdir()
    (directory / "state.sqlite").write_bytes(b"this is not a database, it was overwritten\n" * 100)
    store = JobStore(directory)
    with pytest.raises(JobStateError, match=r"cannot be read .* move it away"):
        store.open()
    # The lock is released: the next attempt gets as far again.
    with pytest.raises(JobStateError):
        JobStore(directory).open()


def test_a_state_from_a_newer_harvester_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "nightly"
    directory.mkdir()
    with sqlite3.connect(directory / "state.sqlite") as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(JobStateError, match="newer than this harvester"):
        JobStore(directory).open()


@deferred_f_from_coro_f
async def test_a_state_written_by_the_previous_release_is_upgraded(tmp_path: Path) -> None:
    """tests/expected/state-0.1.0.sql: the state of a listing job of 40 documents written by
    harvester 0.1.0 (schema without ``user_version``) against the replica on port 18731; its
    fingerprints cover the URLs, so the replica serves on that port again."""
    port, jobs = OLD_RELEASE_PORT, tmp_path / "jobs"
    dump = (ROOT / "tests" / "expected" / "state-0.1.0.sql").read_text(encoding="utf-8")
    (jobs / "nightly").mkdir(parents=True)
    with sqlite3.connect(jobs / "nightly" / "state.sqlite") as db:
        db.executescript(dump)
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
        old_columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
    assert "fail_count" not in old_columns
    with running_replica(port=port, documents=40) as rep:
        a_day_passes(jobs)
        run = await job_run(rep.base_url, jobs)
    assert run.verdict == "ok", run.reasons
    after = summary(jobs)
    # Incremental on the old state: nothing changed, a handful of requests.
    assert after["mode"] == "incremental"
    assert after["changes"] == {"added": 0, "changed": 0, "removed": 0}
    assert after["requests"] <= 5
    with sqlite3.connect(jobs / "nightly" / "state.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        runs = db.execute("SELECT COUNT(*) FROM runs WHERE status='ok'").fetchone()[0]
    assert runs == 3  # the two old runs are kept in its history
    positions = [r["position"] for r in read_jsonl(jobs / "nightly" / "archive.jsonl")]
    assert positions == list(range(1, 41))
    assert json.loads((jobs / "nightly" / "summary.json").read_text())["status"] == "ok"


@deferred_f_from_coro_f
async def test_a_304_nobody_asked_for_is_a_failed_page_not_a_document(tmp_path: Path) -> None:
    """Before: a front answering 304 (no validators sent) for 5 new documents: Run OK with
    300 of 305 documents."""
    port, jobs, documents = free_port(), tmp_path / "jobs", 300
    with running_replica(port=port, documents=documents) as rep:
        first = await job_run(rep.base_url, jobs, "details=true")
        assert first.verdict == "ok", first.reasons
    truth = tmp_path / "truth.jsonl"
    dump_truth(truth, port=port, documents=documents, changes="5,0,0")
    new = [r["id"] for r in read_jsonl(truth) if r["position"] <= 5]
    lies = ",".join(f"lie304@/document/{slug}" for slug in new)
    with running_replica(port=port, documents=documents, changes="5,0,0", faults=lies) as rep:
        a_day_passes(jobs)
        lied = await job_run(rep.base_url, jobs, "details=true", RETRY_TIMES=2)
    assert lied.verdict == "failed"
    assert any("5 page(s) could not be fetched" in r for r in lied.reasons), lied.reasons
    assert lied.stat("harvester/job/untrusted_304") == 5 * 3  # asked, then asked again twice
    assert len(read_jsonl(jobs / "nightly" / "archive.jsonl")) == documents  # nothing published
    # The front answers honestly again: the next night publishes the five.
    with running_replica(port=port, documents=documents, changes="5,0,0") as rep:
        a_day_passes(jobs)
        honest = await job_run(rep.base_url, jobs, "details=true")
    assert honest.verdict == "ok", honest.reasons
    assert summary(jobs)["changes"]["added"] == 5


@deferred_f_from_coro_f
async def test_a_front_that_lies_with_304_about_changed_pages_is_not_believed(tmp_path: Path) -> None:
    """Before: a front answering 304 to conditional requests for 10 edited pages: the edits
    stayed stale, and stayed stale after the front answered honestly again (the 304 stored
    the new listing fingerprint)."""
    port, jobs, documents = free_port(), tmp_path / "jobs", 300
    with running_replica(port=port, documents=documents) as rep:
        first = await job_run(rep.base_url, jobs, "details=true")
        assert first.verdict == "ok", first.reasons
    truth = tmp_path / "truth.jsonl"
    # Every first request for a document page answers 304, echoing the validators it was sent.
    with running_replica(port=port, documents=documents, changes="0,10,0", faults="lie304@1.0/document/#1",
                         dump_truth=truth, truth_page_size=100) as rep:  # fmt: skip
        a_day_passes(jobs)
        run = await job_run(rep.base_url, jobs, "details=true", "full=true")
    assert run.verdict == "ok", run.reasons
    assert summary(jobs)["changes"] == {"added": 0, "changed": 10, "removed": 0}
    # The rows of the 10 edited documents contradict a 304: they were asked unconditionally.
    assert run.stat("harvester/job/untrusted_304") >= 10
    published = {r["url"]: r for r in read_jsonl(jobs / "nightly" / "archive.jsonl")}
    for expected in read_jsonl(truth):
        got = published[expected["url"]]
        assert (got["title"], got["summary"], got["date"]) == (
            expected["title"],
            expected["summary"],
            expected["date"],
        )


@deferred_f_from_coro_f
async def test_a_refreshed_document_that_now_redirects_to_another_is_gone_and_takes_no_place(
    tmp_path: Path,
) -> None:
    """Before: a refreshed document whose page now 301-redirects to another listed document
    gave that document its own position (two records at one place)."""
    port, jobs, documents = free_port(), tmp_path / "jobs", 300
    with running_replica(port=port, documents=documents) as rep:
        first = await job_run(rep.base_url, jobs, "details=true")
        assert first.verdict == "ok", first.reasons
    before = {r["url"]: r for r in read_jsonl(jobs / "nightly" / "archive.jsonl")}
    # The first document in the rolling refresh's order (deep in the results) now leads to
    # another one, deep too.
    merged = min(before)
    into = next(u for u in sorted(before, key=lambda u: before[u]["position"], reverse=True) if u != merged)
    slug = merged.rsplit("/", 1)[1]
    with running_replica(
        port=port, documents=documents, faults=f"moved:to={into.rsplit('/', 1)[1]}@/document/{slug}"
    ) as rep:
        a_day_passes(jobs)
        run = await job_run(rep.base_url, jobs, "details=true")
    assert run.verdict == "ok", run.reasons
    assert run.stat("harvester/job/gone") == 1
    assert summary(jobs)["changes"] == {"added": 0, "changed": 0, "removed": 1}
    after = {r["url"]: r for r in read_jsonl(jobs / "nightly" / "archive.jsonl")}
    assert merged not in after
    positions = sorted(r["position"] for r in after.values())
    assert positions == list(range(1, documents))
    # The document it leads to stands where it stood, less the place the gone one left.
    shift = 1 if before[merged]["position"] < before[into]["position"] else 0
    assert after[into]["position"] == before[into]["position"] - shift


@deferred_f_from_coro_f
async def test_a_304_naming_another_entity_tag_is_not_believed(tmp_path: Path) -> None:
    """A front answering 304 with the page's current ETag (not the one the job sent) for
    every first request of a document: the deep edits under it are found the same night."""
    port, jobs, documents = free_port(), tmp_path / "jobs", 140
    with running_replica(port=port, documents=documents) as rep:
        first = await job_run(rep.base_url, jobs, "details=true")
        assert first.verdict == "ok", first.reasons
    truth = tmp_path / "truth.jsonl"
    with running_replica(port=port, documents=documents, night=1, churn="deepedits=5",
                         faults="lie304:validators=current@1.0/document/#1", dump_truth=truth,
                         truth_page_size=100) as rep:  # fmt: skip
        a_day_passes(jobs)
        run = await job_run(rep.base_url, jobs, "details=true", "full=true")
    assert run.verdict == "ok", run.reasons
    assert summary(jobs)["changes"]["changed"] == 5
    assert run.stat("harvester/job/untrusted_304") >= 5


@deferred_f_from_coro_f
async def test_removals_anywhere_are_found_by_the_pages_read_even_behind_a_lying_front(
    tmp_path: Path,
) -> None:
    """Before: a removal deep in the archive was only found by a walk of every page or by its
    page's 404 at its refresh; behind a front answering 304 for everything, never. The pages
    the rolling walk reads show what left the results."""
    port, jobs, documents = free_port(), tmp_path / "jobs", 300
    with running_replica(port=port, documents=documents) as rep:
        first = await job_run(rep.base_url, jobs, "details=true", HARVESTER_PAGE_SIZE=10)
        assert first.verdict == "ok", first.reasons
    truth = tmp_path / "truth.jsonl"
    with running_replica(port=port, documents=documents, changes="0,0,5", faults="lie304@1.0/document/",
                         dump_truth=truth, truth_page_size=10) as rep:  # fmt: skip
        removed = 0
        for _ in range(7):
            a_day_passes(jobs)
            run = await job_run(rep.base_url, jobs, "details=true", HARVESTER_PAGE_SIZE=10)
            assert run.verdict == "ok", run.reasons
            removed += summary(jobs)["changes"]["removed"]
            assert summary(jobs)["requests"] <= -(-documents // 7) + 50
    assert removed == 5
    published = {r["url"] for r in read_jsonl(jobs / "nightly" / "archive.jsonl")}
    assert published == {r["url"] for r in read_jsonl(truth)}


@deferred_f_from_coro_f
async def test_a_resumed_runs_plan_counts_what_is_left(tmp_path: Path) -> None:
    """Before: a resumed job's plan line counted the whole run again."""
    port, jobs, documents = free_port(), tmp_path / "jobs", 300
    with running_replica(port=port, documents=documents) as rep:
        first = await job_run(rep.base_url, jobs, "details=true")
        assert first.verdict == "ok", first.reasons
        # A full run killed after 120 documents (as a SIGKILL leaves it: its run still open).
        with sqlite3.connect(jobs / "nightly" / "state.sqlite") as db:
            args = db.execute("SELECT args FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
            run = db.execute(
                "INSERT INTO runs (started, status, full, args) VALUES ('2026-12-01T00:00:00Z', 'running', 1, ?)",
                (args,),
            ).lastrowid
            db.execute(
                "UPDATE documents SET done_run=? WHERE url IN (SELECT url FROM documents LIMIT 120)", (run,)
            )
        resumed = await job_run(rep.base_url, jobs, "details=true")
    assert resumed.verdict == "ok", resumed.reasons
    assert summary(jobs)["resumed"] is True
    pages = -(-documents // 100)
    assert resumed.stat("harvester/plan/requests") == pages + (documents - 120) + 1


@deferred_f_from_coro_f
async def test_many_known_documents_failing_at_once_fail_the_run(tmp_path: Path) -> None:
    """A site whose document pages all answer 500: with the limit out of the way the run
    would say ok with every record stale; past HARVESTER_JOB_MAX_FAILING it fails and
    publishes nothing."""
    port, documents = free_port(), 40
    with running_replica(port=port, documents=documents) as rep:
        for name in ("loose", "strict"):
            first = await job_run(rep.base_url, tmp_path / name, "details=true")
            assert first.verdict == "ok", first.reasons
    before = (tmp_path / "strict" / "nightly" / "archive.jsonl").read_bytes()
    with running_replica(port=port, documents=documents, faults="500@1.0/document/") as rep:
        loose = await job_run(rep.base_url, tmp_path / "loose", "details=true", "full=true",
                              RETRY_TIMES=0, HARVESTER_JOB_MAX_FAILING=1000)  # fmt: skip
        strict = await job_run(rep.base_url, tmp_path / "strict", "details=true", "full=true", RETRY_TIMES=0)
    assert loose.verdict == "ok" and loose.stat("harvester/job/stale") == documents
    assert strict.verdict == "failed"
    assert any("HARVESTER_JOB_MAX_FAILING=10" in r for r in strict.reasons), strict.reasons
    assert (tmp_path / "strict" / "nightly" / "archive.jsonl").read_bytes() == before


def test_documents_the_walk_lists_in_a_new_order_take_that_order_in_their_old_places() -> None:
    # The site reordered documents of the same upload time: the walk read page 1 (positions
    # 1-4) and page 3 (positions 9-10) and listed known documents in an order that contradicts
    # the last published one; page 2 was not read tonight. Ties reordered, then never
    # followed, kept a quiet week unequal to the archive (13 documents off by one place).
    places = [
        Place("a", 1, 2, True), Place("b", 2, 1, True), Place("new", 3, None, True), Place("c", 4, 3, True),
        Place("d", 4, 4, False), Place("e", 5, 5, False),
        Place("g", 9, 7, True), Place("f", 10, 6, True),
    ]  # fmt: skip
    order = sorted(ranks(places, 10, lambda n: f"page {n}").items(), key=lambda item: item[1][0])
    assert [url for url, _ in order] == ["a", "b", "new", "c", "d", "e", "g", "f"]
