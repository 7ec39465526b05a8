"""PoliteRetryMiddleware with a fake clock: no crawl, no network, no real waiting.

First the fault bites: Scrapy's own ``RetryMiddleware`` retries a 429 with
``Retry-After: 2`` at once (scrapy/scrapy#3849). Then the harvester's middleware waits what
the server asks, caps it, backs off without it, and holds every request to the host.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from email.utils import formatdate
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from harvester.middlewares import PoliteRetryMiddleware
from harvester.stats import (
    BACKOFF_COUNT,
    BACKOFF_SECONDS,
    RETRY_AFTER_CAPPED,
    RETRY_AFTER_COUNT,
    RETRY_AFTER_SECONDS,
)

HOST = "127.0.0.1:8000"
SEARCH = f"http://{HOST}/search?search_api_fulltext=Korean&page=1"
DOCUMENT = f"http://{HOST}/document/telegram-mikoyan-cpsu-central-committee"
OTHER_HOST = "http://127.0.0.2:8000/search?page=1"


class FakeTime:
    """A monotonic clock, a wall clock and a sleep that only moves both clocks on."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.wall_now = 1_700_000_000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall_now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def crawler(**settings: Any) -> Crawler:
    c = get_crawler(Spider, {"RETRY_TIMES": 5, **settings})
    c.spider = Spider.from_crawler(c, name="archive")
    return c


def polite(**settings: Any) -> tuple[PoliteRetryMiddleware, FakeTime]:
    fake = FakeTime()
    mw = PoliteRetryMiddleware(
        crawler(**settings), clock=fake.monotonic, wall_clock=fake.wall, sleep=fake.sleep
    )
    return mw, fake


def respond(request: Request, status: int, retry_after: str | None = None) -> Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Response(request.url, status=status, headers=headers, request=request)


def before_download(mw: PoliteRetryMiddleware, request: Request) -> None:
    """What the downloader does first: ``process_request`` (it may wait, on the fake clock)."""
    finish(mw.process_request(request))


