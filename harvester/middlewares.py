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
  retry logic unchanged, but also wait out a host's pause;
- a breaker: the waiting that 429/503 answers from a host impose while they come in a row
  (a 2xx/3xx answer ends the streak) is added up, and past ``HARVESTER_RATE_LIMIT_WAIT_MAX``
  seconds the run stops (a failed verdict) instead of waiting out every retry of every request,
  which at the real site's politeness would take weeks. Requests held in a pause are dropped
  at once, so the engine does not wait for the pause before it closes.

Waits are counted in stats (``harvester/retry_after/...``, ``harvester/backoff/...``,
``harvester/rate_limit/...``) and each is logged with the value the server sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import is_asyncio_available
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from harvester.stats import (
    BACKOFF_COUNT,
    BACKOFF_SECONDS,
    PAGES_REDIRECTED_OFFSITE,
    RATE_LIMIT_ANSWERS,
    RATE_LIMIT_DROPPED,
    RATE_LIMIT_SECONDS,
    RATE_LIMIT_STATUSES,
    RATE_LIMIT_STOPPED,
    RETRY_AFTER_CAPPED,
    RETRY_AFTER_COUNT,
    RETRY_AFTER_SECONDS,
)

logger = logging.getLogger(__name__)

WAIT_CODES = (429, 503)
#: The reason the spider closes with when the breaker trips (the verdict reads the stats).
RATE_LIMITED = "rate_limited"

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


def _add_seconds(stats: StatsCollector, key: str, seconds: float) -> None:
    # StatsCollector.inc_value is typed for ints; waits are fractional seconds.
    stats.set_value(key, stats.get_value(key, 0) + round(seconds, 3))


class RateLimited(IgnoreRequest):
    """A request dropped because the rate-limit breaker stopped the run (its URL as message).

    Here rather than in :mod:`harvester.exceptions`, which page classes import: it is a
    Scrapy ``IgnoreRequest``, so Scrapy calls the request's errback and logs nothing.
    """


@dataclass
class RateLimitStreak:
    """The 429/503 answers a host gave in a row, and the waiting they imposed (seconds).

    The waiting is how much longer each answer made the host's pause: answers to requests
    that were in flight together share one pause, and count it once.

    >>> streak = RateLimitStreak()
    >>> streak.answer(429); streak.answer(503); streak.answers, streak.statuses
    (2, '429/503')
    """

    answers: int = 0
    seconds: float = 0.0
    codes: set[int] = field(default_factory=set)

    def answer(self, status: int) -> None:
        self.answers += 1
        self.codes.add(status)

    @property
    def statuses(self) -> str:
        """``429``, ``503``, or ``429/503`` when both came."""
        return "/".join(str(code) for code in sorted(self.codes))


