"""The plan of a run, from the site's first results page: how many requests, and how long.

Logged once the site has reported its count, and printed alone by ``-a plan=true``. The
time is the requests at the run's politeness (``DOWNLOAD_DELAY`` between requests to the
site; AutoThrottle only ever slows that down), so it is a floor, not a promise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    reported: int
    """Documents the site reports for the search."""
    page_size: int
    """Rows a results page holds, as served."""
    pages: int
    """Results pages to read."""
    documents: int
    """Document pages to fetch."""
    delay: float
    """Seconds between requests to the site."""
    incremental: bool = False

    @property
    def requests(self) -> int:
        return self.pages + self.documents + 1  # robots.txt

    @property
    def seconds(self) -> float:
        return self.requests * self.delay

    def line(self) -> str:
        """The plan in one line.

        >>> Plan(16_153, 100, 162, 16_153, 3.0).line()
        'Plan: the site reports 16,153 documents on 162 pages of 100; this run: ~16,316 requests (162 results pages, 16,153 document pages, robots.txt), ~13.6 h at 3.0 s/request'
        >>> Plan(11, 100, 1, 0, 0.0).line()
        'Plan: the site reports 11 documents on 1 page of 100; this run: ~2 requests (1 results page, robots.txt), at full speed (no delay)'
        """
        pages = f"{self.pages:,} results page{'s' if self.pages != 1 else ''}"
        parts = [pages]
        if self.documents:
            parts.append(f"{self.documents:,} document pages")
        parts.append("robots.txt")
        more = " at least" if self.incremental else ""
        when = (
            f"~{duration(self.seconds)} at {self.delay:.1f} s/request"
            if self.delay
            else "at full speed (no delay)"
        )
        site_pages = math.ceil(self.reported / self.page_size) if self.page_size else 0
        return (
            f"Plan: the site reports {self.reported:,} documents on {site_pages:,} page{'s' if site_pages != 1 else ''} "
            f"of {self.page_size:,}; this run:{more} ~{self.requests:,} requests ({', '.join(parts)}), {when}"
        )


def plan_for(
    reported: int, page_size: int, *, details: bool, delay: float, max_pages: int | None = None,
    incremental_documents: int | None = None,
    already_done: int = 0,
) -> Plan:  # fmt: skip
    """The plan of a walk of every page (``max_pages`` caps it), with every document in a
    details run; an incremental job run reads at least one page and ``incremental_documents``.

    >>> plan_for(16_153, 100, details=False, delay=3.0).requests
    163
    >>> plan_for(16_153, 100, details=True, delay=3.0, incremental_documents=2_308).requests
    2310

    A resumed run counts what is left (``already_done`` documents done before it was killed):

    >>> plan_for(16_153, 100, details=True, delay=3.0, already_done=16_000).documents
    153
    """
    pages = max(1, math.ceil(reported / page_size)) if page_size else 1
    if max_pages is not None:
        pages = min(pages, max_pages)
    if incremental_documents is not None:
        return Plan(reported, page_size, 1, incremental_documents, delay, incremental=True)
    documents = max(0, min(reported, pages * page_size) - already_done) if details else 0
    return Plan(reported, page_size, pages, documents, delay)


def duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``13.6 h``.

    >>> [duration(s) for s in (42, 720, 48_948)]
    ['42 s', '12 min', '13.6 h']
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5_400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3_600:.1f} h"
