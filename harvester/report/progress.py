"""Progress lines while the crawl runs: pages, documents, pace and what is left."""

from __future__ import annotations

import logging
import time

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from twisted.internet import task

from harvester import stats as keys
from harvester.plan import duration

logger = logging.getLogger(__name__)


def progress_line(
    *, requests: int, planned: int | None, pages: int, expected: int | None, items: int, reported: int | None,
    elapsed: float,
) -> str:  # fmt: skip
    """One progress line: done and planned, the pace, and what is left at that pace.

    >>> progress_line(requests=300, planned=1200, pages=3, expected=10, items=290, reported=1000, elapsed=100.0)
    'Progress: 300 of ~1,200 requests, results pages 3 of 10, 290 documents of 1,000 reported, 3.0 requests/s, about 5 min left'
    >>> progress_line(requests=2580, planned=16316, pages=26, expected=1616, items=2488, reported=16153, elapsed=7740.0)
    'Progress: 2,580 of ~16,316 requests, results pages 26 of 1,616, 2,488 documents of 16,153 reported, 0.3 requests/s, about 11.4 h left'
    >>> progress_line(requests=0, planned=None, pages=0, expected=None, items=0, reported=None, elapsed=1.0)
    'Progress: 0 requests, results pages 0 of ?, 0 documents of ? reported, 0.0 requests/s'
    """
    rate = requests / max(elapsed, 1e-9)
    eta = ""
    if planned and rate > 0 and requests < planned:
        eta = f", about {duration((planned - requests) / rate)} left"
    done = f"{requests:,} of ~{planned:,} requests" if planned else f"{requests:,} requests"
    return (
        f"Progress: {done}, results pages {pages:,} of {_count(expected)}, "
        f"{items:,} documents of {_count(reported)} reported, {rate:,.1f} requests/s{eta}"
    )


def _count(value: int | None) -> str:
    """A count with its thousands separators; ``?`` while it is not known."""
    return "?" if value is None else f"{value:,}"


class Progress:
    """Logs a progress line every ``HARVESTER_PROGRESS_INTERVAL`` seconds (0: none)."""

    def __init__(self, stats: StatsCollector, interval: float) -> None:
        self.stats = stats
        self.interval = interval
        self.started = time.monotonic()
        self._task: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        interval = crawler.settings.getfloat("HARVESTER_PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured  # HARVESTER_PROGRESS_INTERVAL is 0
        ext = cls(crawler.stats, interval)
        crawler.signals.connect(ext.spider_opened, signal=scrapy_signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=scrapy_signals.spider_closed)
        return ext

    def spider_opened(self) -> None:
        self.started = time.monotonic()
        self._task = task.LoopingCall(self.log)
        self._task.start(self.interval, now=False)

    def log(self) -> None:
        get = self.stats.get_value
        logger.info(
            "%s",
            progress_line(
                requests=get(keys.REQUEST_COUNT, 0), planned=get(keys.PLAN_REQUESTS), pages=get(keys.PAGES_SEARCH, 0),
                expected=get(keys.PAGES_EXPECTED), items=get(keys.ITEM_SCRAPED, 0), reported=get(keys.REPORTED_TOTAL),
                elapsed=time.monotonic() - self.started,
            ),
        )  # fmt: skip

    def spider_closed(self) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
