"""The replica's HTTP server: ``/search``, ``/document/<slug>`` and the other addresses.

Bound to 127.0.0.1 only. Threaded, HTTP/1.1 with keep-alive, so that it is not the
bottleneck of a crawl or a benchmark on a 2-core machine.
"""

from __future__ import annotations

import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from harvester.replica.dataset import Archive
from harvester.replica.faults import FaultPlan
from harvester.replica.html import page_shell, render_document_page
from harvester.replica.model import ReplicaDoc
from harvester.replica.search_html import render_search_main

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


def _fold(text: str) -> str:
    return text.casefold().replace("\u2019", "'").replace("\u2018", "'")


class Search:
    """The replica's search engine: pinned seed query, word AND match, facets, sorts."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._pinned = {" ".join(_fold(archive.seed_query).split()): archive.seed_slugs}
        self._cache: dict[tuple[Any, ...], list[ReplicaDoc]] = {}
        self._lock = threading.Lock()

    def run(self, query: str, facets: list[tuple[str, int]], sort: str) -> list[ReplicaDoc]:
        key = (query, tuple(facets), sort, len(self.archive.docs))
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._run(query, facets, sort)
        with self._lock:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = result
        return result

    def _run(self, query: str, facets: list[tuple[str, int]], sort: str) -> list[ReplicaDoc]:
        folded = " ".join(_fold(query).split())
        pinned = self._pinned.get(folded)
        if pinned is not None and not facets and not sort:
            return [self.archive.by_slug[s] for s in pinned if s in self.archive.by_slug]
        docs = self.archive.docs
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


class ReplicaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many keep-alive connections at once from a crawler: queue rather than refuse.
    request_queue_size = 128

    def __init__(self, archive: Archive, port: int = 0, faults: FaultPlan | None = None) -> None:
        self.archive = archive
        self.search = Search(archive)
        self.faults = faults or FaultPlan.parse("")
        super().__init__((HOST, port), ReplicaHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class ReplicaHandler(BaseHTTPRequestHandler):
    server: ReplicaServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the
    # client's delayed ACK (40 ms a response on Linux loopback).
    disable_nagle_algorithm = True
    server_version = "ReplicaDrupal/10"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        params = parse_qsl(parts.query, keep_blank_values=True)
        try:
            if path == "/search":
                self._search(params)
            elif path.startswith("/document/"):
                self._document(path.removeprefix("/document/"))
            elif path.startswith("/node/") and path[6:].isdigit():
                doc = self.server.archive.by_nid.get(int(path[6:]))
                self._doc_page(doc) if doc else self._send_text(HTTPStatus.NOT_FOUND, "Page not found")
            elif path == "/robots.txt":
                self._send(HTTPStatus.OK, ROBOTS_TXT, "text/plain; charset=utf-8")
            elif path == "/":
                self._redirect("/search")
            else:
                self._send_text(HTTPStatus.NOT_FOUND, "Page not found")
        except BrokenPipeError:
            pass

    # --- routes ---------------------------------------------------------------------

    def _search(self, params: list[tuple[str, str]]) -> None:
        values = dict(params)
        query = values.get("search_api_fulltext", "")
        try:
            page = max(0, int(values.get("page", "0") or 0))
        except ValueError:
            page = 0
        try:
            page_size = int(values.get("items_per_page", "10"))
        except ValueError:
            page_size = 10
        if page_size not in PAGE_SIZES:
            page_size = 10
        facets: list[tuple[str, int]] = []
        for key, value in params:
            if _FACET.match(key):
                name, _, tid = value.partition(":")
                if name in _FACET_FIELDS and tid.isdigit():
                    facets.append((name, int(tid)))
        sort = values.get("sort_bef_combine", "")
        results = self.server.search.run(query, facets, sort)
        rows = results[page * page_size : (page + 1) * page_size]
        if self.server.faults.repeat and page > 0 and rows:
            rows = [results[page * page_size - 1], *rows]
        main = render_search_main(
            rows, total=len(results), page=page, page_size=page_size, params=params,
            aliases=self.server.faults.aliases,
        )
        title = f"Search{': ' + query if query else ''}"
        if "search" in self.server.faults.layout:
            main = main.replace("results-count", "result-summary").replace('class="document contextual', 'class="doc contextual')
        self._send_html(page_shell(title=title, main_html=main, body_class="path-search"))

    def _document(self, rest: str) -> None:
        archive = self.server.archive
        rest = rest.rstrip("/")
        if rest.endswith("/download") and rest[: -len("/download")].isdigit():
            doc = archive.by_nid.get(int(rest[: -len("/download")]))
            if doc is None:
                self._send_text(HTTPStatus.NOT_FOUND, "Page not found")
            else:
                self._send(HTTPStatus.OK, b"%PDF-1.4\n% replica placeholder\n%%EOF\n", "application/pdf")
            return
        if rest.isdigit():
            # Legacy /document/<record id>: a permanent redirect to the canonical page.
            doc = archive.by_record.get(int(rest))
            if doc is None:
                self._send_text(HTTPStatus.NOT_FOUND, "Page not found")
            else:
                self._redirect(f"/document/{doc.slug}")
            return
        doc = archive.by_slug.get(rest)
        if doc is None:
            self._send_text(HTTPStatus.NOT_FOUND, "Page not found")
            return
        self._doc_page(doc)

    def _doc_page(self, doc: ReplicaDoc) -> None:
        archive = self.server.archive
        related = [archive.by_slug[s] for s in doc.related if s in archive.by_slug]
        title_class = "heading" if "document" in self.server.faults.layout else "title"
        self._send_html(render_document_page(archive.full(doc), related, title_class=title_class))

    # --- responses --------------------------------------------------------------------

    def _send_html(self, text: str) -> None:
        self._send(HTTPStatus.OK, text.encode("utf-8"), "text/html; charset=UTF-8")

    def _send_text(self, status: HTTPStatus, text: str) -> None:
        body = page_shell(title=text, main_html=f"<h1 class=\"title\">{text}</h1>")
        self._send(status, body.encode("utf-8"), "text/html; charset=UTF-8")

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=0, public")
        self.end_headers()
        self.wfile.write(body)