class PoliteRetryMiddleware(RetryMiddleware):
    """``RetryMiddleware`` that honours ``Retry-After`` and backs off per host on 429/503.

    *clock* is the monotonic clock pauses are measured in (the spider sets
    ``meta["harvester_not_before"]`` with ``time.monotonic()``); *wall_clock* reads
    ``Retry-After`` HTTP-dates; *sleep* waits (by default on the reactor's loop, cut short
    when the breaker trips). Tests pass fakes for all three.
    """

    def __init__(
        self,
        crawler: Crawler,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep | None = None,
    ) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.clock = clock
        self.wall_clock = wall_clock
        self.sleep: Sleep = sleep or self._sleep_unless_stopped
        settings = crawler.settings
        self.retry_after_max = settings.getfloat("HARVESTER_RETRY_AFTER_MAX", 300.0)
        self.backoff_base = settings.getfloat("HARVESTER_BACKOFF_BASE", 2.0)
        self.backoff_max = settings.getfloat("HARVESTER_BACKOFF_MAX", 120.0)
        self.wait_max = settings.getfloat("HARVESTER_RATE_LIMIT_WAIT_MAX", 1800.0)
        self.paused_until: dict[str, float] = {}
        self.streaks: dict[str, RateLimitStreak] = {}
        self.stopped = False
        self._wake: asyncio.Event | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PoliteRetryMiddleware:
        return cls(crawler)

    @staticmethod
    def host(request: Request) -> str:
        return request.url.split("/", 3)[2] if "://" in request.url else ""

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Hold a request while its host is paused (Retry-After or back-off), or until the
        time the spider asked for (``meta["harvester_not_before"]``, after a block page).
        Once the breaker has tripped, drop it (:class:`RateLimited`), held or not."""
        if self.stopped:
            raise self.drop(request)
        until = max(
            self.paused_until.get(self.host(request), 0.0), request.meta.get("harvester_not_before", 0.0)
        )
        delay = until - self.clock()
        if delay > 0:
            await self.sleep(delay)
            if self.stopped:
                raise self.drop(request)

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        """Wait *seconds*, or less if the breaker trips meanwhile."""
        if not is_asyncio_available():  # pragma: no cover - settings pin the asyncio reactor
            raise RuntimeError("harvester needs Scrapy's asyncio reactor (TWISTED_REACTOR)")
        if self._wake is None:
            self._wake = asyncio.Event()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        except TimeoutError:
            pass

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
                self.streaks.pop(host, None)
            return super().process_response(request, response)
        if request.meta.get("dont_retry", False):
            return response
        if self.stopped:  # in flight when the breaker tripped
            raise self.drop(request)
        streak = self.streaks.setdefault(host, RateLimitStreak())
        streak.answer(response.status)
        asked = parse_retry_after(response.headers.get(b"Retry-After"), now=self.wall_clock())
        capped = False
        if asked is not None:
            wait = min(asked, self.retry_after_max)
            capped = asked > self.retry_after_max
            why = f"HTTP {response.status}, Retry-After: {asked:g} s" + (
                f", capped at {self.retry_after_max:g} s" if capped else ""
            )
        else:
            wait = min(self.backoff_base * 2 ** (streak.answers - 1), self.backoff_max)
            why = f"HTTP {response.status} #{streak.answers} in a row, no Retry-After: backing off"
        assert self.crawler.spider is not None  # responses only arrive while a spider runs
        max_retry_times = request.meta.get("max_retry_times", self.max_retry_times)
        # Scrapy's get_retry_request retries while retry_times < max_retry_times; only a wait
        # that will be made counts towards the breaker.
        if request.meta.get("retry_times", 0) < max_retry_times:
            grows = self.pause_growth(host, wait)
            if self.wait_max > 0 and streak.seconds + grows > self.wait_max:
                self.record(streak)
                self.trip(host, streak, wait)
                raise self.drop(request)
            streak.seconds += grows
        self.record(streak)
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=f"HTTP {response.status}",
            max_retry_times=max_retry_times,
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
        )
        if retry is None:  # given up: no wait will be made, none is counted
            return response
        self.count_wait(wait, retry_after=asked is not None, capped=capped)
        self.pause(request, wait, why)
        return retry

    def pause_growth(self, host: str, seconds: float) -> float:
        """How much longer a pause of *seconds* from now would hold the host."""
        now = self.clock()
        return max(0.0, now + seconds - max(now, self.paused_until.get(host, 0.0)))

    def record(self, streak: RateLimitStreak) -> None:
        """Keep the longest streak (by waiting) in stats: the one that stopped the run, if any."""
        stats = self.crawler.stats
        if streak.seconds >= stats.get_value(RATE_LIMIT_SECONDS, 0.0):
            stats.set_value(RATE_LIMIT_SECONDS, round(streak.seconds, 3))
            stats.set_value(RATE_LIMIT_ANSWERS, streak.answers)
            stats.set_value(RATE_LIMIT_STATUSES, streak.statuses)

    def trip(self, host: str, streak: RateLimitStreak, wait: float) -> None:
        """Stop the run: the host keeps answering 429/503 past the waiting budget."""
        self.stopped = True
        self.crawler.stats.set_value(RATE_LIMIT_STOPPED, True)
        logger.error(
            "The site is rate limiting the harvester: %s answered %s %s times in a row, which imposed "
            "%.1f min of waiting, and now asks for %g s more (over HARVESTER_RATE_LIMIT_WAIT_MAX=%g s): "
            "stopping. Slow down (raise DOWNLOAD_DELAY, lower CONCURRENT_REQUESTS_PER_DOMAIN), set "
            "HARVESTER_CONTACT so the site's operators can reach you, or try later (a job resumes on its "
            "next run)",
            host, streak.statuses, streak.answers, streak.seconds / 60, wait, self.wait_max,
        )  # fmt: skip
        if self._wake is not None:
            self._wake.set()  # requests held in a pause are dropped now, not when it ends
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            closing = deferred_from_coro(engine.close_spider_async(reason=RATE_LIMITED))
            closing.addErrback(self._close_failed)

    @staticmethod
    def _close_failed(failure: Failure) -> None:
        logger.error("Could not stop the run after the rate limit: %s", failure.getErrorMessage())

    def drop(self, request: Request) -> RateLimited:
        """A request not sent (or not retried) because the breaker tripped; counted."""
        self.crawler.stats.inc_value(RATE_LIMIT_DROPPED)
        return RateLimited(request.url)

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
