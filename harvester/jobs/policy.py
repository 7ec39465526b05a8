"""A job's decisions, as pure functions: a full run or an incremental one, and what to do
with a result row the job has seen before."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from harvester.jobs.store import Known


@dataclass(frozen=True)
class History:
    """What a job's past runs tell the next one."""

    has_baseline: bool
    """A run has published a dataset (only then can a run be incremental)."""
    last_full_run: str | None
    """When the last complete full run ended (UTC ``YYYY-MM-DDTHH:MM:SSZ``)."""
    last_ok_args: str | None
    """The arguments of the last complete run."""


def full_run_reason(
    history: History, *, run_args: str, asked: bool, every_days: float, now: datetime
) -> str | None:
    """Why this run must walk everything and refetch every document; ``None``: incremental.

    >>> h = History(True, "2026-11-20T02:30:00Z", '{"q": 1}')
    >>> now = datetime(2026, 11, 25, tzinfo=UTC)
    >>> full_run_reason(h, run_args='{"q": 1}', asked=False, every_days=7, now=now) is None
    True
    >>> full_run_reason(h, run_args='{"q": 1}', asked=False, every_days=3, now=now)
    'the last full run is over 3 days old (HARVESTER_JOB_FULL_EVERY_DAYS)'
    >>> full_run_reason(h, run_args='{"q": 2}', asked=False, every_days=7, now=now)
    'the arguments changed since the last run'
    """
    if asked:
        return "asked for (full=true)"
    if not history.has_baseline:
        return "the job has no complete run yet"
    if every_days > 0 and history.last_full_run:
        last = datetime.strptime(history.last_full_run, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if now >= last + timedelta(days=every_days):
            return f"the last full run is over {every_days:g} days old (HARVESTER_JOB_FULL_EVERY_DAYS)"
    if history.last_ok_args not in (None, run_args):
        return "the arguments changed since the last run"
    return None


class Row(enum.Enum):
    """What a job does with a result row."""

    HARVEST = "harvest"
    """New, or changed since the last run: harvest it."""
    UNCHANGED = "unchanged"
    """Known and its row is unchanged: keep the record from the state."""
    DONE = "done"
    """Already harvested by this run (resumed after a crash, or listed twice)."""


def row_decision(known: Known | None, listing_fp: str, *, run_id: int, full: bool) -> Row:
    """Harvest a row, or keep what the job has.

    >>> row_decision(None, "fp", run_id=3, full=False)
    <Row.HARVEST: 'harvest'>
    >>> row_decision(Known("fp", 2, True), "fp", run_id=3, full=False)
    <Row.UNCHANGED: 'unchanged'>
    >>> row_decision(Known("fp", 2, True), "fp", run_id=3, full=True)
    <Row.HARVEST: 'harvest'>
    >>> row_decision(Known("old", 3, True), "fp", run_id=3, full=True)
    <Row.DONE: 'done'>
    """
    if known is None:
        return Row.HARVEST
    if known.done_run == run_id:
        return Row.DONE
    if not full and known.listing_fp == listing_fp:
        return Row.UNCHANGED
    return Row.HARVEST
