"""The walk over results pages, with tables of page sequences: no Scrapy, no network.

A small simulated site answers page requests the way the real one does (rows, the
"X - Y of N" line, a pager); a driver feeds the walk as the spider does, in request order.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from harvester import stats
from harvester.walk import End, Ending, PageSeen, Walk, WalkOutcome


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
    dupaddr: int = 0
    """As the replica's ``dupaddr:every=N``: every page after the first also lists, after its own
    rows, the documents of the page before at 0-based index i with (i + 1) % N == 0, by their
    legacy address ``/document/<number>``; the count line counts only the page's own rows."""
    invented: int = 0
    """Every page lists this many rows more than its count line says, documents of no truth."""
    invented_by_alias: bool = False
    """The invented rows link by ``/node/<n>`` (only their page says which document they are)."""
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
            # As the replica's `repeat` shows it: "11 - 21 of 60" over 11 rows (on a short last
            # page "291 - 296 of 295" over 6).
            rows = [docs[first - 1], *rows]
            last += 1
        aliases = []
        if self.dupaddr and number and rows:
            before = range(first - self.size, min(first, len(docs)))
            aliases += [f"https://h/document/{i + 1}" for i in before if (i + 1) % self.dupaddr == 0]
        if self.invented and rows:
            made = [f"invented-{number}-{k}" for k in range(self.invented)]
            if self.invented_by_alias:
                aliases += [f"https://h/node/{name}" for name in made]
            else:
                rows += [f"https://h/document/{name}" for name in made]
        reported = self.count_of(number, self.served[number]) if self.count_of else total
        nxt: int | None = number + 1 if last < total else None
        if self.next_of is not None:
            nxt = self.next_of(number)
        return PageSeen(
            number=number, url=url_of(number), rows=[*rows, *aliases], total=reported,
            first=first + 1 if rows else None, last=last if rows else None,
            next_number=nxt, rewalk=rewalk, aliases=set(aliases),
        )  # fmt: skip

    def resolve(self, address: str) -> str:
        """The document an alias address stands for (what its page says)."""
        name = address.rsplit("/", 1)[1]
        if name.isdigit():
            return self.docs()[int(name) - 1]
        return f"https://h/document/{name}"


@dataclass
class Result:
    harvested: dict[str, int]
    requests: int
    counts: Counter[str]
    outcome: WalkOutcome
    reported: list[int]
    """The counts the answers carried, in order (the first one with ``first_report``)."""
    endings: list[Ending]
    """Every ending an answer carried."""
    pages: list[int]
    """Page numbers read as steps of the walk, in order."""
    missing: str | None = None

    def final_positions(self) -> dict[str, int]:
        places = dict(self.harvested)
        for url, (position, _) in self.outcome.corrections.items():
            places[url] = position
        return places


def drive(
    site: Site,
    walk: Walk,
    *,
    limit: int = 5_000,
    known: Callable[[str], bool] | None = None,
    expected_total: int | None = None,
) -> Result:
    """Feed the walk as the spider does: one request at a time, re-walk pages first; rows to
    check are resolved by the site. Only what the walk answers is used."""
    queue: deque[tuple[int, bool]] = deque([(0, False)])
    harvested: dict[str, int] = {}
    counts: Counter[str] = Counter()
    reported: list[int] = []
    endings: list[Ending] = []
    pages: list[int] = []
    requests = 0
    missing = None
    while queue and requests < limit:
        number, rewalk = queue.popleft()
        requests += 1
        seen = site.page(number, rewalk)
        if not rewalk:
            pages.append(number)
        step = walk.read(seen)
        counts.update(step.counts)
        if step.reported is not None:
            assert step.first_report == (not reported)
            reported.append(step.reported)
        endings += [step.ended] if step.ended else []
        for place in step.new:
            assert place.url not in harvested, f"{place.url} harvested twice"
            harvested[place.url] = place.position
            if known is not None:
                walk.saw(known(place.url))
        for place in step.check:
            requests += 1
            checked = walk.listed_again(site.resolve(place.url), place.listing_url)
            counts.update(checked.counts)
            endings += [checked.ended] if checked.ended else []
        queue.extendleft((n, True) for n in reversed(step.rewalk))
        if rewalk:
            continue
        nxt = walk.next(seen, expected_total)
        counts.update(nxt.counts)
        endings += [nxt.ended] if nxt.ended else []
        missing = missing or nxt.missing_landmark
        if nxt.page is not None:
            queue.append((nxt.page, False))
    assert requests < limit, "the walk did not end"
    return Result(harvested, requests, counts, walk.outcome(), reported, endings, pages, missing)


