"""What only the command line shows: the exit status and the last log line.

Every refusal is one clear line, last, before any request, naming the argument or setting
and the fix; a failed run leaves the published files as they were and says where its own
records went.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from replica.process import crawl_command, running_replica
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
        ("detials=true", "argument detials='true': unknown argument; did you mean details?"),
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
        (
            "HARVESTER_PAGESIZE",
            "50",
            "argument HARVESTER_PAGESIZE='50': unknown setting; did you mean HARVESTER_PAGE_SIZE?",
        ),
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
    # Once (not again in the log), and no harvest verdict: a plan harvests nothing.
    assert result.stderr.count("Plan: the site reports") == 0
    assert "Run OK" not in result.stderr and "Harvested 0" not in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def cli(base_url: str, *extra: str, **popen: Any) -> subprocess.Popen[str]:
    """``scrapy crawl archive`` against ``base_url`` with ``extra`` options, not yet waited for."""
    cmd = crawl_command(base_url, "-s", "HARVESTER_PROGRESS_INTERVAL=0", *extra)
    popen.setdefault("stderr", subprocess.PIPE)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, **popen)


@pytest.mark.parametrize("output", ["-", "/dev/stdout"])
def test_a_stream_to_stdout_carries_every_record_and_no_log_line(output: str) -> None:
    with running_replica(documents=30) as rep:
        process = cli(rep.base_url, "-O", output, stdout=subprocess.PIPE)
        stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
    records = [json.loads(line) for line in stdout.splitlines()]  # what `| jq` reads
    assert len(records) == 30 and len({r["url"] for r in records}) == 30
    assert '{"id": ' not in stderr
    assert "Run OK" in stderr.strip().splitlines()[-1]
    # Nothing was staged: no summary or report beside another dataset.
    assert "No run summary or report" in stderr and "Report: " not in stderr


def test_records_that_do_not_reach_stdout_fail_the_run() -> None:
    with running_replica(documents=30) as rep:
        # Scrapy's own stdout storage: the reader is gone, every record is lost, and the run says OK.
        plain = cli(rep.base_url, "-O", "-", "-s", 'FEED_STORAGES={"stdout": "scrapy.extensions.feedexport.StdoutFeedStorage"}',
                    stdout=subprocess.PIPE)  # fmt: skip
        assert plain.stdout is not None
        plain.stdout.close()  # `| head -0`: nothing reads
        _, plain_err = plain.communicate(timeout=300)
        assert plain.returncode == 0 and "Run OK" in plain_err.strip().splitlines()[-1]
        process = cli(rep.base_url, "-O", "-", stdout=subprocess.PIPE)
        assert process.stdout is not None
        process.stdout.close()
        _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1
    assert stderr.count("Could not write to standard output (Broken pipe)") == 1
    assert "Run FAILED: an output could not be written in full" in stderr.strip().splitlines()[-1]


def test_dev_stdout_into_a_cron_log_appends_and_never_replaces_it(tmp_path: Path) -> None:
    with running_replica(documents=30) as rep:
        # Scrapy's own file storage opens /dev/stdout anew and truncates the log it names.
        plain_log = tmp_path / "plain.log"
        plain_log.write_text("yesterday's run\n")
        with plain_log.open("a") as log:
            plain = cli(rep.base_url, "-O", "/dev/stdout", "-s", 'FEED_STORAGES={"": "scrapy.extensions.feedexport.FileFeedStorage"}',
                        stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
            plain.wait(timeout=300)
        assert not plain_log.read_text().startswith("yesterday's run")
        cron_log = tmp_path / "cron.log"
        cron_log.write_text("yesterday's run\n")
        inode = cron_log.stat().st_ino
        with cron_log.open("a") as log:  # >> cron.log 2>&1
            process = cli(rep.base_url, "-O", "/dev/stdout", stdout=log, stderr=subprocess.STDOUT)
            process.wait(timeout=300)
    assert process.returncode == 0
    lines = cron_log.read_text().splitlines()
    assert lines[0] == "yesterday's run"
    assert len([line for line in lines if line.startswith('{"id": ')]) == 30
    assert "Run OK" in lines[-1]
    assert cron_log.stat().st_ino == inode and stat.S_ISREG(cron_log.stat().st_mode)


BLOCKING_OPEN = """
import sys
from scrapy.extensions.feedexport import FileFeedStorage
from scrapy.utils.ossignal import install_shutdown_handlers
install_shutdown_handlers(lambda signum, frame: None)
FileFeedStorage(sys.argv[1], feed_options={"overwrite": True}).open(None)
"""


def test_a_fifo_without_a_reader_fails_in_bounded_time_and_obeys_sigterm(tmp_path: Path) -> None:
    fifo = tmp_path / "records"
    os.mkfifo(fifo)
    with running_replica(documents=30) as rep:
        # Scrapy's own file storage opens the FIFO the blocking way: stuck, deaf to SIGTERM
        # (Scrapy's handler only asks the reactor to stop, and the reactor waits on open()).
        plain = subprocess.Popen([sys.executable, "-c", BLOCKING_OPEN, str(fifo)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(3)
            plain.send_signal(signal.SIGTERM)
            with pytest.raises(subprocess.TimeoutExpired):
                plain.wait(timeout=5)
        finally:
            plain.kill()
            plain.wait()
        started = time.monotonic()
        bounded = cli(rep.base_url, "-O", str(fifo), "-s", "HARVESTER_STREAM_WAIT=1")
        _, stderr = bounded.communicate(timeout=120)
        assert bounded.returncode == 1 and time.monotonic() - started < 60
        assert (
            f"nothing read the FIFO {fifo} within 1 s; start its reader first"
            in stderr.strip().splitlines()[-1]
        )
        assert "downloader/request_count" not in stderr
        waiting = cli(rep.base_url, "-O", str(fifo))
        assert waiting.stderr is not None
        for line in waiting.stderr:
            if "Waiting up to 30 s for a reader" in line:
                break
        waiting.send_signal(signal.SIGTERM)
        rest = waiting.communicate(timeout=30)[1]
    assert waiting.returncode == 1
    assert (
        f"stopped by SIGTERM while waiting for a reader on the FIFO {fifo}" in rest.strip().splitlines()[-1]
    )
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_the_verdict_is_the_last_line_at_every_log_level(tmp_path: Path) -> None:
    with running_replica(documents=20) as rep:
        quiet = run_crawl(rep.base_url, tmp_path / "x.jsonl", settings={"LOG_LEVEL": "WARNING"})
    assert quiet.returncode == 0
    assert quiet.stderr.strip().splitlines()[-1:] == ["Run OK"]
    silent = run_crawl(NOWHERE, tmp_path / "y.jsonl", "max_pages=x", settings={"LOG_LEVEL": "CRITICAL"})
    assert silent.returncode == 1
    assert silent.stderr.strip().splitlines()[-1].startswith("Run FAILED: argument max_pages='x'")
