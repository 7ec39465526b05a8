"""The walk over results pages, with tables of page sequences: no Scrapy, no network.

A small simulated site answers page requests the way the real one does (rows, the
"X - Y of N" line, a pager); a driver feeds the walk as the spider does, in request order.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from harvester import stats
from harvester.walk import PageSeen, Walk


def url_of(number: int) -> str:
    return f"https://h/search?page={number}" if number else "https://h/search"


def doc(n: int) -> str:
    return f"https://h/document/doc-{n}"


@dataclass
class Site:
    """Documents ``doc(1) .. doc(total)`` newest first, ``size`` a page; hooks bend the truth."""

    total: int
    size: int = 10
    count_of: Callable[[int, int], int] | None = None
    """(page number, how many times it was served) -> the count the page reports."""
    next_of: Callable[[int], int | None] | None = None
    uploads_at: dict[int, int] = field(default_factory=dict)
    """Serving page N for the first time reveals this many new documents at the top."""
    repeat: bool = False
    """Every page after the first starts with the previous page's last row again."""
    served: Counter[int] = field(default_factory=Counter)
    new: int = 0

    def docs(self) -> list[str]:
        return [f"https://h/document/new-{k}" for k in range(self.new, 0, -1)] + [
            doc(n) for n in range(1, self.total + 1)
        ]

    def page(self, number: int, rewalk: bool = False) -> PageSeen:
        if not self.served[number] and number in self.uploads_at:
            self.new += self.uploads_at[number]
        self.served[number] += 1
        docs = self.docs()
        total = len(docs)
        first = number * self.size
        rows = docs[first : first + self.size]
        last = min(first + self.size, total)
        if self.repeat and number and rows:
            # As the replica's `repeat` shows it: "11 - 21 of 60" over 11 rows.
            rows = [docs[first - 1], *rows]
            last += 1
        reported = self.count_of(number, self.served[number]) if self.count_of else total
        nxt: int | None = number + 1 if last < total else None
        if self.next_of is not None:
            nxt = self.next_of(number)
        return PageSeen(
            number=number, url=url_of(number), rows=rows, total=reported,
            first=first + 1 if rows else None, last=last if rows else None,
            next_number=nxt, rewalk=rewalk,
        )  # fmt: skip


@dataclass
class Result:
    harvested: dict[str, int]
    requests: int
    counts: Counter[str]
    walk: Walk
    missing: str | None = None

    def final_positions(self) -> dict[str, int]:
        places = dict(self.harvested)
        for url, (position, _) in self.walk.corrections.items():
            places[url] = position
        return places


def drive(site: Site, walk: Walk, *, limit: int = 5_000) -> Result:
    """Feed the walk as the spider does: one request at a time, re-walk pages first."""
    queue: deque[tuple[int, bool]] = deque([(0, False)])
    harvested: dict[str, int] = {}
    counts: Counter[str] = Counter()
    requests = 0
    missing = None
    while queue and requests < limit:
        number, rewalk = queue.popleft()
        requests += 1
        seen = site.page(number, rewalk)
        step = walk.read(seen)
        counts.update(step.counts)
        for place in step.new:
            assert place.url not in harvested, f"{place.url} harvested twice"
            harvested[place.url] = place.position
        queue.extendleft((n, True) for n in reversed(step.rewalk))
        if rewalk:
            continue
        nxt = walk.next(seen)
        counts.update(nxt.counts)
        missing = missing or nxt.missing_landmark
        if nxt.page is not None:
            queue.append((nxt.page, False))
    assert requests < limit, "the walk did not end"
    return Result(harvested, requests, counts, walk, missing)


def walk_for(**kwargs: object) -> Walk:
    return Walk(url_of, **kwargs)  # type: ignore[arg-type]


def truth(site: Site) -> dict[str, int]:
    return {url: i for i, url in enumerate(site.docs(), start=1)}


def test_plain_walk_reads_every_page_once_in_order() -> None:
    site = Site(total=25)
    result = drive(site, walk_for())
    assert result.harvested == truth(site)
    assert result.requests == 3
    assert result.walk.outcome().complete
    assert result.walk.reported == 25


def test_a_repeated_row_is_harvested_once_and_positions_stay_true() -> None:
    # The replica's `repeat`: every page after the first starts with the previous page's last row.
    site = Site(total=30, repeat=True)
    result = drive(site, walk_for())
    assert result.harvested == truth(site)
    assert result.final_positions() == truth(site)
    assert result.walk.outcome().complete


def test_uploads_mid_walk_are_found_and_every_position_corrected() -> None:
    site = Site(total=50, uploads_at={3: 4})
    result = drive(site, walk_for())
    assert set(result.harvested) == set(truth(site))
    assert result.final_positions() == truth(site)
    assert result.counts[stats.SHIFTS] == 1
    assert result.counts[stats.REWALKS] == 1
    assert result.walk.outcome().complete


