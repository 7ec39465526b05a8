"""The HTML run report (harvester/report/): written by every run beside its files, also
when the run fails, rebuilt from the files by ``python -m harvester.report``, a job's with
its history; self-contained (nothing fetched); never a reason for a run to fail."""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Sequence
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from harvester.items import LISTING_FIELDS
from harvester.jobs.store import read_history
from harvester.report import build as report_build
from harvester.report import charts
from harvester.report import extension as report_extension
from harvester.report.__main__ import main as report_main
from harvester.report.dataset import DatasetProfile
from harvester.report.html import ReportData, render
from replica.process import running_replica
from tests.conftest import ROOT, read_jsonl
from tests.crawling import crawl

SEED_QUERY = "Korean Workers' Party"
#: The charts every details report of a run draws (data-chart keys).
DATASET_CHARTS = {"years", "coverage", "top-languages", "top-places", "top-topics", "top-authors",
                  "top-original_archive", "text-length"}  # fmt: skip
RUN_CHARTS = {"statuses", "pace"}


class Page(HTMLParser):
    """What a test reads in a report: ids, chart figures, their SVGs and tables, every URL."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.figures: dict[str, dict[str, int]] = {}
        self.urls: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()
        self.meta_csp = ""
        self._figure: str | None = None
        self._depth = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if "id" in a:
            self.ids.append(a["id"])
        for name in ("src", "href", "xlink:href", "srcset", "action", "data"):
            if name in a:
                self.urls.append((tag, name, a[name]))
        if tag == "meta" and a.get("http-equiv", "").lower() == "content-security-policy":
            self.meta_csp = a.get("content", "")
        if tag == "figure" and "data-chart" in a:
            self._figure = a["data-chart"]
            self.figures[self._figure] = {"svg": 0, "table": 0, "rect": 0, "text": 0}
        elif self._figure is not None and tag in ("svg", "table", "text"):
            self.figures[self._figure][tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_self_contained(html: str) -> Page:
    page = Page(html)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert "default-src 'none'" in page.meta_csp
    # Only in-page anchors and links a reader may follow (documents); nothing loads by itself.
    for tag, attr, url in page.urls:
        assert url.startswith("#") or (tag == "a" and attr == "href"), (tag, attr, url)
    assert "@import" not in html and "url(http" not in html and "@font-face" not in html
    assert len(page.ids) == len(set(page.ids)), "duplicate ids across the inline charts"
    return page


def summary_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# --- the page ---------------------------------------------------------------------------------


def sample_records() -> list[dict[str, Any]]:
    base = {"id": "a", "url": "http://x/document/a", "title": "A", "summary": None, "languages": ["Russian"],
            "places": ["Moscow", "Beijing"], "topics": ["Cold War"], "authors": ["Kim, Il Sung"],
            "original_archive": ["AVP RF"], "text": "abc"}  # fmt: skip
    return [
        {**base, "date": "1962-01-03", "date_precision": "day"},
        {**base, "id": "b", "date": "1962-05", "date_precision": "month", "places": ["Moscow"], "text": None},
        {**base, "id": "c", "date": "1958", "date_precision": "year", "languages": ["Chinese", "Russian"]},
        {**base, "id": "d", "date": None, "date_precision": None, "title": None, "text": "x" * 5000},
    ]


def test_the_profile_counts_years_by_precision_coverage_and_facets() -> None:
    profile = DatasetProfile().extend(sample_records())
    years = dict(profile.years())
    assert years[1962] == {"day": 1, "month": 1, "year": 0}
    assert years[1958] == {"day": 0, "month": 0, "year": 1}
    assert years[1960] == {"day": 0, "month": 0, "year": 0}  # a year without documents is a gap
    assert profile.undated == 1
    coverage = {name: share for name, _, _, share in profile.coverage()}
    assert coverage["title"] == 0.75 and coverage["summary"] == 0 and coverage["languages"] == 1
    assert profile.top("languages") == [("Russian", 4), ("Chinese", 1)]
    assert profile.top("places")[0] == ("Moscow", 4)
    assert profile.no_text == 1 and sorted(profile.text_lengths) == [3, 3, 5000]
    assert profile.details  # it has details fields


SAMPLE_SUMMARY = {"status": "ok", "reasons": [], "responses_by_status": {"200": 14, "404": 1},
                  "retries_by_reason": {"twisted.internet.error.TimeoutError": 2},
                  "pages_per_minute": {"bucket_s": 60, "series": [60.0, 120.0, 30.0, 90.0, 45.0]}}  # fmt: skip


def test_a_listing_runs_page_shows_the_listing_fields_only() -> None:
    listing = [{k: v for k, v in r.items() if k in LISTING_FIELDS} for r in sample_records()]
    profile = DatasetProfile().extend(listing)
    assert not profile.details
    assert [name for name, _ in profile.fields()] == list(LISTING_FIELDS)
    page = Page(render(ReportData(summary=SAMPLE_SUMMARY, profile=profile)))
    assert {"years", "coverage"} <= set(page.figures)
    assert not any(key.startswith("top-") or key == "text-length" for key in page.figures)


def test_the_page_is_whole_and_fetches_nothing() -> None:
    html = render(ReportData(summary=SAMPLE_SUMMARY, profile=DatasetProfile().extend(sample_records())))
    page = assert_self_contained(html)
    assert set(page.figures) >= DATASET_CHARTS | RUN_CHARTS | {"retries"}
    for key, found in page.figures.items():
        assert found["table"] == 1, key
        assert found["svg"] == 1, key
    # Labels are text in the SVG: the years, the precisions, a place.
    assert re.search(r"<text[^>]*>1962</text>", html) and ">undated</text>" in html
    assert ">Moscow</text>" in html


def test_a_pace_is_drawn_only_for_a_run_long_enough_to_have_one() -> None:
    # 13 responses in 0.03 s: steps of 0.01 s read as tens of thousands of pages a minute.
    spikes = [60 * 5 / 0.01, 60 * 6 / 0.01, 60 * 2 / 0.01]
    short = {**SAMPLE_SUMMARY, "pages_per_minute": {"bucket_s": 0.01, "series": spikes}}
    html = render(ReportData(summary=short))
    assert Page(html).figures["pace"]["svg"] == 0
    assert f"{spikes[0]:,.0f}" not in html and f"{spikes[1]:,.1f}" not in html
    assert "Too short a run for a pace: 13 responses in 0.03 s." in html
    # Five minutes of a few hundred responses: drawn, with its table.
    long = render(ReportData(summary=SAMPLE_SUMMARY))
    assert Page(long).figures["pace"]["svg"] == 1 and Page(long).figures["pace"]["table"] == 1


def test_years_drawn_apart_are_said_and_kept_in_the_table() -> None:
    records = [
        {"id": f"{y}-{n}", "date": str(y), "date_precision": "year"}
        for y in range(1950, 1971)
        for n in range(9)
    ]
    records.append({"id": "late", "date": "2007", "date_precision": "year"})
    html = render(ReportData(summary=SAMPLE_SUMMARY, profile=DatasetProfile().extend(records)))
    assert "1 document(s) of 2007 are drawn apart, beside 1950–1970" in html
    assert "<tr><th scope=row>2007</th>" in html


# --- data is escaped in every section --------------------------------------------------------

#: Titles, names, field names and reasons a hostile archive (or a broken run) may hand the report.
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', r"$\frac{a}{b}$"]


class Parsed(HTMLParser):
    """The tags and attributes a piece of HTML really has (what a browser would build)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


