"""The links in a document page's ``<head>``: read with regexes from the raw text (no DOM),
and the one rule for a canonical link (same origin as the page, a ``/document/<slug>`` path)."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from harvester.identity import canonical_document_url, document_id
from harvester.pages import absolute_url

#: A ``<link>`` tag of ``<head>``, and the attributes of one tag.
_LINK_TAG_RE = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTR_RE = re.compile(r"""([A-Za-z_:][-\w:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+)""")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _unquote(value: str) -> str:
    """An attribute value without its surrounding quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def head_links(head: str) -> dict[str, str]:
    """The first ``href`` of each ``rel`` among the ``<link>`` tags of *head*, as written
    (entities decoded, stripped; empty ones skipped)."""
    found: dict[str, str] = {}
    for tag in _LINK_TAG_RE.finditer(head):
        attrs = {
            name.lower(): html.unescape(_unquote(value)) for name, value in _ATTR_RE.findall(tag.group())
        }
        href = attrs.get("href", "").strip()
        if href:
            for rel in attrs.get("rel", "").lower().split():
                found.setdefault(rel, href)
    return found


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (default ports filled in), lower case; raises ValueError."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def acceptable_canonical(page_url: str, href: str) -> str | None:
    """The absolute canonical URL that *href* names, when a document page may claim it.

    The canonical link is input like the rest of the page: it becomes the record's ``url``
    and ``id``. Only a link to the page's own scheme, host and port with a ``/document/<slug>``
    path is taken; anything else gives ``None``.

    >>> page = "https://digitalarchive.wilsoncenter.org/document/116659"
    >>> acceptable_canonical(page, "/document/50th-anniversary-october-revolution-dprk")
    'https://digitalarchive.wilsoncenter.org/document/50th-anniversary-october-revolution-dprk'
    >>> [acceptable_canonical(page, h) for h in ("https://evil.example/document/x",
    ...     "javascript:alert(1)", "/search?x", "http://digitalarchive.wilsoncenter.org/document/x")]
    [None, None, None, None]
    """
    url = absolute_url(page_url, href)
    try:
        if url is None or not (origin := _origin(url))[1] or origin != _origin(page_url):
            return None
    except ValueError:  # a port that is no number or out of range
        return None
    slug = document_id(canonical_document_url(url))
    return url if slug is not None and slug not in (".", "..") else None


def _site(url: str) -> tuple[str, int | None] | None:
    """Host and port (``None`` for the scheme's default port) of an ``http(s)`` URL; ``None``
    for any other scheme, no host, or a port that is no number."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname.lower(), None if port in (None, _DEFAULT_PORTS[scheme]) else port


def site_link(page_url: str, href: str) -> str | None:
    """The absolute URL *href* names when it is an ``http(s)`` address on the page's own site
    (its host and port; ``http`` or ``https``); ``None`` for anything else.

    The archive keeps its files on its own host (``/sites/default/files/...pdf``, see
    ``../shared/site/ARCHIVE.md``), so a record's links to scans and downloads obey the same
    rule as its other links: a ``javascript:`` or ``data:`` URL, or another host, never
    becomes data.

    >>> page = "https://digitalarchive.wilsoncenter.org/document/x"
    >>> site_link(page, "/sites/default/files/a.pdf")
    'https://digitalarchive.wilsoncenter.org/sites/default/files/a.pdf'
    >>> [site_link(page, h) for h in ("javascript:alert(1)", "data:application/pdf;base64,JVBE",
    ...     "https://evil.example/a.pdf", "//evil.example/a.pdf", "ftp://digitalarchive.wilsoncenter.org/a.pdf")]
    [None, None, None, None, None]
    """
    url = absolute_url(page_url, href)
    if url is None or (site := _site(url)) is None or site != _site(page_url):
        return None
    return url


def related_document(page_url: str, href: str) -> str | None:
    """The canonical ``/document/<slug>`` URL *href* names on the page's own site; ``None``
    for anything else (another host or scheme, ``/node/<nid>``, the legacy numeric
    ``/document/<record id>``, a search).

    >>> page = "https://digitalarchive.wilsoncenter.org/document/x"
    >>> related_document(page, "/document/plan-sino-us-ambassadorial-talks-geneva/?a=1#b")
    'https://digitalarchive.wilsoncenter.org/document/plan-sino-us-ambassadorial-talks-geneva'
    >>> [related_document(page, h) for h in ("/node/1", "/document/90714", "/search?x=1",
    ...     "javascript:alert(1)", "http://evil.example/document/y")]
    [None, None, None, None, None]
    """
    url = site_link(page_url, href)
    if url is None:
        return None
    url = canonical_document_url(url)
    slug = document_id(url)
    return url if slug is not None and slug not in (".", "..") and not slug.isdigit() else None