def walk_for(**kwargs: object) -> Walk:
    return Walk(url_of, **kwargs)  # type: ignore[arg-type]


def truth(site: Site) -> dict[str, int]:
    return {url: i for i, url in enumerate(site.docs(), start=1)}


def test_plain_walk_reads_every_page_once_in_order() -> None:
    site = Site(total=25)
    result = drive(site, walk_for())
    assert result.harvested == truth(site)
    assert result.requests == 3
    assert result.outcome.complete
    assert result.reported == [25]
    assert [e.how for e in result.endings] == [End.COMPLETE]
    assert result.outcome.pages_read == frozenset({0, 1, 2})


def test_a_repeated_row_is_harvested_once_and_positions_stay_true() -> None:
    # The replica's `repeat`: every page after the first starts with the previous page's last row.
    site = Site(total=30, repeat=True)
    result = drive(site, walk_for())
    assert result.harvested == truth(site)
    assert result.final_positions() == truth(site)
    assert result.outcome.complete


def test_uploads_mid_walk_are_found_and_every_position_corrected() -> None:
    site = Site(total=50, uploads_at={3: 4})
    result = drive(site, walk_for())
    assert set(result.harvested) == set(truth(site))
    assert result.final_positions() == truth(site)
    assert result.counts[stats.SHIFTS] == 1
    assert result.counts[stats.REWALKS] == 1
    assert result.outcome.complete


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
    outcome = result.outcome
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
    site.docs = lambda: [doc(n) for n in range(1, 10_000)]  # type: ignore[method-assign]
    result = drive(site, walk_for())
    outcome = result.outcome
    assert outcome.unfinished is not None
    assert result.requests < 100


def test_an_endless_pager_with_a_steady_count_ends_at_the_first_page_past_it() -> None:
    site = Site(total=30, next_of=lambda number: number + 1)
    site.docs = lambda: [doc(n) for n in range(1, 10_000)]  # type: ignore[method-assign]
    site.count_of = lambda number, served: 30
    result = drive(site, walk_for())
    assert result.pages == [0, 1, 2, 3]
    assert "https://h/search?page=3 lists 10 new row(s) beyond its count line" in (
        result.outcome.unfinished or ""
    )
    assert len(result.harvested) == 30


def test_an_endless_pager_of_rows_already_seen_hits_the_budget() -> None:
    # Every page number serves the rows of pages 1-3 again, and offers one more page.
    site = Site(total=30)
    serve = site.page
    site.page = lambda number, rewalk=False: replace(  # type: ignore[method-assign]
        serve(number % 3, rewalk), number=number, url=url_of(number), next_number=number + 1
    )
    result = drive(site, walk_for())
    assert result.outcome.unfinished is not None and "budget" in result.outcome.unfinished
    # 1.5 x 3 pages + 20, plus a reading of every page for each of 3 re-walks: 33.
    assert result.requests == 33
    with pytest.raises(AssertionError, match="did not end"):
        drive(site, walk_for(budget_factor=0), limit=1_000)  # the protection off


def test_a_pager_pointing_back_goes_on_by_number() -> None:
    site = Site(total=40, next_of=lambda number: 0)
    result = drive(site, walk_for())
    assert result.harvested == truth(site)
    assert result.counts[stats.PAGINATION_LOOPS] == 4
    assert result.outcome.complete


def test_no_next_link_while_the_count_says_more_is_a_layout_change() -> None:
    site = Site(total=40, next_of=lambda number: None)
    result = drive(site, walk_for())
    assert result.missing == "nav.pager a[rel=next]"
    assert not result.outcome.complete


