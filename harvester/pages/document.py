"""The document page (``/document/<slug>``): every selector for it lives in this module.

The page is large (60-90 KB as served, ~700 KB when saved from a browser), but everything
read from it sits in ``<main id="main">`` (~20 KB) plus two ``<link>`` tags in ``<head>``.
So the page is never parsed whole: :mod:`harvester.pages.raw` cuts the ``<main>`` region
out of the raw body and only that region is parsed; the canonical and shortlink URLs are
read from ``<head>`` with a regular expression.

Every output field is a method marked ``@field`` (:mod:`harvester.pages.fields`), named as
the :class:`~harvester.items.DocumentItem` field it fills; :meth:`DocumentPage.to_item`
fills an item from them.

A layout change must be a one-place fix: the XPath expressions, section headings and
document-information labels are the constants below; nothing else here names a tag, a
class or a label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector

from harvester.exceptions import LayoutChanged
from harvester.identity import canonical_document_url, document_id
from harvester.items import DocumentItem
from harvester.pages import absolute_url, has_class, xpath
from harvester.pages.fields import field, field_names
from harvester.pages.links import acceptable_canonical, head_links, related_document, site_link
from harvester.pages.markup import lines, paragraphs, visible_text
from harvester.pages.raw import parse_region, read_raw
from harvester.text import collapse

__all__ = ["PAGE_OVER_LISTING", "DocumentPage", "DocumentReading"]

_cls = has_class

# --- landmarks: what LayoutChanged names --------------------------------------------------

LANDMARK_TITLE = "h1.title"
LANDMARK_TABS = "#documentTabs"

# --- XPath, compiled once, applied to the parsed main#main region -------------------------

X_TITLE = xpath(f"//h1[{_cls('title')}]")
X_DATE = xpath(f"//div[{_cls('content-block')}]//h2[{_cls('date')}]")
X_CREDITS = xpath(f"//p[{_cls('donated')}]")
X_TABS = xpath("//*[@id='documentTabs']")
X_SUMMARY_BLOCK = xpath(f"//div[{_cls('text-block')}]")
X_PARAGRAPHS = xpath(".//p")
#: The "Author(s):" heading; its pills are in the elements that follow it.
X_AUTHOR_HEADINGS = xpath(f"//h2[{_cls('title')}]")
X_FOLLOWING_SIBLINGS = xpath("following-sibling::*")
#: Pill blocks (people, places, topics, subjects), told apart by their heading.
X_PILL_BLOCKS = xpath(f"//div[{_cls('pill-block')}]")
X_PILL_BLOCK_HEADING = xpath(f"h3[{_cls('title')}]")
#: Pill names: ``a.pill ... span.name`` (text in an inner ``<span>`` or directly inside).
X_PILL_NAMES = xpath(f".//a[{_cls('pill')}]//span[{_cls('name')}]")
#: "Related Documents": the heading, then the first table among its following siblings.
X_RELATED_HEADINGS = xpath(f"//h3[{_cls('title')}]")
X_RELATED_TABLE = xpath("(following-sibling::*/descendant-or-self::table)[1]")
X_RELATED_LINKS = xpath(f".//td[{_cls('document')}]//a/@href")
#: Document information: ``div.information-block > h3.sub-title + div.text``.
X_INFO_BLOCKS = xpath(f"//section[{_cls('document-information')}]//div[{_cls('information-block')}]")
X_INFO_LABEL = xpath(f"h3[{_cls('sub-title')}]")
X_INFO_VALUE = xpath(f"div[{_cls('text')}]")
#: Download: the options bar's link ending in ``/download``, else any download link.
X_OPTION_LINKS = xpath(f"//div[{_cls('document-options')}]//a/@href")
X_ALL_LINKS = xpath("//a/@href")
#: Embedded scans and transcripts: ``object.pdf-preview``, and PDF links in the tabs.
X_PDF_OBJECTS = xpath(f"//object[{_cls('pdf-preview')}]/@data")
X_TAB_EMBEDS = xpath(".//iframe/@src | .//embed/@src | .//object/@data | .//a/@href")
#: Document panes: the active one (innermost when nested), else the first with text.
X_ACTIVE_PANES = xpath(f".//div[{_cls('tab-pane')} and {_cls('active')}]")
X_LEAF_PANES = xpath(f".//div[{_cls('tab-pane')}][not(.//div[{_cls('tab-pane')}])]")

# --- headings and labels, compared by _key() (collapsed, case-folded, no final colon) -----

H_AUTHORS = frozenset({"author(s)", "authors", "author"})
H_PEOPLE = frozenset({"associated people & organizations", "associated people and organizations"})
H_PLACES = frozenset({"associated places"})
H_TOPICS = frozenset({"associated topics"})
H_SUBJECTS = frozenset({"subjects discussed"})
H_RELATED = frozenset({"related documents"})
#: Field of each pill block, by heading.
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

#: Where the list of authors after "Author(s):" ends.
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

#: Fields where the page's value replaces the listing's only when it is not empty: the page
#: is the document's own word, the listing row its abstract. Every other field is set as read.
PAGE_OVER_LISTING = frozenset({"title", "date_raw", "summary"})


def _key(text: str | None) -> str:
    """A heading or label reduced for comparison: collapsed, case-folded, no final colon."""
    return collapse(text).rstrip(":").rstrip().casefold()


def _dedupe(values: Iterable[str]) -> list[str]:
    """Values in first-seen order, each once."""
    return list(dict.fromkeys(values))


def _path(base: str, href: str) -> str:
    """The path of *href* made absolute against *base* (empty for a link that is no URL)."""
    url = absolute_url(base, href)
    return urlsplit(url).path if url else ""


#: What ``urlsplit`` removes from anywhere in a URL: ``"down\nload"`` names ``/download``.
_URL_DROPPED_CHARACTERS = ("\t", "\r", "\n")


def _may_name(base: str, href: str, word: str) -> bool:
    """Can the path of *href*, made absolute against *base*, hold *word*? False only when it
    cannot: a cheap test before :func:`_path` (``urljoin``, ~20 us), which most links of a page
    (people, places, topics, tabs) do not need (issue 17: it was a fifth of a document page's
    reading). The path's segments are the href's or *base*'s own (joining never makes one of
    two), less the characters ``urlsplit`` drops.

    >>> _may_name("https://h/document/x", "/sites/a.PDF".lower(), ".pdf"), _may_name("https://h/document/x", "/search?x=1", ".pdf")
    (True, False)
    """
    return word in href or word in base or any(c in href for c in _URL_DROPPED_CHARACTERS)


class _Links:
    """The page's link fields, and the links it gave for them that were dropped."""

    def __init__(self) -> None:
        self.pdf_urls: list[str] = []
        self.download_url: str | None = None
        self.related: list[str] = []
        self.dropped: list[str] = []

    def keep(self, href: str, url: str | None) -> str:
        """*url* (the link made acceptable), or ``""`` after noting *href* as dropped."""
        if url is None:
            self.dropped.append(href.strip())
            return ""
        return url


