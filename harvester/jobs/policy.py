"""A job's decisions, as pure functions: a full run or an incremental one, what to do with a
result row the job has seen before, how much to check again tonight, when to try a failing
document again, and where each document stands."""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def format_time(when: datetime) -> str:
    return when.strftime(TIME_FORMAT)


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
        if now >= parse_time(history.last_full_run) + timedelta(days=every_days):
            return f"the last full run is over {every_days:g} days old (HARVESTER_JOB_FULL_EVERY_DAYS)"
    if history.last_ok_args is not None and not same_args(history.last_ok_args, run_args):
        return "the arguments changed since the last run"
    return None


def same_args(a: str, b: str) -> bool:
    """Two runs' arguments (JSON) ask for the same harvest: equal but for arguments left at
    an empty default (so that an argument a later release adds changes nothing).

    >>> same_args('{"query": "", "details": true}', '{"details": true, "replay": ""}')
    True
    >>> same_args('{"query": "korea"}', '{"query": ""}')
    False
    """

    def given(text: str) -> dict[str, object]:
        values = json.loads(text or "{}")
        return (
            {k: v for k, v in values.items() if v not in (None, "", False)}
            if isinstance(values, dict)
            else {}
        )

    return given(a) == given(b)


@dataclass
class Known:
    """What a job holds of the document a result row links to."""

    url: str
    """The document's canonical URL (a row's alias address resolved)."""
    listing_fp: str | None
    """The fingerprint of its row as last harvested from a whole page."""
    done_run: int | None
    published_present: bool


class Row(enum.Enum):
    """What a job does with a result row."""

    HARVEST = "harvest"
    """New, or changed since the last run: harvest it."""
    UNCHANGED = "unchanged"
    """Known and its row is unchanged: keep the record from the state."""
    DONE = "done"
    """Already harvested by this run with this very row (resumed after a crash, or listed twice)."""


def row_decision(known: Known | None, listing_fp: str, *, run_id: int, full: bool) -> Row:
    """Harvest a row, or keep what the job has.

    A row whose listing differs from the one the record was harvested with is always
    harvested (even when this run already confirmed the page with a 304: the row
    contradicts it).

    >>> row_decision(None, "fp", run_id=3, full=False)
    <Row.HARVEST: 'harvest'>
    >>> row_decision(Known("u", "fp", 2, True), "fp", run_id=3, full=False)
    <Row.UNCHANGED: 'unchanged'>
    >>> row_decision(Known("u", "fp", 2, True), "fp", run_id=3, full=True)
    <Row.HARVEST: 'harvest'>
    >>> row_decision(Known("u", "fp", 3, True), "fp", run_id=3, full=True)
    <Row.DONE: 'done'>
    >>> row_decision(Known("u", "old", 3, True), "fp", run_id=3, full=False)
    <Row.HARVEST: 'harvest'>
    """
    if known is None or known.listing_fp != listing_fp:
        return Row.HARVEST
    if known.done_run == run_id:
        return Row.DONE
    return Row.HARVEST if full else Row.UNCHANGED


def refresh_share(days: float, last_end: str | None, now: datetime) -> float:
    """The share of the archive a run checks again: the time since the last complete run
    over ``days`` (a nightly run: 1/days; a run straight after another: almost none).

    >>> now = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
    >>> round(refresh_share(7, "2026-12-01T02:30:00Z", now), 4)
    0.1429
    >>> refresh_share(7, None, now)
    1.0
    """
    if last_end is None or days <= 0:
        return 1.0
    elapsed = (now - parse_time(last_end)).total_seconds() / 86_400
    return min(max(elapsed, 0.0), days) / days


def refresh_plan(documents: int, days: float, last_end: str | None, now: datetime) -> tuple[int, str]:
    """How many of the documents fetched longest ago a run fetches again, and the time before
    which a fetch is too old whatever the count (a document is re-checked every ``days``).

    >>> now = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
    >>> refresh_plan(16_153, 7, "2026-12-01T02:30:00Z", now)
    (2308, '2026-11-25T02:30:00Z')
    >>> refresh_plan(16_153, 7, "2026-12-02T02:29:00Z", now)[0]
    2
    >>> refresh_plan(100, 7, "2026-11-01T00:00:00Z", now)[0]
    100
    """
    cutoff = format_time(now - timedelta(days=days))
    return min(documents, round(documents * refresh_share(days, last_end, now))), cutoff


