"""Smoke test of ``python -m benchmarks`` on a tiny archive: it runs, prints its tables,
and finds every output equal to the replica's truth. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.common import Check
from benchmarks.crawls import CrawlResult
from benchmarks.dates import date_strings
from benchmarks.memory import memory_report
from benchmarks.profile import categorize_profile
from tests.conftest import ROOT


def test_bench_runs_on_a_tiny_archive_and_outputs_equal_the_truth() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--documents", "60", "--repeat", "1", "--quick"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Crawls of the replica (60 documents)" in out
    for spider, mode in (
        ("baseline", "listing"),
        ("harvester", "listing"),
        ("baseline", "details"),
        ("harvester", "details"),
    ):
        row = next(line for line in out.splitlines() if line.startswith(f"{spider} ") and f" {mode} " in line)
        assert row.rstrip().endswith("yes"), row
    assert "listing: harvester/bare spider throughput" in out
    assert "details: harvester/bare spider CPU per document page" in out
    assert "DocumentPage(url, body).fields()" in out
    assert "Wrong results: 0; invented parts (a year or month given more precision): 0" in out
    assert "Peak RSS of the details crawl at 60 documents" in out
    assert out.rstrip().endswith("outputs equal to the truth: yes")


def test_date_strings_state_their_own_answer() -> None:
    data = date_strings(1000)
    assert {form for *_, form in data} == {"day", "month", "year", "absent", "old day", "old month"}
    for text, iso, precision, form in data:
        if form == "year":
            assert text == iso and precision == "year"
        if form == "old day":
            assert text.split()[1][:2].isdigit() and len(text.split()[1]) == 3  # "05,"


def test_a_count_only_check_and_a_field_check() -> None:
    assert Check(expected=3, records=3, unique=3).equal
    assert not Check(expected=3, records=4, unique=3, fields=2).equal
    assert not Check(expected=3, records=3, unique=3, fields=2, mismatches={"title": 1}).equal


def test_profile_samples_are_split_by_owner() -> None:
    main = (
        "_run_module_as_main (<frozen runpy>:198);Command.run (harvester/commands/crawl.py:29);"
        "run (twisted/internet/base.py:1)"
    )
    raw = "\n".join(
        [
            f"{main};parse_document (harvester/spiders/archive.py:9);DocumentPage.fields (harvester/pages/document.py:5) 3",
            f"{main};process_item (harvester/pipelines.py:4);canonical_document_url (harvester/identity.py:2) 2",
            f"{main};EpollSelector.select (selectors.py:468) 50",
            "Thread._bootstrap (threading.py:1002);wait (threading.py:327) 9",
            f"{main};_read (twisted/internet/tcp.py:1) 5",
        ]
    )
    busy, categories, framework, hotspots = categorize_profile(raw)
    assert busy == 10
    assert categories["harvester: page classes (pages/, lxml parse included)"] == 3
    assert categories["harvester: item pipelines"] == 2
    assert framework == {"twisted/internet/tcp.py": 5}
    assert hotspots == {"DocumentPage.fields()": 3}


def test_the_memory_report_judges_no_growth_on_a_crawl_that_failed() -> None:
    """The 10x crawls once stopped at the walk's HARVESTER_MAX_RESULTS cap (exit 1 after a
    page): their small peak RSS read as a growth of -11%, "MET"."""

    def run(mode: str, documents: int, rss: float, returncode: int = 0) -> CrawlResult:
        check = Check(expected=documents, records=documents, unique=documents)
        if returncode:
            check = Check(expected=documents)
        return CrawlResult(
            "harvester", mode, documents, 0, returncode, 1.0, 1.0, rss, 1, documents, 0.0, check
        )

    good = [run("listing", 100, 100.0), run("details", 100, 110.0)]
    report = memory_report([*good, run("listing", 1000, 104.0), run("details", 1000, 118.0)], 100, 1000)
    assert (
        "Growth of the details crawl's peak RSS from 100 to 1,000 documents: +7.3%; target < 20%: MET"
        in report
    )
    assert "NOT MEASURED" not in report
    report = memory_report([*good, run("listing", 1000, 96.0, 1), run("details", 1000, 97.0, 1)], 100, 1000)
    assert "Growth" not in report
    assert "NOT MEASURED: listing at 1,000 documents, details at 1,000 documents failed" in report
