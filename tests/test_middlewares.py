"""PoliteRetryMiddleware with a fake clock: no crawl, no network, no real waiting.

First the fault bites: Scrapy's own ``RetryMiddleware`` retries a 429 with
``Retry-After: 2`` at once (scrapy/scrapy#3849). Then the harvester's middleware waits what
the server asks, caps it, backs off without it, and holds every request to the host. Last,
the breaker: with it off a host that keeps answering 429 is waited out without end; with it
on the run stops once the waiting in a row passes ``HARVESTER_RATE_LIMIT_WAIT_MAX``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from email.utils import formatdate
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler
from twisted.internet.defer import Deferred, succeed

from harvester.middlewares import RATE_LIMITED, PoliteRetryMiddleware, RateLimited
from harvester.report.verdict import judge
from harvester.stats import (
    BACKOFF_COUNT,
    BACKOFF_SECONDS,
    RATE_LIMIT_ANSWERS,
    RATE_LIMIT_DROPPED,
    RATE_LIMIT_SECONDS,
    RATE_LIMIT_STATUSES,
    RATE_LIMIT_STOPPED,
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


class Engine:
    """Stands in for Scrapy's engine: records the reasons the spider is asked to close with."""

    def __init__(self, spider: Spider) -> None:
        self.spider = spider
        self.closed: list[str] = []

    def close_spider_async(self, *, reason: str) -> Deferred[None]:
        self.closed.append(reason)
        return succeed(None)  # closed at once: no coroutine left to schedule on the loop


def crawler(**settings: Any) -> Crawler:
    c = get_crawler(Spider, {"RETRY_TIMES": 5, **settings})
    c.spider = Spider.from_crawler(c, name="archive")
    c.engine = Engine(c.spider)  # type: ignore[assignment]
    return c


def closed(mw: PoliteRetryMiddleware) -> list[str]:
    engine = mw.crawler.engine
    assert isinstance(engine, Engine)
    return engine.closed


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
    assert mw.streaks == {}
    retry = mw.process_response(request, respond(request, 429))
    assert isinstance(retry, Request)
    before_download(mw, retry)
    assert fake.slept == [1.0, 2.0, 1.0]  # from BASE again


def test_a_server_error_does_not_reset_the_backoff() -> None:
    mw, _ = polite()
    request = Request(SEARCH)
    mw.process_response(request, respond(request, 429))
    mw.process_response(request, respond(request, 500))  # Scrapy's own retry, no pause
    assert mw.streaks[HOST].answers == 1


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
    assert mw.paused_until == {} and mw.streaks == {}


def test_settings_defaults() -> None:
    mw = PoliteRetryMiddleware.from_crawler(crawler())
    assert (mw.retry_after_max, mw.backoff_base, mw.backoff_max) == (300.0, 2.0, 120.0)
    assert mw.wait_max == 1800.0


# --- the breaker ---------------------------------------------------------------------------------


def answer_each(
    mw: PoliteRetryMiddleware, fake: FakeTime, statuses: list[int], retry_after: str | None = None
) -> list[Request | Response | Exception]:
    """One document after another answers with each status in turn; each retry the middleware
    returns waits its pause out (on the fake clock) before the next document is asked for."""
    outcomes: list[Request | Response | Exception] = []
    for n, status in enumerate(statuses):
        request = Request(f"{DOCUMENT}-{n}")
        before_download(mw, request)
        try:
            outcome = mw.process_response(request, respond(request, status, retry_after))
        except RateLimited as exc:
            outcomes.append(exc)
            break
        outcomes.append(outcome)
        if isinstance(outcome, Request):
            before_download(mw, outcome)
    return outcomes


def test_protection_off_a_host_that_keeps_answering_429_is_waited_out_without_end() -> None:
    """No breaker: every answer is retried after the full Retry-After, for as long as it lasts."""
    mw, fake = polite(HARVESTER_RATE_LIMIT_WAIT_MAX=0)
    outcomes = answer_each(mw, fake, [429] * 100, retry_after="300")
    assert all(isinstance(o, Request) for o in outcomes) and len(outcomes) == 100
    assert fake.slept == [300.0] * 100
    assert stat(mw, RATE_LIMIT_SECONDS) == 100 * 300 and stat(mw, RATE_LIMIT_ANSWERS) == 100
    assert stat(mw, RATE_LIMIT_STOPPED) is None and closed(mw) == []


