"""The run report: once the run is judged (``run_ended``, from :class:`harvester.finish.RunEnd`),
the harvested-vs-reported line, per-field coverage, the summary (JSON), and, once a job has
recorded the run (``run_closed``), the HTML report (:mod:`harvester.report.build`; a report
that cannot be built is logged and leaves the verdict as it is). It judges nothing and
publishes nothing.

While the crawl runs it counts responses over time (:class:`.pace.PaceSeries`, pages per
minute) and profiles the records (:class:`.dataset.DatasetProfile`), both in memory that
does not grow with the run.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import Spider
from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler

from harvester import signals
from harvester import stats as keys
from harvester.files import write_json
from harvester.items import fields_of
from harvester.jobs.extension import JobExtension
from harvester.publish import Published, PublishGate
from harvester.report import coverage
from harvester.report.build import job_report, report_path, write_report
from harvester.report.dataset import DatasetProfile
from harvester.report.html import ReportData
from harvester.report.pace import PaceSeries
from harvester.report.summary import build_summary, summary_path
from harvester.report.verdict import kept_by_job
from harvester.walk import WalkOutcome

if TYPE_CHECKING:
    from harvester.finish import Verdict

logger = logging.getLogger(__name__)


class RunReport:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.fields: list[str] = list(crawler.settings.getlist("FEED_EXPORT_FIELDS"))
        self.items = 0
        self.outcome: WalkOutcome | None = None
        self.finish_reason = "finished"
        self.spider_name = "archive"
        self.pace = PaceSeries(time.monotonic())
        self.profile = DatasetProfile()
        self.summary: dict[str, Any] | None = None
        self.summary_file: tuple[Path | None] | None = None
        """Where the summary goes, decided once (on ``engine_stopped``, or when it is written)."""
        self.coverage: dict[str, Any] = {}
        """``coverage``, ``coverage_change``, ``coverage_drops`` and the previous run's
        ``published_coverage`` (as ``baseline``), from :meth:`engine_stopped`."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        ext = cls(crawler)
        crawler.signals.connect(ext.item_scraped, signal=scrapy_signals.item_scraped)
        crawler.signals.connect(ext.spider_opened, signal=scrapy_signals.spider_opened)
        crawler.signals.connect(ext.response_received, signal=scrapy_signals.response_received)
        crawler.signals.connect(ext.walk_finished, signal=signals.walk_finished)
        crawler.signals.connect(ext.spider_closed, signal=scrapy_signals.spider_closed)
        # Before RunEnd judges on the same signal (it is built after this extension:
        # EXTENSIONS order), so a coverage drop can fail the verdict.
        crawler.signals.connect(ext.engine_stopped, signal=scrapy_signals.engine_stopped)
        crawler.signals.connect(ext.run_ended, signal=signals.run_ended)
        crawler.signals.connect(ext.run_closed, signal=signals.run_closed)
        return ext

    def spider_opened(self) -> None:
        self.pace.reset(time.monotonic())

    def response_received(self) -> None:
        self.pace.add(time.monotonic())

    def item_scraped(self, item: Any) -> None:
        self.items += 1
        values = fields_of(item)
        # The fields the run exports (a listing run's items also carry empty details fields).
        self.profile.add({name: values.get(name) for name in self.fields} if self.fields else values)

    def walk_finished(self, outcome: WalkOutcome) -> None:
        self.outcome = outcome

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.finish_reason = reason
        self.spider_name = spider.name

    def engine_stopped(self) -> None:
        """Measure the dataset's coverage and compare it with the previous run's; a drop past
        ``HARVESTER_COVERAGE_DROP`` is a warning, and a stat the verdict reads when
        ``HARVESTER_COVERAGE_DROP_FAILS`` is set."""
        if self.finish_reason == "plan":
            return
        try:
            self._check_coverage()
        except Exception as exc:  # a comparison that cannot be made must not hide the verdict
            logger.error("Could not compare field coverage with the previous run: %s", exc, exc_info=True)

    def _check_coverage(self) -> None:
        settings = self.crawler.settings
        job = self.crawler.get_extension(JobExtension)
        fields = self.fields or list(self.profile.present)
        if job is not None:  # the job's dataset as it will be published, not tonight's fetches
            present, documents = coverage.count_present(job.store.present_records(), fields)
        else:
            present, documents = dict(self.profile.present), self.items
        now = coverage.coverage_of(present, documents, fields)
        path = self._summary_path(job, self.crawler.get_extension(PublishGate))
        previous = coverage.previous_summary(path)
        raw_args = self.stats.get_value(keys.ARGS)
        arguments = json.loads(raw_args) if raw_args else {}
        base = coverage.baseline(previous)
        if previous is not None and job is None and previous.get("arguments") != arguments:
            logger.info(
                "Field coverage not compared with the previous run: its summary %s is of a run with "
                "other arguments (%s)",
                path, previous.get("arguments"),
            )  # fmt: skip
            base = None
        threshold = settings.getfloat("HARVESTER_COVERAGE_DROP")
        change, drops = coverage.compare(base, now, threshold)
        self.coverage = {
            "coverage": now,
            "coverage_change": change,
            "coverage_drops": drops,
            "baseline": base,
        }
        if change is not None and previous is not None:
            change["against"] = {
                "run": previous.get("run"),
                "ended": previous.get("ended"),
                "summary": str(path),
            }
        if not drops:
            return
        described = [coverage.describe(d) for d in drops]
        self.stats.set_value(keys.COVERAGE_DROPS, described)
        fails = settings.getbool("HARVESTER_COVERAGE_DROP_FAILS")
        if fails:
            self.stats.set_value(keys.COVERAGE_DROPS_FAIL, True)
        logger.warning(
            "Field coverage dropped by more than %s points since the previous run (%s): %s. A selector "
            "may have broken (check a document page against harvester/pages/), or the archive changed; %s",
            f"{100 * threshold:g}", path, "; ".join(described),
            "the run fails (HARVESTER_COVERAGE_DROP_FAILS=True)" if fails
            else "give -s HARVESTER_COVERAGE_DROP_FAILS=True to fail such runs",
        )  # fmt: skip

    def _summary_path(self, job: JobExtension | None, gate: PublishGate | None) -> Path | None:
        """Where this run's summary goes (and the previous run's summary is), decided once."""
        if self.summary_file is None:
            if job is not None:
                self.summary_file = (job.summary_path,)
            else:
                first = gate.staged[0].final if gate is not None and gate.staged else None
                template = self.crawler.settings.get("HARVESTER_SUMMARY_FILE")
                self.summary_file = (summary_path(template, first, self.spider_name),)
        return self.summary_file[0]

    def run_ended(self, verdict: Verdict, published: Published) -> dict[str, Any]:
        """Write the run's summary; return it (a job keeps it in its history)."""
        if self.finish_reason != "plan":  # a plan harvests nothing: no harvest line
            self._log_counts()
        job = self.crawler.get_extension(JobExtension)
        gate = self.crawler.get_extension(PublishGate)
        files: dict[str, Any] = {Path(f).suffix.lstrip(".") or f: f for f in published.files}
        if job is not None:
            files = dict(job.files)
        if published.aside:
            files["kept_aside"] = published.aside
        self.summary = self._write_summary(verdict.status, list(verdict.reasons), files, job, gate)
        return self.summary

    def run_closed(self) -> None:
        """The job has recorded the run: write the HTML report (unless ``HARVESTER_REPORT`` is off)."""
        if self.summary is not None and self.crawler.settings.getbool("HARVESTER_REPORT", True):
            self._write_report(
                self.summary,
                self.crawler.get_extension(JobExtension),
                self.crawler.get_extension(PublishGate),
            )

    def _log_counts(self) -> None:
        stats = self.stats
        reported = stats.get_value(keys.REPORTED_TOTAL)
        kept = kept_by_job(stats.get_stats())
        documents = self.items + kept
        if reported:
            stats.set_value(keys.COMPLETENESS, round(documents / reported, 6))
        early = self.outcome is not None and self.outcome.early_stopped
        logger.info(
            "Harvested %s unique documents%s; the site reported %s%s",
            documents,
            f" ({self.items} fetched, {kept} unchanged or already done)" if kept else "",
            reported if reported is not None else "no count",
            " (stopped early at known documents: the rest is kept from the job's state)" if early
            else f" ({100 * documents / reported:.2f}%)" if reported else "",
        )  # fmt: skip
        if self.items:
            shares = []
            present = self.profile.present  # what has each field, counted once per record
            for name in self.fields or list(present):
                share = present.get(name, 0) / self.items
                stats.set_value(keys.coverage(name), round(share, 6))
                shares.append(f"{name} {100 * share:.1f}%")
            logger.info("Field coverage: %s", ", ".join(shares))

    def _write_summary(
        self,
        status: str,
        reasons: list[str],
        files: dict[str, Any],
        job: JobExtension | None,
        gate: PublishGate | None,
    ) -> dict[str, Any]:
        path = self._summary_path(job, gate)
        checked = self.coverage
        # What the next run compares with: this run's coverage if it published, else what it
        # compared against (the dataset still published).
        published_coverage = checked.get("coverage") if status == "ok" else checked.get("baseline")
        raw_args = self.stats.get_value(keys.ARGS)
        summary = build_summary(
            self.stats.get_stats(), status=status, reasons=reasons, finish_reason=self.finish_reason,
            arguments=json.loads(raw_args) if raw_args else {},
            base_url=self.crawler.settings.get("HARVESTER_BASE_URL"), items=self.items,
            corrections=len(self.outcome.corrections) if self.outcome else 0, files=files,
            job=job.summary() if job is not None else None,
            pages_per_minute=self.pace.summary(time.monotonic()),
            coverage=checked.get("coverage"), coverage_change=checked.get("coverage_change"),
            coverage_drops=checked.get("coverage_drops", []), published_coverage=published_coverage,
        )  # fmt: skip
        if path is not None:
            try:
                write_json(path, summary)
                self.stats.set_value(keys.SUMMARY_FILE, str(path))
            except OSError as exc:
                logger.error("Could not write the run summary %s: %s", path, exc)
        return summary

    def _write_report(
        self, summary: dict[str, Any], job: JobExtension | None, gate: PublishGate | None
    ) -> None:
        """The HTML report beside the run's files. Never changes the verdict: a failure is logged."""
        started = time.perf_counter()
        try:
            if job is not None:
                path: Path | None = job.summary_path.with_name("report.html")
                data = job_report(job.summary_path.parent, summary)
            else:
                first = gate.staged[0].final if gate is not None and gate.staged else None
                summary_file = self.stats.get_value(keys.SUMMARY_FILE)
                path = report_path(first, Path(summary_file) if summary_file else None)
                data = self._single_run_data(summary)
            if path is None:
                return
            size = write_report(path, data, charts_apart=True)
            self.stats.set_value(keys.REPORT_FILE, str(path))
            logger.info("Report: %s (%s bytes, %.1f s)", path, f"{size:,}", time.perf_counter() - started)
        except Exception as exc:  # the report must never fail the run
            logger.error("Could not write the run report: %s", exc, exc_info=True)

    def _single_run_data(self, summary: dict[str, Any]) -> ReportData:
        files = summary.get("files") or {}
        aside = [f for f in files.get("kept_aside") or [] if str(f).endswith(".jsonl")]
        if summary.get("status") == "ok":
            dataset = files.get("jsonl") or next(iter(files.values()), None)
            note = None
        else:
            dataset = aside[0] if aside else None
            note = "The records this run harvested before it stopped (kept aside, not published)."
        summary_file = self.stats.get_value(keys.SUMMARY_FILE)
        return ReportData(
            summary=summary, profile=self.profile, dataset=str(dataset) if dataset else None,
            dataset_note=note, sources=[str(summary_file)] if summary_file else [],
        )  # fmt: skip
