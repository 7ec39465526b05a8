"""The archive spider: crawl policy only, i.e. what to fetch next.

What a page says is read by the page classes (:mod:`harvester.pages`); where the walk goes
and where each row stands is decided by :class:`harvester.walk.Walk`; what a record becomes
is the pipelines' business; a job's state is its extension's (:mod:`harvester.jobs`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response

from harvester import signals, stats
from harvester.args import ArchiveArgs, parse_args
from harvester.config import configure
from harvester.exceptions import LayoutChanged, PageError
from harvester.identity import canonical_document_url, document_id, is_numeric_document_path
from harvester.items import LISTING_FIELDS, DocumentItem
from harvester.jobs.extension import ROW_META, JobExtension, refresh_plan
from harvester.jobs.store import peek
from harvester.pages.document import DocumentPage
from harvester.pages.search import ResultRow, SearchPage, page_of
from harvester.plan import plan_for
from harvester.search_urls import SearchUrls
from harvester.spiders.failures import BlockBackoff, PageFailures
from harvester.text import utc_now
from harvester.walk import End, PageSeen, Walk

logger = logging.getLogger(__name__)


def needs_resolving(url: str) -> bool:
    """A row linking by another address than ``/document/<slug>`` (``/node/<nid>``, the legacy
    ``/document/<record id>``): only its page tells the canonical address, the identity."""
    return document_id(url) is None or is_numeric_document_path(url)


class ArchiveSpider(PageFailures):
    """``scrapy crawl archive -a query=... | -a start_url=... [-a max_pages=N] [-a details=true] [-a job=NAME]``."""

    name = "archive"
    allowed_domains: list[str]
    urls: SearchUrls
    walk: Walk
    new_walk: partial[Walk]
    blocks: BlockBackoff

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args)
        self.args: ArchiveArgs = parse_args(kwargs)
        self.job: JobExtension | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ArchiveSpider:
        spider: ArchiveSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        config = configure(settings, spider.args)
        spider.allowed_domains = [config.host]
        spider.urls = SearchUrls(
            config.base_url,
            query=spider.args.query,
            start_url=spider.args.start_url,
            newest_first=bool(spider.args.job),
            per_page=settings.getint("HARVESTER_PAGE_SIZE"),
        )
        # A job's early stop (and any rolling pages) are known once its extension is: see start().
        spider.new_walk = partial(
            Walk, spider.urls.page, max_pages=spider.args.max_pages, details=spider.args.details,
            max_rewalks=settings.getint("HARVESTER_MAX_REWALKS"), max_results=settings.getint("HARVESTER_MAX_RESULTS"),
            budget_factor=settings.getfloat("HARVESTER_REQUEST_BUDGET"), rewalk=settings.getbool("HARVESTER_REWALK"),
        )  # fmt: skip
        spider.walk = spider.new_walk()
        spider.blocks = BlockBackoff(
            settings.getint("HARVESTER_BLOCK_RETRIES"), settings.getfloat("HARVESTER_BLOCK_BACKOFF")
        )
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.job = self.crawler.get_extension(JobExtension)
        if self.job is not None:
            if self.urls.sorted_newest_first:
                self.walk = self.new_walk(stop_after_known=self.job.stop_after_known)
            else:
                logger.info("Results not sorted newest upload first: no early stop")
        self.crawler.stats.set_value(stats.ARGS, self.args.model_dump_json())
        yield self._results(self.urls.first)
        if self.job is not None and self.args.details:
            for record in self.job.refresh_due():
                listing: dict[str, Any] = {name: record.get(name) for name in LISTING_FIELDS}
                item = DocumentItem(**listing)
                item.harvested_at = utc_now()
                yield self._document(item.url, item, resolve_only=False, refresh=True)

    def _results(self, url: str, *, rewalk: bool = False) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse_search, errback=self.on_error, cb_kwargs={"rewalk": rewalk},
                              dont_filter=rewalk, priority=10 if rewalk else 0)  # fmt: skip

    # --- results pages ----------------------------------------------------------------------------

    def parse_search(self, response: Response, rewalk: bool = False) -> Iterator[Any]:
        page, instead = self._read(response, SearchPage)
        if page is None:
            yield from instead
            return
        self.crawler.stats.inc_value(stats.PAGES_SEARCH)
        rows = {canonical_document_url(row.url): row for row in page.rows()}
        next_url = page.next_url
        seen = PageSeen(
            # Every results page is named the one way the walk builds it (its listing_url).
            number=page.page_number, url=self.urls.page(page.page_number), rows=list(rows), total=page.total,
            first=page.count.first if page.count else None, last=page.count.last if page.count else None,
            next_number=page_of(next_url) if next_url else None,
            next_offsite=bool(next_url) and urlsplit(next_url).hostname not in self.allowed_domains,
            empty_search=page.is_empty_search, rewalk=rewalk, aliases={url for url in rows if needs_resolving(url)},
        )  # fmt: skip
        step = self.walk.read(seen)
        self._report(step.counts, step.warnings)
        if step.ended is not None:
            logger.error("The walk stops: %s", step.ended.why)
        if step.reported is not None:
            self.crawler.stats.set_value(stats.REPORTED_TOTAL, step.reported)
        if step.first_report and step.reported is not None:
            logger.info("The site reports %s documents for %s", step.reported, response.url)
            if page.last_page is not None:
                self.crawler.stats.set_value(stats.PAGES_EXPECTED, page.last_page + 1)
            if step.ended is None or self.args.plan:
                self._plan(step.reported, step.page_size)
        if step.repeated and not rewalk:
            # Listed again (the previous page's last row at the top): harvested once, counted.
            self.crawler.stats.inc_value(stats.DUPLICATES_DROPPED, len(step.repeated))
            logger.info(
                "%s row(s) of %s were listed before: not harvested twice", len(step.repeated), response.url
            )
        for number in step.rewalk:
            yield self._results(self.urls.page(number), rewalk=True)
        for place in step.new:
            yield from self._row(rows[place.url], place.url, place.position, place.listing_url)
        for place in step.check:
            # A row beyond the page's count, by another address: its page tells which document it is.
            yield scrapy.Request(rows[place.url].url, callback=self.parse_listed_again, errback=self.on_error,
                                 dont_filter=True, cb_kwargs={"listing_url": place.listing_url})  # fmt: skip
        if rewalk:
            return
        nxt = self.walk.next(seen, self.job.expected_total() if self.job is not None else None)
        self._report(nxt.counts, nxt.warnings)
        ended = nxt.ended.how if nxt.ended is not None else None
        if nxt.ended is not None and ended is End.UNFINISHED:
            logger.error("The walk stops: %s", nxt.ended.why)
        elif nxt.ended is not None and ended in (End.EARLY_STOP, End.MAX_PAGES):
            logger.info("%s", nxt.ended.why[0].upper() + nxt.ended.why[1:])
            stopped_by = "known_documents" if ended is End.EARLY_STOP else "max_pages"
            self.crawler.stats.set_value(stats.STOPPED_BY, stopped_by)
        if nxt.missing_landmark:
            yield from self._page_failed(response, LayoutChanged(response.url, nxt.missing_landmark))
        elif nxt.page is not None:
            follow = (
                next_url if next_url and page_of(next_url) == nxt.page and not seen.next_offsite else None
            )
            yield self._results(follow or self.urls.page(nxt.page))

    def parse_listed_again(self, response: Response, listing_url: str) -> Iterator[Any]:
        """The page of a row beyond its results page's count: which document it is (never harvested)."""
        page, instead = self._read(response, DocumentPage)
        if page is None:
            yield from instead
            return
        self.crawler.stats.inc_value(stats.PAGES_DOCUMENT)
        url = canonical_document_url(page.canonical_url)
        step = self.walk.listed_again(url, listing_url)
        self._report(step.counts, step.warnings)
        logger.info("A row beyond the count of %s links %s (%s): not harvested", listing_url, url,
                    "listed before" if step.counts else "not listed so far")  # fmt: skip

    def _plan(self, reported: int, page_size: int) -> None:
        """Log the run's plan once the site has reported its count; a plan run stops there."""
        settings = self.crawler.settings
        incremental = None
        if self.job is not None and not self.job.full:
            incremental = self.crawler.stats.get_value(stats.JOB_REFRESH_PLANNED, 0)
        elif self.args.plan and self.args.job and not self.args.full:
            state = peek(Path(settings.get("HARVESTER_JOBS_DIR")) / self.args.job)
            if state is not None and self.args.details:
                days = settings.getfloat("HARVESTER_JOB_FULL_EVERY_DAYS")
                incremental = refresh_plan(state[0], days, state[1], datetime.now(UTC))[0] if days else 0
            elif state is not None:
                incremental = 0
        plan = plan_for(
            reported, page_size, details=self.args.details, delay=settings.getfloat("DOWNLOAD_DELAY"),
            max_pages=self.args.max_pages, incremental_documents=incremental,
        )  # fmt: skip
        self.crawler.stats.set_value(stats.PLAN_REQUESTS, plan.requests)
        self.crawler.stats.set_value(stats.PLAN_SECONDS, plan.seconds)
        logger.info("%s", plan.line())
        if self.args.plan:
            print(plan.line(), flush=True)
            raise CloseSpider("plan")

    def _row(self, row: ResultRow, url: str, position: int, listing_url: str) -> Iterator[Any]:
        """One new result row: harvest it, or leave it to the job when it is known and unchanged."""
        if urlsplit(url).hostname not in self.allowed_domains:
            self.crawler.stats.inc_value(stats.ROWS_OFFSITE)
            logger.warning(
                "Result %s on %s links to another host (%s): not followed", position, listing_url, row.url
            )
            return
        if self.job is not None:
            harvest = self.job.harvest(url, row.title, row.date_raw, row.summary, position, listing_url)
            self.walk.saw(known=not harvest)
            if not harvest:
                return
        item = DocumentItem(
            id=document_id(url) or url, url=url, title=row.title, date_raw=row.date_raw, summary=row.summary,
            query=self.args.query or None, listing_url=listing_url, position=position, harvested_at=utc_now(),
        )  # fmt: skip
        alias = needs_resolving(url)
        if alias:
            self.crawler.stats.inc_value(stats.ALIAS_LINKS)
        if self.args.details or alias:
            yield self._document(row.url, item, resolve_only=not self.args.details, row=url)
        else:
            yield item

    def _document(
        self,
        url: str,
        item: DocumentItem,
        *,
        resolve_only: bool,
        row: str | None = None,
        refresh: bool = False,
    ) -> scrapy.Request:
        """A document page's request; in a job, conditional on what the page last came with."""
        key = row or item.url
        headers = self.job.conditional_headers(key) if self.job is not None and not resolve_only else {}
        return scrapy.Request(
            url, callback=self.parse_document, errback=self.on_error, dont_filter=True, headers=headers,
            cb_kwargs={"item": item, "resolve_only": resolve_only},
            # A document the rolling refresh asks for again may be gone from the archive.
            meta={ROW_META: key, "handle_httpstatus_list": [304, 404, 410] if refresh else [304]},
        )  # fmt: skip

    # --- document pages ---------------------------------------------------------------------------

    def parse_document(
        self, response: Response, item: DocumentItem, resolve_only: bool = False
    ) -> Iterator[Any]:
        if response.status == 304 and self.job is not None:
            # Not modified since the job last fetched it: the record stands.
            self.job.not_modified(response.meta[ROW_META])
            return
        if response.status in (404, 410) and self.job is not None:
            # Refreshed, and gone: a walk of every page declares the removal.
            self.crawler.stats.inc_value(stats.JOB_REFRESH_GONE)
            logger.info("%s is gone from the archive (HTTP %s)", response.url, response.status)
            return
        page, instead = self._read(response, DocumentPage)
        if page is None:
            yield from instead
            return
        self.crawler.stats.inc_value(stats.PAGES_DOCUMENT)
        if page.canonical_rejected:
            self.crawler.stats.inc_value(stats.CANONICAL_REJECTED)
            logger.warning("%s names %r as its canonical address: not a document of this site; using the page's own address",
                           response.url, page.canonical_rejected)  # fmt: skip
        if resolve_only:
            item.url = canonical_document_url(page.canonical_url)
            item.id = document_id(item.url) or item.id
        else:
            item = page.to_item(item)
        if needs_resolving(item.url):
            yield from self._page_failed(
                response,
                PageError(response.url, "the page does not tell its canonical /document/<slug> address"),
            )
            return
        yield item

    def closed(self, reason: str) -> None:
        self.crawler.signals.send_catch_log(signals.walk_finished, outcome=self.walk.outcome())

    def _report(self, counts: Any, warnings: list[str]) -> None:
        for key, value in counts.items():
            self.crawler.stats.inc_value(key, value)
        for warning in warnings:
            logger.warning("%s", warning[0].upper() + warning[1:])