@functools.lru_cache(maxsize=8)
def hostile_page(hostile: str) -> str:
    """A job's report with *hostile* as every title, author, place, field name, retry reason,
    verdict reason, changed field and failing document's id and error."""
    record = {"id": "a", "url": "http://x/document/a", "title": hostile, "date": "1962", "date_precision": "year",
              "authors": [hostile], "places": [hostile], "languages": [hostile], "topics": [hostile],
              "original_archive": [hostile], "text": "abc", hostile: "x"}  # fmt: skip
    url = "http://x/document/a"
    summary = {
        **SAMPLE_SUMMARY, "status": "failed", "job": "nightly", "run": 2, "reasons": [hostile],
        "arguments": {"query": hostile, "details": True},
        "retries_by_reason": {hostile: 2},
        "stale_documents": [{"url": url, "id": hostile, "since": "2026-12-01T02:30:00Z", "error": hostile,
                             "attempts": 2, "next_try": "2026-12-03"}],
    }  # fmt: skip
    return render(
        ReportData(
            summary=summary, profile=DatasetProfile().extend([record]),
            history=[{"run": 1, "started": "2026-12-01T02:30:00Z", "summary": {"status": "failed", "reasons": [hostile]}}],
            changes=[{"run": 2, "change": "changed", "url": url, "id": hostile, "fields": [hostile]}],
            changes_total=1, changes_published=True, titles={url: hostile},
        )
    )  # fmt: skip


def section(html: str, start: str, end: str) -> str:
    """The page from the element with id *start* (the page's start when empty) to the one with id *end*."""
    return html[html.index(f'id="{start}"') if start else 0 : html.index(f'id="{end}"')]