def rolling_pages(documents: int, page_size: int, share: float, cursor: int) -> tuple[list[int], int]:
    """The results pages a details job reads beyond its early stop tonight (the rolling walk,
    so that additions and reappearances deep in the results are found within ``days``
    nights), and where the next run starts.

    ``cursor`` is the 1-based rank of the first document tonight's window covers; the window
    starts one page before it (documents move by a few rows a night) and holds ``share`` of
    the pages plus that one. Past the last page it wraps to the first.

    >>> rolling_pages(1000, 100, 1 / 7, 1)
    ([0, 1], 201)
    >>> rolling_pages(1000, 100, 1 / 7, 201)
    ([1, 2, 3], 401)
    >>> rolling_pages(1000, 100, 1 / 7, 901)
    ([0, 8, 9], 1)
    >>> rolling_pages(1000, 100, 0.0, 1)
    ([], 1)
    """
    pages = max(1, math.ceil(documents / page_size))
    if share <= 0 or documents <= 0:
        return [], cursor
    count = min(pages, math.ceil(pages * share))
    at = (max(cursor, 1) - 1) // page_size
    if at >= pages:
        at = 0
    window = {page % pages for page in range(max(0, at - 1), at + count)}
    nxt = (at + count) * page_size + 1
    return sorted(window), nxt if nxt <= documents else 1


def next_try(failures: int, days: float, now: datetime) -> str:
    """When a known document whose page failed ``failures`` runs in a row is tried again:
    the next night, then after 2, 4, ... nights, at most ``days`` (the refresh period).

    >>> now = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
    >>> next_try(1, 7, now), next_try(3, 7, now), next_try(9, 7, now)
    ('2026-12-02T22:30:00Z', '2026-12-05T22:30:00Z', '2026-12-08T22:30:00Z')
    """
    nights = min(2 ** (max(failures, 1) - 1), max(days, 1.0))
    # Due a little before the same hour, so that a nightly timer's jitter does not skip a night.
    return format_time(now + timedelta(days=nights) - timedelta(hours=4))


@dataclass(frozen=True)
class Place:
    """Where a present document stands, as the state has it at the end of a run."""

    url: str
    position: int | None
    """Its position now: this run's (when ``listed``), else the one it had."""
    before: int | None
    """Its position before this run (``None`` for a document new tonight)."""
    listed: bool
    """This run's walk listed it."""


