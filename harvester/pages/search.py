"""The search results page (``/search``): its rows, its "X - Y of N" line, its pager.

All selectors for the results page live here. Only the ``<main>`` region is parsed: the
rest of the page is chrome (menus, styles, settings JSON) that costs time and says nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from harvester.exceptions import LayoutChanged
from harvester.pages import absolute_url, has_class, xpath
from harvester.pages.markup import visible_text
from harvester.pages.raw import parse_region, read_raw
from harvester.text import collapse_or_none

__all__ = ["ResultCount", "ResultRow", "SearchPage", "page_of"]

# --- selectors (one place to change when the site does) ---------------------------
ROW_CELL = "td.document"
ROW_LINK = "td.document a::attr(href)"
COUNT = "p.results-count::text"


_cls = has_class


# The same selectors, compiled once: a results page has ten rows and each row five fields,
# and parsel's per-call overhead was the largest cost of a listing crawl (BENCHMARKS.md).
X_ROWS = xpath(f"//div[{_cls('documents')}]//table//tbody/tr")
X_ROW_DATE = xpath(f"td[{_cls('date')}]")
X_ROW_CELL = xpath(f"td[{_cls('document')}]")
X_CELL_LINK = xpath(".//a/@href")
X_CELL_TITLE = xpath(f".//h3[{_cls('sub-title')}]")
X_CELL_SUMMARY = xpath(f".//div[{_cls('text')}]/p")
EMPTY = "div.view-empty"
NEXT = "nav.pager a[rel=next]::attr(href)"
LAST = "nav.pager li.pager__item--last a::attr(href)"

_COUNT_TEXT = re.compile(r"(\d[\d,]*)\s*[-–]\s*(\d[\d,]*)\s+of\s+(\d[\d,]*)")


def _texts(elements: list[object]) -> str | None:
    """The visible text of the elements, one after the other, collapsed; ``None`` for none."""
    return collapse_or_none(" ".join(map(visible_text, elements)))


@dataclass(frozen=True)
class ResultRow:
    """One result as the listing shows it (values as displayed, white space collapsed)."""

    url: str
    title: str | None
    date_raw: str | None
    summary: str | None
    row: int
    """1-based row number on its page."""


@dataclass(frozen=True)
class ResultCount:
    first: int
    last: int
    total: int


class SearchPage:
    """A results page: ``SearchPage(url, body)`` validates, then exposes what it shows."""

    def __init__(self, url: str, body: bytes | str) -> None:
        self.url = url
        raw = read_raw(url, body)
        #: The page held bytes that are not UTF-8 (replaced by U+FFFD in what it shows).
        self.invalid_utf8: bool = raw.invalid_utf8
        self._main = parse_region(url, raw.main)
        self._rows = X_ROWS(self._main.root)
        self._empty = bool(self._main.css(EMPTY))
        count_text = collapse_or_none(" ".join(self._main.css(COUNT).getall()))
        self.count: ResultCount | None = None
        if count_text:
            match = _COUNT_TEXT.search(count_text)
            if match is None:
                raise LayoutChanged(url, f"p.results-count reading 'X - Y of N' (got {count_text!r})")
            first, last, total = (int(g.replace(",", "")) for g in match.groups())
            self.count = ResultCount(first, last, total)
        if self._rows and self.count is None:
            raise LayoutChanged(url, "p.results-count")
        if self._rows and not X_ROW_CELL(self._rows[0]):
            raise LayoutChanged(url, ROW_CELL)
        if not self._rows and not self._empty and not self._main.css("div.documents"):
            # Neither results, nor "no results", nor the (empty) past-the-end list.
            raise LayoutChanged(url, "div.documents table / div.view-empty")

    @property
    def is_empty_search(self) -> bool:
        """The site said "No results" for this search."""
        return self._empty and not self._rows

    @property
    def total(self) -> int | None:
        """How many documents the site reports for the whole search."""
        if self.count is not None:
            return self.count.total
        return 0 if self._empty else None

    def rows(self) -> list[ResultRow]:
        """The results in page order, values as a reader sees them (scripts and styles dropped)."""
        out = []
        for number, row in enumerate(self._rows, start=1):
            cells = X_ROW_CELL(row)
            hrefs = X_CELL_LINK(cells[0]) if cells else []
            url = absolute_url(self.url, hrefs[0]) if hrefs else None
            if url is None:  # no link, or one that is no URL
                raise LayoutChanged(self.url, f"{ROW_LINK} in row {number}")
            cell = cells[0]
            paragraphs = [visible_text(p) for p in X_CELL_SUMMARY(cell)]
            out.append(
                ResultRow(
                    url=url,
                    title=_texts(X_CELL_TITLE(cell)),
                    date_raw=_texts(X_ROW_DATE(row)),
                    summary="\n\n".join(p for p in paragraphs if p) or None,
                    row=number,
                )
            )
        return out

    @property
    def next_url(self) -> str | None:
        href = self._main.css(NEXT).get()
        return absolute_url(self.url, href) if href else None

    @property
    def page_number(self) -> int:
        """0-based page number of this page, from its URL (``page`` missing means 0)."""
        return page_of(self.url)

    @property
    def last_page(self) -> int | None:
        href = self._main.css(LAST).get()
        url = absolute_url(self.url, href) if href else None
        if url:
            return page_of(url)
        return self.page_number if self._rows or self._empty else None


def page_of(url: str) -> int:
    values = parse_qs(urlsplit(url).query).get("page")
    try:
        return int(values[0]) if values else 0
    except ValueError:
        return 0