#: Each part of the page that shows hostile data: where it starts and ends.
SECTIONS = {
    "verdict reasons and the run's arguments": ("verdict", "dataset"),
    "dataset: field coverage (a field name)": ("chart-coverage", "chart-top-languages"),
    "dataset: the most frequent authors and places": ("chart-top-languages", "chart-text-length"),
    "run: retries by reason": ("chart-retries", "chart-pace"),
    "job: history (why each run failed)": ("chart-history", "stale"),
    "job: failing documents": ("stale", "changes"),
    "job: the last change set, with titles": ("changes", "job-end"),
}


@pytest.mark.parametrize("name", list(SECTIONS))
@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_section_shows_hostile_data_as_text(name: str, hostile: str) -> None:
    html = hostile_page(hostile).replace("<footer>", '<footer id="job-end">', 1)
    part = section(html, *SECTIONS[name])
    found = Parsed(part)
    # Markup made of the data would be tags and attributes; escaped, it is text a reader sees.
    assert "script" not in found.tags and "img" not in found.tags, name
    assert "onerror" not in found.attributes and "src" not in found.attributes, name
    assert escape(hostile, quote=False) in part or escape(hostile) in part, name
    if hostile.startswith("$"):
        assert hostile in part  # as written, never a formula


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_title_and_headline_show_a_hostile_query_as_text(hostile: str) -> None:
    summary = {**SAMPLE_SUMMARY, "arguments": {"query": hostile}}
    html = render(ReportData(summary=summary)).replace("<section", '<section id="end"', 1)
    part = section(html, "", "end")
    assert "script" not in Parsed(part).tags and "img" not in Parsed(part).tags
    assert part.count(escape(hostile)) == 2  # <title> and <h1>


def without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "_error", "No module named 'matplotlib'")


@pytest.mark.parametrize("name", list(SECTIONS))
def test_every_section_escapes_its_tables_too(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the charts, only the tables and lists carry the data: each must escape it itself
    # (a chart's SVG label, escaped by matplotlib, cannot stand in for its table).
    without_matplotlib(monkeypatch)
    hostile = HOSTILE[0]
    html = hostile_page(hostile).replace("<footer>", '<footer id="job-end">', 1)
    part = section(html, *SECTIONS[name])
    assert "script" not in Parsed(part).tags, name
    assert escape(hostile) in part, name


def test_without_matplotlib_the_page_keeps_its_tables_and_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "_error", "No module named 'matplotlib'")
    html = render(ReportData(summary=SAMPLE_SUMMARY, profile=DatasetProfile().extend(sample_records())))
    page = assert_self_contained(html)
    assert "svg" not in page.tags
    assert set(page.figures) >= DATASET_CHARTS | RUN_CHARTS
    assert all(found["table"] == 1 for found in page.figures.values())
    assert 'id="no-charts"' in html and "pip install 'harvester[report]'" in html


# --- runs ---------------------------------------------------------------------------------------


@deferred_f_from_coro_f
async def test_a_run_writes_its_report_beside_its_output_and_it_can_be_rebuilt(tmp_path: Path) -> None:
    with running_replica(documents=60) as rep:
        out = tmp_path / "seed.jsonl"
        result = await crawl(rep.base_url, f"query={SEED_QUERY}", "details=true", out=out)
    assert result.verdict == "ok", result.reasons
    report = tmp_path / "seed.report.html"
    assert result.stat("harvester/output/report") == str(report)
    html = report.read_text(encoding="utf-8")
    page = assert_self_contained(html)
    for key in DATASET_CHARTS | RUN_CHARTS - {"pace"}:
        assert page.figures[key]["svg"] == 1 and page.figures[key]["table"] == 1, key
    # A run of a second or so has no pace worth drawing: a sentence says so instead.
    assert page.figures["pace"] == {"svg": 0, "table": 0, "rect": 0, "text": 0}
    responses = result.stat("downloader/response_count")
    assert f"Too short a run for a pace: {responses} responses in " in html
    assert "<p>No retries.</p>" in html
    assert '<span class="status ok">OK</span>' in html
    assert "11 <small>of 11 reported</small>" in html
    summary = summary_of(tmp_path / "seed.summary.json")
    pace = summary["pages_per_minute"]
    assert pace["series"] and pace["bucket_s"] > 0
    assert len(pace["series"]) <= 120
    # Rebuilt from the files alone: the same dataset section as the run's own report.
    rebuilt = tmp_path / "rebuilt.html"
    assert report_main([str(out), "-o", str(rebuilt)]) == 0
    again = rebuilt.read_text(encoding="utf-8")
    section = re.compile(r'<section id="dataset".*?</section>', re.S)
    first_section, second_section = section.search(html), section.search(again)
    assert first_section is not None and second_section is not None
    assert first_section.group(0) == second_section.group(0)