def test_the_breaker_stops_the_run_past_the_waiting_budget(caplog: pytest.LogCaptureFixture) -> None:
    mw, fake = polite()  # the defaults: 1800 s of waiting in a row, Retry-After capped at 300 s
    within = int(mw.wait_max // 300)  # waits that fit in the budget
    with caplog.at_level(logging.INFO, logger="harvester.middlewares"):
        outcomes = answer_each(mw, fake, [429] * 100, retry_after="300")
    assert len(outcomes) == within + 1
    assert all(isinstance(o, Request) for o in outcomes[:within]) and isinstance(outcomes[-1], RateLimited)
    assert fake.slept == [300.0] * within  # the wait past the budget is not made
    assert stat(mw, RATE_LIMIT_STOPPED) is True and closed(mw) == [RATE_LIMITED]
    assert stat(mw, RATE_LIMIT_ANSWERS) == within + 1 and stat(mw, RATE_LIMIT_STATUSES) == "429"
    assert stat(mw, RATE_LIMIT_SECONDS) == within * 300 == mw.wait_max
    assert stat(mw, RATE_LIMIT_DROPPED) == 1
    error = next(r for r in caplog.records if r.levelno == logging.ERROR).getMessage()
    for said in (HOST, f"429 {within + 1} times in a row", "30.0 min", "DOWNLOAD_DELAY", "HARVESTER_CONTACT",
                 "try later"):  # fmt: skip
        assert said in error, error
    reasons = judge(mw.crawler.stats.get_stats(), RATE_LIMITED)
    assert (
        reasons[0]
        == f"the site is rate limiting: {within + 1} answers 429 in a row; stopped after 30.0 minutes"
    )


def test_backoff_without_retry_after_counts_towards_the_budget() -> None:
    mw, fake = polite(HARVESTER_BACKOFF_BASE=2, HARVESTER_BACKOFF_MAX=10, HARVESTER_RATE_LIMIT_WAIT_MAX=20)
    outcomes = answer_each(mw, fake, [503] * 10)
    assert fake.slept == [2.0, 4.0, 8.0]  # 14 s; the next back-off (10 s) would pass 20 s
    assert isinstance(outcomes[-1], RateLimited) and len(outcomes) == 4
    assert (stat(mw, RATE_LIMIT_ANSWERS), stat(mw, RATE_LIMIT_STATUSES)) == (4, "503")
    reasons = judge(mw.crawler.stats.get_stats(), RATE_LIMITED)
    assert reasons[0].startswith(
        "the site is rate limiting: 4 answers 503 in a row; stopped after 0.2 minutes"
    )


def test_a_mixed_streak_names_both_statuses() -> None:
    mw, fake = polite(HARVESTER_RATE_LIMIT_WAIT_MAX=5)
    outcomes = answer_each(mw, fake, [429, 503, 429, 503], retry_after="2")
    assert isinstance(outcomes[-1], RateLimited) and fake.slept == [2.0, 2.0]
    assert stat(mw, RATE_LIMIT_STATUSES) == "429/503"
    assert judge(mw.crawler.stats.get_stats(), RATE_LIMITED)[0].startswith(
        "the site is rate limiting: 3 answers 429/503 in a row"
    )


@pytest.mark.parametrize(("between", "resets"), [(200, True), (304, True), (500, False), (404, False)])
def test_a_2xx_or_3xx_answer_ends_the_streak(between: int, resets: bool) -> None:
    mw, fake = polite(HARVESTER_RATE_LIMIT_WAIT_MAX=10)
    # Three waits of 4 s (12 s) would pass 10 s, unless another answer comes between them.
    outcomes = answer_each(mw, fake, [429, 429, between, 429], retry_after="4")
    assert isinstance(outcomes[-1], Request) is resets
    assert isinstance(outcomes[-1], RateLimited) is not resets
    assert fake.slept == [4.0, 4.0] + ([4.0] if resets else [])


def test_answers_that_arrive_together_share_one_pause() -> None:
    """16 requests in flight together, answered 429 a second apart: the host's pause grows by
    300 s, then by 1 s for each later answer; not 16 x 300 s, which would pass the budget."""
    mw, fake = polite(HARVESTER_RATE_LIMIT_WAIT_MAX=600)
    for n in range(16):
        request = Request(f"{DOCUMENT}-{n}")
        assert isinstance(mw.process_response(request, respond(request, 429, "300")), Request)
        fake.advance(1)
    assert mw.streaks[HOST].seconds == 300 + 15 and mw.streaks[HOST].answers == 16
    assert stat(mw, RATE_LIMIT_STOPPED) is None


def test_after_the_breaker_trips_nothing_more_is_sent_or_retried() -> None:
    mw, fake = polite(HARVESTER_RATE_LIMIT_WAIT_MAX=1)
    answer_each(mw, fake, [429, 429], retry_after="1")
    assert mw.stopped
    slept = list(fake.slept)
    waiting = Request(DOCUMENT, meta={"harvester_not_before": fake.now + 60})
    for request in (Request(SEARCH), waiting):  # new, or held by the spider: dropped, no wait
        with pytest.raises(RateLimited):
            before_download(mw, request)
    assert fake.slept == slept
    in_flight = Request(SEARCH)
    with pytest.raises(RateLimited):  # answered 429 after the trip: not retried
        mw.process_response(in_flight, respond(in_flight, 429, "1"))
    page = respond(in_flight, 200)
    assert mw.process_response(in_flight, page) is page  # a page that did come is kept
    assert stat(mw, RATE_LIMIT_DROPPED) == 4 and closed(mw) == [RATE_LIMITED]


def test_an_answer_given_up_on_imposes_no_wait_and_does_not_trip() -> None:
    mw, fake = polite(HARVESTER_RATE_LIMIT_WAIT_MAX=1, RETRY_TIMES=0)
    outcomes = answer_each(mw, fake, [429] * 5, retry_after="300")
    assert all(isinstance(o, Response) and o.status == 429 for o in outcomes)  # the spider's to count
    assert fake.slept == [] and not mw.stopped and stat(mw, RATE_LIMIT_ANSWERS) == 5


async def held_then_tripped(mw: PoliteRetryMiddleware) -> tuple[bool, float]:
    """A request held by a 5 s pause (real clock, real sleep); 50 ms later the breaker trips.
    Returns whether the request was dropped, and how long it was held (at most the test's 1 s)."""
    first = Request(f"{DOCUMENT}-0")
    mw.process_response(first, respond(first, 429, "5"))  # 5 s: within the 10 s budget
    tripper = Request(f"{DOCUMENT}-1")

    def trip() -> None:  # another answer asks for 60 s more: past the budget
        with pytest.raises(RateLimited):
            mw.process_response(tripper, respond(tripper, 429, "60"))

    asyncio.get_running_loop().call_later(0.05, trip)
    started = time.monotonic()
    try:
        await asyncio.wait_for(mw.process_request(Request(f"{DOCUMENT}-2")), timeout=1)
    except RateLimited:
        return True, time.monotonic() - started
    except TimeoutError:
        pass
    return False, time.monotonic() - started


@deferred_f_from_coro_f
async def test_requests_held_in_a_pause_are_dropped_when_the_breaker_trips() -> None:
    """Otherwise the engine, closing, would wait for every held request's pause to end."""
    # Protection off (a plain sleep, as before the breaker): the breaker trips, and the held
    # request still waits out its pause (here until the test's 1 s bound).
    off = PoliteRetryMiddleware(crawler(HARVESTER_RATE_LIMIT_WAIT_MAX=10), sleep=asyncio.sleep)
    dropped, held = await held_then_tripped(off)
    assert off.stopped and not dropped and held >= 0.95
    on = PoliteRetryMiddleware(crawler(HARVESTER_RATE_LIMIT_WAIT_MAX=10))
    dropped, held = await held_then_tripped(on)
    assert on.stopped and dropped and held < 0.5, held
    assert closed(on) == [RATE_LIMITED] and stat(on, RATE_LIMIT_DROPPED) == 2  # the tripper and the held
