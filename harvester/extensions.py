"""The run report: progress while the crawl runs, coverage and a verdict when it ends.

Components count under ``harvester/...`` in Scrapy's stats; this extension judges the
counts when the spider closes and writes ``harvester/verdict`` (``ok`` or ``failed``)
and ``harvester/verdict_reasons``. The ``crawl`` command (``harvester.commands.crawl``)
turns a failed verdict into a non-zero exit status.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector
from twisted.internet import task

logger = logging.getLogger(__name__)


def _present(value: Any) -> bool:
    return value not in (None, "", [], ())


def judge(stats: dict[str, Any], finish_reason: str, *, bounded: bool) -> list[str]:
    """Reasons the run did not do its job; empty when it did. Pure, for tests.

    ``bounded`` is true when the run was told to stop early (``max_pages``): then not
    reaching the reported total is expected.
    """
    reasons = []
    structure = stats.get("harvester/structure_errors", 0)
    if stats.get("harvester/pages/blocked"):
        reasons.append("the site is blocking the harvester (challenge or block page); back off and try later")
    if structure:
        reasons.append(f"layout changed: {structure} page(s) lacked their landmarks (see the errors above)")
    failed = stats.get("harvester/pages/failed", 0)
    if failed:
        reasons.append(f"{failed} page(s) could not be fetched or read after retries")
    exported = stats.get("item_scraped_count", 0)
    reported = stats.get("harvester/reported_total")
    if exported == 0:
        if reported == 0:
            reasons.append("nothing harvested: the search found no documents")
        else:
            reasons.append("nothing harvested")
    elif reported is not None and not bounded and exported < reported:
        reasons.append(f"incomplete: {exported} unique documents harvested of {reported} reported")
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
        for name, value in ItemAdapter(item).items():
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
        if reported:
            completeness = self.items / reported
            stats.set_value("harvester/completeness", round(completeness, 6))
        logger.info(
            "Harvested %s unique documents; the site reported %s%s",
            self.items,
            reported if reported is not None else "no count",
            f" ({100 * self.items / reported:.2f}%)" if reported else "",
        )
        if self.items:
            shares = []
            for name in getattr(spider, "export_fields", None) or list(self.coverage):
                share = self.coverage.get(name, 0) / self.items
                stats.set_value(f"harvester/coverage/{name}", round(share, 6))
                shares.append(f"{name} {100 * share:.1f}%")
            logger.info("Field coverage: %s", ", ".join(shares))
        args = getattr(spider, "args", None)
        bounded = bool(args is not None and getattr(args, "max_pages", None))
        reasons = judge(stats.get_stats(), reason, bounded=bounded)
        stats.set_value("harvester/verdict", "failed" if reasons else "ok")
        stats.set_value("harvester/verdict_reasons", reasons)
        if reasons:
            logger.error("Run FAILED: %s", "; ".join(reasons))
        else:
            logger.info("Run OK")