def _completed(item: DocumentItem, canonical_url: str, fields: dict[str, Any]) -> DocumentItem:
    """:meth:`DocumentPage.to_item`: *item* completed with a page's *fields*."""
    changes = {name: value for name, value in fields.items() if value or name not in PAGE_OVER_LISTING}
    url = canonical_document_url(canonical_url)
    return replace(item, url=url, id=document_id(url) or item.id, **changes)


@dataclass(frozen=True, slots=True)
class DocumentReading:
    """A document page read whole (:meth:`DocumentPage.reading`): its answers as plain values,
    which cross to another process (:mod:`harvester.pages.worker`); the same attributes and
    :meth:`to_item` as the page it was read from."""

    url: str
    invalid_utf8: bool
    canonical_url: str
    canonical_rejected: str | None
    links_dropped: list[str]
    fields: dict[str, Any]

    def to_item(self, item: DocumentItem) -> DocumentItem:
        """:meth:`DocumentPage.to_item`."""
        return _completed(item, self.canonical_url, self.fields)


def _is_pdf(url: str) -> bool:
    """Does the URL's path end in ``.pdf``?"""
    return urlsplit(url).path.lower().endswith(".pdf")


class DocumentPage:
    """One document page of the archive, read from its raw body.

    Construction validates the page and raises:

    - :class:`~harvester.exceptions.IncompleteResponse` for an empty or truncated body
      (retrying may help);
    - :class:`~harvester.exceptions.BlockedPage` for a Cloudflare block or challenge page;
    - :class:`~harvester.exceptions.LayoutChanged` when a complete page lacks ``main#main``,
      an ``h1.title``, or ``#documentTabs`` (or nests elements deeper than can be read:
      :class:`~harvester.exceptions.PageTooDeep`). An ``h1.title`` without text is data,
      not a layout change: the archive shows an empty title (``title`` is None; the title
      pipeline counts and logs it).

    Every other section is optional: its fields are ``None`` or ``[]`` when it is absent.
    The fields are the methods marked ``@field``; :meth:`field_names` lists them.
    """

    def __init__(self, url: str, body: bytes | str) -> None:
        """Cut ``<main id="main">`` out of *body* (bytes as served, or text), parse only that,
        and validate the page."""
        self.url = url
        raw = read_raw(url, body)
        #: The page held bytes that are not UTF-8 (replaced by U+FFFD in what it shows).
        self.invalid_utf8: bool = raw.invalid_utf8
        self._sel = parse_region(url, raw.main)
        self._root: Any = self._sel.root
        titles = X_TITLE(self._root)
        if not titles:
            raise LayoutChanged(url, LANDMARK_TITLE)
        self._title_el: Any = titles[0]
        tabs = X_TABS(self._root)
        if not tabs:
            raise LayoutChanged(url, LANDMARK_TABS)
        self._tabs: Any = tabs[0]
        links = head_links(raw.head)
        self._shortlink = absolute_url(url, links["shortlink"]) if "shortlink" in links else None
        href = links.get("canonical")
        canonical = acceptable_canonical(url, href) if href is not None else None
        #: Absolute canonical URL (``<link rel="canonical">``) when it names a document page of
        #: the page's own site; else the request URL.
        self.canonical_url: str = canonical or url
        #: The canonical link's ``href`` when it was refused (another host or scheme, not a
        #: ``/document/<slug>`` path); ``None`` when it was taken or absent.
        self.canonical_rejected: str | None = href if href is not None and canonical is None else None

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the page's fields (``DocumentItem`` field names), in definition order."""
        return field_names(cls)

    @property
    def selector(self) -> Selector:
        """The parsed ``<main id="main">`` region (not the whole page)."""
        return self._sel

    @property
    def slug(self) -> str:
        """Last path segment of the canonical URL."""
        return urlsplit(self.canonical_url).path.rstrip("/").rsplit("/", 1)[-1]

    def fields(self) -> dict[str, Any]:
        """Everything the page says: every field by name."""
        return {name: getattr(self, name) for name in self.field_names()}

    def to_item(self, item: DocumentItem) -> DocumentItem:
        """A copy of *item* (the listing's record) completed with what the page says.

        ``title``, ``date_raw`` and ``summary`` are replaced only by a non-empty value of
        the page (:data:`PAGE_OVER_LISTING`); every other field is set as read. ``url`` is
        the canonical URL, ``id`` its slug (the item's own id when it is no document path).
        """
        return _completed(item, self.canonical_url, self.fields())

    def reading(self) -> DocumentReading:
        """Everything the page says, read now, as plain values (what the page worker sends)."""
        return DocumentReading(
            url=self.url, invalid_utf8=self.invalid_utf8, canonical_url=self.canonical_url,
            canonical_rejected=self.canonical_rejected, links_dropped=self.links_dropped, fields=self.fields(),
        )  # fmt: skip

    # --- fields, in DocumentItem order -----------------------------------------------------------

    @field
    def title(self) -> str | None:
        """The title as shown (white space collapsed; the title pipeline normalises it)."""
        return visible_text(self._title_el) or None

    @field
    def date_raw(self) -> str | None:
        return self._first_text(X_DATE)

    @field
    def summary(self) -> str | None:
        """``div.text-block`` paragraphs; its whole text as one when it has no ``<p>``."""
        blocks = X_SUMMARY_BLOCK(self._root)
        if not blocks:
            return None
        paras = [s for s in map(visible_text, X_PARAGRAPHS(blocks[0])) if s]
        return "\n\n".join(paras or paragraphs(blocks[0])) or None

    @field
    def record_id(self) -> str | None:
        return self._info_text(L_RECORD_ID)

    @field
    def node_id(self) -> str | None:
        """From the shortlink ``/node/<nid>``, else from ``/document/<nid>/download``.

        Never from ``data-history-node-id``: that attribute belongs to Related Documents rows.
        """
        for url, pattern in (
            (self._shortlink, _NODE_IN_SHORTLINK),
            (self.download_url, _NODE_IN_DOWNLOAD),
        ):
            found = pattern.search(urlsplit(url).path) if url else None
            if found:
                return found.group(1)
        return None

    @field
    def credits(self) -> str | None:
        return self._first_text(X_CREDITS)

    @field
    def authors(self) -> list[str]:
        """Pills between the "Author(s):" heading and the next heading."""
        for heading in X_AUTHOR_HEADINGS(self._root):
            if _key(visible_text(heading)) in H_AUTHORS:
                names: list[str] = []
                for sibling in X_FOLLOWING_SIBLINGS(heading):
                    if sibling.tag in _HEADING_TAGS:
                        break
                    names.extend(_pill_names(sibling))
                return names
        return []

    @field
    def people(self) -> list[str]:
        return self._pills.get("people", [])

    @field
    def places(self) -> list[str]:
        return self._pills.get("places", [])

    @field
    def topics(self) -> list[str]:
        return self._pills.get("topics", [])

    @field
    def subjects(self) -> list[str]:
        return self._pills.get("subjects", [])

    @field
    def source(self) -> str | None:
        return self._info_text(L_SOURCE)

    @field
    def original_archive(self) -> list[str]:
        return self._info_list(L_ARCHIVE)

    @field
    def classification(self) -> str | None:
        return self._info_text(L_CLASSIFICATION)

    @field
    def type(self) -> str | None:
        return self._info_text(L_TYPE)

    @field
    def languages(self) -> list[str]:
        return self._info_list(L_LANGUAGES)

    @field
    def uploaded_date(self) -> str | None:
        return self._info_text(L_UPLOADED)

    @field
    def rights(self) -> str | None:
        """The value's paragraphs joined by a blank line."""
        value = self._info_value(L_RIGHTS)
        return ("\n\n".join(paragraphs(value)) or None) if value is not None else None

    @field
    def contributors(self) -> list[str]:
        return self._info_list(L_CONTRIBUTORS)

    @field
    def donors(self) -> list[str]:
        return self._info_list(L_DONORS)

    @field
    def pdf_urls(self) -> list[str]:
        """``object.pdf-preview`` data, then PDF links embedded in the tabs, on the site only."""
        return self._links.pdf_urls

    @field
    def download_url(self) -> str | None:
        """The options bar's ``.../download`` link, else any ``/document/<nid>/download``; the
        first on the site."""
        return self._links.download_url

    @field
    def related(self) -> list[str]:
        """Row links of the table under the "Related Documents" heading: canonical
        ``/document/<slug>`` URLs of the site."""
        return self._links.related

    @property
    def links_dropped(self) -> list[str]:
        """The links the page gives for ``pdf_urls``, ``download_url`` and ``related`` that are
        not addresses on its own site (:func:`~harvester.pages.links.site_link`,
        :func:`~harvester.pages.links.related_document`), as written; they are in no field."""
        return self._links.dropped

    @field
    def text(self) -> str | None:
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

    @cached_property
    def _links(self) -> _Links:
        """The link fields, each link kept only when it is on the page's site."""
        links = _Links()
        objects = [h for h in X_PDF_OBJECTS(self._root) if h.strip()]
        base = self.url.lower()
        embeds = [
            h
            for h in X_TAB_EMBEDS(self._tabs)
            if h.strip() and _may_name(base, h.lower(), ".pdf") and _is_pdf(absolute_url(self.url, h) or "")
        ]
        links.pdf_urls = _dedupe(links.keep(h, site_link(self.url, h)) for h in objects + embeds)
        options = [h for h in X_OPTION_LINKS(self._root) if h.strip()]
        anywhere = [h for h in X_ALL_LINKS(self._root) if h.strip() and _may_name(self.url, h, "download")]
        candidates = [h for h in options if _path(self.url, h).rstrip("/").endswith("/download")]
        candidates += [h for h in anywhere if _NODE_IN_DOWNLOAD.search(_path(self.url, h))]
        for href in _dedupe(candidates):
            links.download_url = links.keep(href, site_link(self.url, href))
            if links.download_url:
                break
        for heading in X_RELATED_HEADINGS(self._root):
            if _key(visible_text(heading)) in H_RELATED:
                hrefs = [h for t in X_RELATED_TABLE(heading) for h in X_RELATED_LINKS(t) if h.strip()]
                links.related = _dedupe(links.keep(h, related_document(self.url, h)) for h in hrefs)
                break
        links.pdf_urls = [u for u in links.pdf_urls if u]
        links.related = [u for u in links.related if u]
        links.dropped = _dedupe(links.dropped)
        return links

    # --- what several fields read ----------------------------------------------------------

    def _first_text(self, path: Any) -> str | None:
        found = path(self._root)
        return (visible_text(found[0]) or None) if found else None

    @cached_property
    def _pills(self) -> dict[str, list[str]]:
        """Pill names of each ``div.pill-block``, by field name, chosen by heading text."""
        out: dict[str, list[str]] = {}
        for block in X_PILL_BLOCKS(self._root):
            headings = X_PILL_BLOCK_HEADING(block)
            key = _key(visible_text(headings[0])) if headings else ""
            for name, texts in _PILL_HEADINGS:
                if key in texts and name not in out:
                    out[name] = _pill_names(block)
        return out

    @cached_property
    def _information(self) -> dict[str, Any]:
        """The ``div.text`` of each document-information block, by label key."""
        info: dict[str, Any] = {}
        for block in X_INFO_BLOCKS(self._root):
            labels = X_INFO_LABEL(block)
            values = X_INFO_VALUE(block)
            if labels and values:
                info.setdefault(_key(visible_text(labels[0])), values[0])
        return info

    def _info_value(self, labels: frozenset[str]) -> Any:
        info = self._information
        return next((info[label] for label in labels if label in info), None)

    def _info_text(self, labels: frozenset[str]) -> str | None:
        """The value's text, collapsed; ``None`` when absent or empty."""
        value = self._info_value(labels)
        return (visible_text(value) or None) if value is not None else None

    def _info_list(self, labels: frozenset[str]) -> list[str]:
        """Pill names when the value holds pills, else one entry per line."""
        value = self._info_value(labels)
        if value is None:
            return []
        return _pill_names(value) or lines(value)


def _pill_names(el: Any) -> list[str]:
    """Names of the pills under an element, in page order."""
    return [s for s in map(visible_text, X_PILL_NAMES(el)) if s]