def ranks(
    places: Iterable[Place], page_size: int, page_url: Callable[[int], str]
) -> dict[str, tuple[int, str]]:
    """Positions as ranks: every present document gets a unique position 1..N and the
    results page of that rank.

    The archive's order is stable (newest upload first), so the documents the job already
    had keep the order of the last published dataset (their position before this run), and
    each document new to the job goes next to the nearest document the walk listed on its
    side of the same stretch of pages: right after the one above it, or right before the one
    below it (the first row of a page read apart). A document found gone closes its gap.

    Documents the walk listed one after the other keep the places they held between them,
    in the order the walk listed them: a site that reorders documents of the same upload
    time (a tie in its sort) is followed, not contradicted night after night.

    >>> url = lambda n: f"p{n}"
    >>> ps = [Place("new", 1, None, True), Place("a", 2, 1, True), Place("b", 2, 2, False),
    ...       Place("c", 3, 3, False), Place("back", 5, None, True), Place("d", 6, 4, True)]
    >>> ranks(ps, 2, url)
    {'new': (1, 'p0'), 'a': (2, 'p0'), 'b': (3, 'p1'), 'c': (4, 'p1'), 'back': (5, 'p2'), 'd': (6, 'p2')}
    >>> swapped = [Place("x", 1, 2, True), Place("y", 2, 1, True), Place("z", 3, 3, False)]
    >>> ranks(swapped, 10, url)
    {'x': (1, 'p0'), 'y': (2, 'p0'), 'z': (3, 'p0')}
    """
    places = _in_walk_order(list(places))
    beside = _beside(places)
    keyed: list[tuple[float, float, str]] = []
    for p in places:
        if p.listed and p.before is None and p.position is not None:
            keyed.append((beside[p.position], float(p.position), p.url))
        elif p.listed and p.before is not None:
            keyed.append((float(p.before), 0.0, p.url))
        elif p.position is not None:
            keyed.append((float(p.position), 0.0, p.url))
        else:
            keyed.append((math.inf, 0.0, p.url))
    keyed.sort()
    size = max(page_size, 1)
    return {url: (rank, page_url((rank - 1) // size)) for rank, (_, _, url) in enumerate(keyed, start=1)}


def _in_walk_order(places: list[Place]) -> list[Place]:
    """``places`` with the old positions of each stretch of documents the walk listed one
    after the other (consecutive positions) handed out again in the walk's order."""
    listed = sorted(
        (p for p in places if p.listed and p.position is not None and p.before is not None),
        key=lambda p: p.position or 0,
    )
    slots: dict[str, int] = {}
    stretch: list[Place] = []
    for index, place in enumerate(listed):
        stretch.append(place)
        following = listed[index + 1] if index + 1 < len(listed) else None
        if following is None or (following.position or 0) != (place.position or 0) + 1:
            befores = sorted(p.before for p in stretch if p.before is not None)
            slots.update(zip((p.url for p in stretch), befores, strict=True))
            stretch = []
    return [replace(p, before=slots[p.url]) if p.url in slots else p for p in places]


def _beside(places: list[Place]) -> dict[int, float]:
    """For each listed position: where a document new to the job there goes in the old order,
    after the nearest listed document above it that the job had, or before the nearest below
    it, within the stretch of consecutive positions the walk listed around it."""
    listed = sorted((p.position, p.before) for p in places if p.listed and p.position is not None)
    above: list[float | None] = []
    last: int | None = None
    known: float | None = None
    highest: float | None = None
    for position, before in listed:
        if last is None or position != last + 1:
            known = None  # a new stretch
        above.append(known)
        if before is not None:
            known = float(before)
            highest = known if highest is None else max(highest, known)
        last = position
    out: dict[int, float] = {}
    below: float | None = None
    nxt: int | None = None
    running_max: list[float | None] = []
    best: float | None = None
    for _, before in listed:
        running_max.append(best)
        if before is not None:
            best = float(before) if best is None else max(best, float(before))
    for index in range(len(listed) - 1, -1, -1):
        position, before = listed[index]
        if nxt is None or position != nxt - 1:
            below = None
        if above[index] is not None:
            out[position] = above[index] + 0.5  # type: ignore[operator]
        elif below is not None:
            out[position] = below - 0.5
        else:
            fallback = running_max[index]
            out[position] = fallback + 0.5 if fallback is not None else 0.5
        if before is not None:
            below = float(before)
        nxt = position
    return out


def vanished(places: Iterable[Place]) -> list[str]:
    """Documents this run's walk shows are gone from the results, though it did not read
    every page: the order is stable, so a document that stood between two documents the walk
    listed one after the other on the pages it read (a stretch of consecutive positions)
    would have been listed between them.

    >>> ps = [Place("a", 1, 1, True), Place("c", 2, 3, True), Place("b", 2, 2, False),
    ...       Place("d", 4, 4, False), Place("e", 10, 9, True)]
    >>> vanished(ps)
    ['b']
    """
    places = list(places)
    listed = sorted((p.position, p.before) for p in places if p.listed and p.position is not None)
    spans: list[tuple[int, int]] = []  # (lowest, highest) old position of each stretch
    run: list[int] = []
    last: int | None = None
    for position, before in listed:
        if last is not None and position != last + 1:
            if len(run) > 1:
                spans.append((min(run), max(run)))
            run = []
        if before is not None:
            run.append(before)
        last = position
    if len(run) > 1:
        spans.append((min(run), max(run)))
    out = []
    for p in places:
        if p.listed or p.position is None:
            continue
        if any(low < p.position < high for low, high in spans):
            out.append(p.url)
    return sorted(out)
