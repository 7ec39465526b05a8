"""The identity of a document: its canonical URL. Never its title.

The seed has two different documents titled "Telegram from A. Mikoyan to the CPSU Central
Committee"; they differ by URL (``...-committee`` and ``...-committee-0``).

>>> canonical_document_url("HTTPS://DigitalArchive.WilsonCenter.org/document/abc-def/?x=1#top")
'https://digitalarchive.wilsoncenter.org/document/abc-def'
>>> document_id("https://digitalarchive.wilsoncenter.org/document/abc-def")
'abc-def'
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote, urlsplit, urlunsplit

_DOCUMENT_PATH = re.compile(r"^/document/(?P<slug>[^/]+)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_document_url(url: str) -> str:
    """Lower-case scheme and host, drop default port, query, fragment and trailing slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    path = unquote(parts.path).rstrip("/") or "/"
    return urlunsplit((scheme, host, path, "", ""))


def document_id(url: str) -> str | None:
    """The slug of a canonical ``/document/<slug>`` URL; ``None`` for any other path."""
    match = _DOCUMENT_PATH.match(urlsplit(url).path.rstrip("/"))
    return match["slug"] if match else None


def is_numeric_document_path(url: str) -> bool:
    """True for the legacy ``/document/<record id>`` address, which is not canonical."""
    slug = document_id(url)
    return slug is not None and slug.isdigit()


def identity_key(url: str) -> int:
    """A 64-bit key of an identity: what is kept per document to tell it was seen (8 bytes,
    not the URL). A collision between two of 161,530 documents has odds of about 1 in 10^9.

    >>> identity_key("https://h/document/a") == identity_key("https://h/document/a")
    True
    """
    return int.from_bytes(hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest(), "big")
