"""A hostile site of the tests' own on 127.0.0.1: results pages the replica does not serve.

``with hostile_site(listing) as site:`` serves ``/search?page=N`` as ``listing(N)`` says (its
"X - Y of N" line, its rows, its next link), no robots.txt, and 404 for anything else; a
thread of the test process answers, port 0. Pages carry only what the harvester's results
page reads (``main#main``, the count line, the rows, the pager).
"""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Listing:
    """One results page as the hostile site shows it."""

    first: int
    last: int
    total: int
    rows: list[str]
    """Row links (paths such as ``/document/some-slug``)."""
    next_page: int | None


@dataclass
class HostileSite:
    base_url: str
    served: Counter[int] = field(default_factory=Counter)
    """Results pages served, by page number."""


def results_page(listing: Listing) -> bytes:
    rows = "".join(
        f'<tr><td class="date">1962</td><td class="document"><a href="{escape(href)}">'
        f'<h3 class="sub-title">Row {escape(href)}</h3></a></td></tr>'
        for href in listing.rows
    )
    pager = (
        f'<nav class="pager"><ul><li class="pager__item pager__item--next">'
        f'<a rel="next" href="/search?page={listing.next_page}">Next</a></li></ul></nav>'
        if listing.next_page is not None
        else '<nav class="pager"></nav>'
    )
    return (
        '<!DOCTYPE html><html><head><title>Search</title></head><body><main id="main">'
        f'<div class="view-header"><p class="results-count">{listing.first} - {listing.last} of {listing.total}</p></div>'
        f'<div class="documents"><table><tbody>{rows}</tbody></table></div>{pager}</main></body></html>'
    ).encode()


@contextmanager
def hostile_site(listing: Callable[[int], Listing]) -> Iterator[HostileSite]:
    site = HostileSite("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/search":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            number = int(parse_qs(parts.query).get("page", ["0"])[0])
            site.served[number] += 1
            body = results_page(listing(number))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
