"""The raw page: what every page class does with a body before any selector runs.

Both kinds of page (results and documents) are read the same way:

1. **Validate** the body without parsing it: an empty or truncated body raises
   :class:`~harvester.exceptions.IncompleteResponse` (retry it); a page without
   ``<main id="main">`` is a Cloudflare block or challenge page
   (:class:`~harvester.exceptions.BlockedPage`) when it says so, else a changed layout
   (:class:`~harvester.exceptions.LayoutChanged`).
2. **Cut** the ``<main id="main">`` region (and the ``<head>``) out of the raw body by
   substring search: the rest of a page is 50-600 KB of chrome that says nothing.
3. **Decode** those parts as UTF-8, strictly; bytes that are not UTF-8 become U+FFFD and the
   page says so (:attr:`RawPage.invalid_utf8`).
4. **Parse** the region with lxml (:func:`parse_region`), also when it nests elements deeper
   than libxml2 allows.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from lxml import etree
from parsel import Selector

from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged, PageTooDeep

__all__ = ["LANDMARK_MAIN", "RawPage", "flatten_deep_nesting", "parse_region", "read_raw"]

logger = logging.getLogger(__name__)

#: The landmark every page of the site has; what :class:`LayoutChanged` names when it is missing.
LANDMARK_MAIN = "main#main"

#: ``<main ... id="main" ...>``, matched at each ``<main`` found by substring search.
_MAIN_TAG_RE = r"""<main\b[^>]*?\bid\s*=\s*(?:"main"|'main'|main(?=[\s>]))[^>]*>"""
#: A complete page ends with ``</html>`` (white space and comments may follow it).
_END_RE = r"</html\s*>\s*(?:<!--.*?-->\s*)*\Z"
#: How many characters at the end of the body may hold ``</html>`` and what follows.
_END_WINDOW = 2048
#: How much of a page without main#main is searched for block-page markers.
_BLOCK_WINDOW = 200_000
#: Cloudflare block and challenge pages, lower case, looked for only when a page has no
#: main#main (a document may quote any of these words). Titles: "Attention Required! |
#: Cloudflare", "Just a moment...".
_BLOCK_TITLES = ("attention required", "just a moment")
_BLOCK_MARKERS = ("you have been blocked", "cf-error-details", "cf-chl-", "cf_chl_")
#: Challenge scripts live under ``/cdn-cgi/challenge-platform/``. Every real page also loads
#: Cloudflare's bot-detection script from ``challenge-platform/scripts/jsd/`` (inside the
#: translation pane in some pages, see ``../shared/fixtures/real/PROVENANCE.md``): that one
#: alone is never a block; any other challenge-platform reference is.
_CHALLENGE_PLATFORM = "challenge-platform"
_CHALLENGE_BENIGN = "challenge-platform/scripts/jsd/"
_TITLE_RE = re.compile(r"<title\b[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


class _Marks(NamedTuple):
    """The raw-body markers, as ``str`` or as ``bytes`` to match the body's type."""

    main_open: Any
    main_close: Any
    head_close: Any
    main_tag: re.Pattern[Any]
    end: re.Pattern[Any]


_STR_MARKS = _Marks(
    "<main",
    "</main>",
    "</head>",
    re.compile(_MAIN_TAG_RE, re.IGNORECASE),
    re.compile(_END_RE, re.IGNORECASE | re.DOTALL),
)
_BYTES_MARKS = _Marks(
    b"<main",
    b"</main>",
    b"</head>",
    re.compile(_MAIN_TAG_RE.encode(), re.IGNORECASE),
    re.compile(_END_RE.encode(), re.IGNORECASE | re.DOTALL),
)


@dataclass(frozen=True, slots=True)
class RawPage:
    """A validated page body, cut and decoded: what the page classes parse."""

    url: str
    head: str
    """The text before ``</head>`` (before main#main when there is no ``</head>``)."""
    main: str
    """``<main id="main">...</main>``."""
    invalid_utf8: bool
    """The head or the main region held bytes that are not UTF-8 (now U+FFFD)."""


