"""The archive spider: walks every results page of a search, optionally every document.

It only decides what to fetch next. What a page says is read by the page classes in
``harvester.pages``; what a record becomes is the pipelines' business.
"""

from __future__ import annotations

import ipaddress
import logging
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import DownloadCancelledError
from scrapy.http import Response
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings, Settings
from twisted.python.failure import Failure

from harvester.args import ArchiveArgs, parse_args
from harvester.exceptions import ArgumentError, BlockedPage, IncompleteResponse, LayoutChanged, PageError
from harvester.identity import KeySet, canonical_document_url, document_id, identity_key
from harvester.items import FIELD_ORDER, LISTING_FIELDS, DocumentItem
from harvester.jobs import JobLockedError, JobStore, listing_fingerprint
from harvester.pages.document import DocumentPage
from harvester.pages.search import ResultRow, SearchPage, page_of
from harvester.settings import FEEDS as DEFAULT_FEEDS

logger = logging.getLogger(__name__)

STATS = "harvester"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_writable(settings: Settings, name: str, job: str | None) -> None:
    """Fail before any request when an output folder cannot be written: nothing is lost later."""
    folders = []
    for uri in settings.getdict("FEEDS"):
        text = str(uri) % {"name": name}
        if "://" in text and not text.startswith("file://"):
            continue
        folders.append(Path(text.removeprefix("file://")).parent)
    if job:
        folders.append(Path(settings.get("HARVESTER_JOBS_DIR")) / job)
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".harvester-write-test-"):
                pass
        except OSError as exc:
            error = ArgumentError(
                "output", str(folder),
                f"cannot write there ({exc.strerror or exc}); choose another output path (-O) or "
                "HARVESTER_JOBS_DIR, or fix the folder",
            )
            logger.error("%s", error)
            raise error from exc


