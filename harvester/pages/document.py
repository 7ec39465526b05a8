"""The document page (``/document/<slug>``): every selector for it lives in this module.

The page is large (60-90 KB as served, ~700 KB when saved from a browser), but everything
read from it sits in ``<main id="main">`` (~20 KB) plus two ``<link>`` tags in ``<head>``.
So the page is never parsed whole: the ``<main>`` region is cut out of the raw body by
substring search and only that region becomes a :class:`parsel.Selector`; the canonical
and shortlink URLs are read from ``<head>`` with a regular expression.

A layout change must be a one-place fix: the XPath expressions, section headings and
document-information labels are the constants below; nothing else here names a tag, a
class or a label.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

from lxml.etree import XPath, iterwalk
from parsel import Selector

from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged
from harvester.pages import has_class

__all__ = ["FIELD_NAMES", "DocumentPage", "collapse", "paragraphs"]

#: Keys of :meth:`DocumentPage.fields`, in ``DocumentItem`` order.
FIELD_NAMES: tuple[str, ...] = (
    "title",
    "date_raw",
    "summary",
    "record_id",
    "node_id",
    "credits",
    "authors",
    "people",
    "places",
    "topics",
    "subjects",
    "source",
    "original_archive",
    "classification",
    "type",
    "languages",
    "uploaded_date",
    "rights",
    "contributors",
    "donors",
    "pdf_urls",
    "download_url",
    "related",
    "text",
)


_cls = has_class


# --- raw body (substring search and regexes, no DOM) ------------------------------------

#: ``<main ... id="main" ...>``, matched at each ``<main`` found by substring search.
_MAIN_TAG_RE = r"""<main\b[^>]*?\bid\s*=\s*(?:"main"|'main'|main(?=[\s>]))[^>]*>"""
#: A ``<link>`` tag of ``<head>``, and the attributes of one tag.
_LINK_TAG_RE = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTR_RE = re.compile(r"""([A-Za-z_:][-\w:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+)""")
#: A complete page ends with ``</html>`` (white space and comments may follow it).
_END_RE = r"</html\s*>\s*(?:<!--.*?-->\s*)*\Z"
#: How many characters at the end of the body may hold ``</html>`` and what follows.
_END_WINDOW = 2048
#: How much of a page without main#main is searched for block-page markers.
_BLOCK_WINDOW = 200_000
#: Cloudflare block and challenge pages, lower case. Only looked for when the page has no
#: main#main. Titles: "Attention Required! | Cloudflare", "Just a moment...".
_BLOCK_TITLES = ("attention required", "just a moment")
#: Anywhere in the page.
_BLOCK_MARKERS = ("you have been blocked", "cf-error-details", "cf-chl-", "cf_chl_")
#: The challenge script. Every real document page also loads Cloudflare's bot-detection
#: script from ``/cdn-cgi/challenge-platform/scripts/jsd/`` (inside the translation pane
#: in some pages, see ``../shared/fixtures/real/PROVENANCE.md``): that one alone is no block.
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

# --- landmarks: what LayoutChanged names --------------------------------------------------

LANDMARK_MAIN = "main#main"
LANDMARK_TITLE = "h1.title"
LANDMARK_TABS = "#documentTabs"

# --- XPath, compiled once, applied to the parsed main#main region -------------------------

X_TITLE = XPath(f"//h1[{_cls('title')}]")
X_DATE = XPath(f"//div[{_cls('content-block')}]//h2[{_cls('date')}]")
X_CREDITS = XPath(f"//p[{_cls('donated')}]")
X_TABS = XPath("//*[@id='documentTabs']")
X_SUMMARY_BLOCK = XPath(f"//div[{_cls('text-block')}]")
X_PARAGRAPHS = XPath(".//p")
#: The "Author(s):" heading; its pills are in the elements that follow it.
X_AUTHOR_HEADINGS = XPath(f"//h2[{_cls('title')}]")
X_FOLLOWING_SIBLINGS = XPath("following-sibling::*")
#: Pill blocks (people, places, topics, subjects), told apart by their heading.
X_PILL_BLOCKS = XPath(f"//div[{_cls('pill-block')}]")
X_PILL_BLOCK_HEADING = XPath(f"h3[{_cls('title')}]")
#: Pill names: ``a.pill ... span.name`` (text in an inner ``<span>`` or directly inside).
X_PILL_NAMES = XPath(f".//a[{_cls('pill')}]//span[{_cls('name')}]")
#: "Related Documents": the heading, then the first table among its following siblings.
X_RELATED_HEADINGS = XPath(f"//h3[{_cls('title')}]")
X_RELATED_TABLE = XPath("(following-sibling::*/descendant-or-self::table)[1]")
X_RELATED_LINKS = XPath(f".//td[{_cls('document')}]//a/@href")
#: Document information: ``div.information-block > h3.sub-title + div.text``.
X_INFO_BLOCKS = XPath(f"//section[{_cls('document-information')}]//div[{_cls('information-block')}]")
X_INFO_LABEL = XPath(f"h3[{_cls('sub-title')}]")
X_INFO_VALUE = XPath(f"div[{_cls('text')}]")
#: Download: the options bar's link ending in ``/download``, else any download link.
X_OPTION_LINKS = XPath(f"//div[{_cls('document-options')}]//a/@href")
X_ALL_LINKS = XPath("//a/@href")
#: Embedded scans and transcripts: ``object.pdf-preview``, and PDF links in the tabs.
X_PDF_OBJECTS = XPath(f"//object[{_cls('pdf-preview')}]/@data")
X_TAB_EMBEDS = XPath(".//iframe/@src | .//embed/@src | .//object/@data | .//a/@href")
#: Document panes: the active one (innermost when nested), else the first with text.
X_ACTIVE_PANES = XPath(f".//div[{_cls('tab-pane')} and {_cls('active')}]")
X_LEAF_PANES = XPath(f".//div[{_cls('tab-pane')}][not(.//div[{_cls('tab-pane')}])]")

# --- headings and labels, compared by _key() (collapsed, case-folded, no final colon) -----

H_AUTHORS = frozenset({"author(s)", "authors", "author"})
H_PEOPLE = frozenset({"associated people & organizations", "associated people and organizations"})
H_PLACES = frozenset({"associated places"})
H_TOPICS = frozenset({"associated topics"})
H_SUBJECTS = frozenset({"subjects discussed"})
H_RELATED = frozenset({"related documents"})
#: ``DocumentPage.fields()`` key of each pill block, by heading.
_PILL_HEADINGS = (
    ("people", H_PEOPLE),
    ("places", H_PLACES),
    ("topics", H_TOPICS),
    ("subjects", H_SUBJECTS),
)

L_SOURCE = frozenset({"source"})
L_ARCHIVE = frozenset({"original archive", "original archives", "original archive(s)"})
L_RIGHTS = frozenset({"rights"})
L_UPLOADED = frozenset({"original uploaded date"})
L_TYPE = frozenset({"type"})
L_LANGUAGES = frozenset({"language", "languages", "language(s)"})
L_RECORD_ID = frozenset({"record id"})
L_CLASSIFICATION = frozenset({"original classification"})
L_CONTRIBUTORS = frozenset({"document contributor(s)", "document contributors", "document contributor"})
L_DONORS = frozenset({"donors", "donor(s)", "donor"})

# --- URL shapes ------------------------------------------------------------------------------

_NODE_IN_SHORTLINK = re.compile(r"/node/(\d+)/?(?:[?#]|$)")
_NODE_IN_DOWNLOAD = re.compile(r"/document/(\d+)/download/?(?:[?#]|$)")

# --- plain text ----------------------------------------------------------------------------

#: Elements whose content is never text.
_SKIP_TAGS = frozenset(
    {
        "script", "style", "meta", "title", "noscript", "link", "head", "template",
        "object", "iframe", "embed", "svg", "button", "select",
    }
)  # fmt: skip
#: Elements that end the paragraph before them and their own.
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "ul", "ol", "dl", "dt",
        "dd", "table", "thead", "tbody", "tfoot", "caption", "blockquote", "pre", "section",
        "article", "aside", "header", "footer", "nav", "figure", "figcaption", "address",
        "center", "hr", "main", "form", "fieldset", "details", "summary", "br",
    }
)  # fmt: skip
#: Table cells stay in their row's paragraph, a space apart.
_CELL_TAGS = frozenset({"td", "th"})
#: Where the list of authors after "Author(s):" ends.
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def collapse(text: str | None) -> str:
    """Collapse runs of white space (U+00A0 included) to one space, and strip.

    >>> collapse("  a\\n\\t b\\u00a0 c ")
    'a b c'
    """
    return " ".join(text.split()) if text else ""


def _key(text: str | None) -> str:
    """A heading or label reduced for comparison: collapsed, case-folded, no final colon."""
    return collapse(text).rstrip(":").rstrip().casefold()


def _dedupe(values: Iterable[str]) -> list[str]:
    """Values in first-seen order, each once."""
    return list(dict.fromkeys(values))


def _unquote(value: str) -> str:
    """An attribute value without its surrounding quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _is_pdf(url: str) -> bool:
    """Does the URL's path end in ``.pdf``?"""
    return urlsplit(url).path.lower().endswith(".pdf")


def _raw_blocks(root: Any) -> list[str]:
    """Text of an lxml element cut at block boundaries, white space left as it is."""
    out: list[str] = []
    buf: list[str] = []
    append = buf.append
    events = iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in events:
        if event == "start":
            tag = el.tag  # the HTML parser gives lower-case tag names
            if tag in _SKIP_TAGS:
                events.skip_subtree()  # its "end" event still comes, and adds the tail
            elif tag in _BLOCK_TAGS:
                if buf:
                    out.append("".join(buf))
                    buf.clear()
                if text := el.text:
                    append(text)
            else:
                if tag in _CELL_TAGS:
                    append(" ")
                if text := el.text:
                    append(text)
            continue
        if event == "end":
            tag = el.tag
            if tag in _BLOCK_TAGS:
                if buf:
                    out.append("".join(buf))
                    buf.clear()
            elif tag in _CELL_TAGS:
                append(" ")
        # "end", "comment" and "pi": the tail follows the node (the root's is not ours).
        if el is not root and (tail := el.tail):
            append(tail)
    if buf:
        out.append("".join(buf))
    return out


def paragraphs(root: Any) -> list[str]:
    """Plain-text paragraphs of an lxml element.

    Scripts, styles, ``<meta>``, ``<title>`` and embedded objects are dropped. Every block
    element (``p``, ``div``, ``li``, ``h1``-``h6``, ``tr``...) and every ``<br>`` ends a
    paragraph; inline markup (``span``, ``sup``, ``a``, ``em``) stays in its paragraph, so
    footnote markers keep their place. White space inside a paragraph is collapsed
    (U+00A0 included) and empty paragraphs are dropped.
    """
    return [p for p in map(collapse, _raw_blocks(root)) if p]


def _lines(root: Any) -> list[str]:
    """A value shown as lines (``<br>``, blocks or raw line breaks): one string per line."""
    return [line for block in _raw_blocks(root) for line in map(collapse, block.splitlines()) if line]


class DocumentPage:
    """One document page of the archive, read from its raw body.

    Construction validates the page and raises:

    - :class:`~harvester.exceptions.IncompleteResponse` for an empty or truncated body
      (retrying may help);
    - :class:`~harvester.exceptions.BlockedPage` for a Cloudflare block or challenge page;
    - :class:`~harvester.exceptions.LayoutChanged` when a complete page lacks ``main#main``,
      an ``h1.title``, or ``#documentTabs``. An ``h1.title`` without text is data, not a
      layout change: the archive shows an empty title (``title`` is None; the title
      pipeline counts and logs it).

    Every other section is optional: its fields are ``None`` or ``[]`` when it is absent.
    """

    def __init__(self, url: str, body: bytes | str, encoding: str = "utf-8") -> None:
        """Cut ``<main id="main">`` out of *body*, parse only that, and validate the page.

        *encoding* decodes a ``bytes`` body (the archive serves UTF-8).
        """
        self.url = url
        self.encoding = encoding
        if not body or not body.strip():
            raise IncompleteResponse(url, "empty body")
        region, head = self._cut(body)
        self._sel = Selector(text=region)
        self._root: Any = self._sel.root
        self._validate()
        self._canonical, self._shortlink = self._head_links(head)

    def _decode(self, chunk: bytes | str) -> str:
        return chunk.decode(self.encoding, errors="replace") if isinstance(chunk, bytes) else chunk

    def _cut(self, body: bytes | str) -> tuple[str, str]:
        """The ``<main id="main">...</main>`` text and the ``<head>`` text, or raise."""
        marks = _BYTES_MARKS if isinstance(body, bytes) else _STR_MARKS
        if marks.end.search(body[-_END_WINDOW:]) is None:
            raise IncompleteResponse(self.url, "truncated body: no </html> at the end")
        start = body.find(marks.main_open)
        open_at = -1
        while start >= 0:
            if marks.main_tag.match(body, start):
                open_at = start
                break
            start = body.find(marks.main_open, start + 1)
        # Measured from main#main when there is one, else from any <main (a cut-off page
        # may end inside the open tag itself).
        from_at = open_at if open_at >= 0 else body.find(marks.main_open)
        if from_at >= 0 and body.find(marks.main_close, from_at) < 0:
            raise IncompleteResponse(self.url, "truncated body: <main> is never closed")
        if open_at < 0:
            self._raise_missing_main(body)
        close_at = body.find(marks.main_close, open_at) + len(marks.main_close)
        head_end = body.find(marks.head_close, 0, open_at)
        head = body[: head_end if head_end >= 0 else open_at]
        return self._decode(body[open_at:close_at]), self._decode(head)

    def _raise_missing_main(self, body: bytes | str) -> None:
        """No main#main: a block page when it says so, else a changed layout."""
        text = self._decode(body[:_BLOCK_WINDOW]).lower()
        title = _TITLE_RE.search(text)
        found = [m for m in _BLOCK_TITLES if title and m in title.group(1)]
        found += [m for m in _BLOCK_MARKERS if m in text]
        if text.count(_CHALLENGE_PLATFORM) > text.count(_CHALLENGE_BENIGN):
            found.append(_CHALLENGE_PLATFORM)
        if found:
            raise BlockedPage(self.url, f"Cloudflare block or challenge page {found}")
        raise LayoutChanged(self.url, LANDMARK_MAIN)

    def _validate(self) -> None:
        """The title element and the document tabs must be there."""
        titles = X_TITLE(self._root)
        if not titles:
            raise LayoutChanged(self.url, LANDMARK_TITLE)
        self._title_el = titles[0]
        tabs = X_TABS(self._root)
        if not tabs:
            raise LayoutChanged(self.url, LANDMARK_TABS)
        self._tabs = tabs[0]

    def _head_links(self, head: str) -> tuple[str | None, str | None]:
        """``(canonical, shortlink)`` hrefs of the ``<link>`` tags in ``<head>``, absolute."""
        found: dict[str, str] = {}
        for tag in _LINK_TAG_RE.finditer(head):
            attrs = {
                name.lower(): html.unescape(_unquote(value)) for name, value in _ATTR_RE.findall(tag.group())
            }
            href = attrs.get("href", "").strip()
            if href:
                for rel in attrs.get("rel", "").lower().split():
                    found.setdefault(rel, urljoin(self.url, href))
        return found.get("canonical"), found.get("shortlink")

    # --- identity ---------------------------------------------------------------------------

    @property
    def selector(self) -> Selector:
        """The parsed ``<main id="main">`` region (not the whole page)."""
        return self._sel

    @property
    def canonical_url(self) -> str:
        """Absolute canonical URL (``<link rel="canonical">``); the request URL without one."""
        return self._canonical or self.url

    @property
    def slug(self) -> str:
        """Last path segment of the canonical URL."""
        return urlsplit(self.canonical_url).path.rstrip("/").rsplit("/", 1)[-1]

    # --- fields -----------------------------------------------------------------------------

    def fields(self) -> dict[str, Any]:
        """Everything the page says, keyed by :data:`FIELD_NAMES` (``DocumentItem`` names)."""
        pills = self._pill_blocks()
        info = self._information()
        download_url = self._download_url()
        return {
            "title": _string(self._title_el) or None,
            "date_raw": self._first_string(X_DATE),
            "summary": self._summary(),
            "record_id": _info_text(info, L_RECORD_ID),
            "node_id": self._node_id(download_url),
            "credits": self._first_string(X_CREDITS),
            "authors": self._authors(),
            "people": pills.get("people", []),
            "places": pills.get("places", []),
            "topics": pills.get("topics", []),
            "subjects": pills.get("subjects", []),
            "source": _info_text(info, L_SOURCE),
            "original_archive": _info_list(info, L_ARCHIVE),
            "classification": _info_text(info, L_CLASSIFICATION),
            "type": _info_text(info, L_TYPE),
            "languages": _info_list(info, L_LANGUAGES),
            "uploaded_date": _info_text(info, L_UPLOADED),
            "rights": _info_paragraphs(info, L_RIGHTS),
            "contributors": _info_list(info, L_CONTRIBUTORS),
            "donors": _info_list(info, L_DONORS),
            "pdf_urls": self._pdf_urls(),
            "download_url": download_url,
            "related": self._related(),
            "text": self._text(),
        }

    def _first_string(self, xpath: XPath) -> str | None:
        found = xpath(self._root)
        return (_string(found[0]) or None) if found else None

    def _summary(self) -> str | None:
        """``div.text-block`` paragraphs; its whole text as one when it has no ``<p>``."""
        blocks = X_SUMMARY_BLOCK(self._root)
        if not blocks:
            return None
        paras = [s for s in map(_string, X_PARAGRAPHS(blocks[0])) if s]
        return "\n\n".join(paras or paragraphs(blocks[0])) or None

    def _authors(self) -> list[str]:
        """Pills between the "Author(s):" heading and the next heading."""
        for heading in X_AUTHOR_HEADINGS(self._root):
            if _key(_string(heading)) in H_AUTHORS:
                names: list[str] = []
                for sibling in X_FOLLOWING_SIBLINGS(heading):
                    if sibling.tag in _HEADING_TAGS:
                        break
                    names.extend(_pill_names(sibling))
                return names
        return []

    def _pill_blocks(self) -> dict[str, list[str]]:
        """Pill names of each ``div.pill-block``, by field name, chosen by heading text."""
        out: dict[str, list[str]] = {}
        for block in X_PILL_BLOCKS(self._root):
            headings = X_PILL_BLOCK_HEADING(block)
            key = _key(_string(headings[0])) if headings else ""
            for name, texts in _PILL_HEADINGS:
                if key in texts and name not in out:
                    out[name] = _pill_names(block)
        return out

    def _information(self) -> dict[str, Any]:
        """The ``div.text`` of each document-information block, by label key."""
        info: dict[str, Any] = {}
        for block in X_INFO_BLOCKS(self._root):
            labels = X_INFO_LABEL(block)
            values = X_INFO_VALUE(block)
            if labels and values:
                info.setdefault(_key(_string(labels[0])), values[0])
        return info

    def _download_url(self) -> str | None:
        """The options bar's ``.../download`` link, else any ``/document/<nid>/download``."""
        for href in X_OPTION_LINKS(self._root):
            href = href.strip()
            if urlsplit(href).path.rstrip("/").endswith("/download"):
                return urljoin(self.url, href)
        for href in X_ALL_LINKS(self._root):
            href = href.strip()
            if _NODE_IN_DOWNLOAD.search(urlsplit(href).path):
                return urljoin(self.url, href)
        return None

    def _node_id(self, download_url: str | None) -> str | None:
        """From the shortlink ``/node/<nid>``, else from ``/document/<nid>/download``.

        Never from ``data-history-node-id``: that attribute belongs to Related Documents rows.
        """
        for url, pattern in (
            (self._shortlink, _NODE_IN_SHORTLINK),
            (download_url, _NODE_IN_DOWNLOAD),
        ):
            found = pattern.search(urlsplit(url).path) if url else None
            if found:
                return found.group(1)
        return None

    def _pdf_urls(self) -> list[str]:
        urls = [u.strip() for u in X_PDF_OBJECTS(self._root)]
        urls.extend(u.strip() for u in X_TAB_EMBEDS(self._tabs) if _is_pdf(u.strip()))
        return _dedupe(urljoin(self.url, u) for u in urls if u)

    def _related(self) -> list[str]:
        """Row links of the table under the "Related Documents" heading, absolute."""
        for heading in X_RELATED_HEADINGS(self._root):
            if _key(_string(heading)) in H_RELATED:
                hrefs = [h.strip() for t in X_RELATED_TABLE(heading) for h in X_RELATED_LINKS(t)]
                return _dedupe(urljoin(self.url, h) for h in hrefs if h)
        return []

    def _text(self) -> str | None:
        """The active pane (innermost when nested) as plain text; else the first leaf pane
        with text; else ``None`` (a pane holding only a PDF has no text)."""
        active = X_ACTIVE_PANES(self._tabs)  # document order: outer panes first
        if active:
            pane = active[0]
            for candidate in active[1:]:
                if pane in candidate.iterancestors():
                    pane = candidate
            text = "\n\n".join(paragraphs(pane))
            if text:
                return text
        for pane in X_LEAF_PANES(self._tabs):
            text = "\n\n".join(paragraphs(pane))
            if text:
                return text
        return None


# --- helpers over lxml elements -------------------------------------------------------------


def _string(el: Any) -> str:
    """All text under an element, collapsed."""
    return collapse("".join(el.itertext()))


def _pill_names(el: Any) -> list[str]:
    """Names of the pills under an element, in page order."""
    return [s for s in map(_string, X_PILL_NAMES(el)) if s]


def _info_value(info: dict[str, Any], labels: frozenset[str]) -> Any:
    return next((info[label] for label in labels if label in info), None)


def _info_text(info: dict[str, Any], labels: frozenset[str]) -> str | None:
    """The value's text, collapsed; ``None`` when absent or empty."""
    value = _info_value(info, labels)
    return (_string(value) or None) if value is not None else None


def _info_paragraphs(info: dict[str, Any], labels: frozenset[str]) -> str | None:
    """The value's paragraphs joined by a blank line; ``None`` when absent or empty."""
    value = _info_value(info, labels)
    return ("\n\n".join(paragraphs(value)) or None) if value is not None else None


def _info_list(info: dict[str, Any], labels: frozenset[str]) -> list[str]:
    """Pill names when the value holds pills, else one entry per line."""
    value = _info_value(info, labels)
    if value is None:
        return []
    return _pill_names(value) or _lines(value)