def test_max_pages_bounds_the_walk() -> None:
    result = drive(Site(total=100), walk_for(max_pages=2))
    assert len(result.harvested) == 20
    assert result.outcome.bounded


def test_no_results_is_a_complete_walk() -> None:
    walk = walk_for()
    empty = PageSeen(number=0, url=url_of(0), rows=[], total=0, empty_search=True)
    walk.read(empty)
    assert walk.next(empty).page is None
    assert walk.outcome().complete


def test_early_stop_after_known_rows_when_the_count_agrees() -> None:
    site = Site(total=100)
    result = drive(site, walk_for(stop_after_known=15), known=lambda url: True, expected_total=100)
    assert result.pages == [0, 1]
    assert [e.how for e in result.endings] == [End.EARLY_STOP]
    assert "20 known, unchanged documents in a row at https://h/search?page=1" in result.endings[0].why
    assert result.outcome.early_stopped and result.outcome.bounded and not result.outcome.complete
    assert result.outcome.pages_read == frozenset({0, 1})


def test_no_early_stop_when_the_count_disagrees() -> None:
    site = Site(total=100)
    walk = walk_for(stop_after_known=5)
    first = site.page(0)
    for _ in walk.read(first).new:
        walk.saw(known=True)
    nxt = walk.next(first, expected_total=97)
    assert nxt.page == 1 and nxt.ended is None
    assert "walking every page" in nxt.warnings[0]
    result = drive(Site(total=100), walk_for(stop_after_known=5), known=lambda url: True, expected_total=97)
    assert result.pages == list(range(10))
    assert result.outcome.complete and not result.outcome.early_stopped


def test_details_budget_counts_document_requests() -> None:
    # 1.5% of (100 pages + 1,000 documents) + 20 = 31 requests: pages 1 and 2 with their 10
    # documents each (22), page 3 and 8 of its documents.
    site = Site(total=1_000)
    result = drive(site, walk_for(details=True, rewalk=False, budget_factor=0.01))
    assert len(result.harvested) == 28
    assert result.outcome.unfinished is not None and "budget" in result.outcome.unfinished


# --- rows beyond a page's count ---------------------------------------------------------------


@pytest.mark.parametrize(("total", "size"), [(30, 10), (295, 10), (295, 100), (220, 100)])
def test_a_repeated_row_keeps_positions_true_on_a_short_last_page(total: int, size: int) -> None:
    # The last page lists fewer rows than a page holds: "291 - 296 of 295" over 6 rows, the
    # first of them the previous page's last row again.
    site = Site(total=total, size=size, repeat=True)
    result = drive(site, walk_for())
    assert result.harvested == truth(site)
    assert result.final_positions() == truth(site)
    assert result.outcome.complete and result.outcome.unfinished is None


def test_documents_listed_again_by_another_address_after_a_pages_own_rows() -> None:
    # The replica's `dupaddr`: rows beyond the count are checked, found listed before, and
    # never harvested; positions stay those of the pages' own rows.
    site = Site(total=60, dupaddr=4, repeat=True)
    result = drive(site, walk_for())
    listed_again = sum(
        1 for page in range(1, 6) for i in range(10 * (page - 1), 10 * page) if (i + 1) % 4 == 0
    )
    assert result.harvested == truth(site)
    assert result.final_positions() == truth(site)
    assert result.counts[stats.DUPLICATES_DROPPED] == listed_again
    assert result.requests == 6 + listed_again
    assert result.outcome.complete


@pytest.mark.parametrize("repeat", [False, True])
def test_a_document_listed_again_before_a_re_walk_reads_it_is_judged_at_the_end(repeat: bool) -> None:
    # 20 uploads revealed by page 3: its rows beyond the count link new uploads now on page 2,
    # which the walk reads only in the re-walk that follows; the check comes back first.
    site = Site(total=60, dupaddr=4, uploads_at={2: 20}, repeat=repeat)
    result = drive(site, walk_for())
    assert set(result.harvested) == set(truth(site))
    assert result.final_positions() == truth(site)
    assert result.outcome.complete, result.outcome.unfinished