def finish(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that must not suspend: with the fake sleep, no wait is real."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise AssertionError("process_request suspended: it waited for real")


def stat(mw: PoliteRetryMiddleware, key: str) -> Any:
    return mw.crawler.stats.get_value(key)


# --- protection off -----------------------------------------------------------------------------


def test_protection_off_scrapy_retries_a_429_at_once() -> None:
    """Scrapy's RetryMiddleware ignores Retry-After: the retry goes out with no wait at all."""
    c = crawler()
    plain = RetryMiddleware.from_crawler(c)
    request = Request(SEARCH)
    retry = plain.process_response(request, respond(request, 429, "2"))
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert not hasattr(plain, "process_request")  # nothing holds the retry back
    assert c.stats.get_value(RETRY_AFTER_COUNT) is None


# --- Retry-After --------------------------------------------------------------------------------


def test_retry_after_seconds_pause_the_host_then_the_retry_goes() -> None:
    mw, fake = polite()
    request = Request(SEARCH)
    retry = mw.process_response(request, respond(request, 429, "2"))
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert mw.paused_until == {HOST: fake.now + 2}
    before_download(mw, retry)
    assert fake.slept == [2.0]
    assert stat(mw, RETRY_AFTER_COUNT) == 1 and stat(mw, RETRY_AFTER_SECONDS) == 2.0
    assert stat(mw, RETRY_AFTER_CAPPED) is None
    before_download(mw, Request(DOCUMENT))  # the pause is over
    assert fake.slept == [2.0]


def test_retry_after_http_date() -> None:
    mw, fake = polite()
    request = Request(SEARCH)
    when = formatdate(fake.wall_now + 7, usegmt=True)  # "Tue, 14 Nov 2023 22:13:27 GMT"
    retry = mw.process_response(request, respond(request, 503, when))
    assert isinstance(retry, Request)
    before_download(mw, retry)
    assert fake.slept == [7.0]
    assert stat(mw, RETRY_AFTER_SECONDS) == 7.0


def test_retry_after_http_date_in_the_past_retries_without_waiting() -> None:
    mw, fake = polite()
    request = Request(SEARCH)
    retry = mw.process_response(request, respond(request, 429, formatdate(fake.wall_now - 60, usegmt=True)))
    assert isinstance(retry, Request)
    before_download(mw, retry)
    assert fake.slept == []
    assert stat(mw, RETRY_AFTER_COUNT) == 1


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_retry_after_is_capped_and_counted_as_capped(form: str, caplog: pytest.LogCaptureFixture) -> None:
    mw, fake = polite(HARVESTER_RETRY_AFTER_MAX=30)
    request = Request(SEARCH)
    value = "3600" if form == "seconds" else formatdate(fake.wall_now + 3600, usegmt=True)
    with caplog.at_level(logging.INFO, logger="harvester.middlewares"):
        retry = mw.process_response(request, respond(request, 429, value))
    assert isinstance(retry, Request)
    before_download(mw, retry)
    assert fake.slept == [30.0]
    assert stat(mw, RETRY_AFTER_CAPPED) == 1 and stat(mw, RETRY_AFTER_SECONDS) == 30.0
    assert "Retry-After: 3600 s, capped at 30 s" in caplog.text  # the value the server sent


# --- back-off without Retry-After ----------------------------------------------------------------


def test_backoff_doubles_from_base_up_to_max() -> None:
    mw, fake = polite(HARVESTER_BACKOFF_BASE=2, HARVESTER_BACKOFF_MAX=10, RETRY_TIMES=6)
    request = Request(SEARCH)
    for status in (429, 503, 429, 503, 429):
        retry = mw.process_response(request, respond(request, status))
        assert isinstance(retry, Request)
        before_download(mw, retry)
        request = retry
    assert fake.slept == [2.0, 4.0, 8.0, 10.0, 10.0]  # BASE * 2^(n-1), at most MAX
    assert stat(mw, BACKOFF_COUNT) == 5 and stat(mw, BACKOFF_SECONDS) == 34.0
    assert stat(mw, RETRY_AFTER_COUNT) is None


def test_an_unreadable_retry_after_backs_off() -> None:
    mw, fake = polite()
    request = Request(SEARCH)
    retry = mw.process_response(request, respond(request, 429, "soon"))
    assert isinstance(retry, Request)
    before_download(mw, retry)
    assert fake.slept == [2.0]  # HARVESTER_BACKOFF_BASE's default
    assert stat(mw, BACKOFF_COUNT) == 1 and stat(mw, RETRY_AFTER_COUNT) is None


def test_a_success_resets_the_backoff() -> None:
    mw, fake = polite(HARVESTER_BACKOFF_BASE=1)
    request = Request(SEARCH)
    for _ in range(2):
        retry = mw.process_response(request, respond(request, 429))
        assert isinstance(retry, Request)
        before_download(mw, retry)
    assert fake.slept == [1.0, 2.0]
    ok = Request(DOCUMENT)
    assert mw.process_response(ok, respond(ok, 200)).status == 200  # type: ignore[union-attr]
    assert mw.strikes == {}
    retry = mw.process_response(request, respond(request, 429))
    assert isinstance(retry, Request)
    before_download(mw, retry)
    assert fake.slept == [1.0, 2.0, 1.0]  # from BASE again


def test_a_server_error_does_not_reset_the_backoff() -> None:
    mw, _ = polite()
    request = Request(SEARCH)
    mw.process_response(request, respond(request, 429))
    mw.process_response(request, respond(request, 500))  # Scrapy's own retry, no pause
    assert mw.strikes == {HOST: 1}


def test_other_failures_go_through_scrapys_retry_without_a_pause() -> None:
    mw, fake = polite()
    request = Request(SEARCH)
    retry = mw.process_response(request, respond(request, 500))
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert mw.paused_until == {}
    before_download(mw, retry)
    assert fake.slept == []
    assert stat(mw, BACKOFF_COUNT) is None and stat(mw, RETRY_AFTER_COUNT) is None


# --- the pause holds the host ------------------------------------------------------------------


def test_the_pause_holds_every_request_to_the_host_and_no_other() -> None:
    mw, fake = polite()
    request = Request(SEARCH)
    mw.process_response(request, respond(request, 429, "10"))
    fake.advance(4)  # the download of another page took 4 s
    before_download(mw, Request(DOCUMENT))
    assert fake.slept == [6.0]  # what is left of the host's pause
    before_download(mw, Request(OTHER_HOST))
    assert fake.slept == [6.0]


def test_a_later_shorter_pause_does_not_shorten_the_host_pause() -> None:
    mw, fake = polite()
    first, second = Request(SEARCH), Request(DOCUMENT)
    mw.process_response(first, respond(first, 429, "10"))
    mw.process_response(second, respond(second, 429, "1"))
    assert mw.paused_until == {HOST: fake.now + 10}


def test_not_before_meta_is_honoured() -> None:
    """The spider sets ``harvester_not_before`` after a block page (on the same clock)."""
    mw, fake = polite()
    before_download(mw, Request(DOCUMENT, meta={"harvester_not_before": fake.now + 30}))
    assert fake.slept == [30.0]
    before_download(mw, Request(DOCUMENT, meta={"harvester_not_before": fake.now - 1}))
    assert fake.slept == [30.0]


# --- giving up -----------------------------------------------------------------------------------


def test_after_the_last_retry_the_response_is_returned_and_nothing_waits() -> None:
    mw, fake = polite(RETRY_TIMES=2)
    request = Request(SEARCH, meta={"retry_times": 2})
    response = respond(request, 429, "5")
    assert mw.process_response(request, response) is response
    assert mw.paused_until == {}
    assert stat(mw, "retry/max_reached") == 1
    assert stat(mw, RETRY_AFTER_COUNT) is None and stat(mw, RETRY_AFTER_SECONDS) is None  # no wait made
    before_download(mw, Request(DOCUMENT))
    assert fake.slept == []


def test_dont_retry_returns_the_response() -> None:
    mw, _ = polite()
    request = Request(SEARCH, meta={"dont_retry": True})
    response = respond(request, 429, "5")
    assert mw.process_response(request, response) is response
    assert mw.paused_until == {} and mw.strikes == {}


def test_settings_defaults() -> None:
    mw = PoliteRetryMiddleware.from_crawler(crawler())
    assert (mw.retry_after_max, mw.backoff_base, mw.backoff_max) == (300.0, 2.0, 120.0)
