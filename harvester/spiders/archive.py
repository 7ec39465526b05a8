"""The archive spider: walks every results page of a search, optionally every document.

It only decides what to fetch next. What a page says is read by the page classes in
``harvester.pages``; what a record becomes is the pipelines' business.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Response
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings, Settings
from twisted.python.failure import Failure

from harvester.args import ArchiveArgs, parse_args
from harvester.exceptions import ArgumentError, BlockedPage, IncompleteResponse, LayoutChanged, PageError
from harvester.identity import canonical_document_url, document_id
from harvester.items import FIELD_ORDER, LISTING_FIELDS, DocumentItem
from harvester.pages.document import DocumentPage
from harvester.pages.search import SearchPage, page_of
from harvester.settings import FEEDS as DEFAULT_FEEDS

logger = logging.getLogger(__name__)

STATS = "harvester"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _only_cmdline_feeds(settings: Settings) -> None:
    """``-o``/``-O`` replace the default ``output/`` feeds instead of adding to them.

    Scrapy merges the project's ``FEEDS`` into the ones given on the command line; a
    researcher who typed ``-O x.jsonl`` expects ``x.jsonl`` and nothing else.
    """
    feeds = settings["FEEDS"]
    if not isinstance(feeds, BaseSettings):
        return
    cmdline = SETTINGS_PRIORITIES["cmdline"]
    given = [k for k in feeds if k not in DEFAULT_FEEDS and (feeds.getpriority(k) or 0) >= cmdline]
    if given:
        for key in DEFAULT_FEEDS:
            if key in feeds:
                del feeds[key]


class ArchiveSpider(scrapy.Spider):
    """``scrapy crawl archive -a query=... | -a start_url=... [-a max_pages=N] [-a details=true]``."""

    name = "archive"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raw = {k: v for k, v in kwargs.items() if k not in ("_job",)}
        super().__init__(*args)
        try:
            self.args: ArchiveArgs = parse_args(raw)
        except ArgumentError as exc:
            logger.error("%s", exc)
            raise
        self.visited_pages: set[int] = set()
        self.reported_total: int | None = None
        self.rows_seen = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ArchiveSpider:
        spider: ArchiveSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        base = spider.args.start_url or settings.get("HARVESTER_BASE_URL")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ArgumentError("HARVESTER_BASE_URL", base, "give the site's origin, e.g. https://digitalarchive.wilsoncenter.org")
        spider.base_url = f"{parts.scheme}://{parts.netloc}"
        spider.allowed_domains = [parts.hostname]
        # Settings may still change here (they freeze after the spider is built).
        if is_loopback(parts.hostname) and settings.getbool("HARVESTER_LOCAL_FAST"):
            for name, value in (
                ("DOWNLOAD_DELAY", 0),
                ("AUTOTHROTTLE_ENABLED", False),
                ("CONCURRENT_REQUESTS_PER_DOMAIN", 16),
                ("ROBOTSTXT_OBEY", settings.getbool("ROBOTSTXT_OBEY")),
            ):
                settings.set(name, value, priority="spider")
        _only_cmdline_feeds(settings)
        fields = list(FIELD_ORDER if spider.args.details else LISTING_FIELDS)
        settings.set("FEED_EXPORT_FIELDS", fields, priority="spider")
        if settings.getbool("HARVESTER_CSV_TEXT"):
            feeds = settings.getdict("FEEDS")
            for options in feeds.values():
                if options.get("format") == "csv":
                    options.setdefault("item_export_kwargs", {})["include_text"] = True
            settings.set("FEEDS", feeds, priority=settings.getpriority("FEEDS") or "project")
        return spider

    # --- walking the results ------------------------------------------------------

    def first_url(self) -> str:
        if self.args.start_url:
            return self.args.start_url
        if self.args.query:
            return f"{self.base_url}/search?{urlencode({'search_api_fulltext': self.args.query})}"
        return f"{self.base_url}/search"

    async def start(self) -> Any:  # Scrapy >= 2.13
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        self.crawler.stats.set_value(f"{STATS}/args", self.args.model_dump_json())
        yield scrapy.Request(self.first_url(), callback=self.parse_search, errback=self.on_error,
                             cb_kwargs={"expected_page": None})

    def parse_search(self, response: Response, expected_page: int | None) -> Iterator[Any]:
        stats = self.crawler.stats
        try:
            page = SearchPage(response.url, response.body)
        except PageError as exc:
            yield from self._page_failed(response, exc)
            return
        number = page.page_number
        self.visited_pages.add(number)
        stats.inc_value(f"{STATS}/pages/search")
        if self.reported_total is None and page.total is not None:
            self.reported_total = page.total
            stats.set_value(f"{STATS}/reported_total", page.total)
            if page.last_page is not None:
                stats.set_value(f"{STATS}/pages/expected", page.last_page + 1)
            logger.info("The site reports %s documents for %s", page.total, response.url)
        rows = page.rows()
        if not rows:
            if page.is_empty_search:
                logger.warning("The site found no results for %s", response.url)
            elif self.rows_seen < (self.reported_total or 0):
                logger.warning("Empty results page %s before all %s reported documents were seen",
                               response.url, self.reported_total)
            return
        offset = page.count.first - 1 if page.count else number * len(rows)
        for row in rows:
            self.rows_seen += 1
            url = canonical_document_url(row.url)
            slug = document_id(url)
            if slug is None or slug.isdigit():
                # A legacy /document/<record id> or /node/<nid> link: only the document page
                # (details=true) tells the canonical address, the identity.
                stats.inc_value(f"{STATS}/identity/alias_links")
                if not self.args.details:
                    logger.warning("Result %s links by a non-canonical address %s; run with "
                                   "-a details=true to resolve it", self.rows_seen, url)
            item = DocumentItem(
                id=slug or url,
                url=url,
                title=row.title,
                date_raw=row.date_raw,
                summary=row.summary,
                query=self.args.query or None,
                listing_url=response.url,
                position=offset + row.row,
                harvested_at=utc_now(),
            )
            if self.args.details:
                yield scrapy.Request(row.url, callback=self.parse_document, errback=self.on_error,
                                     cb_kwargs={"item": item}, dont_filter=True)
            else:
                yield item
        yield from self._follow_pager(page, response)

    def _follow_pager(self, page: SearchPage, response: Response) -> Iterator[scrapy.Request]:
        stats = self.crawler.stats
        next_url = page.next_url
        number = page.page_number
        if next_url is None:
            if page.count and page.count.last < page.count.total:
                # "No next link" while the count says there is more: the pager changed.
                yield from self._page_failed(response, LayoutChanged(response.url, "nav.pager a[rel=next]"))
            return
        if self.args.max_pages is not None and len(self.visited_pages) >= self.args.max_pages:
            logger.info("Stopping after %s pages (max_pages)", self.args.max_pages)
            stats.set_value(f"{STATS}/stopped_by", "max_pages")
            return
        next_number = page_of(next_url)
        if next_number <= number or next_number in self.visited_pages:
            stats.inc_value(f"{STATS}/pagination/loops")
            logger.error("Pagination loop: page %s links to page %s as next (%s); not following",
                         number, next_number, next_url)
            return
        yield response.follow(next_url, callback=self.parse_search, errback=self.on_error,
                              cb_kwargs={"expected_page": next_number})

    # --- documents ------------------------------------------------------------------

    def parse_document(self, response: Response, item: DocumentItem) -> Iterator[Any]:
        try:
            page = DocumentPage(response.url, response.body)
            fields = page.fields()
        except PageError as exc:
            yield from self._page_failed(response, exc)
            return
        self.crawler.stats.inc_value(f"{STATS}/pages/document")
        item.url = canonical_document_url(page.canonical_url)
        item.id = document_id(item.url) or item.id
        for name, value in fields.items():
            if name in ("title", "date_raw", "summary"):
                # The page is the document's own word; the listing row is its abstract.
                if value:
                    setattr(item, name, value)
            else:
                setattr(item, name, value)
        yield item

    # --- failures -------------------------------------------------------------------

    def _page_failed(self, response: Response, exc: PageError) -> Iterator[scrapy.Request]:
        stats = self.crawler.stats
        if isinstance(exc, IncompleteResponse):
            retry = get_retry_request(response.request, spider=self, reason="incomplete_response")
            if retry is not None:
                stats.inc_value(f"{STATS}/pages/incomplete_retried")
                logger.warning("Retrying %s", exc)
                yield retry
                return
            stats.inc_value(f"{STATS}/pages/failed")
            logger.error("Giving up on %s", exc)
        elif isinstance(exc, BlockedPage):
            stats.inc_value(f"{STATS}/pages/blocked")
            logger.error("The site is blocking the harvester: %s. Stopping.", exc)
            self.crawler.engine.close_spider(self, "blocked")
        elif isinstance(exc, LayoutChanged):
            stats.inc_value(f"{STATS}/structure_errors")
            logger.error("Structure error: %s", exc)
        else:
            stats.inc_value(f"{STATS}/pages/failed")
            logger.error("Page error: %s", exc)

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        kind = "document" if request.callback == self.parse_document else "search"
        self.crawler.stats.inc_value(f"{STATS}/pages/failed")
        self.crawler.stats.inc_value(f"{STATS}/pages/failed/{kind}")
        logger.error("Could not fetch %s page %s: %s", kind, request.url, failure.getErrorMessage())