def test_without_rewalk_uploads_mid_walk_lose_documents() -> None:
    # The protection off: the rows pushed past the walk are never read.
    site = Site(total=50, uploads_at={3: 4})
    result = drive(site, walk_for(rewalk=False))
    assert len(result.harvested) < len(truth(site))


@pytest.mark.parametrize(
    ("name", "count_of"),
    [
        # One stale cached page says "of 29" while the others say 30.
        ("stale page", lambda number, served: 29 if number == 1 else 30),
        # The count alternates 30 / 31 between requests.
        ("alternating", lambda number, served: 30 + (served + number) % 2),
    ],
)
def test_a_count_that_keeps_disagreeing_ends_the_walk_unfinished(
    name: str, count_of: Callable[[int, int], int]
) -> None:
    site = Site(total=30, count_of=count_of)
    result = drive(site, walk_for(max_rewalks=3))
    outcome = result.walk.outcome()
    assert not outcome.complete
    assert outcome.unfinished is not None
    assert "https://h/search?page=1" in outcome.unfinished, outcome.unfinished
    assert result.counts[stats.REWALKS] == 3
    assert result.requests <= 3 + 3 * 4


def test_unbounded_rewalks_would_not_end() -> None:
    # The protection off: with no bound on re-walks the stale page keeps the walk going.
    site = Site(total=30, count_of=lambda number, served: 29 if number == 1 else 30)
    with pytest.raises(AssertionError, match="did not end"):
        drive(site, walk_for(max_rewalks=10**9), limit=1_000)


def test_an_endless_pager_with_a_growing_count_is_cut() -> None:
    site = Site(total=30, count_of=lambda number, served: 30 + number, next_of=lambda number: number + 1)
    site.docs = lambda: [doc(n) for n in range(1, 100_000)]  # type: ignore[method-assign]
    result = drive(site, walk_for())
    outcome = result.walk.outcome()
    assert outcome.unfinished is not None
    assert result.requests < 100


def test_an_endless_pager_with_a_steady_count_hits_the_budget() -> None:
    site = Site(total=30, next_of=lambda number: number + 1)
    site.docs = lambda: [doc(n) for n in range(1, 100_000)]  # type: ignore[method-assign]
    site.count_of = lambda number, served: 30
    result = drive(site, walk_for())
    assert result.walk.outcome().unfinished is not None
    assert "budget" in (result.walk.outcome().unfinished or "")
    assert result.requests < 100


def test_a_pager_pointing_back_goes_on_by_number() -> None:
    site = Site(total=40, next_of=lambda number: 0)
    result = drive(site, walk_for())
    assert result.harvested == truth(site)
    assert result.counts[stats.PAGINATION_LOOPS] == 4
    assert result.walk.outcome().complete


def test_no_next_link_while_the_count_says_more_is_a_layout_change() -> None:
    site = Site(total=40, next_of=lambda number: None)
    result = drive(site, walk_for())
    assert result.missing == "nav.pager a[rel=next]"
    assert not result.walk.outcome().complete


def test_max_pages_bounds_the_walk() -> None:
    result = drive(Site(total=100), walk_for(max_pages=2))
    assert len(result.harvested) == 20
    assert result.walk.outcome().bounded


def test_no_results_is_a_complete_walk() -> None:
    walk = walk_for()
    empty = PageSeen(number=0, url=url_of(0), rows=[], total=0, empty_search=True)
    walk.read(empty)
    assert walk.next(empty).page is None
    assert walk.outcome().complete


def test_early_stop_after_known_rows_when_the_count_agrees() -> None:
    site = Site(total=100)
    walk = walk_for(stop_after_known=15)
    first = site.page(0)
    for _ in walk.read(first).new:
        walk.saw(known=True)
    assert walk.next(first, expected_total=100).page == 1
    second = site.page(1)
    for _ in walk.read(second).new:
        walk.saw(known=True)
    assert walk.next(second, expected_total=100).page is None
    assert walk.outcome().early_stopped and walk.outcome().bounded


def test_no_early_stop_when_the_count_disagrees() -> None:
    site = Site(total=100)
    walk = walk_for(stop_after_known=5)
    first = site.page(0)
    for _ in walk.read(first).new:
        walk.saw(known=True)
    nxt = walk.next(first, expected_total=97)
    assert nxt.page == 1
    assert not walk.outcome().early_stopped
    assert nxt.warnings


def test_details_budget_counts_document_requests() -> None:
    walk = walk_for(details=True)
    site = Site(total=10)
    step = walk.read(site.page(0))
    assert len(step.new) == 10
    assert walk.requests == 11