def read_raw(url: str, body: bytes | str) -> RawPage:
    """Validate *body* (bytes as served, or text) and cut out its head and main#main region.

    Raises :class:`IncompleteResponse` (empty or truncated: retry), :class:`BlockedPage`
    (a Cloudflare block or challenge page) or :class:`LayoutChanged` (no main#main).

    >>> page = read_raw("https://h/x", b'<html><head></head><body><main id="main">\\xff</main></body></html>')
    >>> page.main, page.invalid_utf8
    ('<main id="main">\\ufffd</main>', True)
    """
    if not body or body.isspace():
        raise IncompleteResponse(url, "empty body")
    marks = _BYTES_MARKS if isinstance(body, bytes) else _STR_MARKS
    open_at = _find_main(body, marks)
    complete = marks.end.search(body[-_END_WINDOW:]) is not None
    if open_at < 0:
        _raise_if_blocked(url, body)
        if not complete:
            raise IncompleteResponse(url, "truncated body: no </html> at the end")
        # A <main> of another id that is never closed: cut off inside it (retry).
        other = body.find(marks.main_open)
        if other >= 0 and body.find(marks.main_close, other) < 0:
            raise IncompleteResponse(url, "truncated body: <main> is never closed")
        raise LayoutChanged(url, LANDMARK_MAIN)
    if not complete:
        raise IncompleteResponse(url, "truncated body: no </html> at the end")
    close_at = body.find(marks.main_close, open_at)
    if close_at < 0:
        raise IncompleteResponse(url, "truncated body: <main> is never closed")
    head_end = body.find(marks.head_close, 0, open_at)
    head, bad_head = _decode(body[: head_end if head_end >= 0 else open_at])
    main, bad_main = _decode(body[open_at : close_at + len(marks.main_close)])
    return RawPage(url=url, head=head, main=main, invalid_utf8=bad_head or bad_main)


def _find_main(body: bytes | str, marks: _Marks) -> int:
    """Where the ``<main id="main">`` tag starts, or -1."""
    start = body.find(marks.main_open)
    while start >= 0:
        if marks.main_tag.match(body, start):
            return start
        start = body.find(marks.main_open, start + 1)
    return -1


def _decode(chunk: bytes | str) -> tuple[str, bool]:
    """``(text, had invalid bytes)``: UTF-8 strictly, else with U+FFFD for what is not."""
    if isinstance(chunk, str):
        return chunk, False
    try:
        return chunk.decode("utf-8"), False
    except UnicodeDecodeError:
        return chunk.decode("utf-8", errors="replace"), True


def _raise_if_blocked(url: str, body: bytes | str) -> None:
    """Raise :class:`BlockedPage` when a page without main#main is a Cloudflare block page."""
    start = body[:_BLOCK_WINDOW]
    text = (start.decode("utf-8", errors="replace") if isinstance(start, bytes) else start).lower()
    title = _TITLE_RE.search(text)
    found = [m for m in _BLOCK_TITLES if title and m in title.group(1)]
    found += [m for m in _BLOCK_MARKERS if m in text]
    if text.count(_CHALLENGE_PLATFORM) > text.count(_CHALLENGE_BENIGN):
        found.append(_CHALLENGE_PLATFORM)
    if found:
        raise BlockedPage(url, f"Cloudflare block or challenge page {found}")


# --- parsing -----------------------------------------------------------------------------------

#: libxml2 stops building the tree at this depth even with ``huge_tree`` (256 without it),
#: and silently drops everything after that point (``ERR_RESOURCE_LIMIT``, "Excessive depth
#: in document"). A page nested deeper is flattened first (:func:`flatten_deep_nesting`).
PARSER_DEPTH_LIMIT = 2048
#: What flattening keeps: every element within this many levels of the region's top, and
#: every element with at most this many levels below it. What lies in between is wrappers.
_KEEP_TOP = 256
_KEEP_BOTTOM = 256


def parse_region(url: str, text: str) -> Selector:
    """Parse an HTML region into a :class:`parsel.Selector`, reading all of it.

    Elements nested deeper than libxml2's limit (:data:`PARSER_DEPTH_LIMIT`) would be cut off
    with everything after them; such a region is flattened and parsed again, and a region
    that still cannot be read whole raises :class:`~harvester.exceptions.PageTooDeep`.
    """
    root, limited = _parse(text)
    if limited:
        flat, dropped = flatten_deep_nesting(text)
        logger.warning(
            "%s nests elements deeper than the HTML parser's limit (%d); %d wrapper elements "
            "were dropped to read it whole",
            url,
            PARSER_DEPTH_LIMIT,
            dropped,
        )
        root, limited = _parse(flat)
        if limited:
            raise PageTooDeep(url, PARSER_DEPTH_LIMIT)
    return Selector(root=root, type="html")


