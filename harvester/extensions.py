"""The run report: progress while the crawl runs, coverage and a verdict when it ends.

Components count under ``harvester/...`` in Scrapy's stats; this extension judges the
counts when the spider closes and writes ``harvester/verdict`` (``ok`` or ``failed``)
and ``harvester/verdict_reasons``. The ``crawl`` command (``harvester.commands.crawl``)
turns a failed verdict into a non-zero exit status.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector
from twisted.internet import task

from harvester.items import fields_of
from harvester.jobs import JobStore, RunChanges
from harvester.publish import publish_job, write_json

logger = logging.getLogger(__name__)


def _present(value: Any) -> bool:
    return value not in (None, "", [], ())


def judge(stats: dict[str, Any], finish_reason: str, *, bounded: bool, min_completeness: float = 1.0) -> list[str]:
    """Reasons the run did not do its job; empty when it did. Pure, for tests.

    ``bounded`` is true when the run was meant to stop early (``max_pages``, or a job's
    incremental run that met known documents): then not reaching the reported total is
    expected. A job's documents count whether harvested now or kept from earlier runs.
    """
    reasons = []
    structure = stats.get("harvester/structure_errors", 0)
    if stats.get("harvester/blocked"):
        reasons.append("the site is blocking the harvester (challenge or block page); back off and try later")
    if structure:
        reasons.append(f"layout changed: {structure} page(s) lacked their landmarks (see the errors above)")
    failed = stats.get("harvester/pages/failed", 0)
    if failed:
        reasons.append(f"{failed} page(s) could not be fetched or read after retries")
    exported = (
        stats.get("item_scraped_count", 0)
        + stats.get("harvester/job/reused", 0)
        + stats.get("harvester/job/already_done", 0)
    )
    reported = stats.get("harvester/reported_total")
    if exported == 0:
        if reported == 0:
            reasons.append("nothing harvested: the search found no documents")
        else:
            reasons.append("nothing harvested")
    elif reported and not bounded and exported / reported < min_completeness:
        reasons.append(
            f"incomplete: {exported} unique documents of {reported} reported "
            f"({100 * exported / reported:.2f}% < {100 * min_completeness:g}%)"
        )
    if finish_reason not in ("finished", "blocked") and not (bounded and finish_reason == "finished"):
        reasons.append(f"interrupted ({finish_reason})")
    return reasons


class RunReport:
    """Progress lines, per-field coverage, the harvested-vs-reported line and the verdict."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats: StatsCollector = crawler.stats
        self.interval = crawler.settings.getfloat("HARVESTER_PROGRESS_INTERVAL", 30.0)
        self.coverage: dict[str, int] = {}
        self.items = 0
        self.started = time.monotonic()
        self._task: task.LoopingCall | None = None
        self.summary: dict[str, Any] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        if self.interval > 0:
            self._task = task.LoopingCall(self.log_progress)
            self._task.start(self.interval, now=False)

    def item_scraped(self, item: Any, spider: Spider) -> None:
        self.items += 1
        for name, value in fields_of(item).items():
            if _present(value):
                self.coverage[name] = self.coverage.get(name, 0) + 1

    def log_progress(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        pages = self.stats.get_value("harvester/pages/search", 0)
        expected = self.stats.get_value("harvester/pages/expected")
        rate = self.items / elapsed
        eta = ""
        reported = self.stats.get_value("harvester/reported_total")
        if reported and rate > 0 and self.items < reported:
            eta = f", about {int((reported - self.items) / rate)} s left"
        logger.info(
            "Progress: results pages %s of %s, %s documents of %s reported, %.1f documents/s%s",
            pages, expected if expected is not None else "?", self.items,
            reported if reported is not None else "?", rate, eta,
        )

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
        stats = self.stats
        reported = stats.get_value("harvester/reported_total")
        kept = stats.get_value("harvester/job/reused", 0) + stats.get_value("harvester/job/already_done", 0)
        documents = self.items + kept
        if reported:
            stats.set_value("harvester/completeness", round(documents / reported, 6))
        early = bool(getattr(spider, "early_stopped", False))
        logger.info(
            "Harvested %s unique documents%s; the site reported %s%s",
            documents,
            f" ({self.items} fetched, {kept} unchanged or already done)" if kept else "",
            reported if reported is not None else "no count",
            " (stopped early at known documents: the rest is kept from the job's state)" if early
            else f" ({100 * documents / reported:.2f}%)" if reported else "",
        )
        if self.items:
            shares = []
            for name in getattr(spider, "export_fields", None) or list(self.coverage):
                share = self.coverage.get(name, 0) / self.items
                stats.set_value(f"harvester/coverage/{name}", round(share, 6))
                shares.append(f"{name} {100 * share:.1f}%")
            logger.info("Field coverage: %s", ", ".join(shares))
        args = getattr(spider, "args", None)
        bounded = bool(args is not None and getattr(args, "max_pages", None)) or bool(
            getattr(spider, "early_stopped", False)
        )
        min_completeness = self.crawler.settings.getfloat("HARVESTER_MIN_COMPLETENESS", 1.0)
        reasons = judge(stats.get_stats(), reason, bounded=bounded, min_completeness=min_completeness)
        files: dict[str, str] = {}
        changes = None
        status = "failed" if reasons else "ok"
        job = getattr(spider, "job", None)
        if job is not None:
            status, files, changes = self._finish_job(spider, job, reasons, reason)
        stats.set_value("harvester/verdict", "ok" if status == "ok" else "failed")
        stats.set_value("harvester/verdict_reasons", reasons)
        summary = self._summary(spider, status, reasons, reason, files, changes)
        path = self._summary_path(spider)
        if path is not None:
            try:
                write_json(path, summary)
                summary["files"]["summary"] = str(path)
            except OSError as exc:
                logger.error("Could not write the run summary %s: %s", path, exc)
        self.summary = summary
        if reasons:
            logger.error("Run FAILED: %s", "; ".join(reasons))
        else:
            logger.info("Run OK")

    def _finish_job(
        self, spider: Spider, job: JobStore, reasons: list[str], finish_reason: str
    ) -> tuple[str, dict[str, str], RunChanges | None]:
        """Publish a job's dataset when the run did its job; keep its state resumable if not."""
        files: dict[str, str] = {}
        changes = None
        try:
            job.commit()
            if finish_reason == "shutdown":
                # Stopped by a signal: the run stays "running" and the next start resumes it.
                reasons.append("interrupted: the next run of the job resumes where this one stopped")
                return "interrupted", files, changes
            if reasons:
                job.end_run("failed", {"reasons": reasons})
                return "failed", files, changes
            if spider.walk_complete and not spider.early_stopped:
                removed = job.declare_removals()
                if removed:
                    logger.info("Job %s: %s documents are gone from the archive", spider.args.job, removed)
            elif spider.early_stopped:
                job.shift_unseen(spider.new_seen, spider.page_size, spider.page_url)
            if spider.corrections:
                job.apply_corrections(spider.corrections)
            include_text = self.crawler.settings.getbool("HARVESTER_CSV_TEXT")
            changes, files = publish_job(job, spider.export_fields, include_text)
            job.publish()
            count = job.published_count()
            self.stats.set_value("harvester/job/dataset_documents", count)
            self.stats.set_value("harvester/job/changes", changes.counts())
            logger.info(
                "Job %s: dataset of %s documents; since the last complete run: %s added, %s changed, %s removed",
                spider.args.job, count, len(changes.added), len(changes.changed), len(changes.removed),
            )
            job.end_run("ok", {"changes": changes.counts(), "documents": count})
            return "ok", files, changes
        except OSError as exc:
            reasons.append(f"could not write the job's files: {exc}")
            job.end_run("failed", {"reasons": reasons})
            return "failed", files, changes
        finally:
            job.close()

    def _summary_path(self, spider: Spider) -> Path | None:
        job = getattr(spider, "job", None)
        if job is not None:
            return job.directory / "summary.json"
        template = self.crawler.settings.get("HARVESTER_SUMMARY_FILE")
        if not template:
            return None
        feeds = list(self.crawler.settings.getdict("FEEDS"))
        name = getattr(spider, "name", "crawl")
        if feeds and template == "auto":
            first = str(feeds[0]) % {"name": name}
            if "://" not in first or first.startswith("file://"):
                first_path = Path(first.removeprefix("file://"))
                return first_path.with_name(first_path.name.split(".")[0] + ".summary.json")
        if template == "auto":
            return Path("output") / f"{name}.summary.json"
        return Path(template % {"name": name})

    def _summary(
        self, spider: Spider, status: str, reasons: list[str], finish_reason: str,
        files: dict[str, str], changes: RunChanges | None,
    ) -> dict[str, Any]:
        get = self.stats.get_value
        job = getattr(spider, "job", None)
        args = getattr(spider, "args", None)
        start = get("start_time")
        ended = datetime.now(UTC)
        feeds = {k: str(k) % {"name": spider.name} for k in self.crawler.settings.getdict("FEEDS")}
        statuses = {
            key.rsplit("/", 1)[1]: value
            for key, value in self.stats.get_stats().items()
            if key.startswith("downloader/response_status_count/")
        }
        return {
            "job": getattr(args, "job", None),
            "run": job.run_id if job is not None else None,
            "status": status,
            "reasons": reasons,
            "finish_reason": finish_reason,
            "arguments": args.model_dump() if args is not None else {},
            "base_url": getattr(spider, "base_url", None),
            "mode": ("full" if job.full else "incremental") if job is not None else "single",
            "resumed": bool(job.resumed) if job is not None else False,
            "stopped_by": get("harvester/stopped_by"),
            "started": start.strftime("%Y-%m-%dT%H:%M:%SZ") if start else None,
            "ended": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round((ended - start).total_seconds(), 3) if start else None,
            "requests": get("downloader/request_count", 0),
            "responses_by_status": statuses,
            "pages": {
                "search": get("harvester/pages/search", 0),
                "search_expected": get("harvester/pages/expected"),
                "document": get("harvester/pages/document", 0),
                "failed": get("harvester/pages/failed", 0),
                "blocked": get("harvester/pages/blocked", 0),
                "incomplete_retried": get("harvester/pages/incomplete_retried", 0),
            },
            "documents": {
                "harvested": self.items,
                "kept_unchanged": get("harvester/job/reused", 0),
                "already_done": get("harvester/job/already_done", 0),
                "dataset": get("harvester/job/dataset_documents", self.items),
            },
            "reported_total": get("harvester/reported_total"),
            "completeness": get("harvester/completeness"),
            "duplicates_dropped": get("harvester/duplicates/dropped", 0),
            "dates_unread": get("harvester/date/unreadable", 0),
            "titles_empty": get("harvester/title/empty", 0),
            "structure_errors": get("harvester/structure_errors", 0),
            "pagination_loops": get("harvester/pagination/loops", 0),
            "retries": get("retry/count", 0),
            "retries_by_reason": {
                key.split("/", 2)[2]: value
                for key, value in self.stats.get_stats().items()
                if key.startswith("retry/reason_count/")
            },
            "waits": {
                "retry_after": get("harvester/retry_after/count", 0),
                "retry_after_seconds": get("harvester/retry_after/seconds", 0),
                "backoff": get("harvester/backoff/count", 0),
                "backoff_seconds": get("harvester/backoff/seconds", 0),
            },
            "moved_results": {
                "count_changes": get("harvester/shifts", 0),
                "pages_reread": get("harvester/rewalk/pages", 0),
                "positions_corrected": len(getattr(spider, "corrections", {}) or {}),
            },
            "skipped": {
                "oversize_pages": get("harvester/pages/oversize", 0),
                "offsite_rows": get("harvester/rows/offsite", 0),
                "invalid_utf8_pages": get("harvester/pages/invalid_utf8", 0),
            },
            "retries_exhausted": get("retry/max_reached", 0),
            "files": files or feeds,
            "changes": changes.counts() if changes is not None else None,
        }
