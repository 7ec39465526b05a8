"""The search results page (``/search``): its rows, its "X - Y of N" line, its pager.

All selectors for the results page live here. Only the ``<main>`` region is parsed: the
rest of the page is chrome (menus, styles, settings JSON) that costs time and says nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

from lxml.etree import XPath
from parsel import Selector

from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged
from harvester.pages import has_class

# --- selectors (one place to change when the site does) ---------------------------
MAIN_OPEN = re.compile(rb"<main\b[^>]*\bid=[\"']main[\"'][^>]*>")
MAIN_CLOSE = b"</main>"
ROW_CELL = "td.document"
ROW_LINK = "td.document a::attr(href)"
COUNT = "p.results-count::text"


_cls = has_class


# The same selectors, compiled once: a results page has ten rows and each row five fields,
# and parsel's per-call overhead was the largest cost of a listing crawl (BENCHMARKS.md).
X_ROWS = XPath(f"//div[{_cls('documents')}]//table//tbody/tr")
X_ROW_DATE = XPath(f"td[{_cls('date')}]//text()")
X_ROW_CELL = XPath(f"td[{_cls('document')}]")
X_CELL_LINK = XPath(".//a/@href")
X_CELL_TITLE = XPath(f".//h3[{_cls('sub-title')}]//text()")
X_CELL_SUMMARY = XPath(f".//div[{_cls('text')}]/p")
EMPTY = "div.view-empty"
NEXT = "nav.pager a[rel=next]::attr(href)"
LAST = "nav.pager li.pager__item--last a::attr(href)"

_COUNT_TEXT = re.compile(r"(\d[\d,]*)\s*[-–]\s*(\d[\d,]*)\s+of\s+(\d[\d,]*)")
_SPACE = re.compile(r"\s+")
_BLOCK_MARKERS = (
    b"you have been blocked",
    b"Attention Required! | Cloudflare",
    b"<title>Just a moment...</title>",
    b"cf-error-details",
    b"/cdn-cgi/challenge-platform/h/",
    b"cf-chl-",
)


def collapse(text: str | None) -> str | None:
    """White space (no-break spaces included) collapsed to one space; ``None`` for nothing."""
    if text is None:
        return None
    cleaned = _SPACE.sub(" ", text.replace("\u00a0", " ")).strip()
    return cleaned or None


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def cut_main(url: str, body: bytes | str) -> str:
    """Validate a page and return its ``<main id="main">`` region as text.

    Raises :class:`IncompleteResponse` (retry), :class:`BlockedPage` (back off, stop) or
    :class:`LayoutChanged` (fail the run).
    """
    raw = _as_bytes(body)
    if not raw.strip():
        raise IncompleteResponse(url, "empty body")
    opened = MAIN_OPEN.search(raw)
    if opened is None:
        head = raw[:20_000]
        if any(marker in head for marker in _BLOCK_MARKERS):
            raise BlockedPage(url, "the site answered with a challenge or block page")
        if b"</html>" not in raw[-2_000:]:
            raise IncompleteResponse(url, f"truncated body ({len(raw)} bytes, no </html>)")
        raise LayoutChanged(url, "main#main")
    end = raw.find(MAIN_CLOSE, opened.end())
    if end < 0:
        raise IncompleteResponse(url, f"truncated body ({len(raw)} bytes, <main> never closes)")
    if b"</html>" not in raw[-2_000:]:
        raise IncompleteResponse(url, f"truncated body ({len(raw)} bytes, no </html>)")
    return _decode(raw[opened.start() : end + len(MAIN_CLOSE)])


def _decode(region: bytes) -> str:
    """UTF-8, as the site declares; bytes that are not UTF-8 become U+FFFD (and are noticed)."""
    try:
        return region.decode("utf-8")
    except UnicodeDecodeError:
        return region.decode("utf-8", errors="replace") + "<!--harvester:invalid-utf8-->"


@dataclass(frozen=True)
class ResultRow:
    """One result as the listing shows it (values as displayed, white space collapsed)."""

    url: str
    title: str | None
    date_raw: str | None
    summary: str | None
    node_id: str | None
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
        main = cut_main(url, body)
        #: The page held bytes that are not UTF-8 (replaced by U+FFFD in what it shows).
        self.invalid_utf8 = main.endswith("<!--harvester:invalid-utf8-->")
        self._main = Selector(text=main)
        self._rows = X_ROWS(self._main.root)
        self._empty = bool(self._main.css(EMPTY))
        count_text = collapse(" ".join(self._main.css(COUNT).getall()))
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
        out = []
        for number, row in enumerate(self._rows, start=1):
            cells = X_ROW_CELL(row)
            hrefs = X_CELL_LINK(cells[0]) if cells else []
            if not hrefs:
                raise LayoutChanged(self.url, f"{ROW_LINK} in row {number}")
            cell = cells[0]
            paragraphs = [collapse("".join(p.itertext())) for p in X_CELL_SUMMARY(cell)]
            out.append(
                ResultRow(
                    url=urljoin(self.url, str(hrefs[0]).strip()),
                    title=collapse("".join(X_CELL_TITLE(cell))),
                    date_raw=collapse("".join(X_ROW_DATE(row))),
                    summary="\n\n".join(p for p in paragraphs if p) or None,
                    node_id=cell.get("data-history-node-id"),
                    row=number,
                )
            )
        return out

    @property
    def next_url(self) -> str | None:
        href = self._main.css(NEXT).get()
        return urljoin(self.url, href.strip()) if href else None

    @property
    def page_number(self) -> int:
        """0-based page number of this page, from its URL (``page`` missing means 0)."""
        return page_of(self.url)

    @property
    def last_page(self) -> int | None:
        href = self._main.css(LAST).get()
        if href:
            return page_of(urljoin(self.url, href))
        return self.page_number if self._rows or self._empty else None


def page_of(url: str) -> int:
    values = parse_qs(urlsplit(url).query).get("page")
    try:
        return int(values[0]) if values else 0
    except ValueError:
        return 0
