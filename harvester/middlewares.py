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
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.http import Response
from scrapy.utils.asyncio import is_asyncio_available

logger = logging.getLogger(__name__)

WAIT_CODES = (429, 503)


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


class PoliteRetryMiddleware(RetryMiddleware):
    """``RetryMiddleware`` that honours ``Retry-After`` and backs off per host on 429/503."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
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
        until = max(self.paused_until.get(self.host(request), 0.0), request.meta.get("harvester_not_before", 0.0))
        delay = until - time.monotonic()
        if delay > 0:
            await _sleep(delay)

    def pause(self, request: Request, seconds: float, why: str) -> None:
        host = self.host(request)
        until = time.monotonic() + seconds
        if until > self.paused_until.get(host, 0.0):
            self.paused_until[host] = until
        logger.info("Waiting %.1f s before requesting %s again (%s)", seconds, host, why)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Any:
        host = self.host(request)
        if response.status not in WAIT_CODES:
            if 200 <= response.status < 400:
                self.strikes.pop(host, None)
            return super().process_response(request, response)
        if request.meta.get("dont_retry", False):
            return response
        stats = self.crawler.stats
        strikes = self.strikes.get(host, 0) + 1
        self.strikes[host] = strikes
        asked = parse_retry_after(response.headers.get(b"Retry-After"))
        if asked is not None:
            wait = min(asked, self.retry_after_max)
            stats.inc_value("harvester/retry_after/count")
            stats.inc_value("harvester/retry_after/seconds", round(wait, 3))
            if asked > self.retry_after_max:
                stats.inc_value("harvester/retry_after/capped")
            why = f"HTTP {response.status}, Retry-After: {asked:g} s" + (
                f", capped at {self.retry_after_max:g} s" if asked > self.retry_after_max else ""
            )
        else:
            wait = min(self.backoff_base * 2 ** (strikes - 1), self.backoff_max)
            stats.inc_value("harvester/backoff/count")
            stats.inc_value("harvester/backoff/seconds", round(wait, 3))
            why = f"HTTP {response.status} #{strikes} in a row, no Retry-After: backing off"
        retry = get_retry_request(
            request, spider=self.crawler.spider, reason=f"HTTP {response.status}",
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
        )
        if retry is None:
            return response
        self.pause(request, wait, why)
        return retry
