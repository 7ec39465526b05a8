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
import heapq
import re
from array import array
from bisect import bisect_left
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


def needs_resolving(url: str) -> bool:
    """A row linking by another address than ``/document/<slug>`` (``/node/<nid>``, the legacy
    ``/document/<record id>``): only its page tells the canonical address, the identity.

    >>> needs_resolving("https://x.org/node/1"), needs_resolving("https://x.org/document/123")
    (True, True)
    >>> needs_resolving("https://x.org/document/letter-kim-il-sung")
    False
    """
    return document_id(url) is None or is_numeric_document_path(url)


def identity_key(url: str) -> int:
    """A 64-bit key of an identity: what is kept per document to tell it was seen (8 bytes,
    not the URL). A collision between two of 161,530 documents has odds of about 1 in 10^9.

    Two documents that share a title differ by their URL, so by their key; the variants
    of one address are one key once made canonical:

    >>> mikoyan = "https://h/document/telegram-a-mikoyan-cpsu-central-committee"
    >>> identity_key(mikoyan) == identity_key(mikoyan + "-0")
    False
    >>> identity_key(canonical_document_url("HTTPS://H/document/Abc/")) == identity_key("https://h/document/Abc")
    True
    >>> identity_key("https://h/document/abc/") == identity_key("https://h/document/abc")
    False
    """
    return int.from_bytes(hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest(), "big")


class KeySet:
    """A set of 64-bit keys at about 8 bytes a key: what a run keeps per document.

    A Python ``set`` of ints costs about 70 bytes a key; at 161,530 documents and two such
    sets that alone is a fifth of a crawl's memory (BENCHMARKS.md). Here keys live in a
    sorted ``array('Q')`` searched by bisection, with recent keys in a small ``set`` that is
    merged in when it fills up.

    >>> seen = KeySet(buffer_limit=2)
    >>> for key in (5, 3, 9, 3):
    ...     seen.add(key)
    >>> (3 in seen, 4 in seen, len(seen))
    (True, False, 3)
    """

    def __init__(self, buffer_limit: int = 16384) -> None:
        self._sorted = array("Q")
        self._recent: set[int] = set()
        self._limit = buffer_limit

    def __contains__(self, key: object) -> bool:
        if key in self._recent:
            return True
        keys = self._sorted
        i = bisect_left(keys, key)  # type: ignore[call-overload]
        return i < len(keys) and bool(keys[i] == key)

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def add(self, key: int) -> None:
        if key in self:
            return
        self._recent.add(key)
        if len(self._recent) >= self._limit:
            # Streamed merge: the new array grows as it is built; no list of all keys.
            self._sorted = array("Q", heapq.merge(self._sorted, sorted(self._recent)))
            self._recent = set()
