"""The archive spider: crawl policy only, i.e. what to fetch next.

What a page says is read by the page classes (:mod:`harvester.pages`); where the walk goes
and where each row stands is decided by :class:`harvester.walk.Walk`; what a record becomes
is the pipelines' business; a job's state is its extension's (:mod:`harvester.jobs`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.settings import Settings

from harvester import signals, stats
from harvester.args import ArchiveArgs, parse_args
from harvester.config import configure
from harvester.exceptions import LayoutChanged, PageError
from harvester.identity import canonical_document_url, document_id, needs_resolving
from harvester.items import LISTING_FIELDS, DocumentItem
from harvester.jobs.extension import (
    REFRESH_META,
    ROW_META,
    SETTLED_META,
    JobExtension,
    JobStart,
)
from harvester.jobs.store import preview
from harvester.pages.document import DocumentPage, DocumentReading
from harvester.pages.search import ResultRow, SearchPage, page_of
from harvester.pages.worker import PageWorker
from harvester.plan import plan_for
from harvester.search_urls import SearchUrls
from harvester.spiders.failures import BlockBackoff, PageFailures
from harvester.text import utc_now
from harvester.walk import End, PageSeen, Walk

logger = logging.getLogger(__name__)


def document_priority(page: int) -> int:
    """The scheduler priority of the document pages listed on results page ``page`` (0-based).

    The walk must not run ahead of the documents: each results page queues up to 100 document
    requests, each carrying its listing record, and Scrapy pops the next results page first
    (its queues are last in, first out), so a details run held every document request of the
    archive at once (~4.5 KB each: peak RSS grew ~70 MB at 16,153 documents, ~10x at 10x).
    Documents of earlier pages go first, and results page ``n + 1`` (:func:`results_priority`)
    between the documents of page ``n - 1`` and those of page ``n``: at most two pages of
    documents wait, and the downloader never runs dry while the next page is read.

    >>> [document_priority(n) for n in (0, 1, 2)], [results_priority(n) for n in (1, 2, 3)]
    ([0, -2, -4], [1, -1, -3])
    """
    return -2 * page


def results_priority(page: int) -> int:
    """The scheduler priority of results page ``page`` (0-based): see :func:`document_priority`."""
    return 3 - 2 * page if page > 0 else 0


def _page_worker(settings: Settings, details: bool) -> PageWorker | None:
    """A replay's page worker (``HARVESTER_REPLAY_WORKER``), on a machine of more than one core.

    A replay spends only CPU, half of it reading document pages, and left the second core
    idle (issue 17). Online, the second core serves the site (the replica) or waits for it
    (the real site, a page every 3 s): no worker there.
    """
    if not (details and settings.get("HARVESTER_REPLAY") and settings.getbool("HARVESTER_REPLAY_WORKER")):
        return None  # a listing run reads documents only for the rare alias row
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if cores < 2 or os.name != "posix":  # non-blocking pipes watched by the event loop
        return None
    try:
        return PageWorker.start()
    except OSError as exc:
        logger.warning("Could not start the page worker (%s): document pages are read in this process", exc)
        return None


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
        self.job_start = JobStart()
        self.new_rows = 0
        #: Reads document pages in a second process (a replay: :func:`_page_worker`).
        self.page_worker: PageWorker | None = None

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
        spider.page_worker = _page_worker(settings, spider.args.details)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.job = self.crawler.get_extension(JobExtension)
        if self.job is not None:
            self.job_start = self.job.start()
            if self.urls.sorted_newest_first:
                self.walk = self.new_walk(
                    stop_after_known=self.job_start.stop_after_known,
                    rolling_pages=self.job_start.rolling_pages,
                    check_count=self.job_start.check_count,
                )
            else:
                logger.info("Results not sorted newest upload first: no early stop")
        self.crawler.stats.set_value(stats.ARGS, self.args.model_dump_json())
        yield self._results(self.urls.first)
        for record in self.job_start.refresh:
            listing: dict[str, Any] = {name: record.get(name) for name in LISTING_FIELDS}
            item = DocumentItem(**listing)
            item.harvested_at = utc_now()
            yield self._document(item.url, item, resolve_only=False, refresh=True)

    def _results(self, url: str, *, rewalk: bool = False, number: int = 0) -> scrapy.Request:
        priority = 10 if rewalk else results_priority(number)
        return scrapy.Request(url, callback=self.parse_search, errback=self.on_error, cb_kwargs={"rewalk": rewalk},
                              dont_filter=rewalk, priority=priority)  # fmt: skip

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
        priority = document_priority(seen.number)
        for place in step.new:
            yield from self._row(rows[place.url], place.url, place.position, place.listing_url, priority)
        for place in step.check:
            # A row beyond the page's count, by another address: its page tells which document it is.
            yield scrapy.Request(rows[place.url].url, callback=self.parse_listed_again, errback=self.on_error,
                                 dont_filter=True, cb_kwargs={"listing_url": place.listing_url},
                                 priority=priority)  # fmt: skip
        if rewalk:
            return
        nxt = self.walk.next(seen, self._expected_total())
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
            yield self._results(follow or self.urls.page(nxt.page), number=nxt.page)

    def _expected_total(self) -> int | None:
        """What the site should report if nothing but the new rows changed (a job's early stop)."""
        if self.job is None:
            return None
        return self.job_start.published + self.new_rows

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
        if self.job is not None and not self.job_start.full:
            incremental = len(self.job_start.refresh)
        elif self.args.plan and self.args.job and not self.args.full:
            incremental = preview(settings, self.args.job, details=self.args.details)
        plan = plan_for(
            reported, page_size, details=self.args.details, delay=settings.getfloat("DOWNLOAD_DELAY"),
            max_pages=self.args.max_pages, incremental_documents=incremental,
            already_done=self.job_start.already_done,
        )  # fmt: skip
        self.crawler.stats.set_value(stats.PLAN_REQUESTS, plan.requests)
        self.crawler.stats.set_value(stats.PLAN_SECONDS, plan.seconds)
        if self.args.plan:
            print(plan.line(), flush=True)  # the answer, on stdout, once
            raise CloseSpider("plan")
        logger.info("%s", plan.line())

    def _row(
        self, row: ResultRow, url: str, position: int, listing_url: str, priority: int = 0
    ) -> Iterator[Any]:
        """One new result row: harvest it, or leave it to the job when it is known and unchanged."""
        if urlsplit(url).hostname not in self.allowed_domains:
            self.crawler.stats.inc_value(stats.ROWS_OFFSITE)
            logger.warning(
                "Result %s on %s links to another host (%s): not followed", position, listing_url, row.url
            )
            return
        fetch = row.url
        if self.job is not None:
            answer = self.job.harvest(url, row.title, row.date_raw, row.summary, position, listing_url)
            self.walk.saw(known=answer.url is None)
            self.new_rows += answer.new
            if answer.url is None:
                return
            # An alias row resolved on an earlier night: its canonical address, fetched directly.
            url = fetch = answer.url
        item = DocumentItem(
            id=document_id(url) or url, url=url, title=row.title, date_raw=row.date_raw, summary=row.summary,
            query=self.args.query or None, listing_url=listing_url, position=position, harvested_at=utc_now(),
        )  # fmt: skip
        alias = needs_resolving(url)
        if alias:
            self.crawler.stats.inc_value(stats.ALIAS_LINKS)
        if self.args.details or alias:
            yield self._document(fetch, item, resolve_only=not self.args.details, row=url, priority=priority)
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
        priority: int = 0,
    ) -> scrapy.Request:
        """A document page's request. In a job, the job's middleware makes it conditional and
        settles the answers only the job can judge (:mod:`harvester.jobs.middleware`)."""
        meta: dict[str, Any] = {ROW_META: row or item.url}
        if refresh:
            meta[REFRESH_META] = True
        callback = self.parse_document if self.page_worker is None else self.parse_document_in_worker
        return scrapy.Request(
            url, callback=callback, errback=self.on_error, dont_filter=True,
            cb_kwargs={"item": item, "resolve_only": resolve_only}, meta=meta, priority=priority,
        )  # fmt: skip

    # --- document pages ---------------------------------------------------------------------------

    def parse_document(
        self, response: Response, item: DocumentItem, resolve_only: bool = False
    ) -> Iterator[Any]:
        if response.meta.get(SETTLED_META):
            return  # the job settled it: not modified, gone, or failing with its record kept
        page, instead = self._read(response, DocumentPage)
        yield from self._document_read(response, item, resolve_only, page, instead)

    async def parse_document_in_worker(
        self, response: Response, item: DocumentItem, resolve_only: bool = False
    ) -> AsyncIterator[Any]:
        """:meth:`parse_document`, the page read by the page worker while this process goes on."""
        assert self.page_worker is not None
        if response.meta.get(SETTLED_META):
            return  # as in parse_document (a replay is never a job: no job settles its pages)
        page, instead = await self._read_in_worker(response, self.page_worker)
        for output in self._document_read(response, item, resolve_only, page, instead):
            yield output

    def _document_read(
        self,
        response: Response,
        item: DocumentItem,
        resolve_only: bool,
        page: DocumentPage | DocumentReading | None,
        instead: list[scrapy.Request],
    ) -> Iterator[Any]:
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
        if self.page_worker is not None:
            self.page_worker.close()
            self.crawler.stats.set_value(stats.REPLAY_WORKER_PAGES, self.page_worker.pages)
        self.crawler.signals.send_catch_log(signals.walk_finished, outcome=self.walk.outcome())

    def _report(self, counts: Any, warnings: list[str]) -> None:
        for key, value in counts.items():
            self.crawler.stats.inc_value(key, value)
        for warning in warnings:
            logger.warning("%s", warning[0].upper() + warning[1:])