def _parse(text: str) -> tuple[Any, bool]:
    """``(root, hit a parser limit)``. Like parsel's own parsing (NUL dropped, ``huge_tree``),
    with the parser's error log kept to tell a whole tree from a cut one."""
    parser = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
    data = text.strip().replace("\x00", "").encode("utf-8")
    root = etree.fromstring(data, parser=parser) if data else None
    limited = any(error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT for error in parser.error_log)
    if root is None:
        root = etree.fromstring(b"<html/>", parser=parser)
    return root, limited


# The tokens that matter for nesting. Raw-text elements are taken whole: what they hold is
# not markup. Attribute values may hold ">".
_TOKEN_RE = re.compile(
    r"""<!--.*?(?:-->|\Z)
      | <(?P<raw>script|style|textarea|title|xmp|noembed|noframes)\b(?:[^>"']|"[^"]*"|'[^']*')*>
        .*?(?:</(?P=raw)\s*>|\Z)
      | </(?P<end>[A-Za-z][^\s/>]*)[^>]*>
      | <(?P<start>[A-Za-z][^\s/>]*)(?:[^>"']|"[^"]*"|'[^']*')*>
    """,
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_VOID = frozenset(
    "area base basefont bgsound br col embed frame hr img input keygen link meta param "
    "source track wbr".split()
)
#: Start tags that close an open ``<p>`` (HTML's "close a p element").
_CLOSES_P = frozenset(
    "address article aside blockquote center details dialog dir div dl dd dt fieldset "
    "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li main menu nav ol p "
    "pre section summary table ul".split()
)
#: Start tags that close open siblings of these names (optional end tags).
_CLOSES_SIBLINGS = {
    "li": frozenset({"li"}),
    "dt": frozenset({"dt", "dd"}),
    "dd": frozenset({"dt", "dd"}),
    "tr": frozenset({"tr", "td", "th"}),
    "td": frozenset({"td", "th"}),
    "th": frozenset({"td", "th"}),
    "option": frozenset({"option"}),
}


def flatten_deep_nesting(text: str) -> tuple[str, int]:
    """Drop the tags of wrapper elements in the middle of very deep nesting; keep all text.

    An element is dropped (its start and end tags, never its content) when it lies more than
    256 levels below the top *and* has more than 256 levels below it: what is left nests at
    most about 513 levels deep, every element near the top (``main``, sections) and every
    element near the text (panes, paragraphs, pills) is kept, with its attributes. Browsers
    do the like (Chromium stops nesting at 512 levels). Returns ``(text, elements dropped)``.

    The tree is estimated with HTML's commonest optional end tags; a region that is still
    too deep for the parser after this is refused by :func:`parse_region`.

    >>> flat, dropped = flatten_deep_nesting("<main>" + "<div>" * 600 + "<p>x</p>" + "</div>" * 600 + "</main>")
    >>> dropped, flat.count("<div>"), flat.count("</div>"), "<p>x</p>" in flat
    (88, 512, 512, True)
    """
    spans: list[tuple[int, int]] = []  # (start tag span start, end), per element
    ends: list[tuple[int, int] | None] = []
    depth: list[int] = []
    height: list[int] = []
    names: list[str] = []
    stack: list[int] = []

    def pop() -> None:
        child = stack.pop()
        if stack:
            parent = stack[-1]
            height[parent] = max(height[parent], height[child] + 1)

    for token in _TOKEN_RE.finditer(text):
        if (name := token.group("start")) is not None:
            name = name.lower()
            if stack and names[stack[-1]] == "p" and name in _CLOSES_P:
                pop()
            closes = _CLOSES_SIBLINGS.get(name)
            while stack and closes and names[stack[-1]] in closes:
                pop()
            if name in _VOID:
                continue
            stack.append(len(names))
            names.append(name)
            spans.append(token.span())
            ends.append(None)
            depth.append(len(stack) - 1)
            height.append(0)
        elif (name := token.group("end")) is not None:
            name = name.lower()
            for k in range(len(stack) - 1, -1, -1):
                if names[stack[k]] == name:
                    while len(stack) > k + 1:
                        pop()
                    ends[stack[-1]] = token.span()
                    pop()
                    break
    while stack:
        pop()
    dropped = [i for i in range(len(names)) if depth[i] > _KEEP_TOP and height[i] > _KEEP_BOTTOM]
    if not dropped:
        return text, 0
    cuts = [spans[i] for i in dropped] + [end for i in dropped if (end := ends[i]) is not None]
    cuts.sort()
    out: list[str] = []
    at = 0
    for start, stop in cuts:
        out.append(text[at:start])
        at = stop
    out.append(text[at:])
    return "".join(out), len(dropped)
