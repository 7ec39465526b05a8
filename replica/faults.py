"""Faults the replica stages on purpose (``--faults SPEC``), deterministic for a given ``--seed``.

Grammar
-------

SPEC is a comma-separated list of entries (white space around entries is ignored)::

    SPEC     = ENTRY *( "," ENTRY )
    ENTRY    = SWITCH  /  FAULT [ ":" PARAMS ] "@" WHERE
    SWITCH   = "layout" [ ":document" / ":search" ]  /  "repeat"  /  "aliases"  /  "endless"
             / "ignoreperpage"  /  "dupaddr" [ ":" PARAMS ]  /  "robots" [ ":" PARAMS ]
    PARAMS   = PARAM *( ";" PARAM )        PARAM = KEY "=" VALUE  /  VALUE (the fault's main parameter)
    WHERE    = RATE [ PREFIX ] [ "#" ATTEMPTS ]      at a seeded rate over requests
             / PATH [ "#" ATTEMPTS ]                 on one path-with-query
    RATE     = a number from 0 to 1, e.g. 0.05
    PREFIX   = "/" ...   the rate covers every path that starts with it ("/" = every path)
    PATH     = "/" path [ "?" query ]   one exact path and query (archive faults: "/document/" SLUG,
                                        that one document, without "#")
    ATTEMPTS = N  /  N "-" M  /  N "-"  1-based attempt numbers, e.g. "1", "1-2", "3-"

Examples: ``500@0.05`` (5 % of page requests answer 500), ``503@/search?page=3#1-2`` (the first
two attempts at ``/search?page=3`` answer 503), ``429:retry-after=date:2@0.1#1`` (10 % of first
attempts answer 429 with an HTTP-date 2 s ahead), ``slow:seconds=4@/document/some-slug#1``,
``shift:5@/search?page=2``, ``baddates@0.02,badtitles@0.01``, ``layout:search,repeat``,
``dupaddr:every=5,stalecount@/search?page=3,titles:script@/document/some-slug,robots``,
``lie304@0.2/document/#1`` (a fifth of first requests for document pages answer 304).
A comma inside a path must be written ``%2C`` (a comma ends the entry).

Plan-wide switches (no ``@``; they change every page of their kind)
--------------------------------------------------------------------

- ``layout`` or ``layout:document``: document pages rename ``h1.title`` to ``h1.heading``
  (a site redesign: the parser must fail loudly, naming the page and the landmark);
- ``layout:search``: search pages rename the count line and the result cells;
- ``repeat``: every results page after the first starts with the previous page's last
  row again (a document listed twice: the harvest must export it once);
- ``aliases``: result rows link some documents by their other addresses: one in three by
  the legacy ``/document/<record id>`` (a 301 to the canonical page), one in three by the
  shortlink ``/node/<nid>`` (the page served in place, with its canonical link).
- ``dupaddr:every=N`` [7]: one walk lists some documents under two addresses. Each results
  page after the first also lists, after its own rows, the documents of the page before it
  whose 0-based position ``i`` in the results has ``i + 1`` a multiple of N, linked by their
  legacy ``/document/<record id>`` (a 301 to the canonical page). The page before lists them by
  their slug; documents of the last page are not listed again. The count line counts only the
  page's own rows, and the truth lists every document once. Logged for each page carrying such
  rows (``rows``: their hrefs, ``slugs``).
- ``endless``: a pager that never ends: every results page with results says "of M" with
  ``M = max(N, (page + 2) * page size)``, so it always offers a next page, and past the N real
  results the rows are invented (``/document/endless-result-<position>``, answering 404; in no
  truth). Logged for each page whose M is more than N (``rows``: the invented rows' hrefs,
  ``total``: M).
- ``ignoreperpage``: the search ignores ``items_per_page`` and serves 10 rows a page (the real
  site's default), with the "X - Y of N" line and the pager by 10 (its links keep the
  parameter). Logged when a request asks for another size (``items_per_page``, ``served``).
- ``robots:disallow=P`` [/search]: ``/robots.txt`` also says ``Disallow: P`` to every agent
  (``User-agent: *``); several entries add several lines. Logged for each ``/robots.txt``.

Request faults (main parameter first; defaults in brackets)
-----------------------------------------------------------

- ``500``: status 500 with a small HTML error page.
- ``503:retry-after=R`` [none]: status 503 with a small HTML error page, and ``Retry-After``
  when R is given.
- ``429:retry-after=R`` [1]: status 429 with a small HTML error page and ``Retry-After``.
  R is ``N`` (delay-seconds: ``Retry-After: 2``), ``date:N`` (an HTTP-date, RFC 9110 IMF-fixdate
  such as ``Wed, 21 Oct 2026 07:28:02 GMT``, of the whole second ``ceil(now) + N``: N to N + 1 s
  in the future, N or N + 1 s after the response's ``Date``), or ``none`` (no header).
- ``slow:seconds=S`` [3]: sleep S seconds before sending anything (not even the status line),
  then send the normal response.
- ``drop:keep=F`` [0.5]: send the status line and headers with the full ``Content-Length``,
  then the first ``floor(F * length)`` bytes of the body, then close the connection (a plain
  TCP close, no ``Connection: close`` announced): the client sees fewer bytes than announced.
- ``truncate:keep=F`` [0.5]: status 200 and a body cut F of the way through ``<main>...</main>``
  (of the whole body on pages without one) at a UTF-8 character boundary; ``Content-Length``
  is the cut length, so the transfer is complete but the HTML has no ``</main>`` and no ``</html>``.
- ``empty``: status 200, ``Content-Type: text/html; charset=UTF-8``, ``Content-Length: 0``.
- ``challenge:status=C`` [403]: a Cloudflare-like block page with status C (403 or 200): title
  "Attention Required! | Cloudflare", text "Sorry, you have been blocked", ``div#cf-error-details``
  and a ``/cdn-cgi/challenge-platform/h/...`` script; headers ``Server: cloudflare`` and ``CF-RAY``.
- ``oversize:mib=M`` [6]: the normal page with M MiB of padding in an HTML comment before
  ``</body>`` (over the harvester's 5 MiB ``DOWNLOAD_MAXSIZE``); ``Content-Length`` is exact.
  The page is otherwise whole. One document page over 5 MiB: ``oversize@/document/<slug>``
  (6 MiB of padding plus the page); one of about 8 MiB, for a raised limit:
  ``oversize:mib=8@/document/<other slug>`` (8 MiB plus the page's 60-90 KB).
- ``badutf8``: the normal page, still labelled ``charset=UTF-8``, with the bytes
  ``FF FE 20 43 61 66 E9 20`` (not UTF-8; ``Caf\\xe9`` is Latin-1) inserted at the start of
  the first summary paragraph (search pages: the first row's; document pages: the summary
  block's), or at the start of the (first) title when there is no summary.
- ``offsite:link=L`` [row]: results pages only. ``row``: the first row's document link,
  ``next``: the pager's ``rel="next"`` link, ``both``: both, point to ``http://203.0.113.9``
  (same path and query, another host; nothing listens there and the replica never connects
  anywhere).
- ``loop:to=J`` [0]: results pages only: the pager's ``rel="next"`` link points to page J
  (0-based) instead of the next page.
- ``stalecount:mode=M`` [stale]: results pages with rows; their rows and pager are the real
  ones, only the count line's total N changes. ``stale``: "of N-1" (a stale cached page beside
  fresh ones; give several PATH entries for a set of pages); ``alternate``: "of N+1" on the
  path's even attempts and "of N" on its odd ones (where the entry does nothing).
- ``canonical:to=T`` [offsite]: document pages (also under ``/node/<nid>``) whose
  ``<link rel="canonical">`` points to ``offsite``: ``http://evil.example/document/pwned``,
  ``javascript``: ``javascript:alert(document.domain)``, or ``search``: ``/search``.
- ``links``: document pages (also under ``/node/<nid>``) that also give links no record may
  hold (:data:`HOSTILE_LINKS`): ``javascript:``, ``data:``, another host, ``/node/1``, the legacy
  ``/document/<record id>`` and a search as Related Documents rows (added to the page's table,
  or as a table of their own), ``data:``, ``javascript:`` and another host's PDF as scans, and
  another host's ``.../download`` before the page's own Download link. The page's own links stay
  (the truth is unchanged).
- ``lie304:validators=V`` [echo]: status ``304 Not Modified``, no body and no ``Content-Length``,
  whatever the request's headers say: a front that answers 304 for a page that changed, and
  to a request that sent no ``If-None-Match`` or ``If-Modified-Since`` at all. ``echo``: the 304
  sends back the first entity tag of the request's ``If-None-Match`` as ``ETag`` and its
  ``If-Modified-Since`` as ``Last-Modified`` (a stale cache vouching for the copy the client
  has; neither header when the request sent none); ``current``: the page's own ``ETag`` and
  ``Last-Modified`` (document pages with validators on; a client can see they are not the
  ones it sent); ``none``: neither header. Any response, any status (a removed page too).
- ``moved:to=SLUG``: a ``301 Moved Permanently`` to ``/document/SLUG`` (a document merged
  into another one, whose old address now leads there).
- ``deepnest:depth=D`` [3000]: document pages whose active pane's content (the translation or
  transcript text, or the scans of an original) sits inside D nested ``<div>`` elements
  (1 to 100000); the text is unchanged.

Archive faults
--------------

- ``shift:count=N@PATH`` [10]: the first request of PATH (at the given attempts, default any)
  reveals N new documents at the top of the upload order (newest first, the default sort),
  before that request is answered: every results page shifts by N from then on, and the count
  line's total grows by N. The N documents exist from the start (``--documents`` plus every
  shift's count; their pages answer 404 while hidden). Several shifts stage several uploads:
  each reveal shows the oldest still-hidden ones. A shift is an event, not a response: it
  never stops the search for a request fault. ``shift`` needs a PATH, not a rate. With
  ``--night K``, the staged documents are uploads of night K, newer than its churn's.
- ``baddates@RATE``: that share of the documents (chosen by seed, never the seed search's 11)
  show a malformed date ("Spring 1956", "19566", "February 30, 1956", "c. 1956", "April 31,
  1956": the year is the document's own, or 1956 if it had none) on their result rows and
  their pages.
- ``badtitles@RATE``: that share of the documents show an empty or white-space-only title
  ("", spaces, new lines and tabs, ``&nbsp;``, a zero-width space).
- ``titles:kind=K@RATE`` [doubleescaped]: that share of the documents show a hostile title, on
  their rows and pages (``h1``, citation, ``<title>``). ``doubleescaped``: the markup ends with
  `` &amp;amp; Enclosures`` (a reader sees "... &amp; Enclosures", and so does the truth);
  ``script``: ``<script>var note = "<b>not a title</b>";</script>`` right after the title's
  first word (the truth: the title without it); ``invisible``: the title is only U+2063 and
  U+3164 characters (the truth: null).

``baddates``, ``badtitles`` and ``titles`` also take ``@/document/<slug>``: that one document
(the seed search's too), e.g. ``titles:invisible@/document/some-slug``.

Archive faults change the documents themselves, so ``--dump-truth`` describes the *final*
archive (every staged shift revealed; positions are the final ones) with what a correct
harvest produces: for a bad date ``date`` and ``date_precision`` null and ``date_raw`` the
malformed text; for a bad title ``title`` null; for a hostile title what a reader sees.

How a request fault is decided
------------------------------

The server counts GET requests per path-with-query (thread-safe); the count, from 1, is the
request's *attempt*. The path-with-query is the path plus the query parameters decoded and
sorted (``/search?page=3&search_api_fulltext=a+b`` and ``/search?search_api_fulltext=a%20b&page=3``
are one key; ``/search`` and ``/search?page=0`` are two). ``PATH`` entries are keyed the same
way. Entries are checked in spec order, and the first one that *fires* answers the request:

- its attempts (default: every attempt) include this attempt, and
- a PATH entry matches the key exactly; a RATE entry covers the path (without PREFIX: GET
  ``/search``, ``/document/<slug or record id>`` and ``/node/<nid>``, never ``/robots.txt`` or
  ``/document/<nid>/download``) and ``roll < RATE``, where ``roll`` is the first 8 bytes of
  SHA-256 of ``"<seed>|<entry index>|<entry text>|<key>|<attempt>"`` as a fraction of 2**64
  (the same seed always faults the same requests; a retry rolls again), and
- the fault can change this response (``truncate`` needs a 200, ``oversize`` and ``badutf8``
  a 200 HTML page, ``drop`` a body, ``offsite``, ``loop`` and ``stalecount`` a results page
  with rows (and a next link as needed), ``canonical``, ``links`` and ``deepnest`` a 200 document page);
  otherwise the next entry is tried.

``/_replica/...`` is never faulted nor counted.

Log
---

Every injected fault (archive faults at start-up, one per document) is written as a JSON
line to ``--fault-log FILE`` (truncated at start-up, flushed after each line): ``time`` (UTC
ISO 8601, ms), ``fault`` (name), ``path`` (the key, or ``/document/<slug>`` for archive
faults), ``attempt`` (null for archive faults), ``entry`` (its text in the spec), ``params``
(with defaults filled in) and ``detail``: what went on the wire or changed (``status``;
``retry_after`` (the header sent); ``seconds``; ``length`` and ``sent`` (bytes); ``ray``;
``offset`` (of the bad bytes); ``host``, ``row``, ``next`` (hrefs); ``page``; ``slugs``
revealed and ``documents`` now listed; ``date_raw`` or ``title`` shown; ``total`` and
``shown`` counts; ``canonical``; ``depth``; for ``lie304``: ``page_status`` (what the site would have answered),
``if_none_match`` and ``if_modified_since`` (the request's, or null), ``etag`` and
``last_modified`` (sent, or null); the switches' details above). ``dupaddr``, ``endless``,
``ignoreperpage`` and ``robots`` are logged with the request's path and attempt when they
change a response. Each request fault
and shift is also logged at INFO on stderr (one line; archive faults: one line per entry),
and ``GET /_replica/faults`` answers JSON ``{"counts": {fault: n}, "total": n, "requests": n}``
(``requests``: GETs counted so far).

Validators (not a fault)
------------------------

Document pages (``/document/<slug>``, ``/node/<nid>``) carry ``ETag`` (their length and CRC-32:
any change of the page changes it) and ``Last-Modified`` (noon UTC of the document's upload
date, or of its ``--changes`` edit, or of the churn night of its last edit: see
:mod:`replica.churn`). A GET whose ``If-None-Match`` names
the ETag (weak comparison, ``*`` too) or, without ``If-None-Match``, whose ``If-Modified-Since``
is not before ``Last-Modified``, is answered ``304 Not Modified`` with both headers and no
body (faults that change a page then have no page to change). ``--no-validators`` sends neither
header and answers every conditional GET in full.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode

from replica.churn import DEFAULT_CHURN, Churn, build_night
from replica.dataset import (
    Archive,
    Changes,
    build_archive,
    format_date,
    spoil_dates,
    spoil_titles,
    spoil_titles_hostile,
)
from replica.model import ReplicaDoc

logger = logging.getLogger(__name__)

_LAYOUT_TARGETS = ("document", "search")
_SWITCHES = ("layout", "repeat", "aliases")
OFFSITE_HOST = "203.0.113.9"
"""Where ``offsite`` links point: TEST-NET-3 (RFC 5737), never served, never contacted."""


class FaultSpecError(ValueError):
    """The ``--faults`` text cannot be read; the message says which part and why."""


# --- parameter readers --------------------------------------------------------------------


def _number(text: str, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if value != value or value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{text!r} is not in {left}{lo:g}, {hi:g}{right}")
    return value


def _seconds(text: str) -> float:
    return _number(text, 0, 3600, lo_open=True)


def _fraction_open(text: str) -> float:
    return _number(text, 0, 1, lo_open=True, hi_open=True)


def _fraction_keep(text: str) -> float:
    return _number(text, 0, 1, hi_open=True)


def _mib(text: str) -> float:
    return _number(text, 0, 256, lo_open=True)


def _whole(lo: int) -> Callable[[str], int]:
    def read(text: str) -> int:
        if not text.isdigit() or int(text) < lo:
            raise ValueError(f"{text!r} is not a whole number of at least {lo}")
        return int(text)

    return read


def _choice(*allowed: str) -> Callable[[str], str]:
    def read(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return read


def _slug(text: str) -> str:
    if not text or not all(c.isalnum() or c == "-" for c in text):
        raise ValueError(f"{text!r} is not a document slug (letters, digits and '-')")
    return text


def _depth(text: str) -> int:
    value = _whole(1)(text)
    if value > 100_000:
        raise ValueError(f"{text!r} is more than 100000")
    return value


def _site_path(text: str) -> str:
    if not text.startswith("/") or any(c.isspace() for c in text):
        raise ValueError(f"{text!r} is not a path starting with '/' (no white space)")
    return text


def _retry_after(text: str) -> str:
    """``N``, ``date:N`` or ``none``; kept as text (it goes into the log as given)."""
    if text == "none":
        return text
    number = text.removeprefix("date:")
    if not number.isdigit():
        raise ValueError(f"{text!r} is not N, date:N (whole seconds) or none")
    return text


@dataclass(frozen=True)
class _Kind:
    """What a fault accepts: its parameters (reader, default), main parameter, where."""

    params: dict[str, tuple[Callable[[str], Any], Any]]
    main: str | None = None
    where: str = "request"
    """``request`` (a rate or a path), ``path`` (a path only), ``documents`` (a rate, or one
    document's ``/document/<slug>``) or ``switch`` (plan-wide, no ``@``)."""


_KINDS: dict[str, _Kind] = {
    "500": _Kind({}),
    "503": _Kind({"retry-after": (_retry_after, "none")}, "retry-after"),
    "429": _Kind({"retry-after": (_retry_after, "1")}, "retry-after"),
    "slow": _Kind({"seconds": (_seconds, 3.0)}, "seconds"),
    "drop": _Kind({"keep": (_fraction_keep, 0.5)}, "keep"),
    "truncate": _Kind({"keep": (_fraction_open, 0.5)}, "keep"),
    "empty": _Kind({}),
    "challenge": _Kind({"status": (_choice("403", "200"), "403")}, "status"),
    "oversize": _Kind({"mib": (_mib, 6.0)}, "mib"),
    "badutf8": _Kind({}),
    "offsite": _Kind({"link": (_choice("row", "next", "both"), "row")}, "link"),
    "loop": _Kind({"to": (_whole(0), 0)}, "to"),
    "stalecount": _Kind({"mode": (_choice("stale", "alternate"), "stale")}, "mode"),
    "canonical": _Kind({"to": (_choice("offsite", "javascript", "search"), "offsite")}, "to"),
    "deepnest": _Kind({"depth": (_depth, 3000)}, "depth"),
    "links": _Kind({}),
    "lie304": _Kind({"validators": (_choice("echo", "current", "none"), "echo")}, "validators"),
    "moved": _Kind({"to": (_slug, "")}, "to"),
    "shift": _Kind({"count": (_whole(1), 10)}, "count", where="path"),
    "baddates": _Kind({}, where="documents"),
    "badtitles": _Kind({}, where="documents"),
    "titles": _Kind(
        {"kind": (_choice("doubleescaped", "script", "invisible"), "doubleescaped")},
        "kind",
        where="documents",
    ),
    "dupaddr": _Kind({"every": (_whole(1), 7)}, "every", where="switch"),
    "endless": _Kind({}, where="switch"),
    "ignoreperpage": _Kind({}, where="switch"),
    "robots": _Kind({"disallow": (_site_path, "/search")}, "disallow", where="switch"),
}
_KNOWN = ", ".join([*_SWITCHES, *_KINDS])
CANONICAL_TARGETS = {
    "offsite": "http://evil.example/document/pwned",
    "javascript": "javascript:alert(document.domain)",
    "search": "/search",
}
"""Where ``canonical:to=...`` points a document page's ``<link rel="canonical">``."""
HOSTILE_LINKS = {
    "related": (
        "javascript:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        "http://evil.example/document/pwned",
        "/node/1",
        "/document/1",
        "/search?search_api_fulltext=x",
    ),
    "scans": (
        "data:application/pdf;base64,JVBERi0xLjQK",
        "javascript:alert(1)//x.pdf",
        "http://evil.example/x.pdf",
    ),
    "download": ("http://evil.example/document/1/download",),
}
"""What ``links`` adds to a document page, by where it goes (none of it may become data)."""
_RELATED_HEADING = '<h3 class="title">Related Documents</h3>'


def with_hostile_links(page: str) -> str | None:
    """The document page with :data:`HOSTILE_LINKS` added (``None`` when it is no document
    page: no ``#documentTabs``)."""
    tabs = page.find('id="documentTabs"')
    if tabs < 0 or "</main>" not in page:
        return None
    rows = "".join(
        f'<tr><td class="date"><p>1956</p></td><td class="document"><a href="{escape(h)}">'
        f'<h3 class="sub-title"><span>Not a document</span></h3></a></td></tr>'
        for h in HOSTILE_LINKS["related"]
    )
    download = "".join(f'<a href="{escape(h)}">Download</a>' for h in HOSTILE_LINKS["download"])
    page = page.replace('<div class="document-options">', '<div class="document-options">' + download, 1)
    tabs = page.find('id="documentTabs"')
    at = page.rfind("<div", 0, tabs)
    scans = "".join(
        f'<object class="pdf-preview" data="{escape(h)}"></object>' for h in HOSTILE_LINKS["scans"]
    )
    page = page[:at] + scans + page[at:]
    heading = page.find(_RELATED_HEADING)
    body = page.find("<tbody>", heading) if heading >= 0 else -1
    if body >= 0:
        at = body + len("<tbody>")
        return page[:at] + rows + page[at:]
    block = f'<div class="row"><div class="col-12">{_RELATED_HEADING}<table><tbody>{rows}</tbody></table></div></div>'
    return page.replace("</main>", block + "</main>", 1)


def endless_doc(index: int) -> ReplicaDoc:
    """The invented result at 0-based ``index`` of an ``endless`` listing (past the real
    results): its address ``/document/endless-result-<index + 1>`` answers 404, and it is in
    no truth file.

    >>> doc = endless_doc(60)
    >>> doc.slug, doc.nid, doc.title, doc.date_raw
    ('endless-result-61', 9000061, 'Generated Result 61 of an Endless Listing', 'February 6, 1971')
    """
    n = index + 1
    return ReplicaDoc(
        nid=9_000_000 + n,
        record_id=9_000_000 + n,
        slug=f"endless-result-{n}",
        title=f"Generated Result {n} of an Endless Listing",
        date_raw=format_date(1950 + n % 40, n % 12 + 1, n % 28 + 1),
        summary=[f"A result the pager keeps inventing (number {n})."],
        created=0,
        uploaded_date="",
    )


_RATE = re.compile(r"^(?P<rate>\d*\.?\d+)(?P<prefix>/.*)?$")
_DOCUMENT_PATH = re.compile(r"^/document/[a-z0-9-]+$")
_ATTEMPTS = re.compile(r"^(?P<first>\d+)(?:(?P<dash>-)(?P<last>\d+)?)?$")


def request_key(path: str, query: str) -> str:
    """The key the server counts attempts by: the path and its query, decoded and sorted.

    >>> request_key("/search", "search_api_fulltext=Korean%20Workers%27%20Party&page=1")
    '/search?page=1&search_api_fulltext=Korean+Workers%27+Party'
    >>> request_key("/search", "")
    '/search'
    """
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def is_page_path(path: str) -> bool:
    """Whether a rate entry without PREFIX covers ``path``: results and document pages."""
    if path == "/search":
        return True
    if path.startswith("/document/"):
        return not path.endswith("/download")
    return path.startswith("/node/") and path[6:].isdigit()


@dataclass(frozen=True)
class FaultEntry:
    """One fault entry of the spec: what, with which parameters, where and on which attempts."""

    text: str
    """The entry as written in the spec (part of the hash, and of every log line)."""
    index: int
    """Position of the entry in the spec (0-based; part of the hash)."""
    name: str
    params: dict[str, Any]
    """Parameters with their defaults filled in."""
    rate: float | None = None
    prefix: str | None = None
    """With a rate: the path prefix it covers (None: results and document pages)."""
    path: str | None = None
    """Without a rate: the request key it applies to (see :func:`request_key`)."""
    first: int = 1
    last: int | None = None
    """Attempts ``first`` to ``last`` (inclusive; None: no end)."""

    def roll(self, seed: int, key: str, attempt: int) -> float:
        """The request's deterministic draw in [0, 1)."""
        text = f"{seed}|{self.index}|{self.text}|{key}|{attempt}"
        return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2**64

    def fires(self, seed: int, key: str, path: str, attempt: int) -> bool:
        """Whether the entry applies to this request (its WHERE and attempts, and its roll)."""
        if attempt < self.first or (self.last is not None and attempt > self.last):
            return False
        if self.path is not None:
            return key == self.path
        assert self.rate is not None
        covered = path.startswith(self.prefix) if self.prefix is not None else is_page_path(path)
        return covered and self.roll(seed, key, attempt) < self.rate


@dataclass
class FaultPlan:
    layout: set[str] = field(default_factory=set)
    """Page kinds whose layout is changed: ``document`` and/or ``search``."""
    repeat: bool = False
    """Repeat the previous page's last row at the top of each results page."""
    aliases: bool = False
    """Link result rows by legacy and node addresses instead of the canonical slug."""
    requests: list[FaultEntry] = field(default_factory=list)
    """Request faults, in spec order."""
    shifts: list[FaultEntry] = field(default_factory=list)
    """Staged uploads (``shift``), in spec order."""
    documents: list[FaultEntry] = field(default_factory=list)
    """Archive faults over documents (``baddates``, ``badtitles``, ``titles``)."""
    switches: list[FaultEntry] = field(default_factory=list)
    """Plan-wide switches with parameters (``dupaddr``, ``endless``, ``ignoreperpage``,
    ``robots``), in spec order: logged when they change a response."""

    def switch(self, name: str) -> FaultEntry | None:
        """The (first) switch entry called ``name``, or None when it is off."""
        return next((e for e in self.switches if e.name == name), None)

    @property
    def shift_total(self) -> int:
        """How many documents the shifts add, all together."""
        return sum(int(e.params["count"]) for e in self.shifts)

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Read a ``--faults`` SPEC (see the module docstring); raise :class:`FaultSpecError`.

        >>> plan = FaultPlan.parse("repeat, 503@/search?page=3#1-2, 500@0.05")
        >>> plan.repeat, [(e.name, e.path, e.first, e.last, e.rate) for e in plan.requests]
        (True, [('503', '/search?page=3', 1, 2, None), ('500', None, 1, None, 0.05)])
        >>> FaultPlan.parse("503@/search#0")
        Traceback (most recent call last):
        ...
        replica.faults.FaultSpecError: fault entry '503@/search#0': attempts '0' must be N, N-M or N- with 1 <= N <= M
        """
        plan = cls()
        for index, part in enumerate(p.strip() for p in spec.split(",")):
            if not part:
                continue
            head, at, where = part.partition("@")
            name, colon, params = head.partition(":")
            if name in _SWITCHES:
                if at:
                    raise FaultSpecError(
                        f"fault entry {part!r}: {name!r} is a plan-wide switch and takes no '@'"
                    )
                plan._switch(part, name, params)
                continue
            kind = _KINDS.get(name)
            if kind is None:
                raise FaultSpecError(f"fault entry {part!r}: unknown fault {name!r}; known: {_KNOWN}")
            if colon and not params.strip(";"):
                raise FaultSpecError(
                    f"fault entry {part!r}: nothing after ':' (leave out the ':' for the defaults)"
                )
            if kind.where == "switch":
                if at:
                    raise FaultSpecError(
                        f"fault entry {part!r}: {name!r} is a plan-wide switch and takes no '@'"
                    )
                if name != "robots" and plan.switch(name) is not None:
                    raise FaultSpecError(f"fault entry {part!r}: {name!r} is already on")
                plan.switches.append(
                    FaultEntry(text=part, index=index, name=name, params=_params(part, name, kind, params))
                )
                continue
            if not at:
                raise FaultSpecError(
                    f"fault entry {part!r}: say where it applies, after '@': a rate ({name}@0.05) "
                    f"or a path and attempts ({name}@/search?page=3#1-2)"
                )
            entry = _entry(part, index, name, kind, params, where)
            {"request": plan.requests, "path": plan.shifts, "documents": plan.documents}[kind.where].append(
                entry
            )
        return plan

    def _switch(self, part: str, name: str, target: str) -> None:
        if name == "layout":
            target = target or "document"
            if target not in _LAYOUT_TARGETS:
                raise FaultSpecError(
                    f"fault entry {part!r}: layout target must be one of {', '.join(_LAYOUT_TARGETS)}"
                )
            self.layout.add(target)
        elif target:
            raise FaultSpecError(f"fault entry {part!r}: {name!r} takes no parameters")
        elif name == "repeat":
            self.repeat = True
        else:
            self.aliases = True

    def firing(self, seed: int, key: str, path: str, attempt: int) -> Iterator[FaultEntry]:
        """The request faults that fire for this request, in spec order."""
        for entry in self.requests:
            if entry.fires(seed, key, path, attempt):
                yield entry


def _params(part: str, name: str, kind: _Kind, text: str) -> dict[str, Any]:
    """Read one fault entry's parameters, with the defaults of those not given."""
    params: dict[str, Any] = {key: default for key, (_, default) in kind.params.items()}
    for raw in filter(None, text.split(";")) if text else ():
        key, eq, value = raw.partition("=")
        if not eq:
            if kind.main is None:
                raise FaultSpecError(f"fault entry {part!r}: {name!r} takes no parameters")
            key, value = kind.main, raw
        if key not in kind.params:
            known = ", ".join(kind.params) or "none"
            raise FaultSpecError(f"fault entry {part!r}: {name!r} has no parameter {key!r} (known: {known})")
        try:
            params[key] = kind.params[key][0](value)
        except ValueError as exc:
            raise FaultSpecError(f"fault entry {part!r}: {key}: {exc}") from None
    return params


def _entry(part: str, index: int, name: str, kind: _Kind, text: str, where: str) -> FaultEntry:
    """Read one fault entry's parameters and WHERE (the name is already known)."""
    params = _params(part, name, kind, text)
    location, hash_, attempts = where.rpartition("#") if "#" in where else (where, "", "")
    first, last = 1, None
    if hash_:
        match = _ATTEMPTS.match(attempts)
        first = int(match["first"]) if match else 0
        if match and match["dash"]:
            last = int(match["last"]) if match["last"] else None
        else:
            last = first
        if not match or first < 1 or (last is not None and last < first):
            raise FaultSpecError(
                f"fault entry {part!r}: attempts {attempts!r} must be N, N-M or N- with 1 <= N <= M"
            )
    entry = FaultEntry(text=part, index=index, name=name, params=params, first=first, last=last)
    if location.startswith("/"):
        if kind.where == "documents" and (
            hash_ or not _DOCUMENT_PATH.match(location) or location[len("/document/") :].isdigit()
        ):
            raise FaultSpecError(
                f"fault entry {part!r}: {name!r} applies to documents at a rate ({name}@0.02) "
                f"or to one document by its canonical path ({name}@/document/<slug>), without '#'"
            )
        path, _, query = location.partition("?")
        return replace(entry, path=request_key(path, query))
    rate = _RATE.match(location)
    if rate is None:
        raise FaultSpecError(
            f"fault entry {part!r}: {location!r} is neither a rate (0.05, 0.05/document/) nor a path (/search?page=3)"
        )
    if kind.where == "path":
        raise FaultSpecError(
            f"fault entry {part!r}: {name!r} needs a path ({name}:5@/search?page=2), not a rate"
        )
    if kind.where == "documents" and (rate["prefix"] or hash_):
        raise FaultSpecError(f"fault entry {part!r}: {name!r} takes a bare rate over documents ({name}@0.02)")
    try:
        value = _number(rate["rate"], 0, 1)
    except ValueError as exc:
        raise FaultSpecError(f"fault entry {part!r}: rate {exc}") from None
    return replace(entry, rate=value, prefix=rate["prefix"])


# --- the log --------------------------------------------------------------------------------


class FaultLog:
    """Every injected fault: a JSON line in ``path`` (if given), an INFO line, a count.

    Thread-safe; the file is truncated when opened and flushed after every line.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._handle: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("w", encoding="utf-8")

    def record(
        self,
        entry: FaultEntry,
        path: str,
        attempt: int | None,
        detail: dict[str, Any] | None = None,
        *,
        quiet: bool = False,
    ) -> None:
        """Count and write one injected fault; ``quiet`` skips the INFO line."""
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "fault": entry.name,
            "path": path,
            "attempt": attempt,
            "entry": entry.text,
            "params": entry.params,
            "detail": detail or {},
        }
        text = json.dumps(line, ensure_ascii=False)
        with self._lock:
            self._counts[entry.name] += 1
            if self._handle is not None:
                self._handle.write(text + "\n")
                self._handle.flush()
        if not quiet:
            logger.info("fault %s on %s (attempt %s, entry %r)", entry.name, path, attempt, entry.text)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


# --- the archive with its archive faults ---------------------------------------------------


def build_faulty_archive(
    plan: FaultPlan,
    size: int,
    seed: int,
    changes: Changes | None = None,
    log: FaultLog | None = None,
    *,
    night: int = 0,
    churn: Churn | None = None,
) -> Archive:
    """The archive the plan serves: ``size`` documents (as they stand on ``night`` of
    ``churn``, see :mod:`replica.churn`), plus every shift's documents (newest), with
    ``baddates``/``badtitles``/``titles`` applied (logged in ``log``, one line per document).

    Without shifts and archive faults it is exactly :func:`build_archive`'s (or
    :func:`build_night`'s). Raises ``ValueError`` for an entry whose ``/document/<slug>`` is
    not in the archive, or for ``changes`` with a night after 0 (two ways to change it).
    """
    changes = changes or Changes()
    if night:
        if changes != Changes():
            raise ValueError("--changes and --night are two ways of changing the archive: give one")
        archive = build_night(size, seed, night, churn or Churn.parse(DEFAULT_CHURN), plan.shift_total)
    else:
        if plan.shift_total:
            changes = replace(changes, added=changes.added + plan.shift_total)
        archive = build_archive(size, seed, changes)
    for entry in plan.documents:
        # Each entry draws with its own salt, so two entries of one kind choose independently.
        salt = f"{entry.index}|{entry.text}"
        only = entry.path.removeprefix("/document/") if entry.path else None
        rate = entry.rate or 0.0
        try:
            if entry.name == "baddates":
                spoiled, field_name = spoil_dates(archive, rate, seed, salt, only), "date_raw"
            elif entry.name == "badtitles":
                spoiled, field_name = spoil_titles(archive, rate, seed, salt, only), "title"
            else:
                kind = str(entry.params["kind"])
                spoiled, field_name = spoil_titles_hostile(archive, kind, rate, seed, salt, only), "title"
        except ValueError as exc:
            raise ValueError(f"--faults entry {entry.text!r}: {exc}") from None
        for doc in spoiled:
            if log is not None:
                log.record(
                    entry, f"/document/{doc.slug}", None, {field_name: getattr(doc, field_name)}, quiet=True
                )
        logger.info("fault %s on %d documents (entry %r)", entry.name, len(spoiled), entry.text)
    return archive
