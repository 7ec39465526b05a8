"""The walk over a search's results pages: which page next, where each row stands, when to stop.

No Scrapy here. The spider tells the walk what each results page showed (:class:`PageSeen`)
and does what it answers: harvest these rows, request those pages, or stop. The rules:

- **Positions.** A row stands at the page's "X - Y of N" offset plus its row number. A page
  that shows more rows than a page holds, starting with rows already seen (the previous
  page's last row repeated at the top), starts its own rows at "X". A row seen again later
  in the walk is not harvested twice; where it stands now is kept as a correction (the
  latest reading wins).
- **Count drift.** When the reported count changes during the walk (uploads at the top push
  every row down), the pages already read are read again (a re-walk), at most ``max_rewalks``
  times a run; a count that keeps changing ends the walk unfinished, naming the pages.
- **Pager.** The next page is the pager's ``rel="next"``; a next link that points back, to a
  page already read or off the host is a loop: the walk goes on by page number while the
  count says there is more. No next link while the count says there is more: the pager's
  layout changed.
- **A budget.** Requests (results and document pages) are bounded by what the site reported
  on the first page, with a margin for re-walks; past it the walk ends unfinished.
- **Early stop** (scheduled jobs): after ``stop_after_known`` known, unchanged rows in a row,
  and only when the site's count is what the job expects, the rest is known.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harvester import stats
from harvester.identity import KeySet, identity_key

#: Plus this many requests, so that a small search may re-walk too.
BUDGET_SLACK = 20


@dataclass(frozen=True)
class PageSeen:
    """What one results page showed, as the walk needs it."""

    number: int
    """0-based page number, from the page's URL."""
    url: str
    rows: Sequence[str]
    """Each row's document address (canonical URL), in page order."""
    total: int | None = None
    """The count the page reports ("of N"); 0 when the site says "no results"."""
    first: int | None = None
    """``X`` of "X - Y of N"."""
    last: int | None = None
    """``Y`` of "X - Y of N"."""
    next_number: int | None = None
    """The page the pager's next link points to; ``None``: no next link."""
    next_offsite: bool = False
    empty_search: bool = False
    rewalk: bool = False
    """Requested by a re-walk (not a step of the walk itself)."""


@dataclass(frozen=True)
class Place:
    """Where a row stands: its document, 1-based position and the results page it is on."""

    url: str
    position: int
    listing_url: str


@dataclass
class Step:
    """The walk's answer to one results page."""

    new: list[Place] = field(default_factory=list)
    """Rows to harvest (not seen before in this walk)."""
    repeated: list[Place] = field(default_factory=list)
    """Rows the walk saw before (listed twice, or read again after a move): not harvested twice."""
    rewalk: list[int] = field(default_factory=list)
    """Pages to read again because the results moved."""
    counts: Counter[str] = field(default_factory=Counter)
    """Stat keys to add to (:mod:`harvester.stats`)."""
    warnings: list[str] = field(default_factory=list)


@dataclass
class Next:
    """After a page's rows: the next page to request, or why there is none."""

    page: int | None = None
    missing_landmark: str | None = None
    """The pager lacks a next link while the count says there is more: the layout changed."""
    counts: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WalkOutcome:
    """How the walk ended: what the verdict, the published files and a job's state need."""

    complete: bool
    """Every page was walked to the end (the only walk after which removals are declared)."""
    early_stopped: bool
    bounded: bool
    """The walk was meant to stop before the end (``max_pages`` or an early stop)."""
    unfinished: str | None
    """Why the walk could not finish (count drift past the re-walks, the request budget)."""
    corrections: dict[str, tuple[int, str]]
    """Where rows read before a move stand now: ``url -> (position, listing_url)``."""
    page_size: int
    listing_url: Callable[[int], str]
    """The results URL of a page number, for rows the walk did not reach."""