@pytest.mark.parametrize("by_alias", [False, True])
def test_more_new_rows_than_the_count_line_says_end_the_walk_naming_the_page(by_alias: bool) -> None:
    site = Site(total=100, invented=20, invented_by_alias=by_alias)
    result = drive(site, walk_for())
    invented = [url for url in result.harvested if "invented" in url]
    assert invented == []
    outcome = result.outcome
    assert not outcome.complete
    assert outcome.unfinished is not None
    if by_alias:
        # Checked by their page, judged when the walk ends. The checks spend the budget too:
        # 1.5 x 10 pages + 20 + 10 pages x 3 re-walks = 65 requests, 4 of them pages.
        checked = int(1.5 * 10) + 20 + 10 * 3 - 4
        assert result.pages == [0, 1, 2, 3]
        assert outcome.unfinished.startswith(
            f"{checked} row(s) beyond the count line of results pages (first on https://h/search) link documents "
            "the walk never saw listed (first: https://h/document/invented-0-0)"
        )
        assert "request budget spent" in outcome.unfinished
        assert result.counts[stats.ROWS_BEYOND_COUNT] == 0
    else:
        # The walk ends at the first page: only its own rows.
        assert result.harvested == {doc(n): n for n in range(1, 11)}
        assert result.pages == [0]
        assert [e.how for e in result.endings] == [End.UNFINISHED]
        assert result.counts[stats.ROWS_BEYOND_COUNT] == 20


def test_rows_past_the_count_on_the_last_page_are_beyond_it() -> None:
    # "291 - 300 of 295": five rows past N are not the page's own.
    site = Site(total=295)
    docs = site.docs
    site.docs = lambda: docs() + [f"https://h/document/past-{k}" for k in range(5)]  # type: ignore[method-assign]
    site.count_of = lambda number, served: 295
    result = drive(site, walk_for())
    assert set(result.harvested) == {doc(n) for n in range(1, 296)}
    assert result.counts[stats.ROWS_BEYOND_COUNT] == 5
    assert "https://h/search?page=29" in (result.outcome.unfinished or "")


# --- the ceiling --------------------------------------------------------------------------------


def test_a_claim_over_the_ceiling_ends_the_walk_at_once() -> None:
    site = Site(total=30, count_of=lambda number, served: 10**12, next_of=lambda number: number + 1)
    site.docs = lambda: [doc(n) for n in range(1, 10_000)]  # type: ignore[method-assign]
    result = drive(site, walk_for(max_results=50_000))
    assert result.requests == 1
    assert result.reported == [10**12]
    assert [e.how for e in result.endings] == [End.UNFINISHED]
    assert result.outcome.unfinished == (
        "the site claims 1000000000000 results (https://h/search), more than "
        "HARVESTER_MAX_RESULTS=50000; raise it if that is real"
    )
    # The protection off (a ceiling over the claim): the walk follows the pager on and on.
    with pytest.raises(AssertionError, match="did not end"):
        drive(site, walk_for(max_results=10**12), limit=500)


def test_a_count_growing_past_the_ceiling_ends_the_walk() -> None:
    # An endless pager whose count grows by a page each page, no re-walks: the budget alone
    # comes from the first count; the ceiling stops the growth at 200.
    site = Site(total=30, next_of=lambda number: number + 1)
    site.docs = lambda: [doc(n) for n in range(1, 10_000)]  # type: ignore[method-assign]
    site.count_of = lambda number, served: 30 + 10 * number
    result = drive(site, walk_for(rewalk=False, max_results=200, budget_factor=0))
    assert "claims 210 results (https://h/search?page=18)" in (result.outcome.unfinished or "")
    assert result.pages == list(range(19))


def test_the_budget_never_grows_from_later_claims() -> None:
    # The first page says 30; every later page claims 40,000 more (under the ceiling) and
    # offers one more page of new rows: the budget stays that of 30.
    site = Site(total=30, next_of=lambda number: number + 1)
    site.docs = lambda: [doc(n) for n in range(1, 10_000)]  # type: ignore[method-assign]
    site.count_of = lambda number, served: 30 if number == 0 else 40_000
    result = drive(site, walk_for(rewalk=False))
    assert "budget" in (result.outcome.unfinished or "")
    # 1.5 x 3 pages + 20 = 24 requests.
    assert result.requests == 24


