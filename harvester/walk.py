"""The walk over a search's results pages: which page next, where each row stands, when to stop.

No Scrapy here. The spider tells the walk what each results page showed (:class:`PageSeen`)
and does what it answers (:class:`Step`, :class:`Next`): harvest these rows, request those
pages, or stop, and why. It never reads the walk's attributes to learn what happened; at the
end, :meth:`Walk.outcome` says how the walk ended. The rules:

- **Positions.** A row stands at the page's "X - Y of N" offset plus its row number. A page's
  own rows are the ones its "X - Y" shows, at most a page, never past N. When "X - Y" shows
  more than that (as "11 - 21" over 11 rows, or "291 - 296 of 295"), rows already seen at
  its top (the previous page's last row again) are skipped, and its own rows start at "X"
  after them. Rows after a page's own rows are beyond its count. A row seen again later in
  the walk is not harvested twice; where it stands now is kept as a correction (the latest
  reading wins).
- **Rows beyond the count** are never harvested. Already seen, they are a document listed
  twice. Linking by another address (``/node/<nid>``, the legacy ``/document/<record id>``),
  they are checked by their page (:meth:`Walk.listed_again`): a document the walk never saw
  listed by the time it ends fails it. Any other new row beyond the count means the site
  lists documents its count does not: the walk ends there, unfinished, naming the page. A
  page whose page before the walk did not read (a rolling page, reached by a jump) may list
  its documents again: what it lists besides its own rows is neither harvested nor judged.
- **Count drift.** When the reported count changes during the walk (uploads at the top push
  every row down), the pages already read are read again (a re-walk), at most ``max_rewalks``
  times a run; a count that keeps changing ends the walk unfinished, naming the pages.
- **Pager.** The next page is the pager's ``rel="next"``; a next link that points back, to a
  page already read or off the host is a loop: the walk goes on by page number while the
  count says there is more. No next link while the count says there is more: the pager's
  layout changed.
- **A ceiling and a budget.** A count over ``max_results`` (first reported, or grown to it)
  ends the walk at once: the budget is never derived from more than that. Requests (results
  and document pages) are bounded by what the site reported on the first page, with a margin
  for re-walks; later counts never raise it. Past it the walk ends unfinished.
- **Early stop** (scheduled jobs): after ``stop_after_known`` known, unchanged rows in a row,
  and only when the site's count is what the job expects, the rest is known. With
  ``rolling_pages`` the walk then also reads those pages (by number, each past the page it
  stopped at), and ends early-stopped when none is left.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from harvester import stats
from harvester.identity import KeySet, identity_key

#: Plus this many requests, so that a small search may re-walk too.
BUDGET_SLACK = 20
#: The default ceiling of a search's count (``HARVESTER_MAX_RESULTS``): about 3x the archive.
MAX_RESULTS = 50_000


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
    aliases: Collection[str] = ()
    """Rows that link by another address than their document's identity (``/node/<nid>``,
    the legacy ``/document/<record id>``): only their page tells which document they are."""


@dataclass(frozen=True)
class Place:
    """Where a row stands: its document, 1-based position and the results page it is on."""

    url: str
    position: int
    listing_url: str


class End(enum.Enum):
    """How a walk ends."""

    COMPLETE = "complete"
    """Every page was read to the end."""
    EARLY_STOP = "early_stop"
    """Known rows in a row and the count as expected (after any rolling pages)."""
    MAX_PAGES = "max_pages"
    UNFINISHED = "unfinished"
    """It could not finish (count drift, the budget, the ceiling, rows beyond a count)."""


@dataclass(frozen=True)
class Ending:
    """The walk ended with this answer: how, and a sentence saying why (for the log)."""

    how: End
    why: str


@dataclass
class Step:
    """The walk's answer to one results page (or to a row checked by its page)."""

    page_size: int
    """Rows a results page holds, as the site serves them."""
    new: list[Place] = field(default_factory=list)
    """Rows to harvest (not seen before in this walk)."""
    repeated: list[Place] = field(default_factory=list)
    """Rows the walk saw before (listed twice, or read again after a move): not harvested twice."""
    check: list[Place] = field(default_factory=list)
    """Rows beyond the page's count that link by another address: request each one's page and
    tell the walk which document it is (:meth:`Walk.listed_again`). Never harvested."""
    rewalk: list[int] = field(default_factory=list)
    """Pages to read again because the results moved."""
    reported: int | None = None
    """The site's count, when this page told it first or changed it (the count the walk goes by)."""
    first_report: bool = False
    """``reported`` is the first count of the walk."""
    ended: Ending | None = None
    """Set when reading this page ended the walk (always :attr:`End.UNFINISHED` here)."""
    counts: Counter[str] = field(default_factory=Counter)
    """Stat keys to add to (:mod:`harvester.stats`)."""
    warnings: list[str] = field(default_factory=list)


