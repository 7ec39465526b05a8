"""The verdict: did the run do its job? A pure function of the run's stats."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harvester import stats as keys

OK, FAILED, INTERRUPTED = "ok", "failed", "interrupted"


def judge(
    stats: Mapping[str, Any],
    finish_reason: str,
    *,
    bounded: bool = False,
    unfinished: str | None = None,
    min_completeness: float = 1.0,
    max_failing: int = 10,
) -> list[str]:
    """Reasons the run did not do its job; empty when it did.

    ``bounded``: the run was meant to stop early (``max_pages``, or a job's incremental run
    that met known documents), so not reaching the reported total is expected.
    ``unfinished``: why the walk could not finish (:class:`harvester.walk.WalkOutcome`); it
    says why fewer documents than reported came, so completeness is not judged apart.
    A job's documents count whether harvested now or kept from earlier runs. More documents
    than the site reported is never complete: the site listed documents its count does not.
    A job's known documents whose page failed keep their record and fail nothing, unless more
    than ``max_failing`` of them failed in one run (the site, not a page, is in trouble).

    >>> judge({"item_scraped_count": 11, "harvester/reported_total": 11}, "finished")
    []
    >>> judge({"item_scraped_count": 9, "harvester/reported_total": 11}, "finished")
    ['incomplete: 9 unique documents of 11 reported (81.82% < 100%)']
    >>> judge({"item_scraped_count": 33, "harvester/reported_total": 11}, "finished")
    ['more documents than the site reported: 33 unique documents of 11 reported (300.00%); the site lists documents its count does not, or the count is wrong']
    """
    if finish_reason == "plan":  # -a plan=true: one results page read, the plan printed
        if unfinished:
            return [f"the walk could not go on: {unfinished}"]
        return (
            []
            if stats.get(keys.REPORTED_TOTAL) is not None
            else ["no results page could be read for the plan"]
        )
    reasons = []
    if stats.get(keys.RATE_LIMIT_STOPPED):
        reasons.append(rate_limit_reason(stats))
    if stats.get(keys.BLOCKED):
        reasons.append("the site is blocking the harvester (challenge or block page); back off and try later")
    structure = stats.get(keys.STRUCTURE_ERRORS, 0)
    if structure:
        reasons.append(f"layout changed: {structure} page(s) lacked their landmarks (see the errors above)")
    robots = stats.get(keys.ROBOTS_FORBIDDEN, 0)
    if robots:
        reasons.append(
            f"robots.txt of the site forbids {robots} page(s) the run needs (see the error above); "
            "harvest another path, or ask the site's operators"
        )
    offsite = stats.get(keys.PAGES_REDIRECTED_OFFSITE, 0)
    if offsite:
        reasons.append(f"the site redirected {offsite} page(s) to another host (see the errors above)")
    failed = stats.get(keys.PAGES_FAILED, 0)
    if failed:
        reasons.append(f"{failed} page(s) could not be fetched or read after retries")
    oversize = stats.get(keys.PAGES_OVERSIZE, 0)
    if oversize:
        reasons.append(f"{oversize} page(s) over the size limit (DOWNLOAD_MAXSIZE) were not read")
    failing = stats.get(keys.JOB_STALE, 0)
    if failing > max_failing:
        reasons.append(
            f"{failing} known documents failed this run, more than HARVESTER_JOB_MAX_FAILING={max_failing}: "
            "the site may be in trouble; their records are kept and they are tried again next run"
        )
    errors = stats.get(keys.SPIDER_EXCEPTIONS, 0)
    if errors:
        reasons.append(f"{errors} page(s) raised an error in the harvester (see the tracebacks above)")
    if unfinished:
        reasons.append(f"the walk did not finish: {unfinished}")
    if stats.get(keys.COVERAGE_DROPS_FAIL):
        reasons.append(
            "field coverage dropped since the previous run: "
            + "; ".join(stats.get(keys.COVERAGE_DROPS) or [])
            + " (HARVESTER_COVERAGE_DROP_FAILS; see the warning above)"
        )
    feed_failures = sum(v for k, v in stats.items() if k.startswith(keys.FEED_FAILED_PREFIX))
    if feed_failures or stats.get(keys.OUTPUT_ERRORS, 0):
        reasons.append("an output could not be written in full (see the errors above)")
    exported = stats.get(keys.ITEM_SCRAPED, 0) + kept_by_job(stats)
    reported = stats.get(keys.REPORTED_TOTAL)
    if exported == 0:
        reasons.append(
            "nothing harvested: the search found no documents" if reported == 0 else "nothing harvested"
        )
    elif reported and exported > reported:
        reasons.append(
            f"more documents than the site reported: {exported} unique documents of {reported} reported "
            f"({100 * exported / reported:.2f}%); the site lists documents its count does not, or the count is wrong"
        )
    elif reported and not bounded and not unfinished and exported / reported < min_completeness:
        reasons.append(
            f"incomplete: {exported} unique documents of {reported} reported "
            f"({100 * exported / reported:.2f}% < {100 * min_completeness:g}%)"
        )
    # "blocked", "rate_limited": stopped on purpose, and said so above.
    if finish_reason not in ("finished", "blocked", "rate_limited"):
        reasons.append(f"interrupted ({finish_reason})")
    return reasons


def rate_limit_reason(stats: Mapping[str, Any]) -> str:
    """Why a run stopped at the rate limit: the streak of answers and the waiting it imposed.

    >>> rate_limit_reason({"harvester/rate_limit/answers_in_a_row": 7,
    ...     "harvester/rate_limit/statuses": "429", "harvester/rate_limit/seconds_in_a_row": 1800.0})
    'the site is rate limiting: 7 answers 429 in a row; stopped after 30.0 minutes'
    """
    answers = stats.get(keys.RATE_LIMIT_ANSWERS, 0)
    statuses = stats.get(keys.RATE_LIMIT_STATUSES) or "429/503"
    minutes = stats.get(keys.RATE_LIMIT_SECONDS, 0.0) / 60
    return f"the site is rate limiting: {answers} answers {statuses} in a row; stopped after {minutes:.1f} minutes"


def kept_by_job(stats: Mapping[str, Any]) -> int:
    """Documents a job kept from its state this run: unchanged rows, rows already done
    before a resume, pages the site said were not modified (304), and known documents whose
    page failed (their last good record stays)."""
    return int(
        stats.get(keys.JOB_REUSED, 0)
        + stats.get(keys.JOB_ALREADY_DONE, 0)
        + stats.get(keys.JOB_NOT_MODIFIED, 0)
        + stats.get(keys.JOB_STALE, 0)
    )


def status_of(reasons: list[str], finish_reason: str) -> str:
    """``ok``, ``failed``, or ``interrupted`` (stopped by a signal: a job resumes it)."""
    if not reasons:
        return OK
    return INTERRUPTED if finish_reason == "shutdown" else FAILED