@deferred_f_from_coro_f
async def test_a_runs_charts_are_drawn_outside_the_crawl_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # matplotlib and numpy (~45 MB) imported by the crawl to draw its report stay in its
    # memory and set its peak RSS (issue 17); drawn in the crawl, this report has no chart.
    def here(calls: Sequence[charts.Chart]) -> charts.Drawn:
        raise AssertionError("a chart was drawn in the crawl process")

    monkeypatch.setattr(charts, "draw_here", here)
    with running_replica(documents=40) as rep:
        result = await crawl(rep.base_url, f"query={SEED_QUERY}", "details=true", out=tmp_path / "x.jsonl")
    assert result.verdict == "ok", result.reasons
    page = Page((tmp_path / "x.report.html").read_text(encoding="utf-8"))
    for key in DATASET_CHARTS | {"statuses"}:
        assert page.figures[key]["svg"] == 1, key


@deferred_f_from_coro_f
async def test_a_failed_run_writes_its_report_leading_with_why(tmp_path: Path) -> None:
    with running_replica(documents=40, faults="oversize:mib=6@1.0/document/") as rep:
        out = tmp_path / "over.jsonl"
        result = await crawl(rep.base_url, "details=true", out=out, settings={"DOWNLOAD_MAXSIZE": 5 * 2**20})
    assert result.verdict == "failed"
    html = (tmp_path / "over.report.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    assert '<span class="status failed">FAILED</span>' in html
    why = html.index('<div class="why"')
    assert why < html.index('id="dataset"')  # the reasons first
    assert result.reasons and all(f"<li>{escape(r)}</li>" in html[why:] for r in result.reasons)
    assert any("over the size limit (DOWNLOAD_MAXSIZE)" in r for r in result.reasons)
    assert "No published file was changed" in html
    assert not out.exists()


@deferred_f_from_coro_f
async def test_a_report_that_cannot_be_built_does_not_change_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(path: Path, data: ReportData, **options: Any) -> int:
        raise RuntimeError("the report broke")

    monkeypatch.setattr(report_extension, "write_report", broken)
    with running_replica(documents=40) as rep:
        result = await crawl(rep.base_url, f"query={SEED_QUERY}", out=tmp_path / "x.jsonl")
    assert result.verdict == "ok", result.reasons
    assert "Could not write the run report: the report broke" in caplog.text
    assert (tmp_path / "x.jsonl").exists() and not (tmp_path / "x.report.html").exists()


# --- a job ---------------------------------------------------------------------------------------


@deferred_f_from_coro_f
async def test_a_jobs_report_shows_its_history_and_the_last_change_set(tmp_path: Path) -> None:
    port, jobs = free_port(), tmp_path / "jobs"
    settings = {"HARVESTER_JOBS_DIR": str(jobs)}
    args = ("job=nightly", "details=true")
    with running_replica(port=port, documents=60) as rep:
        for _ in range(2):
            run = await crawl(rep.base_url, *args, settings=settings)
            assert run.verdict == "ok", run.reasons
    with running_replica(port=port, documents=60, changes="5,3,2") as rep:
        third = await crawl(rep.base_url, *args, settings=settings)
    assert third.verdict == "ok", third.reasons
    folder = jobs / "nightly"
    report = folder / "report.html"
    assert third.stat("harvester/output/report") == str(report)
    html = report.read_text(encoding="utf-8")
    page = assert_self_contained(html)
    assert page.figures["history"]["svg"] == 1 and page.figures["history"]["table"] == 1
    history = read_history(folder)
    assert [run["run"] for run in history] == [1, 2, 3]
    for run in history:
        assert f"<th scope=row>run {run['run']}</th>" in html
    assert ">run 3</text>" in html  # the chart's label
    # The last change set: ten documents, each linked; an edited one named by its title.
    changes = read_jsonl(folder / "changes.jsonl")
    assert len(changes) == 10
    section = html[html.index('id="changes"') :]
    for change in changes:
        assert f'<a href="{change["url"]}">{change["id"]}</a>' in section
    assert "The last change set (run 3): 10 documents" in html
    # The dataset is the job's whole published dataset.
    assert f"<strong>{len(read_jsonl(folder / 'archive.jsonl'))}</strong> records" in html
    # Rebuilt from the folder alone (a read-only look at its state, no lock).
    assert report_main([str(folder), "-o", str(tmp_path / "job.html")]) == 0
    rebuilt = (tmp_path / "job.html").read_text(encoding="utf-8")
    assert rebuilt.count("<th scope=row>run ") == 3
    # A fourth run finds nothing at the address: its report leads with why, the history has
    # it, and the dataset and change set shown are the last complete run's.
    failed = await crawl(f"http://127.0.0.1:{port}", *args, settings={**settings, "RETRY_TIMES": 0})
    assert failed.verdict == "failed"
    html = report.read_text(encoding="utf-8")
    assert html.index('<div class="why"') < html.index('id="dataset"')
    assert all(f"<li>{escape(r)}</li>" in html for r in failed.reasons)
    assert '<td><span class="status failed">failed</span></td>' in html
    assert html.count("<th scope=row>run ") == 4
    assert "as the last complete run left it" in html
    assert "The last change set (run 3): 10 documents" in html


@deferred_f_from_coro_f
async def test_a_summary_is_never_drawn_with_the_records_of_another_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two runs to one dataset, each keeping its own summary: the second replaces the first's
    # records (11 of the seed search, then the whole archive of 60).
    out, first, second = (
        tmp_path / "a.jsonl",
        tmp_path / "first.summary.json",
        tmp_path / "second.summary.json",
    )
    with running_replica(documents=60) as rep:
        one = await crawl(
            rep.base_url, f"query={SEED_QUERY}", out=out, settings={"HARVESTER_SUMMARY_FILE": str(first)}
        )
        two = await crawl(rep.base_url, out=out, settings={"HARVESTER_SUMMARY_FILE": str(second)})
    assert one.verdict == two.verdict == "ok"
    records = len(read_jsonl(out))
    assert summary_of(first)["documents"]["harvested"] == 11 != records
    assert summary_of(first)["datasets"][str(out)]["bytes"] != out.stat().st_size
    # The damage, shown first: without the check, the first run's verdict and figures are
    # drawn over the second run's records, without a word.
    monkeypatch.setattr(report_build, "_fingerprint_in", lambda summary, dataset: None)
    assert report_main([str(first), "-o", str(tmp_path / "mixed.html")]) == 0
    mixed = (tmp_path / "mixed.html").read_text(encoding="utf-8")
    assert "11 <small>of 11 reported</small>" in mixed and f"<strong>{records}</strong> records" in mixed
    monkeypatch.undo()
    # Refused: one line naming the dataset and the summary, and what to do.
    capsys.readouterr()
    assert report_main([str(first), "-o", str(tmp_path / "refused.html")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {out} is not the dataset {first} describes")
    assert f"python -m harvester.report {out}" in err
    assert not (tmp_path / "refused.html").exists()
    # The second run's own summary still agrees with it.
    assert report_main([str(second), "-o", str(tmp_path / "second.html")]) == 0
    # Asked for the dataset, with the first run's summary beside it: the records alone, and why.
    (tmp_path / "a.summary.json").write_bytes(first.read_bytes())
    assert report_main([str(out), "-o", str(tmp_path / "records.html")]) == 0
    alone = (tmp_path / "records.html").read_text(encoding="utf-8")
    assert f"<strong>{records}</strong> records" in alone and "11 <small>of 11 reported</small>" not in alone
    assert "the report covers the records only" in alone
    # Same size, other bytes (one letter of a title changed): the hash tells.
    text = out.read_text(encoding="utf-8")
    title = read_jsonl(out)[0]["title"]
    swapped = title.replace(title[0], "X" if title[0] != "X" else "Y", 1)
    out.write_text(text.replace(json.dumps(title)[1:-1], json.dumps(swapped)[1:-1], 1), encoding="utf-8")
    assert out.stat().st_size == summary_of(second)["datasets"][str(out)]["bytes"]
    capsys.readouterr()
    assert report_main([str(second), "-o", str(tmp_path / "edited.html")]) == 1
    assert "sha256" in capsys.readouterr().err


def test_the_command_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main([str(tmp_path / "missing.jsonl")]) == 1
    assert "missing.jsonl does not exist" in capsys.readouterr().err


def test_the_benchmark_measures_the_report(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "report", "--documents", "60", "--repeat", "1"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Report of the details dataset (60 documents" in result.stdout
    # A timing is a measurement, not a test (a shared machine may take longer): said, either way.
    assert re.search(r"build time: [\d.]+ s, target <= 5 s: (MET|MISSED)", result.stdout), result.stdout
    assert re.search(r"size: [\d,]+ bytes, target <= 3,000,000: MET", result.stdout), result.stdout
