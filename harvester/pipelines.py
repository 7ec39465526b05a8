"""Item pipelines: one verb each, a thin shell over a pure function.

- :class:`DuplicatesPipeline` drops a document seen before in this run (by identity:
  the canonical URL, never the title) and counts it.
- :class:`TitlePipeline` normalises the title (:func:`harvester.titles.normalize_title`).
- :class:`DatePipeline` turns the displayed date into ISO 8601 at its precision
  (:func:`harvester.dates.normalize_date`); an unreadable date becomes null, is counted
  and logged with its text and URL. The raw text is always kept.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from harvester.dates import UnreadableDate, clean_date_text, normalize_date
from harvester.identity import KeySet, canonical_document_url, identity_key
from harvester.items import fields_of
from harvester.stats import (
    DATE_ABSENT,
    DATE_UNREADABLE,
    DUPLICATES_DROPPED,
    TITLE_EMPTY,
    date_precision,
)
from harvester.titles import normalize_title

logger = logging.getLogger(__name__)


class _Pipeline:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats)


class DuplicatesPipeline(_Pipeline):
    """Export each document once: the first time its canonical URL is seen.

    *enabled* is ``HARVESTER_DEDUPE`` (read here only); off, every item passes, which is
    only there to show what deduplication protects against.
    """

    def __init__(self, stats: StatsCollector, *, enabled: bool = True) -> None:
        super().__init__(stats)
        self.enabled = enabled
        # Only what deduplication needs is kept per document: its identity.
        self.seen = KeySet()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats, enabled=crawler.settings.getbool("HARVESTER_DEDUPE", True))

    def process_item(self, item: Any) -> Any:
        if not self.enabled:
            return item
        adapter = fields_of(item)
        identity = canonical_document_url(adapter["url"])
        key = identity_key(identity)
        if key in self.seen:
            self.stats.inc_value(DUPLICATES_DROPPED)
            raise DropItem(
                f"Duplicate document {identity} (position {adapter.get('position')})", log_level="INFO"
            )
        self.seen.add(key)
        return item


class TitlePipeline(_Pipeline):
    def process_item(self, item: Any) -> Any:
        adapter = fields_of(item)
        title = normalize_title(adapter.get("title"))
        adapter["title"] = title
        if title is None:
            self.stats.inc_value(TITLE_EMPTY)
            logger.warning("Document without a title: %s", adapter.get("url"))
        return item


class DatePipeline(_Pipeline):
    def process_item(self, item: Any) -> Any:
        adapter = fields_of(item)
        raw = clean_date_text(adapter.get("date_raw"))
        adapter["date_raw"] = raw
        try:
            parsed = normalize_date(raw)
        except UnreadableDate as exc:
            self.stats.inc_value(DATE_UNREADABLE)
            logger.warning("%s at %s: kept raw, date set to null", exc, adapter.get("url"))
            parsed = None
        if parsed is None:
            adapter["date"] = adapter["date_precision"] = None
            if raw is None:
                self.stats.inc_value(DATE_ABSENT)
        else:
            adapter["date"], adapter["date_precision"] = parsed.iso, parsed.precision
            self.stats.inc_value(date_precision(parsed.precision))
        return item