class Walk:
    """The state of one walk. ``read()`` each results page, then ``next()`` after its rows."""

    def __init__(
        self,
        listing_url: Callable[[int], str],
        *,
        max_pages: int | None = None,
        max_rewalks: int = 3,
        rewalk: bool = True,
        details: bool = False,
        stop_after_known: int = 0,
        budget_factor: float = 1.5,
    ) -> None:
        self.listing_url = listing_url
        self.max_pages = max_pages
        self.max_rewalks = max_rewalks
        self.rewalk_enabled = rewalk
        self.details = details
        self.stop_after_known = stop_after_known
        self.rolling_pages: frozenset[int] = frozenset()
        self.budget_factor = budget_factor
        """Requests allowed per request the site's first report calls for (alias rows,
        pages asked again); 0: no budget."""
        self.page_size = 10
        self.total: int | None = None
        self.reported: int | None = None
        self.visited: set[int] = set()
        self.furthest = 0
        self.rewalks = 0
        self.requests = 1  # the first results page
        self.budget: int | None = None
        self.rows_seen = 0
        self.known_in_a_row = 0
        self.complete = False
        self.early_stopped = False
        self.max_pages_hit = False
        self.unfinished: str | None = None
        self.corrections: dict[str, tuple[int, str]] = {}
        self._seen = KeySet()
        self._counts: dict[str, int] = {}

    # --- one results page ------------------------------------------------------------------

    def read(self, page: PageSeen) -> Step:
        """Place the page's rows and notice a count that moved."""
        step = Step()
        if not page.rewalk:
            self.visited.add(page.number)
            self.furthest = max(self.furthest, page.number)
        # The page size the site serves (it may ignore the one asked for), from "X - Y".
        if page.first is not None and page.number and page.first > 1:
            self.page_size = max(1, (page.first - 1) // page.number)
        elif page.first is not None and page.last is not None and not page.number:
            self.page_size = page.last - page.first + 1
        if page.total is not None:
            self._check_count(page, step)
        for index, place in enumerate(self._places(page)):
            key = identity_key(place.url)
            if key in self._seen:
                step.repeated.append(place)
                if place.position >= (page.first or 0):
                    # Where it stands now (a repeat at the top keeps its place from before).
                    self.corrections[place.url] = (place.position, place.listing_url)
                if page.rewalk:
                    step.counts[stats.REWALK_ROWS_REREAD] += 1
                continue
            if self._over_budget(1 if self.details else 0):
                step.warnings.append(
                    f"request budget spent: rows from row {index + 1} of {page.url} on are not harvested"
                )
                break
            self._seen.add(key)
            self.rows_seen += 1
            step.new.append(place)
        if page.rewalk:
            step.counts[stats.REWALK_PAGES] += 1
        return step

    def _places(self, page: PageSeen) -> list[Place]:
        count = len(page.rows)
        start = page.first if page.first is not None else page.number * self.page_size + 1
        # More rows than a page holds: the extra ones at the top repeat rows already seen
        # (the previous page's last row again); the page's own rows start at "X".
        extra = count - self.page_size if page.number and count > self.page_size else 0
        lead = 0
        while lead < extra and identity_key(page.rows[lead]) in self._seen:
            lead += 1
        return [Place(url, start + i - lead, page.url) for i, url in enumerate(page.rows)]

    def _check_count(self, page: PageSeen, step: Step) -> None:
        total = page.total
        assert total is not None
        self._counts[page.url] = total
        if self.total is None:
            self.total = self.reported = total
            self._set_budget(total)
            return
        if total == self.total or self.unfinished:
            return
        delta = total - self.total
        self.total = self.reported = total
        step.counts[stats.SHIFTS] += 1
        if not self.rewalk_enabled:
            step.warnings.append(
                f"the results moved during the walk ({delta:+d} documents); HARVESTER_REWALK is off"
            )
            return
        if self.rewalks >= self.max_rewalks:
            self.unfinished = (
                f"the site's count kept changing after {self.rewalks} re-walks "
                f"(HARVESTER_MAX_REWALKS): {self._disagreeing()}"
            )
            return
        pages = self.furthest + 1 + math.ceil(abs(delta) / self.page_size)
        if self._over_budget(pages):
            return
        self.rewalks += 1
        step.counts[stats.REWALKS] += 1
        step.warnings.append(
            f"the results moved during the walk: the site now reports {total} documents ({delta:+d}) "
            f"on {page.url}; reading pages 1-{pages} again (re-walk {self.rewalks} of {self.max_rewalks})"
        )
        step.rewalk.extend(range(pages))

    def _disagreeing(self) -> str:
        by_count: dict[int, list[str]] = {}
        for url, total in self._counts.items():
            by_count.setdefault(total, []).append(url)
        parts = [
            f"{total} on {', '.join(urls[:3])}{' ...' if len(urls) > 3 else ''}"
            for total, urls in by_count.items()
        ]
        return "; ".join(parts)

    # --- the budget --------------------------------------------------------------------------

    def _set_budget(self, total: int) -> None:
        if self.budget_factor <= 0:
            return
        pages = max(1, math.ceil(total / self.page_size))
        planned = pages + (total if self.details else 0)
        self.budget = int(planned * self.budget_factor) + BUDGET_SLACK
        if self.rewalk_enabled:
            # Each re-walk may read every page once more.
            self.budget += pages * self.max_rewalks

    def _over_budget(self, requests: int) -> bool:
        """Take ``requests`` from the budget; False (and the walk unfinished) when it is spent."""
        if self.budget is not None and self.requests + requests > self.budget:
            if self.unfinished is None:
                self.unfinished = (
                    f"request budget spent: {self.requests} requests where the site's report of "
                    f"{self.reported} documents called for at most {self.budget}"
                )
            return True
        self.requests += requests
        return False

    def take(self, requests: int = 1) -> bool:
        """Ask for ``requests`` more requests (an alias row resolved, a page asked again)."""
        return not self._over_budget(requests)

    # --- early stop (jobs) --------------------------------------------------------------------

    def saw(self, known: bool) -> None:
        """A row was known and unchanged (``True``), or new or changed."""
        self.known_in_a_row = self.known_in_a_row + 1 if known else 0

    def _stop_early(self, expected_total: int | None, nxt: Next) -> bool:
        if not self.stop_after_known or expected_total is None or self.known_in_a_row < self.stop_after_known:
            return False
        if self.total is not None and self.total != expected_total:
            nxt.warnings.append(
                f"{self.known_in_a_row} known documents in a row, but the site reports {self.total} where "
                f"{expected_total} were expected (removals or moves somewhere): walking every page"
            )
            self.stop_after_known = 0
            return False
        self.early_stopped = True
        return True

    # --- the next page ------------------------------------------------------------------------

    def next(self, page: PageSeen, expected_total: int | None = None) -> Next:
        """The page to read after ``page`` (a step of the walk, not a re-walk)."""
        nxt = Next()
        if page.rewalk or self.unfinished:
            return nxt
        more = page.last is not None and page.total is not None and page.last < page.total
        if not page.rows:
            if page.empty_search or self.rows_seen >= (self.reported or 0):
                self.complete = True
            else:
                nxt.warnings.append(
                    f"empty results page {page.url} before all {self.reported} reported documents were seen"
                )
            return nxt
        if self._stop_early(expected_total, nxt):
            return nxt
        if self.max_pages is not None and len(self.visited) >= self.max_pages:
            self.max_pages_hit = True
            return nxt
        target = page.next_number
        if target is None:
            if more:
                nxt.missing_landmark = "nav.pager a[rel=next]"
            else:
                self.complete = True
            return nxt
        if page.next_offsite or target <= page.number or target in self.visited:
            nxt.counts[stats.PAGINATION_OFFSITE if page.next_offsite else stats.PAGINATION_LOOPS] += 1
            if not more:
                self.complete = True
                return nxt
            nxt.warnings.append(
                f"the pager of {page.url} points to page {target + 1} as next; going on with page {page.number + 2} by number"
            )
            target = page.number + 1
            if target in self.visited:
                return nxt
        if self._over_budget(1):
            return nxt
        nxt.page = target
        return nxt

    def outcome(self) -> WalkOutcome:
        return WalkOutcome(
            complete=self.complete and self.unfinished is None,
            early_stopped=self.early_stopped,
            bounded=self.early_stopped or self.max_pages_hit,
            unfinished=self.unfinished,
            corrections=dict(self.corrections),
            page_size=self.page_size,
            listing_url=self.listing_url,
        )