@dataclass
class Next:
    """After a page's rows: the next page to request, or why there is none."""

    page: int | None = None
    missing_landmark: str | None = None
    """The pager lacks a next link while the count says there is more: the layout changed."""
    ended: Ending | None = None
    """Set when the walk ended here (complete, early stop, max pages, unfinished)."""
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
    """Why the walk could not finish (count drift past the re-walks, the request budget, a
    count over the ceiling, rows beyond a page's count)."""
    corrections: dict[str, tuple[int, str]]
    """Where rows read before a move stand now: ``url -> (position, listing_url)``."""
    page_size: int
    listing_url: Callable[[int], str]
    """The results URL of a page number, for rows the walk did not reach."""
    pages_read: frozenset[int]
    """0-based numbers of the pages this walk read (pages read again by a re-walk aside)."""


class Walk:
    """The state of one walk. ``read()`` each results page, then ``next()`` after its rows."""

    # Slots: setting an attribute the walk does not have (a stale ``walk.stop_after_known = N``)
    # fails loudly instead of doing nothing.
    __slots__ = (
        "_budget",
        "_budget_factor",
        "_check_count_on_stop",
        "_checked",
        "_complete",
        "_corrections",
        "_counts",
        "_details",
        "_early_stopped",
        "_first_total",
        "_furthest",
        "_known_in_a_row",
        "_listing_url",
        "_max_pages",
        "_max_pages_hit",
        "_max_results",
        "_max_rewalks",
        "_page_size",
        "_requests",
        "_rewalk_enabled",
        "_rewalks",
        "_rolled",
        "_rolling",
        "_rolling_on",
        "_rows_seen",
        "_seen",
        "_stop_after_known",
        "_stopped_at",
        "_total",
        "_unfinished",
        "_unknown",
        "_visited",
    )

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
        max_results: int = MAX_RESULTS,
        rolling_pages: Collection[int] = (),
        check_count: bool = True,
    ) -> None:
        self._listing_url = listing_url
        self._max_pages = max_pages
        self._max_rewalks = max_rewalks
        self._rewalk_enabled = rewalk
        self._details = details
        self._stop_after_known = stop_after_known
        # Requests allowed per request the site's first report calls for; 0: no budget.
        self._budget_factor = budget_factor
        self._max_results = max_results
        self._rolling = sorted(set(rolling_pages))
        # False: stop early whatever the count says (a scheduled job whose rolling walk and
        # refresh find removals and additions deeper within their period).
        self._check_count_on_stop = check_count
        self._rolling_on = False
        self._rolled: list[int] = []
        self._page_size = 10
        self._total: int | None = None
        self._first_total: int | None = None
        self._stopped_at = ""
        self._visited: set[int] = set()
        self._furthest = 0
        self._rewalks = 0
        self._requests = 1  # the first results page
        self._budget: int | None = None
        self._rows_seen = 0
        self._known_in_a_row = 0
        self._complete = False
        self._early_stopped = False
        self._max_pages_hit = False
        self._unfinished: str | None = None
        self._corrections: dict[str, tuple[int, str]] = {}
        self._unknown: dict[str, str] = {}
        self._seen = KeySet()
        self._checked = KeySet()  # addresses of rows beyond a count, checked once
        self._counts: dict[str, int] = {}

    # --- one results page ------------------------------------------------------------------

    def read(self, page: PageSeen) -> Step:
        """Place the page's rows and notice a count that moved."""
        ended_before = self._unfinished
        if not page.rewalk:
            self._visited.add(page.number)
            self._furthest = max(self._furthest, page.number)
        # The page size the site serves (it may ignore the one asked for), from "X - Y".
        if page.first is not None and page.number and page.first > 1:
            self._page_size = max(1, (page.first - 1) // page.number)
        elif page.first is not None and page.last is not None and not page.number:
            self._page_size = max(1, page.last - page.first + 1)
        step = Step(page_size=self._page_size)
        if page.total is not None:
            self._check_count(page, step)
        self._place(page, step)
        if page.rewalk:
            step.counts[stats.REWALK_PAGES] += 1
        if self._unfinished is not None and ended_before is None:
            step.ended = Ending(End.UNFINISHED, self._unfinished)
        return step

    def _own_rows(self, page: PageSeen) -> tuple[int, int]:
        """How many of the page's rows its count line shows ("X - Y"), and how many of those
        are its own: at most a page, never past "N"."""
        if page.first is None:
            return len(page.rows), len(page.rows)
        shown = (
            len(page.rows) if page.last is None else max(0, min(len(page.rows), page.last - page.first + 1))
        )
        own = min(shown, self._page_size)
        if page.total is not None:
            own = min(own, page.total - page.first + 1)
        return shown, max(0, own)

    def _place(self, page: PageSeen, step: Step) -> None:
        rows = page.rows
        shown, own = self._own_rows(page)
        # A page reached by a jump (a rolling page): the walk did not read the page before,
        # whose documents it may list again, so what it lists besides its own rows is taken
        # as listed again, neither harvested nor judged.
        jumped = page.number > 0 and page.number - 1 not in self._visited
        # The count line shows more rows than the page's own: rows already seen at its top
        # (the previous page's last row again) are skipped, and its own rows start at "X"
        # after them. Rows after the page's own (or past "Y") are beyond its count.
        lead = 0
        while lead < shown - own and (jumped or identity_key(rows[lead]) in self._seen):
            lead += 1
        start = page.first if page.first is not None else page.number * self._page_size + 1
        beyond = 0
        for index, url in enumerate(rows):
            place = Place(url, start + index - lead, page.url)
            mine = lead <= index < lead + own
            key = identity_key(url)
            if key in self._seen or (not mine and (jumped or key in self._checked)):
                step.repeated.append(place)
                if mine:
                    # Where it stands now (a row listed again outside the page's own keeps its place).
                    self._corrections[url] = (place.position, place.listing_url)
                if page.rewalk:
                    step.counts[stats.REWALK_ROWS_REREAD] += 1
                continue
            if not mine:
                if url not in page.aliases:
                    beyond += 1
                elif not self._over_budget(1):
                    self._checked.add(key)
                    step.check.append(place)
                continue
            if self._over_budget(1 if self._details else 0):
                step.warnings.append(
                    f"request budget spent: rows from row {index + 1} of {page.url} on are not harvested"
                )
                break
            self._seen.add(key)
            self._rows_seen += 1
            step.new.append(place)
        if beyond:
            step.counts[stats.ROWS_BEYOND_COUNT] += beyond
            self._end(
                f"the results page {page.url} lists {beyond} new row(s) beyond its count line "
                f'"{page.first} - {page.last} of {page.total}" ({len(rows)} rows, {own} of them its own): '
                "the site lists documents its count does not; rows beyond the count are not harvested"
            )

    def listed_again(self, url: str, listing_url: str) -> Step:
        """A row beyond the count of ``listing_url`` (from :attr:`Step.check`) links the document
        ``url`` (its canonical address, read from its page).

        Not seen yet, it is judged when the walk ends (:meth:`outcome`): a re-walk after a
        move may still read it as a row of its own."""
        step = Step(page_size=self._page_size)
        if identity_key(url) in self._seen:
            # A document listed twice (under two addresses): not harvested twice.
            step.counts[stats.DUPLICATES_DROPPED] += 1
        else:
            self._unknown.setdefault(url, listing_url)
        return step

    def _never_seen(self) -> str | None:
        """Rows beyond a count, checked, that link documents the walk never saw as rows."""
        unknown = [(url, page) for url, page in self._unknown.items() if identity_key(url) not in self._seen]
        if not unknown:
            return None
        url, page = unknown[0]
        return (
            f"{len(unknown)} row(s) beyond the count line of results pages (first on {page}) link documents "
            f"the walk never saw listed (first: {url}): the site lists documents its count does not; "
            "rows beyond the count are not harvested"
        )

    def _end(self, why: str) -> None:
        """The walk cannot finish: the first reason is the one kept."""
        if self._unfinished is None:
            self._unfinished = why

    def _check_count(self, page: PageSeen, step: Step) -> None:
        total = page.total
        assert total is not None
        self._counts[page.url] = total
        if self._total is None:
            self._total = self._first_total = step.reported = total
            step.first_report = True
            self._set_budget(min(total, self._max_results))
            if total > self._max_results:
                self._end(self._over_ceiling(total, page.url))
            return
        if total == self._total or self._unfinished:
            return
        delta = total - self._total
        self._total = step.reported = total
        step.counts[stats.SHIFTS] += 1
        if total > self._max_results:
            self._end(self._over_ceiling(total, page.url))
            return
        if not self._rewalk_enabled:
            step.warnings.append(
                f"the results moved during the walk ({delta:+d} documents); HARVESTER_REWALK is off"
            )
            return
        if self._rewalks >= self._max_rewalks:
            self._end(
                f"the site's count kept changing after {self._rewalks} re-walks "
                f"(HARVESTER_MAX_REWALKS): {self._disagreeing()}"
            )
            return
        pages = self._furthest + 1 + math.ceil(abs(delta) / self._page_size)
        if self._over_budget(pages):
            return
        self._rewalks += 1
        step.counts[stats.REWALKS] += 1
        step.warnings.append(
            f"the results moved during the walk: the site now reports {total} documents ({delta:+d}) "
            f"on {page.url}; reading pages 1-{pages} again (re-walk {self._rewalks} of {self._max_rewalks})"
        )
        step.rewalk.extend(range(pages))

    def _over_ceiling(self, total: int, url: str) -> str:
        return (
            f"the site claims {total} results ({url}), more than HARVESTER_MAX_RESULTS={self._max_results}; "
            "raise it if that is real"
        )

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
        """Once, from the first count (at most ``max_results``): later counts never raise it."""
        if self._budget_factor <= 0:
            return
        pages = max(1, math.ceil(total / self._page_size))
        planned = pages + (total if self._details else 0)
        self._budget = int(planned * self._budget_factor) + BUDGET_SLACK
        if self._rewalk_enabled:
            # Each re-walk may read every page once more.
            self._budget += pages * self._max_rewalks

    def _over_budget(self, requests: int) -> bool:
        """Take ``requests`` from the budget; True (and the walk unfinished) when it is spent."""
        if self._budget is not None and self._requests + requests > self._budget:
            self._end(
                f"request budget spent: {self._requests} requests where the site's first report of "
                f"{self._first_total} documents called for at most {self._budget} (HARVESTER_REQUEST_BUDGET)"
            )
            return True
        self._requests += requests
        return False

    # --- early stop (jobs) --------------------------------------------------------------------

    def saw(self, known: bool) -> None:
        """A row was known and unchanged (``True``), or new or changed."""
        self._known_in_a_row = self._known_in_a_row + 1 if known else 0

    def _stop_early(self, expected_total: int | None, page_url: str, nxt: Next) -> bool:
        if (
            not self._stop_after_known
            or expected_total is None
            or self._known_in_a_row < self._stop_after_known
        ):
            return False
        if self._check_count_on_stop and self._total is not None and self._total != expected_total:
            nxt.warnings.append(
                f"{self._known_in_a_row} known documents in a row, but the site reports {self._total} where "
                f"{expected_total} were expected (removals or moves somewhere): walking every page"
            )
            self._stop_after_known = 0
            return False
        self._early_stopped = True
        self._stopped_at = f"{self._known_in_a_row} known, unchanged documents in a row at {page_url}"
        return True

    def _roll(self, page: PageSeen, nxt: Next) -> Next:
        """After the early stop: the next rolling page past this one, or the end."""
        pages = math.ceil((self._total or 0) / self._page_size)
        target = next(
            (n for n in self._rolling if n > page.number and n not in self._visited and n < pages), None
        )
        if target is None or (self._max_pages is not None and len(self._visited) >= self._max_pages):
            rolled = (
                f"; rolling pages read: {', '.join(str(n + 1) for n in self._rolled)}" if self._rolled else ""
            )
            nxt.ended = Ending(End.EARLY_STOP, f"{self._stopped_at}: the rest is known; stopping{rolled}")
            return nxt
        if self._over_budget(1):
            nxt.ended = Ending(End.UNFINISHED, self._unfinished or "")
            return nxt
        self._rolled.append(target)
        nxt.page = target
        return nxt

    # --- the next page ------------------------------------------------------------------------

    def next(self, page: PageSeen, expected_total: int | None = None) -> Next:
        """The page to read after ``page`` (a step of the walk, not a re-walk)."""
        nxt = Next()
        if page.rewalk or self._unfinished:
            return nxt
        if self._rolling_on:
            return self._roll(page, nxt)
        more = page.last is not None and page.total is not None and page.last < page.total
        if not page.rows:
            if page.empty_search or self._rows_seen >= (self._total or 0):
                return self._completed(nxt)
            self._end(f"empty results page {page.url} before all {self._total} reported documents were seen")
            nxt.ended = Ending(End.UNFINISHED, self._unfinished or "")
            return nxt
        if self._stop_early(expected_total, page.url, nxt):
            self._rolling_on = True
            return self._roll(page, nxt)
        if self._max_pages is not None and len(self._visited) >= self._max_pages:
            self._max_pages_hit = True
            nxt.ended = Ending(End.MAX_PAGES, f"stopping after {len(self._visited)} pages (max_pages)")
            return nxt
        target = page.next_number
        if target is None:
            if more:
                nxt.missing_landmark = "nav.pager a[rel=next]"
                return nxt
            return self._completed(nxt)
        if page.next_offsite or target <= page.number or target in self._visited:
            nxt.counts[stats.PAGINATION_OFFSITE if page.next_offsite else stats.PAGINATION_LOOPS] += 1
            if not more:
                return self._completed(nxt)
            nxt.warnings.append(
                f"the pager of {page.url} points to page {target + 1} as next; going on with page {page.number + 2} by number"
            )
            target = page.number + 1
            if target in self._visited:
                self._end(f"the pager of {page.url} leads back, and page {target + 1} was read already")
                nxt.ended = Ending(End.UNFINISHED, self._unfinished or "")
                return nxt
        if self._over_budget(1):
            nxt.ended = Ending(End.UNFINISHED, self._unfinished or "")
            return nxt
        nxt.page = target
        return nxt

    def _completed(self, nxt: Next) -> Next:
        self._complete = True
        nxt.ended = Ending(End.COMPLETE, "every results page was read")
        return nxt

    def outcome(self) -> WalkOutcome:
        # Documents listed beyond a count first: they may be why the budget ran out.
        unfinished = "; ".join(why for why in (self._never_seen(), self._unfinished) if why) or None
        return WalkOutcome(
            complete=self._complete and unfinished is None,
            early_stopped=self._early_stopped,
            bounded=self._early_stopped or self._max_pages_hit,
            unfinished=unfinished,
            corrections=dict(self._corrections),
            page_size=self._page_size,
            listing_url=self._listing_url,
            pages_read=frozenset(self._visited),
        )
