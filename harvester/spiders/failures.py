"""What the spider does when a page is not what it should be: retry it, wait, or count it.

A mixin of :class:`harvester.spiders.archive.ArchiveSpider`, apart so that the spider reads as
what to fetch next. Every outcome is counted (:mod:`harvester.stats`) and logged with the page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import CloseSpider, DownloadCancelledError, IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure

from harvester import stats
from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged, PageError
from harvester.middlewares import RateLimited
from harvester.pages.document import DocumentPage, DocumentReading
from harvester.pages.search import SearchPage
from harvester.pages.worker import PageWorker, WorkerGone

logger = logging.getLogger(__name__)
PageT = TypeVar("PageT", SearchPage, DocumentPage)
AnyPageT = TypeVar("AnyPageT", SearchPage, DocumentPage, DocumentReading)


@dataclass
class BlockBackoff:
    """A block or challenge page is tried again ``retries`` times, waiting ``base`` s, doubling."""

    retries: int
    base: float
    in_a_row: int = 0

    def next_wait(self) -> float | None:
        self.in_a_row += 1
        return self.base * 2 ** (self.in_a_row - 1) if self.in_a_row <= self.retries else None


class PageFailures(scrapy.Spider):
    crawler: Crawler
    blocks: BlockBackoff

    def _read(self, response: Response, kind: type[PageT]) -> tuple[PageT | None, list[scrapy.Request]]:
        """The page, or what to do instead: a retry, a wait after a block page, nothing."""
        try:
            page = kind(response.url, response.body)
        except PageError as exc:
            return None, list(self._page_failed(response, _status_first(response, exc)))
        return self._accepted(response, page)

    async def _read_in_worker(
        self, response: Response, worker: PageWorker
    ) -> tuple[DocumentPage | DocumentReading | None, list[scrapy.Request]]:
        """:meth:`_read` of a document page, the page read by the page worker (a replay's
        second core); in this process when the worker is gone."""
        try:
            reading: DocumentReading = await worker.read(response.url, response.body)
        except WorkerGone:
            return self._read(response, DocumentPage)
        except PageError as exc:
            return None, list(self._page_failed(response, _status_first(response, exc)))
        return self._accepted(response, reading)

    def _accepted(self, response: Response, page: AnyPageT) -> tuple[AnyPageT | None, list[scrapy.Request]]:
        """A page read whole: failed if its status is not 200, asked again once if not UTF-8."""
        try:
            _check_status(response)
        except PageError as exc:
            return None, list(self._page_failed(response, _status_first(response, exc)))
        if page.invalid_utf8 and (retry := self._utf8_retry(response)) is not None:
            return None, [retry]
        self.blocks.in_a_row = 0
        if isinstance(page, DocumentPage | DocumentReading) and page.links_dropped:
            self._links_dropped(response, page.links_dropped)
        return page, []

    def _links_dropped(self, response: Response, dropped: list[str]) -> None:
        """Links no record may hold (``javascript:``, ``data:``, another host, ``/node/1`` as a
        related document): not in the record; counted, and said once per page."""
        self.crawler.stats.inc_value(stats.LINKS_DROPPED, len(dropped))
        shown = ", ".join(repr(href[:120]) for href in dropped[:5])
        more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
        logger.warning("%s links to %s%s: not addresses of this site (scans, download and related documents "
                       "must be http(s) on it): dropped from the record", response.url, shown, more)  # fmt: skip

    def _utf8_retry(self, response: Response) -> scrapy.Request | None:
        """Bytes that are not UTF-8: ask once more (a transfer fault), then accept with U+FFFD."""
        request = response.request
        retry = None
        if request is not None and not request.meta.get("harvester_utf8_retried"):
            retry = get_retry_request(request, spider=self, reason="invalid_utf8", max_retry_times=1)
        if retry is not None:
            retry.meta["harvester_utf8_retried"] = True
            return retry
        self.crawler.stats.inc_value(stats.PAGES_INVALID_UTF8)
        logger.warning("Bytes that are not UTF-8 in %s: replaced by U+FFFD", response.url)
        return None

    def _page_failed(self, response: Response, exc: PageError) -> Iterator[scrapy.Request]:
        count = self.crawler.stats.inc_value
        if isinstance(exc, IncompleteResponse):
            retry = (
                get_retry_request(response.request, spider=self, reason="incomplete_response")
                if response.request
                else None
            )
            if retry is not None:
                count(stats.PAGES_INCOMPLETE_RETRIED)
                logger.warning("Retrying %s", exc)
                yield retry
                return
            count(stats.PAGES_FAILED)
            logger.error("Giving up on %s", exc)
        elif isinstance(exc, BlockedPage):
            count(stats.PAGES_BLOCKED)
            wait = self.blocks.next_wait()
            if wait is not None and response.request is not None:
                logger.warning("Block or challenge page at %s (%s in a row): waiting %.1f s, then trying again",
                               response.url, self.blocks.in_a_row, wait)  # fmt: skip
                retry = response.request.replace(dont_filter=True)
                retry.meta["harvester_not_before"] = time.monotonic() + wait
                yield retry
                return
            self.crawler.stats.set_value(stats.BLOCKED, True)
            logger.error("The site is blocking the harvester (%s block or challenge pages in a row, last at %s): "
                         "stopping. Slow down (DOWNLOAD_DELAY), set HARVESTER_CONTACT, or try later.",
                         self.blocks.in_a_row, response.url)  # fmt: skip
            raise CloseSpider("blocked")
        elif isinstance(exc, LayoutChanged):
            count(stats.STRUCTURE_ERRORS)
            logger.error("Structure error: %s", exc)
        else:
            count(stats.PAGES_FAILED)
            logger.error("Page error: %s", exc)

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        kind = "search" if "rewalk" in request.cb_kwargs else "document"
        count = self.crawler.stats.inc_value
        if failure.check(RateLimited):  # type: ignore[no-untyped-call]
            return  # the run is stopping at the rate limit: counted and said by the middleware
        message = failure.getErrorMessage()
        # Over DOWNLOAD_MAXSIZE as it came, or once Scrapy inflated it (a compressed page): a
        # record without its details is never published as complete.
        if failure.check(DownloadCancelledError) or (  # type: ignore[no-untyped-call]
            failure.check(IgnoreRequest) and "DOWNLOAD_MAXSIZE" in message  # type: ignore[no-untyped-call]
        ):
            count(stats.PAGES_OVERSIZE)
            logger.error("The %s page %s is over the size limit (%s): not read; raise DOWNLOAD_MAXSIZE if it is real",
                         kind, request.url, message)  # fmt: skip
            return
        if failure.check(IgnoreRequest) and "robots.txt" in message:  # type: ignore[no-untyped-call]
            count(stats.ROBOTS_FORBIDDEN)
            logger.error("robots.txt of %s forbids %s for this user agent (%s): not fetched. Harvest another path, "
                         "or ask the site's operators", urlsplit(request.url).netloc, urlsplit(request.url).path,
                         self.crawler.settings.get("USER_AGENT"))  # fmt: skip
            return
        count(stats.PAGES_FAILED)
        count(stats.pages_failed(kind))
        logger.error("Could not fetch %s page %s: %s", kind, request.url, message)


def _status_first(response: Response, exc: PageError) -> PageError:
    """A page that is not a 200 is an HTTP failure, unless it is a block page (which says more)."""
    if response.status == 200 or isinstance(exc, BlockedPage):
        return exc
    return PageError(response.url, f"HTTP {response.status}")


def _check_status(response: Response) -> None:
    """A page that is not a 200 is an HTTP failure (a block page says more, and was raised first)."""
    if response.status != 200:
        raise PageError(response.url, f"HTTP {response.status}")
