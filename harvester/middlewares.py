"""Downloader middleware: retries that wait what the server asks, and back off when it insists.

Scrapy's ``RetryMiddleware`` retries 429 and 503 at once and ignores ``Retry-After``
(scrapy/scrapy#3849). :class:`PoliteRetryMiddleware` replaces it for those two codes:

- it reads ``Retry-After`` in both forms (delta-seconds and HTTP-date, RFC 9110 §10.2.3),
  caps it at ``HARVESTER_RETRY_AFTER_MAX`` seconds, and holds *every* request to that host
  until the time is up (the server asked the client to wait, not one URL);
- without ``Retry-After`` it backs off exponentially per host
  (``HARVESTER_BACKOFF_BASE`` × 2^(n-1) for the n-th 429/503 in a row, capped at
  ``HARVESTER_BACKOFF_MAX``), and a successful response resets the count;
- other retryable failures (5xx, timeouts, dropped connections) go through Scrapy's own
  retry logic unchanged, but also wait out a host's pause.

Waits are counted in stats (``harvester/retry_after/...``, ``harvester/backoff/...``) and each
is logged with the value the server sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import is_asyncio_available

from harvester.stats import (
    BACKOFF_COUNT,
    BACKOFF_SECONDS,
    PAGES_REDIRECTED_OFFSITE,
    RETRY_AFTER_CAPPED,
    RETRY_AFTER_COUNT,
    RETRY_AFTER_SECONDS,
)

logger = logging.getLogger(__name__)

WAIT_CODES = (429, 503)

#: A clock: seconds as a float (``time.monotonic`` for pauses, ``time.time`` for HTTP-dates).
Clock = Callable[[], float]
#: Waits that many seconds without blocking the reactor.
Sleep = Callable[[float], Awaitable[None]]


def parse_retry_after(value: str | bytes | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value; ``None`` when absent or unreadable.

    >>> parse_retry_after(b"120")
    120.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
    10.0
    >>> parse_retry_after("soon") is None
    True
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0)
    0.0
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


async def _sleep(seconds: float) -> None:
    if not is_asyncio_available():  # pragma: no cover - settings pin the asyncio reactor
        raise RuntimeError("harvester needs Scrapy's asyncio reactor (TWISTED_REACTOR)")
    await asyncio.sleep(seconds)


def _add_seconds(stats: StatsCollector, key: str, seconds: float) -> None:
    # StatsCollector.inc_value is typed for ints; waits are fractional seconds.
    stats.set_value(key, stats.get_value(key, 0) + round(seconds, 3))


class PoliteRetryMiddleware(RetryMiddleware):
    """``RetryMiddleware`` that honours ``Retry-After`` and backs off per host on 429/503.

    *clock* is the monotonic clock pauses are measured in (the spider sets
    ``meta["harvester_not_before"]`` with ``time.monotonic()``); *wall_clock* reads
    ``Retry-After`` HTTP-dates; *sleep* waits. Tests pass fakes for all three.
    """

    def __init__(
        self,
        crawler: Crawler,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep = _sleep,
    ) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.clock = clock
        self.wall_clock = wall_clock
        self.sleep = sleep
        settings = crawler.settings
        self.retry_after_max = settings.getfloat("HARVESTER_RETRY_AFTER_MAX", 300.0)
        self.backoff_base = settings.getfloat("HARVESTER_BACKOFF_BASE", 2.0)
        self.backoff_max = settings.getfloat("HARVESTER_BACKOFF_MAX", 120.0)
        self.paused_until: dict[str, float] = {}
        self.strikes: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PoliteRetryMiddleware:
        return cls(crawler)

    @staticmethod
    def host(request: Request) -> str:
        return request.url.split("/", 3)[2] if "://" in request.url else ""

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Hold a request while its host is paused (Retry-After or back-off), or until the
        time the spider asked for (``meta["harvester_not_before"]``, after a block page)."""
        until = max(
            self.paused_until.get(self.host(request), 0.0), request.meta.get("harvester_not_before", 0.0)
        )
        delay = until - self.clock()
        if delay > 0:
            await self.sleep(delay)

    def pause(self, request: Request, seconds: float, why: str) -> None:
        host = self.host(request)
        until = self.clock() + seconds
        if until > self.paused_until.get(host, 0.0):
            self.paused_until[host] = until
        logger.info("Waiting %.1f s before requesting %s again (%s)", seconds, host, why)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        host = self.host(request)
        if response.status not in WAIT_CODES:
            if 200 <= response.status < 400:
                self.strikes.pop(host, None)
            return super().process_response(request, response)
        if request.meta.get("dont_retry", False):
            return response
        strikes = self.strikes.get(host, 0) + 1
        self.strikes[host] = strikes
        asked = parse_retry_after(response.headers.get(b"Retry-After"), now=self.wall_clock())
        capped = False
        if asked is not None:
            wait = min(asked, self.retry_after_max)
            capped = asked > self.retry_after_max
            why = f"HTTP {response.status}, Retry-After: {asked:g} s" + (
                f", capped at {self.retry_after_max:g} s" if capped else ""
            )
        else:
            wait = min(self.backoff_base * 2 ** (strikes - 1), self.backoff_max)
            why = f"HTTP {response.status} #{strikes} in a row, no Retry-After: backing off"
        assert self.crawler.spider is not None  # responses only arrive while a spider runs
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=f"HTTP {response.status}",
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
        )
        if retry is None:  # given up: no wait will be made, none is counted
            return response
        self.count_wait(wait, retry_after=asked is not None, capped=capped)
        self.pause(request, wait, why)
        return retry

    def count_wait(self, seconds: float, *, retry_after: bool, capped: bool) -> None:
        """Count a wait that is made: one asked by ``Retry-After`` (and whether it was capped), or a back-off."""
        stats = self.crawler.stats
        if retry_after:
            stats.inc_value(RETRY_AFTER_COUNT)
            _add_seconds(stats, RETRY_AFTER_SECONDS, seconds)
            if capped:
                stats.inc_value(RETRY_AFTER_CAPPED)
        else:
            stats.inc_value(BACKOFF_COUNT)
            _add_seconds(stats, BACKOFF_SECONDS, seconds)


class OffsiteRedirects:
    """Says so when the site redirects a page to another host.

    Scrapy follows the redirect, then its offsite filter drops the new request with only a
    DEBUG line: the run would end as "nothing harvested" without a word about why. This
    middleware sits just before Scrapy's redirects (it sees the 3xx first), names the page
    and where it was sent, and counts it (``harvester/pages/redirected_offsite``), which
    fails the run.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OffsiteRedirects:
        return cls(crawler)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        location = response.headers.get(b"Location")
        if not 300 <= response.status < 400 or not location:
            return response
        target = urljoin(request.url, location.decode("latin-1"))
        site = urlsplit(str(self.crawler.settings.get("HARVESTER_BASE_URL"))).hostname
        if urlsplit(target).hostname != site:
            self.crawler.stats.inc_value(PAGES_REDIRECTED_OFFSITE)
            logger.error(
                "The site redirected %s to another host (%s): not followed, requests never leave "
                "HARVESTER_BASE_URL. If the site moved, set HARVESTER_BASE_URL to its new address",
                request.url, target,
            )  # fmt: skip
        return response