# --- answers only ---------------------------------------------------------------------------------


def test_the_walk_answers_only_through_return_values() -> None:
    walk = walk_for()
    drive(Site(total=25), walk)
    assert [n for n in dir(walk) if not n.startswith("_") and not callable(getattr(walk, n))] == []
    # Nothing can be set on it from outside either (a stale caller fails loudly).
    with pytest.raises(AttributeError):
        walk.stop_after_known = 20  # type: ignore[attr-defined]


def test_each_ending_is_answered_once() -> None:
    assert [e.how for e in drive(Site(total=100), walk_for(max_pages=2)).endings] == [End.MAX_PAGES]
    assert [e.how for e in drive(Site(total=40, next_of=lambda n: None), walk_for()).endings] == []
    stale = drive(Site(total=30, count_of=lambda number, served: 29 if number == 1 else 30), walk_for())
    assert [e.how for e in stale.endings] == [End.UNFINISHED]
    assert stale.endings[0].why == stale.outcome.unfinished


# --- rolling pages ------------------------------------------------------------------------------


def test_after_an_early_stop_the_rolling_pages_are_read_by_number() -> None:
    site = Site(total=200)
    # Known rows everywhere but on page 6, whose rows are new (harvested, placed).
    fresh = {doc(n) for n in range(51, 61)}
    result = drive(
        site,
        walk_for(stop_after_known=15, rolling_pages=[13, 5, 1, 9, 40]),
        known=lambda url: url not in fresh,
        expected_total=200,
    )
    # Page 2 ends the early stop; page 2 (1) is read already, 41 (40) is past the last page.
    assert result.pages == [0, 1, 5, 9, 13]
    assert result.harvested == {url: p for url, p in truth(site).items() if (p - 1) // 10 in {0, 1, 5, 9, 13}}
    assert result.outcome.pages_read == frozenset({0, 1, 5, 9, 13})
    assert result.outcome.early_stopped and not result.outcome.complete
    assert [e.how for e in result.endings] == [End.EARLY_STOP]
    assert "rolling pages read: 6, 10, 14" in result.endings[0].why


def test_rolling_pages_only_after_an_early_stop() -> None:
    site = Site(total=50)
    # The count disagrees: no early stop, every page walked, each once.
    result = drive(
        site, walk_for(stop_after_known=5, rolling_pages=[1, 3]), known=lambda url: True, expected_total=49
    )
    assert result.pages == [0, 1, 2, 3, 4]
    assert result.outcome.complete and result.outcome.pages_read == frozenset(range(5))
    # No rolling page past the stop: it ends where it stopped.
    none_left = drive(
        site, walk_for(stop_after_known=5, rolling_pages=[0]), known=lambda u: True, expected_total=50
    )
    assert none_left.pages == [0] and none_left.outcome.early_stopped


@pytest.mark.parametrize(("repeat", "dupaddr"), [(True, 0), (False, 4), (True, 4)])
def test_rolling_pages_reached_by_a_jump_keep_their_rows_own_and_positions_true(
    repeat: bool, dupaddr: int
) -> None:
    # A page reached by a jump lists again documents of the page before it, which the walk
    # did not read: they are not its own rows, and not documents beyond the count either.
    site = Site(total=200, repeat=repeat, dupaddr=dupaddr)
    result = drive(
        site, walk_for(stop_after_known=15, rolling_pages=[5, 9]), known=lambda url: True, expected_total=200
    )
    assert result.pages == [0, 1, 5, 9]
    assert result.harvested == {url: p for url, p in truth(site).items() if (p - 1) // 10 in {0, 1, 5, 9}}
    assert result.final_positions() == {url: truth(site)[url] for url in result.final_positions()}
    assert result.outcome.unfinished is None and result.outcome.early_stopped
