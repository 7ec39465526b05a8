"""The verdict (a pure function of the stats), the summary path, and the progress line."""

from __future__ import annotations

from typing import Any

import pytest

from harvester import stats as keys
from harvester.report.verdict import judge, status_of

OK_RUN = {keys.ITEM_SCRAPED: 30, keys.REPORTED_TOTAL: 30}


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (
            {keys.BLOCKED: True},
            "the site is blocking the harvester (challenge or block page); back off and try later",
        ),
        (
            {keys.STRUCTURE_ERRORS: 2},
            "layout changed: 2 page(s) lacked their landmarks (see the errors above)",
        ),
        ({keys.PAGES_FAILED: 3}, "3 page(s) could not be fetched or read after retries"),
        ({keys.PAGES_OVERSIZE: 1}, "1 page(s) over the size limit (DOWNLOAD_MAXSIZE) were not read"),
        (
            {keys.SPIDER_EXCEPTIONS: 4},
            "4 page(s) raised an error in the harvester (see the tracebacks above)",
        ),
        (
            {"feedexport/failed_count/FileFeedStorage": 1},
            "an output could not be written in full (see the errors above)",
        ),
        (
            {keys.OUTPUT_ERRORS: 1},
            "an output could not be written in full (see the errors above)",
        ),
        (
            {keys.ROBOTS_FORBIDDEN: 1},
            "robots.txt of the site forbids 1 page(s) the run needs (see the error above); "
            "harvest another path, or ask the site's operators",
        ),
    ],
)
def test_each_failure_has_its_reason(extra: dict[str, Any], reason: str) -> None:
    assert judge({**OK_RUN, **extra}, "finished") == [reason]


def test_a_complete_run_is_ok() -> None:
    assert judge(OK_RUN, "finished") == []
    assert status_of([], "finished") == "ok"


def test_completeness_counts_what_a_job_kept() -> None:
    stats = {keys.ITEM_SCRAPED: 5, keys.JOB_REUSED: 20, keys.JOB_ALREADY_DONE: 5, keys.REPORTED_TOTAL: 30}
    assert judge(stats, "finished") == []
    assert judge({**stats, keys.JOB_REUSED: 19}, "finished") == [
        "incomplete: 29 unique documents of 30 reported (96.67% < 100%)"
    ]


def test_a_bounded_walk_may_stop_short_but_not_harvest_nothing() -> None:
    short = {keys.ITEM_SCRAPED: 20, keys.REPORTED_TOTAL: 300}
    assert judge(short, "finished", bounded=True) == []
    assert judge(short, "finished") == ["incomplete: 20 unique documents of 300 reported (6.67% < 100%)"]
    assert judge({keys.REPORTED_TOTAL: 300}, "finished", bounded=True) == ["nothing harvested"]


def test_min_completeness_lowers_the_bar() -> None:
    stats = {keys.ITEM_SCRAPED: 95, keys.REPORTED_TOTAL: 100}
    assert judge(stats, "finished", min_completeness=0.95) == []
    assert judge(stats, "finished", min_completeness=0.96) != []


def test_no_results_and_nothing_harvested_are_told_apart() -> None:
    assert judge({keys.REPORTED_TOTAL: 0}, "finished") == ["nothing harvested: the search found no documents"]
    assert judge({}, "finished") == ["nothing harvested"]


def test_an_unfinished_walk_fails_with_its_reason() -> None:
    assert judge(OK_RUN, "finished", unfinished="the count kept changing") == [
        "the walk did not finish: the count kept changing"
    ]


def test_more_documents_than_reported_fails_whatever_bounds_the_walk() -> None:
    # 300 records for a count of 100: the site listed rows its count does not.
    over = {keys.ITEM_SCRAPED: 300, keys.REPORTED_TOTAL: 100}
    expected = [
        "more documents than the site reported: 300 unique documents of 100 reported (300.00%); "
        "the site lists documents its count does not, or the count is wrong"
    ]
    assert judge(over, "finished") == expected
    assert judge(over, "finished", bounded=True) == expected
    assert judge(over, "finished", min_completeness=0.0) == expected
    # A job counts what it kept, too.
    assert judge({keys.ITEM_SCRAPED: 5, keys.JOB_REUSED: 26, keys.REPORTED_TOTAL: 30}, "finished") != []


def test_an_unfinished_walk_is_one_reason_not_also_incomplete() -> None:
    # The walk's reason says why fewer documents came: one clear reason.
    short = {keys.ITEM_SCRAPED: 10, keys.REPORTED_TOTAL: 10**12}
    assert judge(short, "finished", unfinished="the site claims too much") == [
        "the walk did not finish: the site claims too much"
    ]


def test_a_plan_fails_when_the_walk_could_not_go_on() -> None:
    assert judge({keys.REPORTED_TOTAL: 10**12}, "plan") == []
    assert judge({keys.REPORTED_TOTAL: 10**12}, "plan", unfinished="the site claims too much") == [
        "the walk could not go on: the site claims too much"
    ]


def test_an_interrupted_run() -> None:
    reasons = judge(OK_RUN, "shutdown")
    assert reasons == ["interrupted (shutdown)"]
    assert status_of(reasons, "shutdown") == "interrupted"
    assert status_of(["x"], "finished") == "failed"
    # A block ends the crawl with its own reason, not as an interruption.
    assert judge({**OK_RUN, keys.BLOCKED: True}, "blocked") == [
        "the site is blocking the harvester (challenge or block page); back off and try later"
    ]


def test_a_run_stopped_at_the_rate_limit_fails_first_with_that_reason() -> None:
    streak = {keys.RATE_LIMIT_ANSWERS: 40, keys.RATE_LIMIT_STATUSES: "503", keys.RATE_LIMIT_SECONDS: 1797.0}
    # The longest streak is counted in every run; only a stop fails it.
    assert judge({**OK_RUN, **streak}, "finished") == []
    stopped = {keys.ITEM_SCRAPED: 12, keys.REPORTED_TOTAL: 30, keys.RATE_LIMIT_STOPPED: True, **streak}
    reasons = judge(stopped, "rate_limited")
    assert reasons == [
        "the site is rate limiting: 40 answers 503 in a row; stopped after 29.9 minutes",
        "incomplete: 12 unique documents of 30 reported (40.00% < 100%)",
    ]  # not "interrupted": an ordinary failed run (a job's next run keeps what this one recorded)
    assert status_of(reasons, "rate_limited") == "failed"
