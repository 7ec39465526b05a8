"""Scheduled jobs end to end: incremental runs, changes, SIGKILL and resume, verdicts.

Runs whose outcome shows in the state, the files and the stats are crawled in the test
process (tests/crawling.py); what only a process shows (SIGKILL, the lock, the exit
status and the last line) runs the real CLI.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy.utils.defer import deferred_f_from_coro_f

from harvester.jobs.lock import JobLock
from replica.process import crawl_command, running_replica
from tests.conftest import ROOT, read_jsonl, run_crawl
from tests.crawling import Crawl, crawl
from tests.nights import a_day_passes

CONSUMER_FILES = ("archive.jsonl", "archive.csv", "changes.jsonl", "summary.json")
DOCUMENTS = 2_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def job_crawl(base_url: str, jobs: Path, *args: str) -> Crawl:
    return await crawl(
        base_url, "job=nightly", "details=true", *args,
        settings={"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_PAGE_SIZE": 100},
    )  # fmt: skip


def summary(jobs: Path, name: str = "nightly") -> dict[str, Any]:
    return json.loads((jobs / name / "summary.json").read_text(encoding="utf-8"))


def without_sort(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "sort_bef_combine"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def assert_equals_truth(dataset: Path, truth_path: Path) -> None:
    truth = {r["url"]: r for r in read_jsonl(truth_path)}
    items = read_jsonl(dataset)
    assert len(items) == len({i["url"] for i in items}) == len(truth)
    diffs = []
    for item in items:
        expected = truth[item["url"]]
        for name, value in expected.items():
            got = without_sort(item[name]) if name == "listing_url" else item[name]
            if got != value:
                diffs.append((item["url"], name))
    assert diffs == []
    positions = [i["position"] for i in items]
    assert positions == list(range(1, len(items) + 1))


@deferred_f_from_coro_f
async def test_incremental_runs_find_exactly_what_changed(tmp_path: Path) -> None:
    port, jobs = free_port(), tmp_path / "jobs"
    with running_replica(port=port, documents=DOCUMENTS) as rep:
        first = await job_crawl(rep.base_url, jobs)
        assert first.verdict == "ok", first.reasons
        assert summary(jobs)["changes"] == {"added": DOCUMENTS, "changed": 0, "removed": 0}
        assert summary(jobs)["mode"] == "full"
        second = await job_crawl(rep.base_url, jobs)
        assert second.verdict == "ok", second.reasons
        quiet = summary(jobs)
    # Nothing changed: a handful of requests, an empty change set, the same dataset.
    assert quiet["mode"] == "incremental" and quiet["stopped_by"] == "known_documents"
    assert quiet["requests"] <= 5
    assert quiet["changes"] == {"added": 0, "changed": 0, "removed": 0}
    assert quiet["documents"]["dataset"] == DOCUMENTS
    assert read_jsonl(jobs / "nightly" / "changes.jsonl") == []
    # The archive gets 25 uploads, 10 edits and 5 removals anywhere in it (same host and
    # port); the count moves by 20 only.
    truth = tmp_path / "truth.jsonl"
    with running_replica(
        port=port, documents=DOCUMENTS, changes="25,10,5", dump_truth=truth, truth_page_size=100
    ) as rep:
        seen: dict[str, set[str]] = {"added": set(), "changed": set(), "removed": set()}
        requests = []
        for night in range(7):
            a_day_passes(jobs)
            run = await job_crawl(rep.base_url, jobs)
            assert run.verdict == "ok", run.reasons
            tonight = summary(jobs)
            requests.append(tonight["requests"])
            for change in read_jsonl(jobs / "nightly" / "changes.jsonl"):
                seen[change["change"]].add(change["url"])
            if night == 0:
                # The uploads sit at the top: found the first night.
                assert tonight["changes"]["added"] == 25
    # Within a week every edit and removal deep in the archive reached the dataset (the
    # rolling refresh, about a seventh of the documents a night), and nothing else changed.
    assert {k: len(v) for k, v in seen.items()} == {"added": 25, "changed": 10, "removed": 5}
    assert max(requests) <= -(-DOCUMENTS // 7) + 50, requests
    assert_equals_truth(jobs / "nightly" / "archive.jsonl", truth)


def crawl_cmd(base_url: str, *extra: str) -> list[str]:
    return crawl_command(base_url, "-s", "HARVESTER_PROGRESS_INTERVAL=0", *extra)


def kill_when(cmd: list[str], ready: Callable[[], bool], *, timeout: float = 300) -> None:
    """Run the CLI and SIGKILL it once ``ready()`` says it made the progress asked for."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def committed(jobs: Path) -> int:
    """Documents committed to the job's state (what a kill cannot take back)."""
    path = jobs / "nightly" / "state.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM documents WHERE done_run IS NOT NULL").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def complete_jsonl(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        return False
    try:
        [json.loads(line) for line in text.splitlines()]
    except json.JSONDecodeError:
        return False
    return True


def test_sigkill_three_times_then_uploads_then_the_job_finishes_equal_to_the_truth(tmp_path: Path) -> None:
    port, jobs = free_port(), tmp_path / "jobs"
    with running_replica(port=port, documents=DOCUMENTS) as rep:
        # The damage, protection off: Scrapy's own file storage writes in place, and a
        # killed run leaves a truncated file where consumers read it.
        plain = tmp_path / "plain.jsonl"
        kill_when(crawl_cmd(rep.base_url, "-a", "details=true", "-O", str(plain), "-s",
                            'FEED_STORAGES={"": "scrapy.extensions.feedexport.FileFeedStorage"}'),
                  lambda: lines(plain) >= 200)  # fmt: skip
        assert 200 <= lines(plain) < DOCUMENTS
        # Protection on, a single run: nothing at the consumer's path.
        gated = tmp_path / "gated.jsonl"
        kill_when(crawl_cmd(rep.base_url, "-a", "details=true", "-O", str(gated)),
                  lambda: any(p.stat().st_size > 100_000 for p in tmp_path.glob(".gated.jsonl.*.partial")))  # fmt: skip
        assert not gated.exists()

        # A job killed at three random moments (by rows committed), restarted each time.
        job = crawl_cmd(
            rep.base_url, "-a", "job=nightly", "-a", "details=true", "-s", f"HARVESTER_JOBS_DIR={jobs}"
        )
        rng = random.Random(20261130)
        for goal in sorted(rng.sample(range(100, DOCUMENTS - 200), 3)):
            kill_when(job, lambda goal=goal: committed(jobs) >= goal)  # type: ignore[misc]
            assert committed(jobs) >= goal
            for name in CONSUMER_FILES:
                # Never published yet: no consumer file at all, and never a partial one.
                assert not (jobs / "nightly" / name).exists()
    # 25 uploads while the job was down push every document down: the resumed run must
    # put each where it stands now.
    truth = tmp_path / "truth.jsonl"
    with running_replica(
        port=port, documents=DOCUMENTS, changes="25,0,0", dump_truth=truth, truth_page_size=100
    ) as rep:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        final = subprocess.run(crawl_cmd(rep.base_url, "-a", "job=nightly", "-a", "details=true", "-s",
                                         f"HARVESTER_JOBS_DIR={jobs}"),
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert final.returncode == 0, final.stderr[-3000:]
    done = summary(jobs)
    assert done["resumed"] is True
    assert done["documents"]["already_done"] > 0
    assert done["documents"]["harvested"] + done["documents"]["already_done"] == DOCUMENTS + 25
    assert complete_jsonl(jobs / "nightly" / "archive.jsonl")
    assert_equals_truth(jobs / "nightly" / "archive.jsonl", truth)
    assert not list((jobs / "nightly").glob(".*.partial"))


@deferred_f_from_coro_f
async def test_killing_a_published_job_keeps_the_last_complete_files(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    with running_replica(documents=600) as rep:
        first = await job_crawl(rep.base_url, jobs)
        assert first.verdict == "ok", first.reasons
        before = {name: (jobs / "nightly" / name).read_bytes() for name in CONSUMER_FILES}
        job = crawl_cmd(rep.base_url, "-a", "job=nightly", "-a", "details=true", "-a", "full=true",
                        "-s", f"HARVESTER_JOBS_DIR={jobs}")  # fmt: skip
        kill_when(job, lambda: committed_in_run(jobs) >= 100)
    # The killed full run published nothing: every consumer file is the last complete one.
    for name in CONSUMER_FILES:
        assert (jobs / "nightly" / name).read_bytes() == before[name]


def committed_in_run(jobs: Path) -> int:
    path = jobs / "nightly" / "state.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
        row = db.execute(
            "SELECT COUNT(*) FROM documents WHERE done_run = (SELECT MAX(id) FROM runs)"
        ).fetchone()
        return int(row[0])


@deferred_f_from_coro_f
async def test_verdicts_of_failed_job_runs(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    settings = {"HARVESTER_JOBS_DIR": str(jobs)}
    with running_replica(documents=40) as rep:
        empty = await crawl(rep.base_url, "job=empty", "query=zzzxqv nothing", settings=settings)
    assert empty.reasons == ["nothing harvested: the search found no documents"]
    assert summary(jobs, "empty")["status"] == "failed"
    # A stopped replica: nothing answers at that address.
    stopped = await crawl(
        f"http://127.0.0.1:{free_port()}", "job=stopped", settings={**settings, "RETRY_TIMES": 1}
    )
    assert stopped.verdict == "failed"
    assert (
        any("could not be fetched" in r for r in stopped.reasons) and "nothing harvested" in stopped.reasons
    )
    assert summary(jobs, "stopped")["reasons"] == stopped.reasons
    # A changed layout.
    with running_replica(documents=40, faults="layout") as rep:
        changed = await crawl(rep.base_url, "job=layout", "details=true", settings=settings)
    assert any(r.startswith("layout changed") for r in changed.reasons)
    layout = summary(jobs, "layout")
    assert layout["status"] == "failed" and layout["structure_errors"] == 40
    assert not (jobs / "layout" / "archive.jsonl").exists()


def test_a_failed_job_run_says_why_on_its_last_line(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    with running_replica(documents=40) as rep:
        empty = run_crawl(rep.base_url, tmp_path / "x.jsonl", "job=empty", "query=zzzxqv nothing",
                          settings={"HARVESTER_JOBS_DIR": str(jobs)})  # fmt: skip
    assert empty.returncode == 1
    assert (
        "Run FAILED: nothing harvested: the search found no documents"
        in empty.stderr.strip().splitlines()[-1]
    )


@deferred_f_from_coro_f
async def test_a_job_stopped_at_the_rate_limit_fails_and_the_next_night_does_its_job(tmp_path: Path) -> None:
    port, jobs, documents = free_port(), tmp_path / "jobs", 20
    settings = {"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_RATE_LIMIT_WAIT_MAX": "2.5"}
    with running_replica(port=port, documents=documents, faults="429:retry-after=1@1.0/document/") as rep:
        limited = run_crawl(
            rep.base_url, tmp_path / "x.jsonl", "job=nightly", "details=true", settings=settings
        )
    assert limited.returncode == 1, limited.stderr[-2000:]
    last = limited.stderr.strip().splitlines()[-1]
    assert (
        "Run FAILED: the site is rate limiting: " in last and " answers 429 in a row; stopped after " in last
    )
    assert "Traceback" not in limited.stderr
    assert summary(jobs)["status"] == "failed" and not (jobs / "nightly" / "archive.jsonl").exists()
    # The next night the site answers again: an ordinary run of the job, which does its job.
    with running_replica(port=port, documents=documents) as rep:
        night = await job_crawl(rep.base_url, jobs)
    assert night.verdict == "ok", night.reasons
    assert summary(jobs)["status"] == "ok" and summary(jobs)["run"] == 2
    assert len(read_jsonl(jobs / "nightly" / "archive.jsonl")) == documents


def test_two_runs_of_one_job_do_not_overlap(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    lock = JobLock(jobs / "nightly" / "lock")
    lock.acquire()
    try:
        with running_replica(documents=40) as rep:
            result = run_crawl(
                rep.base_url, tmp_path / "x.jsonl", "job=nightly", settings={"HARVESTER_JOBS_DIR": str(jobs)}
            )
    finally:
        lock.release()
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert f"Run FAILED: job is already running (pid {os.getpid()}" in last
    assert "Traceback" not in result.stderr
    assert "downloader/request_count" not in result.stderr


def fetched_runs(jobs: Path) -> list[int | None]:
    path = jobs / "nightly" / "state.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
        return [row[0] for row in db.execute("SELECT fetched_run FROM documents WHERE present=1")]


async def nights(
    base_url: str, jobs: Path, count: int, **settings: Any
) -> tuple[set[str], list[int], list[Crawl]]:
    """Run the job ``count`` nights: the documents it found changed, and its document requests each night."""
    changed: set[str] = set()
    requests, runs = [], []
    for _ in range(count):
        a_day_passes(jobs)
        run = await crawl(
            base_url, "job=nightly", "details=true",
            settings={"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_PAGE_SIZE": 100, **settings},
        )  # fmt: skip
        assert run.verdict == "ok", run.reasons
        night = summary(jobs)
        requests.append(night["requests"] - night["pages"]["search"] - 1)  # less results pages and robots.txt
        changed |= {
            c["url"] for c in read_jsonl(jobs / "nightly" / "changes.jsonl") if c["change"] == "changed"
        }
        runs.append(run)
    return changed, requests, runs


@deferred_f_from_coro_f
async def test_a_rolling_refresh_finds_deep_edits_within_seven_nights(tmp_path: Path) -> None:
    port, documents = free_port(), 700
    quota = -(-documents // 7)
    with running_replica(port=port, documents=documents) as rep:
        for name in ("off", "on"):
            first = await job_crawl(rep.base_url, tmp_path / name)
            assert first.verdict == "ok", first.reasons
    truth = tmp_path / "truth.jsonl"
    # Ten edits anywhere in the archive; the listing's first page shows few of them, and the
    # incremental walk stops there (the count agrees: nothing was added or removed).
    with running_replica(
        port=port, documents=documents, changes="0,10,0", dump_truth=truth, truth_page_size=100
    ) as rep:
        # Protection off (no rolling refresh): a week of nights misses the edits past page 1.
        missed, _, _ = await nights(rep.base_url, tmp_path / "off", 7, HARVESTER_JOB_FULL_EVERY_DAYS=0)
        found, per_night, runs = await nights(rep.base_url, tmp_path / "on", 7)
    assert len(missed) < 10
    assert len(found) == 10
    assert max(per_night) <= quota + 50, per_night
    assert sum(per_night) >= documents
    # Every document was fetched again within the seven nights (run 1 was the first harvest).
    assert all(run is not None and run >= 2 for run in fetched_runs(tmp_path / "on"))
    assert_equals_truth(tmp_path / "on" / "nightly" / "archive.jsonl", truth)
    # The replica answers conditional requests: unchanged documents came back as 304.
    assert sum(r.stat("harvester/job/not_modified") for r in runs) >= documents - 10 - quota


@deferred_f_from_coro_f
async def test_without_validators_the_refresh_fetches_whole_pages_and_ends_the_same(tmp_path: Path) -> None:
    port, documents = free_port(), 300
    truth = tmp_path / "truth.jsonl"
    with running_replica(port=port, documents=documents, extra_args=["--no-validators"]) as rep:
        first = await job_crawl(rep.base_url, tmp_path / "jobs")
        assert first.verdict == "ok", first.reasons
    with running_replica(port=port, documents=documents, changes="0,5,0", dump_truth=truth, truth_page_size=100,
                         extra_args=["--no-validators"]) as rep:  # fmt: skip
        found, per_night, runs = await nights(rep.base_url, tmp_path / "jobs", 7)
    assert len(found) == 5
    assert sum(r.stat("harvester/job/not_modified") for r in runs) == 0
    assert sum(per_night) >= documents
    assert_equals_truth(tmp_path / "jobs" / "nightly" / "archive.jsonl", truth)
