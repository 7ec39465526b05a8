"""Scheduled jobs end to end: incremental runs, changes, SIGKILL and resume, verdicts."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from replica.process import running_replica
from tests.conftest import ROOT, read_jsonl, run_crawl

CONSUMER_FILES = ("archive.jsonl", "archive.csv", "changes.jsonl", "summary.json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def job_crawl(base_url: str, jobs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_crawl(base_url, jobs / "ignored.jsonl", "job=nightly", "details=true", *args,
                     settings={"HARVESTER_JOBS_DIR": str(jobs)})


def summary(jobs: Path) -> dict[str, Any]:
    return json.loads((jobs / "nightly" / "summary.json").read_text(encoding="utf-8"))


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


@pytest.mark.slow
def test_incremental_runs_find_exactly_what_changed(tmp_path: Path) -> None:
    port, jobs = free_port(), tmp_path / "jobs"
    with running_replica(port=port) as rep:
        first = job_crawl(rep.base_url, jobs)
        assert first.returncode == 0, first.stderr[-3000:]
        assert summary(jobs)["changes"] == {"added": 16_153, "changed": 0, "removed": 0}
        assert summary(jobs)["mode"] == "full"
        second = job_crawl(rep.base_url, jobs)
        assert second.returncode == 0, second.stderr[-3000:]
        quiet = summary(jobs)
    # Nothing changed: a handful of requests, an empty change set, the same dataset.
    assert quiet["mode"] == "incremental" and quiet["stopped_by"] == "known_documents"
    assert quiet["requests"] <= 5
    assert quiet["changes"] == {"added": 0, "changed": 0, "removed": 0}
    assert quiet["documents"]["dataset"] == 16_153
    assert read_jsonl(jobs / "nightly" / "changes.jsonl") == []
    # The archive gets 25 uploads, 10 edits and 5 removals (same host and port).
    truth = tmp_path / "truth.jsonl"
    with running_replica(port=port, changes="25,10,5", dump_truth=truth) as rep:
        third = job_crawl(rep.base_url, jobs)
    assert third.returncode == 0, third.stderr[-3000:]
    after = summary(jobs)
    assert after["changes"] == {"added": 25, "changed": 10, "removed": 5}
    changes = read_jsonl(jobs / "nightly" / "changes.jsonl")
    assert sorted(c["change"] for c in changes) == ["added"] * 25 + ["changed"] * 10 + ["removed"] * 5
    assert all("summary" in c["fields"] for c in changes if c["change"] == "changed")
    # Only the new and edited documents were fetched again.
    assert after["pages"]["document"] == 35
    assert_equals_truth(jobs / "nightly" / "archive.jsonl", truth)


def kill_after(cmd: list[str], seconds: float, env: dict[str, str]) -> None:
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def crawl_cmd(base_url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "scrapy", "crawl", "archive", "-s", f"HARVESTER_BASE_URL={base_url}",
            "-s", "HARVESTER_PROGRESS_INTERVAL=0", *extra]


def complete_jsonl(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        return False
    try:
        [json.loads(line) for line in text.splitlines()]
    except json.JSONDecodeError:
        return False
    return True


@pytest.mark.slow
def test_sigkill_three_times_then_the_job_finishes_equal_to_the_truth(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    truth = tmp_path / "truth.jsonl"
    with running_replica(dump_truth=truth) as rep:
        # The damage, protection off: Scrapy's own file storage writes in place, and a
        # killed run leaves a truncated file where consumers read it.
        plain = tmp_path / "plain.jsonl"
        kill_after(crawl_cmd(rep.base_url, "-a", "details=true", "-O", str(plain), "-s",
                             'FEED_STORAGES={"": "scrapy.extensions.feedexport.FileFeedStorage"}'), 12, env)
        assert plain.exists()
        assert len(plain.read_text(encoding="utf-8").splitlines()) < 16_153
        # Protection on, a single run: nothing at the consumer's path.
        atomic = tmp_path / "atomic.jsonl"
        kill_after(crawl_cmd(rep.base_url, "-a", "details=true", "-O", str(atomic)), 12, env)
        assert not atomic.exists()

        # A job killed at three random moments, restarted each time.
        jobs = tmp_path / "jobs"
        job = crawl_cmd(rep.base_url, "-a", "job=nightly", "-a", "details=true", "-s", f"HARVESTER_JOBS_DIR={jobs}")
        rng = random.Random(20261130)
        for _ in range(3):
            kill_after(job, rng.uniform(4, 40), env)
            for name in CONSUMER_FILES:
                # Never published yet: no consumer file at all, and never a partial one.
                assert not (jobs / "nightly" / name).exists()
        final = subprocess.run(job, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert final.returncode == 0, final.stderr[-3000:]
    done = summary(jobs)
    assert done["resumed"] is True
    assert done["documents"]["already_done"] > 0
    assert done["documents"]["harvested"] + done["documents"]["already_done"] == 16_153
    assert complete_jsonl(jobs / "nightly" / "archive.jsonl")
    assert_equals_truth(jobs / "nightly" / "archive.jsonl", truth)
    assert not list((jobs / "nightly").glob(".*.partial"))


def test_killing_a_published_job_keeps_the_last_complete_files(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    jobs = tmp_path / "jobs"
    with running_replica(documents=3000) as rep:
        job = crawl_cmd(rep.base_url, "-a", "job=nightly", "-a", "details=true", "-s", f"HARVESTER_JOBS_DIR={jobs}")
        first = subprocess.run(job, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stderr[-3000:]
        before = {name: (jobs / "nightly" / name).read_bytes() for name in CONSUMER_FILES}
        kill_after([*job, "-a", "full=true"], 6, env)
    # The killed full run published nothing: every consumer file is the last complete one.
    for name in CONSUMER_FILES:
        assert (jobs / "nightly" / name).read_bytes() == before[name]


def test_verdicts_of_failed_job_runs(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    with running_replica(documents=40) as rep:
        empty = run_crawl(rep.base_url, tmp_path / "x.jsonl", "job=empty", "query=zzzxqv nothing",
                          settings={"HARVESTER_JOBS_DIR": str(jobs)})
    assert empty.returncode == 1
    assert empty.stderr.strip().splitlines()[-1].endswith(
        "Run FAILED: nothing harvested: the search found no documents")
    assert json.loads((jobs / "empty" / "summary.json").read_text())["status"] == "failed"
    # A stopped replica: nothing answers at that address.
    stopped = run_crawl(f"http://127.0.0.1:{free_port()}", tmp_path / "x.jsonl", "job=stopped",
                        settings={"HARVESTER_JOBS_DIR": str(jobs), "RETRY_TIMES": "1"})
    assert stopped.returncode == 1
    last = stopped.stderr.strip().splitlines()[-1]
    assert "could not be fetched" in last and "nothing harvested" in last
    assert json.loads((jobs / "stopped" / "summary.json").read_text())["reasons"]
    # A changed layout.
    with running_replica(documents=40, faults="layout") as rep:
        changed = run_crawl(rep.base_url, tmp_path / "x.jsonl", "job=layout", "details=true",
                            settings={"HARVESTER_JOBS_DIR": str(jobs)})
    assert changed.returncode == 1
    assert "layout changed" in changed.stderr.strip().splitlines()[-1]
    layout = json.loads((jobs / "layout" / "summary.json").read_text())
    assert layout["status"] == "failed" and layout["structure_errors"] == 40
    assert not (jobs / "layout" / "archive.jsonl").exists()


def test_two_runs_of_one_job_do_not_overlap(tmp_path: Path) -> None:
    from harvester.jobs import JobLock

    jobs = tmp_path / "jobs"
    lock = JobLock(jobs / "nightly" / "lock")
    lock.acquire()
    try:
        with running_replica(documents=40) as rep:
            result = run_crawl(rep.base_url, tmp_path / "x.jsonl", "job=nightly",
                               settings={"HARVESTER_JOBS_DIR": str(jobs)})
    finally:
        lock.release()
    assert result.returncode == 1
    assert f"job is already running (pid {os.getpid()}" in result.stderr
    assert "downloader/request_count" not in result.stderr