def _status_first(response: Response, exc: PageError) -> PageError:
    """A page that is not a 200 is an HTTP failure, unless it is a block page (which says more)."""
    if response.status == 200 or isinstance(exc, BlockedPage):
        return exc
    return PageError(response.url, f"HTTP {response.status}")


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
        self.job: JobStore | None = None
        self.export_fields: list[str] = list(FIELD_ORDER if self.args.details else LISTING_FIELDS)
        # Incremental runs (jobs): how far the walk got, and what it saw.
        self.early_stop_allowed = False
        self.stop_after_known = 20
        self.consecutive_known = 0
        self.new_seen = 0
        self.early_stopped = False
        self.walk_complete = False
        self.page_size = 10
        # Walk bookkeeping: rows seen (64-bit keys), moved rows, count drift.
        self.seen_rows = KeySet()
        self.corrections: dict[str, tuple[int, str]] = {}
        self.current_total: int | None = None
        self.furthest_page = 0
        self._pending_rewalk = 0
        self._blocked_in_a_row = 0
        self.dedupe = True
        self.rewalk_enabled = True
        self.block_retries = 2
        self.block_backoff = 30.0

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
        spider.dedupe = settings.getbool("HARVESTER_DEDUPE", True)
        spider.rewalk_enabled = settings.getbool("HARVESTER_REWALK", True)
        spider.block_retries = settings.getint("HARVESTER_BLOCK_RETRIES", 2)
        spider.block_backoff = settings.getfloat("HARVESTER_BLOCK_BACKOFF", 30.0)
        _only_cmdline_feeds(settings)
        _check_writable(settings, spider.name, spider.args.job)
        settings.set("FEED_EXPORT_FIELDS", spider.export_fields, priority="spider")
        if spider.args.job:
            spider._open_job(settings)
        if settings.getbool("HARVESTER_CSV_TEXT"):
            feeds = settings.getdict("FEEDS")
            for options in feeds.values():
                if options.get("format") == "csv":
                    options.setdefault("item_export_kwargs", {})["include_text"] = True
            settings.set("FEEDS", feeds, priority=settings.getpriority("FEEDS") or "project")
        return spider

    def _open_job(self, settings: Settings) -> None:
        """Lock and open the job's state; decide whether this run is a full one."""
        assert self.args.job
        # The job publishes its own files from its state: no default feeds.
        feeds = settings["FEEDS"]
        if isinstance(feeds, BaseSettings):
            for key in DEFAULT_FEEDS:
                if key in feeds:
                    del feeds[key]
        store = JobStore(Path(settings.get("HARVESTER_JOBS_DIR")) / self.args.job)
        try:
            store.open()
        except JobLockedError as exc:
            logger.error("Job %s: %s", self.args.job, exc)
            raise
        self.job = store
        run_args = self.args.model_dump_json(exclude={"full"})
        full = self.args.full or not store.has_baseline()
        every = settings.getfloat("HARVESTER_JOB_FULL_EVERY_DAYS")
        last_full = store.last_full_run()
        if not full and every > 0 and last_full:
            due = datetime.strptime(last_full, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + timedelta(days=every)
            full = datetime.now(UTC) >= due
        if not full and store.last_ok_args() not in (None, run_args):
            logger.info("Job %s: arguments changed since the last run; walking everything", self.args.job)
            full = True
        run_id = store.begin_run(run_args, full)
        self.stop_after_known = settings.getint("HARVESTER_JOB_STOP_AFTER_KNOWN")
        sorted_newest = dict(parse_qsl(urlsplit(self.first_url()).query)).get("sort_bef_combine") == "created_DESC"
        self.early_stop_allowed = not store.full and sorted_newest and self.stop_after_known > 0
        logger.info(
            "Job %s: %s run %s (%s)%s", self.args.job, "resuming" if store.resumed else "starting",
            run_id, "full" if store.full else "incremental",
            "" if self.early_stop_allowed or store.full else "; results not sorted newest upload first: no early stop",
        )

    # --- walking the results ------------------------------------------------------

    def first_url(self) -> str:
        if self.args.start_url:
            url = self.args.start_url
        elif self.args.query:
            url = f"{self.base_url}/search?{urlencode({'search_api_fulltext': self.args.query})}"
        else:
            url = f"{self.base_url}/search"
        if self.args.job:
            # Incremental runs walk newest uploads first, so that what is new comes first.
            parts = urlsplit(url)
            query = parse_qsl(parts.query, keep_blank_values=True)
            if not any(k == "sort_bef_combine" for k, _ in query):
                query.append(("sort_bef_combine", "created_DESC"))
                url = urlunsplit(parts._replace(query=urlencode(query)))
        return url

    def page_url(self, number: int) -> str:
        """The results URL of page ``number`` (0-based) of this run's search."""
        parts = urlsplit(self.first_url())
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
        if number:
            query.append(("page", str(number)))
        return urlunsplit(parts._replace(query=urlencode(query)))

    async def start(self) -> Any:  # Scrapy >= 2.13
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        self.crawler.stats.set_value(f"{STATS}/args", self.args.model_dump_json())
        yield scrapy.Request(self.first_url(), callback=self.parse_search, errback=self.on_error,
                             cb_kwargs={"expected_page": None})

    def parse_search(self, response: Response, expected_page: int | None, rewalk: bool = False) -> Iterator[Any]:
        stats = self.crawler.stats
        try:
            page = SearchPage(response.url, response.body)
            if response.status != 200:
                raise PageError(response.url, f"HTTP {response.status}")
        except PageError as exc:
            yield from self._page_failed(response, _status_first(response, exc))
            return
        self._blocked_in_a_row = 0
        if page.invalid_utf8:
            stats.inc_value(f"{STATS}/pages/invalid_utf8")
            logger.warning("Bytes that are not UTF-8 in %s: replaced by U+FFFD", response.url)
        number = page.page_number
        stats.inc_value(f"{STATS}/pages/search")
        if rewalk:
            stats.inc_value(f"{STATS}/rewalk/pages")
        else:
            self.visited_pages.add(number)
            self.furthest_page = max(self.furthest_page, number)
        if page.total is not None:
            self._check_count(page.total, number, response.url)
            if self._pending_rewalk:
                yield from self._rewalk_requests()
        if self.reported_total is None and page.total is not None:
            self.reported_total = page.total
            stats.set_value(f"{STATS}/reported_total", page.total)
            if page.last_page is not None:
                stats.set_value(f"{STATS}/pages/expected", page.last_page + 1)
            logger.info("The site reports %s documents for %s", page.total, response.url)
        rows = page.rows()
        if not rows:
            if rewalk:
                return
            if page.is_empty_search:
                logger.warning("The site found no results for %s", response.url)
                self.walk_complete = True
            elif self.rows_seen < (self.reported_total or 0):
                logger.warning("Empty results page %s before all %s reported documents were seen",
                               response.url, self.reported_total)
            else:
                self.walk_complete = True
            return
        offset = page.count.first - 1 if page.count else number * len(rows)
        if page.count and number:
            self.page_size = max(1, (page.count.first - 1) // number)
        elif page.count:
            self.page_size = max(self.page_size, len(rows))
        for row in rows:
            yield from self._row(row, offset + row.row, response.url, rewalk)
        if rewalk or self._stop_early(response):
            return
        yield from self._follow_pager(page, response)

    def _row(self, row: ResultRow, position: int, listing_url: str, rewalk: bool) -> Iterator[Any]:
        """One result row: harvest it, keep it (job), or note where it stands now."""
        stats = self.crawler.stats
        if urlsplit(row.url).hostname not in self.allowed_domains:
            stats.inc_value(f"{STATS}/rows/offsite")
            logger.warning("Result %s on %s links to another host (%s): not followed", position, listing_url, row.url)
            return
        url = canonical_document_url(row.url)
        key = identity_key(url)
        if key in self.seen_rows:
            if rewalk:
                # Read again after the results moved: the row's place now.
                self.corrections[url] = (position, listing_url)
                stats.inc_value(f"{STATS}/rewalk/rows_reread")
            elif self.dedupe:
                stats.inc_value(f"{STATS}/duplicates/dropped")
                logger.info("Result %s (%s) was listed before: not harvested twice", position, url)
            if self.dedupe:
                return
        self.seen_rows.add(key)
        self.rows_seen += 1
        slug = document_id(url)
        if slug is None or slug.isdigit():
            # A legacy /document/<record id> or /node/<nid> link: only the document page
            # (details=true) tells the canonical address, the identity.
            stats.inc_value(f"{STATS}/identity/alias_links")
            if not self.args.details:
                logger.warning("Result %s links by a non-canonical address %s; run with "
                               "-a details=true to resolve it", position, url)
        item = DocumentItem(
            id=slug or url,
            url=url,
            title=row.title,
            date_raw=row.date_raw,
            summary=row.summary,
            query=self.args.query or None,
            listing_url=listing_url,
            position=position,
            harvested_at=utc_now(),
        )
        if self.job is not None:
            fp = listing_fingerprint(url, row.title, row.date_raw, row.summary)
            if self._reuse(url, fp, item):
                return
            item._listing_fp = fp  # type: ignore[attr-defined]  # read by JobPipeline
        if self.args.details:
            yield scrapy.Request(row.url, callback=self.parse_document, errback=self.on_error,
                                 cb_kwargs={"item": item}, dont_filter=True)
        else:
            yield item

    def _check_count(self, total: int, number: int, url: str) -> None:
        """The count moved during the walk: read the pages already walked again.

        New uploads at the top push every row down; removals pull rows up into pages
        already read. Re-reading pages 0 .. (furthest + the shift in pages) finds the rows
        that moved past the walk and tells where the rows already read stand now.
        """
        if self.current_total is None:
            self.current_total = total
            return
        if total == self.current_total:
            return
        delta = total - self.current_total
        self.current_total = total
        self.reported_total = total
        stats = self.crawler.stats
        stats.set_value(f"{STATS}/reported_total", total)
        stats.inc_value(f"{STATS}/shifts")
        pages = self.furthest_page + 1 + -(-abs(delta) // self.page_size)
        if not self.rewalk_enabled:
            logger.warning("The results moved during the walk (%+d documents); HARVESTER_REWALK is off", delta)
            return
        logger.warning(
            "The results moved during the walk: the site now reports %s documents (%+d) on %s; "
            "reading pages 1-%s again", total, delta, url, pages,
        )
        self._pending_rewalk = max(self._pending_rewalk, pages)

    def _rewalk_requests(self) -> Iterator[scrapy.Request]:
        pages, self._pending_rewalk = self._pending_rewalk, 0
        for number in range(pages):
            yield scrapy.Request(self.page_url(number), callback=self.parse_search, errback=self.on_error,
                                 cb_kwargs={"expected_page": number, "rewalk": True}, dont_filter=True,
                                 priority=10)

    def _reuse(self, url: str, fp: str, item: DocumentItem) -> bool:
        """In a job: True when the row needs no harvesting (known and unchanged, or done)."""
        assert self.job is not None
        stats = self.crawler.stats
        known = self.job.known(url)
        if known is None or not known.published_present:
            self.new_seen += 1
        if known is not None and known.done_run == self.job.run_id:
            # Already harvested by this run (resumed after a crash, or listed twice).
            stats.inc_value(f"{STATS}/job/already_done")
            self.consecutive_known = self.consecutive_known + 1 if known.published_present else 0
            return True
        if known is not None and not self.job.full and known.listing_fp == fp:
            self.job.reuse(url, item.position, item.listing_url)
            stats.inc_value(f"{STATS}/job/reused")
            self.consecutive_known = self.consecutive_known + 1 if known.published_present else 0
            return True
        self.consecutive_known = 0
        return False

    def _stop_early(self, response: Response) -> bool:
        """Stop paging once enough known, unchanged documents came in a row, if the count agrees."""
        if not self.early_stop_allowed or self.job is None or self.consecutive_known < self.stop_after_known:
            return False
        expected = self.job.published_count() + self.new_seen
        if self.reported_total is not None and self.reported_total != expected:
            logger.info(
                "Job %s: %s known in a row, but the site reports %s documents where %s were expected "
                "(removals or moves somewhere): walking every page", self.args.job,
                self.consecutive_known, self.reported_total, expected,
            )
            self.early_stop_allowed = False
            return False
        logger.info("Job %s: %s known, unchanged documents in a row at %s: the rest is known; stopping",
                    self.args.job, self.consecutive_known, response.url)
        self.crawler.stats.set_value(f"{STATS}/stopped_by", "known_documents")
        self.early_stopped = True
        return True

    def _follow_pager(self, page: SearchPage, response: Response) -> Iterator[scrapy.Request]:
        stats = self.crawler.stats
        next_url = page.next_url
        number = page.page_number
        if next_url is None:
            if page.count and page.count.last < page.count.total:
                # "No next link" while the count says there is more: the pager changed.
                yield from self._page_failed(response, LayoutChanged(response.url, "nav.pager a[rel=next]"))
            else:
                self.walk_complete = True
            return
        if self.args.max_pages is not None and len(self.visited_pages) >= self.args.max_pages:
            logger.info("Stopping after %s pages (max_pages)", self.args.max_pages)
            stats.set_value(f"{STATS}/stopped_by", "max_pages")
            return
        next_number = page_of(next_url)
        offsite = urlsplit(next_url).hostname not in self.allowed_domains
        if offsite or next_number <= number or next_number in self.visited_pages:
            # A pager that points back (or away) would loop or leave the site: count it, and
            # go on by page number while the count says there is more.
            stats.inc_value(f"{STATS}/pagination/loops" if not offsite else f"{STATS}/pagination/offsite")
            logger.error("Pager of page %s points to %s as next; going on with page %s by number",
                         number + 1, next_url, number + 2)
            if page.count and page.count.last >= page.count.total:
                self.walk_complete = True
                return
            next_number = number + 1
            next_url = self.page_url(next_number)
            if next_number in self.visited_pages:
                return
        yield response.follow(next_url, callback=self.parse_search, errback=self.on_error,
                              cb_kwargs={"expected_page": next_number})

    # --- documents ------------------------------------------------------------------

    def parse_document(self, response: Response, item: DocumentItem) -> Iterator[Any]:
        try:
            page = DocumentPage(response.url, response.body)
            if response.status != 200:
                raise PageError(response.url, f"HTTP {response.status}")
            item = page.to_item(item)
        except PageError as exc:
            yield from self._page_failed(response, _status_first(response, exc))
            return
        self._blocked_in_a_row = 0
        if page.invalid_utf8:
            self.crawler.stats.inc_value(f"{STATS}/pages/invalid_utf8")
            logger.warning("Bytes that are not UTF-8 in %s: replaced by U+FFFD", response.url)
        self.crawler.stats.inc_value(f"{STATS}/pages/document")
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
            self._blocked_in_a_row += 1
            if self._blocked_in_a_row <= self.block_retries:
                wait = self.block_backoff * 2 ** (self._blocked_in_a_row - 1)
                logger.warning("Block or challenge page at %s (%s in a row): waiting %.1f s, then trying again",
                               response.url, self._blocked_in_a_row, wait)
                retry = response.request.replace(dont_filter=True)
                retry.meta["harvester_not_before"] = time.monotonic() + wait
                yield retry
                return
            stats.set_value(f"{STATS}/blocked", True)
            logger.error("The site is blocking the harvester (%s block or challenge pages in a row, last at %s): "
                         "stopping. Slow down (DOWNLOAD_DELAY), set HARVESTER_CONTACT, or try later.",
                         self._blocked_in_a_row, response.url)
            self.crawler.engine.close_spider(self, "blocked")
        elif isinstance(exc, LayoutChanged):
            stats.inc_value(f"{STATS}/structure_errors")
            logger.error("Structure error: %s", exc)
        else:
            stats.inc_value(f"{STATS}/pages/failed")
            logger.error("Page error: %s", exc)

    def on_error(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        kind = "document" if request.callback == self.parse_document else "search"
        stats = self.crawler.stats
        if failure.check(DownloadCancelledError):
            # Over DOWNLOAD_MAXSIZE: no page of this archive is that large. Skip it, count it,
            # and keep what the listing said about the document.
            stats.inc_value(f"{STATS}/pages/oversize")
            logger.warning("Skipped %s page %s: over the size limit (%s)", kind, request.url,
                           failure.getErrorMessage())
            if kind == "document":
                stats.inc_value(f"{STATS}/documents/details_missing")
                yield request.cb_kwargs["item"]
            else:
                stats.inc_value(f"{STATS}/pages/failed")
            return
        stats.inc_value(f"{STATS}/pages/failed")
        stats.inc_value(f"{STATS}/pages/failed/{kind}")
        logger.error("Could not fetch %s page %s: %s", kind, request.url, failure.getErrorMessage())
