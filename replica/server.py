"""The replica's HTTP server: ``/search``, ``/document/<slug>`` and the other addresses.

Bound to 127.0.0.1 only. Threaded, HTTP/1.1 with keep-alive, so that it is not the
bottleneck of a crawl or a benchmark on a 2-core machine.

Every GET is first answered as the site would (a :class:`Reply`), then the fault plan
(:mod:`replica.faults`) may replace or bend that reply on the wire. The server
counts attempts per path-with-query, reveals staged uploads (``shift``), logs every fault,
and reports the counts at ``GET /_replica/faults``.

Document pages carry ``ETag`` and ``Last-Modified`` and answer conditional GETs with
``304 Not Modified`` (unless ``validators=False``, ``--no-validators``); see "Validators" in
:mod:`replica.faults`. A document removed on a churn night (:mod:`replica.churn`) answers
404 or 410 at each of its addresses.

A body goes out gzip-compressed (``Content-Encoding: gzip``) to a client whose
``Accept-Encoding`` takes gzip, as Cloudflare, the site's front, compresses HTML for any
client that asks (assumed: no raw response of the site is on record), unless
``codings=()`` (``--identity``); with ``--brotli`` in Brotli (``br``) to a client that takes
it, gzip to one that takes gzip alone (Cloudflare serves Brotli where a zone has it on). A
fault that cuts a body short sends it uncompressed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

import brotli
from isal import isal_zlib

from replica.dataset import Archive
from replica.faults import (
    CANONICAL_TARGETS,
    OFFSITE_HOST,
    FaultEntry,
    FaultLog,
    FaultPlan,
    endless_doc,
    request_key,
    with_hostile_links,
)
from replica.html import page_shell, render_document_page
from replica.model import ReplicaDoc
from replica.search_html import render_search_main

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
PAGE_SIZES = (10, 20, 50, 100)
_FACET = re.compile(r"^f\[(\d+)\]$")
_FACET_FIELDS = {
    "people": ("authors", "people"),
    "places": ("places",),
    "topics": ("topics",),
    "languages": ("languages",),
    "original_repositories": ("original_archive",),
}
_WORD = re.compile(r"\w+")
ROBOTS_TXT = b"User-agent: *\nDisallow: /admin/\nDisallow: /user/\nDisallow: /node/add/\n"
HTML = "text/html; charset=UTF-8"
CACHE_CONTROL = ("Cache-Control", "max-age=0, public")
#: ISA-L's gzip level for compressed bodies: a replica page (~77 KB) in ~0.1 ms, ~16 KB.
GZIP_LEVEL = 2
#: Brotli's quality with ``--brotli``: a replica page in ~0.7 ms, ~14 KB (quality 11: 90 ms).
BROTLI_QUALITY = 4
#: The content codings the replica can send, and how.
ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda body: isal_zlib.compress(body, GZIP_LEVEL, 31),  # wbits 31: a gzip member
    "br": lambda body: bytes(brotli.compress(body, quality=BROTLI_QUALITY)),
}


def accepts(accept_encoding: str | None, coding: str) -> bool:
    """Whether an ``Accept-Encoding`` header takes ``coding`` (RFC 9110 12.5.3: ``q=0``
    refuses a coding; a coding named outranks ``*``).

    >>> accepts("gzip, deflate, br", "gzip"), accepts("br;q=1.0, gzip;q=0", "gzip"), accepts(None, "gzip")
    (True, False, False)
    >>> accepts("*", "br"), accepts("identity", "gzip"), accepts("GZIP;q=0.5", "gzip"), accepts("*, br;q=0", "br")
    (True, False, True, False)
    >>> accepts("x-gzip", "gzip"), accepts("gzip, deflate", "br")
    (True, False)
    """
    weights: dict[str, float] = {}
    for part in (accept_encoding or "").split(","):
        name, _, params = part.partition(";")
        q = params.strip().lower()
        try:
            weights[name.strip().lower()] = float(q[2:]) if q.startswith("q=") else 1.0
        except ValueError:
            weights[name.strip().lower()] = 0.0
    names = (coding, "x-gzip", "*") if coding == "gzip" else (coding, "*")
    return next((weights[name] > 0 for name in names if name in weights), False)


def _fold(text: str) -> str:
    return text.casefold().replace("\u2019", "'").replace("\u2018", "'")


class Search:
    """The replica's search engine: pinned seed query, word AND match, facets, sorts.

    It searches ``docs`` (the visible documents: all of the archive's but the staged
    uploads not yet revealed); :meth:`set_docs` swaps them and drops the cache.
    """

    def __init__(self, archive: Archive, docs: list[ReplicaDoc] | None = None) -> None:
        self.archive = archive
        self.docs = archive.docs if docs is None else docs
        self.generation = 0
        self._pinned = {" ".join(_fold(archive.seed_query).split()): archive.seed_slugs}
        self._cache: dict[tuple[Any, ...], list[ReplicaDoc]] = {}
        self._lock = threading.Lock()

    def set_docs(self, docs: list[ReplicaDoc]) -> None:
        """Search ``docs`` from now on (newest upload first), forgetting cached results."""
        with self._lock:
            self.docs = docs
            self.generation += 1
            self._cache.clear()

    def run(self, query: str, facets: list[tuple[str, int]], sort: str) -> list[ReplicaDoc]:
        with self._lock:
            docs, generation = self.docs, self.generation
            key = (query, tuple(facets), sort, generation)
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._run(docs, query, facets, sort)
        with self._lock:
            if len(self._cache) > 256:
                self._cache.clear()
            if generation == self.generation:
                self._cache[key] = result
        return result

    def _run(
        self, docs: list[ReplicaDoc], query: str, facets: list[tuple[str, int]], sort: str
    ) -> list[ReplicaDoc]:
        folded = " ".join(_fold(query).split())
        pinned = self._pinned.get(folded)
        if pinned is not None and not facets and not sort:
            return [self.archive.by_slug[s] for s in pinned if s in self.archive.by_slug]
        if folded:
            words = _WORD.findall(folded)
            docs = [
                d
                for d in docs
                if all(w in _WORD.findall(_fold(d.clean_title + " " + " ".join(d.summary))) for w in words)
            ]
        for facet, tid in facets:
            attrs = _FACET_FIELDS[facet]
            docs = [d for d in docs if any(t.tid == tid for a in attrs for t in getattr(d, a))]
        if sort.startswith("created_"):
            docs = sorted(docs, key=lambda d: d.created, reverse=sort.endswith("DESC"))
        elif sort.startswith("field_document_date_unix_"):
            dated = [d for d in docs if d.date]
            undated = [d for d in docs if not d.date]
            dated.sort(key=lambda d: (d.date or "", -d.created), reverse=sort.endswith("DESC"))
            docs = dated + undated
        return list(docs)


@dataclass
class Reply:
    """A response before it goes on the wire (faults may replace or bend it)."""

    status: int
    body: bytes = b""
    content_type: str | None = HTML
    headers: list[tuple[str, str]] = field(default_factory=list)
    search: tuple[list[tuple[str, str]], int] | None = None
    """For a results page with rows: its query parameters and page number."""
    doc: ReplicaDoc | None = None
    """For a document page: its document."""

    @property
    def is_html_page(self) -> bool:
        return self.status == HTTPStatus.OK and self.content_type == HTML and bool(self.body)


class ReplicaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many keep-alive connections at once from a crawler: queue rather than refuse.
    request_queue_size = 128

    def __init__(
        self,
        archive: Archive,
        port: int = 0,
        faults: FaultPlan | None = None,
        *,
        fault_log: FaultLog | None = None,
        validators: bool = True,
        codings: tuple[str, ...] = ("gzip",),
    ) -> None:
        """Serve ``archive``. With shifts in ``faults``, its newest ``shift_total``
        documents are the staged uploads: hidden until their shift fires. ``validators``:
        document pages carry ``ETag`` and ``Last-Modified`` and conditional GETs are answered.
        ``codings``: the content codings bodies go out in, the first the client accepts
        (``gzip``, ``br``; none: every body as it is)."""
        self.archive = archive
        self.validators = validators
        self.codings = codings
        self.faults = faults or FaultPlan.parse("")
        self.fault_log = fault_log or FaultLog()
        self.seed = archive.seed
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._requests = 0
        self._fired: set[int] = set()
        self._hidden = archive.docs[: self.faults.shift_total]
        """Staged uploads not yet revealed, newest first."""
        self.hidden_slugs = frozenset(d.slug for d in self._hidden)
        self.search = Search(archive, self._visible_docs() if self._hidden else None)
        super().__init__((HOST, port), ReplicaHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def _visible_docs(self) -> list[ReplicaDoc]:
        return [d for d in self.archive.docs if d.slug not in self.hidden_slugs]

    def visible(self, doc: ReplicaDoc | None) -> ReplicaDoc | None:
        """``doc`` unless it is a staged upload not yet revealed."""
        return doc if doc is not None and doc.slug not in self.hidden_slugs else None

    def count_attempt(self, key: str) -> int:
        """Count a GET of ``key``; return its attempt number (from 1)."""
        with self._lock:
            self._requests += 1
            attempt = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempt
            return attempt

    def trigger_shifts(self, key: str, path: str, attempt: int) -> None:
        """Reveal the staged uploads of every shift that fires now (each fires once)."""
        for entry in self.faults.shifts:
            if entry.index in self._fired or not entry.fires(self.seed, key, path, attempt):
                continue
            with self._lock:
                if entry.index in self._fired:
                    continue
                self._fired.add(entry.index)
                count = int(entry.params["count"])
                revealed, self._hidden = self._hidden[-count:], self._hidden[:-count]
                self.hidden_slugs = frozenset(d.slug for d in self._hidden)
                docs = self._visible_docs()
                self.search.set_docs(docs)
            self.fault_log.record(
                entry, key, attempt, {"slugs": [d.slug for d in revealed], "documents": len(docs)}
            )

    def report(self) -> dict[str, Any]:
        """What ``GET /_replica/faults`` answers."""
        counts = self.fault_log.counts()
        with self._lock:
            requests = self._requests
        return {"counts": counts, "total": sum(counts.values()), "requests": requests}


# --- fault pages and edits ----------------------------------------------------------------

_ERROR_TEXT = {
    500: "The website encountered an unexpected error. Please try again later.",
    503: "The service is temporarily unavailable. Please try again later.",
    429: "Too many requests from your address. Please slow down and try again later.",
}
_NEXT_LINK = re.compile(rb'(<a class="page-link" href=")([^"]*)(" title="Go to next page" rel="next">)')
_ROW_LINK = re.compile(rb'(<td data-history-node-id="\d+" class="[^"]*"><a href=")([^"]*)(")')
_COUNT_LINE = re.compile(rb'<p class="(?:results-count|result-summary)">\d+ - \d+ of (\d+)</p>')
_ROW_SUMMARY = b'<div class="text"><p></p><p>'
_ROW_TITLE = b'<h3 class="sub-title"><span>'
_DOC_SUMMARY = b'<div class="text-block">'
_DOC_TITLE = re.compile(rb'<h1 class="[^"]*"><span>')
BAD_UTF8 = b"\xff\xfe Caf\xe9 "
"""What ``badutf8`` inserts: never valid UTF-8 (FF, FE; a Latin-1 e-acute before a space)."""


def error_page(status: int) -> bytes:
    """A small error page, like a front server's (not the site's chrome)."""
    phrase = HTTPStatus(status).phrase
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{status} {phrase}</title></head>\n<body><h1>{phrase}</h1>\n"
        f"<p>{_ERROR_TEXT.get(status, phrase)}</p></body></html>\n"
    ).encode()


def challenge_page(ray: str) -> bytes:
    """A Cloudflare-like block page (our own markup, with the landmarks a spider checks)."""
    token = base64.urlsafe_b64encode(hashlib.sha256(ray.encode()).digest()).decode().rstrip("=")[:22]
    return (
        '<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<meta charset="UTF-8">\n'
        "<title>Attention Required! | Cloudflare</title>\n"
        '<meta name="robots" content="noindex, nofollow">\n'
        '<meta name="viewport" content="width=device-width,initial-scale=1">\n'
        "<style>body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#222}"
        "#cf-wrapper{max-width:52rem;margin:3rem auto;padding:0 1rem}"
        ".cf-ray{font:13px monospace;color:#666}</style>\n</head>\n<body>\n"
        '<div id="cf-wrapper">\n<div id="cf-error-details" class="cf-error-details-wrapper">\n'
        '<h1 class="cf-title"><span>Sorry, you have been blocked</span></h1>\n'
        '<h2 class="cf-subtitle">digitalarchive.wilsoncenter.org refused this request</h2>\n'
        "<p>A protection service in front of this site stopped the request before it reached "
        "the site. Requests that look automated, or that come too fast, can be stopped this way.</p>\n"
        "<p>If you think this is a mistake, write to the site's owners and quote the reference below.</p>\n"
        f'<p class="cf-ray">Reference: <strong>{ray}</strong></p>\n'
        "</div>\n</div>\n"
        f'<script src="/cdn-cgi/challenge-platform/h/b/scripts/jsd/{token}/main.js" async></script>\n'
        "</body>\n</html>\n"
    ).encode()


@lru_cache(maxsize=4)
def _padding(size: int) -> bytes:
    """An HTML comment whose content is ``size`` bytes of filler."""
    unit = b"replica padding "
    return b"<!-- " + (unit * (size // len(unit) + 1))[:size] + b" -->\n"


def retry_after(value: str, now: float) -> str | None:
    """The ``Retry-After`` header for a ``retry-after`` parameter (None for ``none``).

    ``date:N`` is the HTTP-date of ``ceil(now) + N``: at least N s after ``now``.

    >>> retry_after("2", 0.5), retry_after("none", 0.5)
    ('2', None)
    >>> retry_after("date:2", 1_700_000_000.25)
    'Tue, 14 Nov 2023 22:13:23 GMT'
    """
    if value == "none":
        return None
    if value.startswith("date:"):
        moment = datetime.fromtimestamp(math.ceil(now) + int(value[5:]), UTC)
        return format_datetime(moment, usegmt=True)
    return value


def entity_tag(body: bytes) -> str:
    """A document page's strong ``ETag``: its length and CRC-32 (any change of the page changes it).

    >>> entity_tag(b"<html></html>")
    '"d-601b871f"'
    """
    return f'"{len(body):x}-{zlib.crc32(body):08x}"'


def last_modified(doc: ReplicaDoc) -> str:
    """A document page's ``Last-Modified``: noon UTC of its last edit, else of its upload.

    >>> from replica.faults import endless_doc
    >>> last_modified(replace(endless_doc(0), uploaded_date="2013-04-02"))
    'Tue, 02 Apr 2013 12:00:00 GMT'
    """
    day = datetime.fromisoformat(doc.revised or doc.uploaded_date)
    return format_datetime(day.replace(hour=12, tzinfo=UTC), usegmt=True)


def _page_href(params: list[tuple[str, str]], page: int) -> bytes:
    """The pager's href for ``page`` (the same form as the pager's other links)."""
    query = [(k, v) for k, v in params if k != "page"]
    if page:
        query.append(("page", str(page)))
    return escape("?" + urlencode(query), quote=True).encode()


def _insert_bad_utf8(reply: Reply) -> bytes | None:
    """The body with :data:`BAD_UTF8` at the start of the first summary (or title)."""
    body = reply.body
    if reply.search is not None:
        at = body.find(_ROW_SUMMARY)
        at = at + len(_ROW_SUMMARY) if at >= 0 else body.find(_ROW_TITLE) + len(_ROW_TITLE)
        if at < len(_ROW_TITLE):
            return None
    else:
        block = body.find(_DOC_SUMMARY)
        para = body.find(b"<p>", block) if block >= 0 else -1
        end = body.find(b"</div>", block) if block >= 0 else -1
        if 0 <= para < end:
            at = para + 3
        else:
            title = _DOC_TITLE.search(body)
            if title is None:
                return None
            at = title.end()
    return body[:at] + BAD_UTF8 + body[at:]


# --- the handler ----------------------------------------------------------------------------


class ReplicaHandler(BaseHTTPRequestHandler):
    server: ReplicaServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the
    # client's delayed ACK (40 ms a response on Linux loopback).
    disable_nagle_algorithm = True
    server_version = "ReplicaDrupal/10"
    sys_version = ""
    _key = ""
    """The request key (see :func:`request_key`) of the request being answered."""
    _attempt = 0

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        try:
            if parts.path.startswith("/_replica/"):
                self._control(parts.path)
                return
            server = self.server
            key = request_key(parts.path, parts.query)
            attempt = server.count_attempt(key)
            self._key, self._attempt = key, attempt
            server.trigger_shifts(key, parts.path, attempt)
            reply = self._route(parts)
            for entry in server.faults.firing(server.seed, key, parts.path, attempt):
                injection = self._injection(entry, reply, key, attempt)
                if injection is not None:
                    detail, send = injection
                    server.fault_log.record(entry, key, attempt, detail)
                    send()
                    return
            self._write(reply)
        except ConnectionError:
            # The client went away (a timeout during ``slow``, a cancelled oversize body...).
            self.close_connection = True

    # --- routes ---------------------------------------------------------------------

    def _route(self, parts: SplitResult) -> Reply:
        path = parts.path
        archive = self.server.archive
        if path == "/search":
            return self._search(parse_qsl(parts.query, keep_blank_values=True))
        if path.startswith("/document/"):
            return self._document(path.removeprefix("/document/"))
        if path.startswith("/node/") and path[6:].isdigit():
            doc = self.server.visible(archive.by_nid.get(int(path[6:])))
            return self._doc_page(doc) if doc else self._missing(archive.gone_nids.get(int(path[6:])))
        if path == "/robots.txt":
            body = ROBOTS_TXT
            for entry in self.server.faults.switches:
                if entry.name == "robots":
                    body += f"Disallow: {entry.params['disallow']}\n".encode()
                    self._switched(entry, {"disallow": entry.params["disallow"]})
            return Reply(HTTPStatus.OK, body, "text/plain; charset=utf-8", [CACHE_CONTROL])
        if path == "/":
            return self._redirect("/search")
        return self._text(HTTPStatus.NOT_FOUND, "Page not found")

    def _control(self, path: str) -> None:
        """``/_replica/faults``: the fault counts (JSON). Never faulted nor counted."""
        if path.rstrip("/") == "/_replica/faults":
            body = json.dumps(self.server.report(), sort_keys=True).encode()
            self._write(Reply(HTTPStatus.OK, body, "application/json", [("Cache-Control", "no-store")]))
        else:
            self._write(self._text(HTTPStatus.NOT_FOUND, "Page not found"))

    def _search(self, params: list[tuple[str, str]]) -> Reply:
        faults = self.server.faults
        values = dict(params)
        query = values.get("search_api_fulltext", "")
        try:
            page = max(0, int(values.get("page", "0") or 0))
        except ValueError:
            page = 0
        asked = values.get("items_per_page", "10")
        try:
            page_size = int(asked)
        except ValueError:
            page_size = 10
        if page_size not in PAGE_SIZES:
            page_size = 10
        ignore = faults.switch("ignoreperpage")
        if ignore is not None and page_size != 10:
            self._switched(ignore, {"items_per_page": asked, "served": 10})
            page_size = 10
        facets: list[tuple[str, int]] = []
        for key, value in params:
            if _FACET.match(key):
                name, _, tid = value.partition(":")
                if name in _FACET_FIELDS and tid.isdigit():
                    facets.append((name, int(tid)))
        sort = values.get("sort_bef_combine", "")
        results = self.server.search.run(query, facets, sort)
        total = len(results)
        endless = faults.switch("endless")
        if endless is not None and results:
            # One more page than this one, always: past the real results, invented ones.
            total = max(total, (page + 2) * page_size)
        start, end = page * page_size, min((page + 1) * page_size, total)
        rows = [results[i] if i < len(results) else endless_doc(i) for i in range(start, end)]
        if endless is not None and total > len(results):
            invented = [f"/document/{endless_doc(i).slug}" for i in range(max(start, len(results)), end)]
            self._switched(endless, {"rows": invented, "total": total})
        if faults.repeat and page > 0 and rows:
            before = start - 1
            rows = [results[before] if before < len(results) else endless_doc(before), *rows]
        again: list[ReplicaDoc] = []
        dupaddr = faults.switch("dupaddr")
        if dupaddr is not None and page > 0 and rows:
            every = int(dupaddr.params["every"])
            again = [
                results[i] for i in range(start - page_size, min(start, len(results))) if (i + 1) % every == 0
            ]
            if again:
                legacy = [f"/document/{d.record_id}" for d in again]
                self._switched(dupaddr, {"rows": legacy, "slugs": [d.slug for d in again]})
        main = render_search_main(
            rows,
            total=total,
            page=page,
            page_size=page_size,
            params=params,
            aliases=faults.aliases,
            again=again,
        )
        title = f"Search{': ' + query if query else ''}"
        if "search" in faults.layout:
            main = main.replace("results-count", "result-summary").replace(
                'class="document contextual', 'class="doc contextual'
            )
        reply = self._html(page_shell(title=title, main_html=main, body_class="path-search"))
        if rows:
            reply.search = (params, page)
        return reply

    def _switched(self, entry: FaultEntry, detail: dict[str, Any]) -> None:
        """Log that the switch ``entry`` changed the response to this request."""
        self.server.fault_log.record(entry, self._key, self._attempt, detail)

    def _document(self, rest: str) -> Reply:
        archive = self.server.archive
        visible = self.server.visible
        rest = rest.rstrip("/")
        if rest.endswith("/download") and rest[: -len("/download")].isdigit():
            nid = int(rest[: -len("/download")])
            doc = visible(archive.by_nid.get(nid))
            if doc is None:
                return self._missing(archive.gone_nids.get(nid))
            return Reply(
                HTTPStatus.OK, b"%PDF-1.4\n% replica placeholder\n%%EOF\n", "application/pdf", [CACHE_CONTROL]
            )
        if rest.isdigit():
            # Legacy /document/<record id>: a permanent redirect to the canonical page.
            doc = visible(archive.by_record.get(int(rest)))
            if doc is None:
                return self._missing(archive.gone_records.get(int(rest)))
            return self._redirect(f"/document/{doc.slug}")
        doc = visible(archive.by_slug.get(rest))
        if doc is None:
            return self._missing(archive.gone.get(rest))
        return self._doc_page(doc)

    def _missing(self, gone: int | None) -> Reply:
        """The answer for a document that is not there: 404, or the status its removal on a
        churn night gave it (404 or 410)."""
        if gone == HTTPStatus.GONE:
            return self._text(HTTPStatus.GONE, "This page has been removed")
        return self._text(HTTPStatus.NOT_FOUND, "Page not found")

    def _doc_page(self, doc: ReplicaDoc) -> Reply:
        """The document's page, or ``304 Not Modified`` when the request's validators match."""
        reply = self._render_doc(doc)
        if self.server.validators and self._not_modified(reply):
            return Reply(HTTPStatus.NOT_MODIFIED, b"", None, reply.headers, doc=doc)
        return reply

    def _render_doc(self, doc: ReplicaDoc, *, canonical: str | None = None, nest: int = 0) -> Reply:
        """A 200 with the document's page (and its ``ETag`` and ``Last-Modified``)."""
        archive = self.server.archive
        related = [archive.by_slug[s] for s in doc.related if s in archive.by_slug]
        title_class = "heading" if "document" in self.server.faults.layout else "title"
        page = render_document_page(
            archive.full(doc), related, title_class=title_class, canonical=canonical, nest=nest
        )
        reply = self._html(page)
        reply.doc = doc
        if self.server.validators:
            reply.headers += [("ETag", entity_tag(reply.body)), ("Last-Modified", last_modified(doc))]
        return reply

    def _not_modified(self, reply: Reply) -> bool:
        """Whether the request's ``If-None-Match`` (or, without one, ``If-Modified-Since``)
        matches ``reply``'s validators (RFC 9110 13.1.2 and 13.1.3, weak comparison)."""
        validators = dict(reply.headers)
        none_match = self.headers.get("If-None-Match")
        if none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in none_match.split(",")}
            return "*" in tags or validators["ETag"] in tags
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return parsedate_to_datetime(validators["Last-Modified"]) <= moment

    # --- replies --------------------------------------------------------------------

    @staticmethod
    def _html(text: str) -> Reply:
        return Reply(HTTPStatus.OK, text.encode("utf-8"), HTML, [CACHE_CONTROL])

    @staticmethod
    def _text(status: HTTPStatus, text: str) -> Reply:
        body = page_shell(title=text, main_html=f'<h1 class="title">{text}</h1>')
        return Reply(status, body.encode("utf-8"), HTML, [CACHE_CONTROL])

    @staticmethod
    def _redirect(location: str) -> Reply:
        return Reply(HTTPStatus.MOVED_PERMANENTLY, b"", None, [("Location", location)])

    def _write(
        self, reply: Reply, *, body: bytes | None = None, length: int | None = None, server: str | None = None
    ) -> None:
        """Send ``reply``: ``body`` replaces its body on the wire, ``length`` its
        ``Content-Length``, ``server`` its ``Server`` header. Neither given, the body is
        compressed in the first of the server's codings that the request accepts."""
        whole = body is None and length is None  # not cut short by a fault
        body, headers = (reply.body if body is None else body), reply.headers
        asked = self.headers.get("Accept-Encoding")
        coding = next((c for c in self.server.codings if accepts(asked, c)), None) if whole and body else None
        if coding is not None:
            body = ENCODERS[coding](body)
            headers = [*headers, ("Content-Encoding", coding), ("Vary", "Accept-Encoding")]
        if server is None:
            self.send_response(reply.status)
        else:
            self.log_request(reply.status)
            self.send_response_only(reply.status)
            self.send_header("Server", server)
            self.send_header("Date", self.date_time_string())
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        if reply.status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    # --- faults ---------------------------------------------------------------------

    def _injection(
        self, entry: FaultEntry, reply: Reply, key: str, attempt: int
    ) -> tuple[dict[str, Any], Callable[[], None]] | None:
        """What ``entry`` does to this reply: the log's detail and the sender, or None
        when the fault cannot change this reply (then the next entry is tried)."""
        name, params = entry.name, entry.params
        if name in ("500", "503", "429"):
            status = int(name)
            headers = [("Cache-Control", "no-store")]
            detail: dict[str, Any] = {"status": status}
            value = retry_after(str(params.get("retry-after", "none")), time.time())
            if value is not None:
                headers.append(("Retry-After", value))
                detail["retry_after"] = value
            fault_reply = Reply(status, error_page(status), HTML, headers)
            return detail, lambda: self._write(fault_reply)
        if name == "lie304":
            return self._lie304(reply, str(params["validators"]))
        if name == "moved":
            location = f"/document/{params['to']}"
            return {"status": 301, "location": location}, lambda: self._write(self._redirect(location))
        if name == "slow":
            seconds = float(params["seconds"])

            def send_late() -> None:
                time.sleep(seconds)
                self._write(reply)

            return {"status": reply.status, "seconds": seconds}, send_late
        if name == "drop":
            if not reply.body:
                return None
            sent = int(len(reply.body) * float(params["keep"]))

            def send_part() -> None:
                self.close_connection = True
                self._write(reply, body=reply.body[:sent], length=len(reply.body))

            return {"status": reply.status, "length": len(reply.body), "sent": sent}, send_part
        if name == "truncate":
            if reply.status != HTTPStatus.OK or len(reply.body) < 2:
                return None
            cut = self._cut(reply.body, float(params["keep"]))
            return (
                {"status": 200, "length": len(reply.body), "sent": cut},
                lambda: self._write(reply, body=reply.body[:cut]),
            )
        if name == "empty":
            empty = Reply(HTTPStatus.OK, b"", HTML, [CACHE_CONTROL])
            return {"status": 200}, lambda: self._write(empty)
        if name == "challenge":
            status = int(params["status"])
            ray = hashlib.sha256(f"{self.server.seed}|{key}|{attempt}".encode()).hexdigest()[:16] + "-IAD"
            page = Reply(
                status,
                challenge_page(ray),
                HTML,
                [("Cache-Control", "private, max-age=0, no-store"), ("CF-RAY", ray)],
            )
            return {"status": status, "ray": ray}, lambda: self._write(page, server="cloudflare")
        if name == "oversize":
            if not reply.is_html_page:
                return None
            padding = _padding(int(float(params["mib"]) * 1024 * 1024))
            at = reply.body.rfind(b"</body>")
            at = at if at >= 0 else len(reply.body)
            big = replace(reply, body=reply.body[:at] + padding + reply.body[at:])
            return {"status": 200, "length": len(big.body)}, lambda: self._write(big)
        if name == "badutf8":
            if not reply.is_html_page:
                return None
            body = _insert_bad_utf8(reply)
            if body is None:
                return None
            bad = replace(reply, body=body)
            return {"status": 200, "offset": body.find(BAD_UTF8)}, lambda: self._write(bad)
        if name == "stalecount":
            return self._stalecount(reply, str(params["mode"]), attempt)
        if name in ("canonical", "deepnest"):
            if reply.doc is None or not reply.is_html_page:
                return None
            if name == "canonical":
                target = CANONICAL_TARGETS[str(params["to"])]
                bent = self._render_doc(reply.doc, canonical=target)
                detail = {"status": 200, "canonical": target}
            else:
                bent = self._render_doc(reply.doc, nest=int(params["depth"]))
                detail = {"status": 200, "depth": params["depth"], "length": len(bent.body)}
            return detail, lambda: self._write(bent)
        if name == "links":
            hostile_page = (
                with_hostile_links(reply.body.decode("utf-8")) if reply.doc and reply.is_html_page else None
            )
            if hostile_page is None:
                return None
            hostile = replace(reply, body=hostile_page.encode("utf-8"))
            return {"status": 200, "length": len(hostile.body)}, lambda: self._write(hostile)
        if name == "offsite":
            return self._offsite(reply, str(params["link"]))
        if name == "loop":
            return self._loop(reply, int(params["to"]))
        return None

    def _lie304(self, reply: Reply, mode: str) -> tuple[dict[str, Any], Callable[[], None]]:
        """``304 Not Modified`` whatever the request asked, with the validators ``mode`` says."""
        none_match = self.headers.get("If-None-Match")
        since = self.headers.get("If-Modified-Since")
        etag = modified = None
        if mode == "echo":
            tags = [t.strip() for t in (none_match or "").split(",") if t.strip() not in ("", "*")]
            etag, modified = (tags[0] if tags else None), since
        elif mode == "current":
            own = dict(reply.headers)
            etag, modified = own.get("ETag"), own.get("Last-Modified")
        headers = [CACHE_CONTROL]
        headers += [("ETag", etag)] if etag is not None else []
        headers += [("Last-Modified", modified)] if modified is not None else []
        lie = Reply(HTTPStatus.NOT_MODIFIED, b"", None, headers)
        detail = {
            "status": 304,
            "page_status": reply.status,
            "if_none_match": none_match,
            "if_modified_since": since,
            "etag": etag,
            "last_modified": modified,
        }
        return detail, lambda: self._write(lie)

    @staticmethod
    def _cut(body: bytes, keep: float) -> int:
        """Where ``truncate`` cuts: ``keep`` of the way through ``<main>`` (or the body),
        moved back to a UTF-8 character boundary."""
        start, end = body.find(b"<main"), body.find(b"</main>")
        cut = start + int((end - start) * keep) if 0 <= start < end else int(len(body) * keep)
        cut = max(1, min(cut, len(body) - 1))
        while cut > 1 and body[cut] & 0xC0 == 0x80:
            cut -= 1
        return cut

    @staticmethod
    def _next_link(body: bytes) -> re.Match[bytes] | None:
        return _NEXT_LINK.search(body)

    def _offsite(self, reply: Reply, link: str) -> tuple[dict[str, Any], Callable[[], None]] | None:
        if reply.search is None or not reply.is_html_page:
            return None
        body = reply.body
        detail: dict[str, Any] = {"status": 200, "host": OFFSITE_HOST}
        if link in ("next", "both"):
            match = self._next_link(body)
            if match is None:
                if link == "next":
                    return None
            else:
                href = b"http://" + OFFSITE_HOST.encode() + b"/search" + match[2]
                body = body[: match.start(2)] + href + body[match.end(2) :]
                detail["next"] = href.decode()
        if link in ("row", "both"):
            match = _ROW_LINK.search(body)
            if match is None:
                return None
            href = b"http://" + OFFSITE_HOST.encode() + match[2]
            body = body[: match.start(2)] + href + body[match.end(2) :]
            detail["row"] = href.decode()
        moved = replace(reply, body=body)
        return detail, lambda: self._write(moved)

    def _stalecount(
        self, reply: Reply, mode: str, attempt: int
    ) -> tuple[dict[str, Any], Callable[[], None]] | None:
        if reply.search is None or not reply.is_html_page:
            return None
        match = _COUNT_LINE.search(reply.body)
        if match is None:
            return None
        total = int(match[1])
        if mode == "alternate":
            if attempt % 2:
                return None
            shown = total + 1
        else:
            shown = total - 1
        stale = replace(
            reply, body=reply.body[: match.start(1)] + str(shown).encode() + reply.body[match.end(1) :]
        )
        return {"status": 200, "total": total, "shown": shown}, lambda: self._write(stale)

    def _loop(self, reply: Reply, to: int) -> tuple[dict[str, Any], Callable[[], None]] | None:
        if reply.search is None or not reply.is_html_page:
            return None
        match = self._next_link(reply.body)
        if match is None:
            return None
        params, page = reply.search
        href = _page_href(params, to)
        looped = replace(reply, body=reply.body[: match.start(2)] + href + reply.body[match.end(2) :])
        return {"status": 200, "page": page, "next": href.decode()}, lambda: self._write(looped)
