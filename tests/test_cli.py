"""What only the command line shows: the exit status and the last log line.

Every refusal is one clear line, last, before any request, naming the argument or setting
and the fix; a failed run leaves the published files as they were and says where its own
records went.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from replica.process import running_replica
from tests.conftest import ROOT, run_crawl

NOWHERE = "http://127.0.0.1:9"  # nothing listens there: a refusal must not get that far


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip().splitlines()[-1]


def assert_refused(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, result.stderr[-2000:]
    last = last_line(result)
    assert "Run FAILED: " in last, result.stderr[-2000:]
    for text in expected:
        assert text in last, last
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "Task exception was never retrieved" not in result.stderr
    assert "downloader/request_count" not in result.stderr


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("qeury=Korea", "argument qeury='Korea': unknown argument"),
        ("max_pages=ten", "argument max_pages='ten'"),
        ("details=yes", "argument details='yes'"),
        ("full=true", "argument full='true': full=true is for scheduled jobs: give job=NAME too"),
    ],
)
def test_a_wrong_argument_is_one_line_before_any_request(arg: str, message: str, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    result = run_crawl(NOWHERE, out, arg)
    assert_refused(result, message)
    assert not out.exists()


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "HARVESTER_MIN_COMPLETENESS",
            "abc",
            "argument HARVESTER_MIN_COMPLETENESS='abc': give a number from 0 to 1",
        ),
        ("HARVESTER_BASE_URL", "digitalarchive.wilsoncenter.org", "argument HARVESTER_BASE_URL="),
    ],
)
def test_a_wrong_setting_is_one_line_before_any_request(
    setting: str, value: str, message: str, tmp_path: Path
) -> None:
    result = run_crawl(NOWHERE, tmp_path / "x.jsonl", settings={setting: value})
    assert_refused(result, message)


def test_a_start_url_on_another_host_is_refused(tmp_path: Path) -> None:
    result = run_crawl(NOWHERE, tmp_path / "x.jsonl", "start_url=https://example.org/search?x=1")
    assert_refused(result, "argument start_url=", "is not on the site being harvested (http://127.0.0.1:9)")


def test_an_exported_base_url_that_is_not_used_is_refused(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "scrapy", "crawl", "archive", "-O", str(tmp_path / "x.jsonl")]
    env = dict(os.environ, PYTHONPATH=str(ROOT), HARVESTER_BASE_URL="http://127.0.0.1:8000")
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert_refused(result, "HARVESTER_BASE_URL='http://127.0.0.1:8000'", "is exported in the environment")


def test_an_unknown_spider_is_one_line(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "scrapy", "crawl", "archiv"]
    result = subprocess.run(
        cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120
    )
    assert_refused(result, "no spider named 'archiv'; known spiders: archive")


def test_an_unwritable_output_fails_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_crawl(NOWHERE, blocker / "x.jsonl")
    assert_refused(result, "cannot write there")


def test_an_output_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "out.jsonl"
    folder.mkdir()
    result = run_crawl(NOWHERE, folder)
    assert_refused(result, "is a folder; give a file name inside it")
    assert folder.is_dir()


def test_an_output_named_like_the_summary_is_refused(tmp_path: Path) -> None:
    result = run_crawl(NOWHERE, tmp_path / "run.summary.json")
    assert_refused(result, "names a run summary file")


def test_a_failed_run_says_where_its_records_went(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    with running_replica(documents=250) as rep:
        good = run_crawl(rep.base_url, out)
    assert good.returncode == 0, good.stderr[-2000:]
    before = out.read_bytes()
    with running_replica(documents=250, faults="500@/search?items_per_page=100&page=1") as rep:
        failed = run_crawl(rep.base_url, out, settings={"RETRY_TIMES": "0"})
    assert failed.returncode == 1
    assert out.read_bytes() == before
    last = last_line(failed)
    assert "Run FAILED: " in last and f"kept aside in {tmp_path / 'x.failed.jsonl'}" in last
    assert (tmp_path / "x.failed.jsonl").exists()


def test_sigterm_changes_no_published_file(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    with running_replica(documents=2000) as rep:
        good = run_crawl(rep.base_url, out)
        assert good.returncode == 0, good.stderr[-2000:]
        before = out.read_bytes()
        cmd = [sys.executable, "-m", "scrapy", "crawl", "archive", "-s", f"HARVESTER_BASE_URL={rep.base_url}",
               "-O", str(out), "-a", "details=true"]  # fmt: skip
        process = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size > 50_000 for p in tmp_path.glob(".x.jsonl.*.partial")):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert out.read_bytes() == before
    assert "interrupted" in stderr.strip().splitlines()[-1]


def test_a_plan_prints_the_plan_and_exits_zero(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    with running_replica(documents=250) as rep:
        result = run_crawl(
            rep.base_url,
            out,
            "plan=true",
            "details=true",
            settings={"DOWNLOAD_DELAY": "3", "HARVESTER_LOCAL_FAST": "False"},
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == (
        "Plan: the site reports 250 documents on 3 pages of 100; this run: ~254 requests "
        "(3 results pages, 250 document pages, robots.txt), ~13 min at 3.0 s/request"
    )
    assert last_line(result).endswith("Run OK")
    assert not out.exists() and list(tmp_path.iterdir()) == []
