"""Write what the downloader returned as WARC 1.1 records, gzip per record (ISA-L).

Each response is written as a ``response`` record followed by the ``request`` record that
asked for it (``WARC-Concurrent-To`` the response), as warcio's own
``write_request_response_pair`` orders them: at once (:meth:`WarcStorage.store`), or held and
written with up to 15 others (:meth:`WarcStorage.store_later`, a single run's capture). The storage remembers where each response record
lies in the file (offset and length of its gzip member) so the CDXJ index is written without
reading the WARC again.

A ``304 Not Modified`` that a scheduled job trusted is written as a ``revisit`` record of the
WARC 1.1 profile *server-not-modified* instead (:meth:`WarcStorage.store_revisit`), pointing at
the capture it confirms (``WARC-Refers-To``, its target URI and date), with that capture's
payload digest (the payload of such a revisit is the one the validators came from, WARC 1.1
section 6.7.3), followed by the conditional request that the 304 answered. Its block is empty
(the profile allows it): pywb replays a revisit whose block holds the 304's status line as
that 304, with no body, even as a URL's latest capture; an empty one it resolves to the page
it confirms.

The response and request records are serialised here, not by warcio's record builder (which
reads the payload twice through streams and copies it into a buffer, ~0.2 ms a page): the
same WARC 1.1 headers in warcio's order, the same digests (sha1, base 32), the HTTP head
percent-encoded as warcio does; warcio reads them back and checks their digests.

A response record has its ``WARC-Payload-Digest`` (the index's ``digest``, which pywb and
revisits match on) but no ``WARC-Block-Digest`` (optional in WARC 1.1): a second SHA-1 pass
over the page, a quarter of the capture's CPU (issue 17), for a check the archive already
makes. Each record is its own gzip member, whose CRC-32 a reader checks as it inflates it,
and the WACZ holds the whole WARC's sha256, which the replay and ``wacz validate`` check.
Request records, a few hundred bytes, keep theirs.
"""

from __future__ import annotations

import base64
import hashlib
import http
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from isal import isal_zlib
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from harvester.webarchive.ondisk import CaptureLog

#: gzip level of each record, in ISA-L's 0-3 (python-isal: Intel's deflate, standard gzip
#: members any reader inflates). On replica document pages (76 KB, 100 pages, in process): zlib
#: level 6 0.94 ms a page for 14.3 KiB, zlib 1 0.40 ms for 17.1 KiB, ISA-L 2 0.084 ms for
#: 16.4 KiB (ISA-L 3: 0.17 ms, 15.9 KiB). Capture was a third of a details crawl's CPU at
#: zlib level 6 (issue 17: at most 15%). ISA-L 1 rather than 2: 1,024 pages each parsed and
#: captured (32 at a time), 0.336 against 0.360 ms of capture a page, for 17.50 against 17.43
#: KiB a record (ISA-L 0: 0.384 ms, 18.94 KiB: more bytes to write).
COMPRESS_LEVEL = 1


def _gzip(data: bytes) -> bytes:
    """``data`` as one gzip member."""
    return isal_zlib.compress(data, COMPRESS_LEVEL, 31)  # wbits 31: a gzip header and trailer


#: ``WARC-Profile`` of a revisit that a server's 304 asserts (WARC 1.1, 6.7.3).
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
#: The index's ``mime`` of a revisit record (as cdxj-indexer writes it).
REVISIT_MIME = "warc/revisit"

#: A WARC stores the message as received, less the transfer coding: Scrapy has already
#: de-chunked the body, so the header would make a replay tool read it wrong.
DROPPED_HEADERS = frozenset({b"transfer-encoding"})


@dataclass(frozen=True)
class Capture:
    """One response record of the WARC: where it is and what the index says of it."""

    record_id: str
    """``WARC-Record-ID``, e.g. ``<urn:uuid:...>``."""
    date: str
    """``WARC-Date``, UTC ISO 8601 with microseconds (WARC 1.1)."""
    url: str
    status: int
    mime: str
    digest: str
    offset: int
    length: int


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Scrapy ``Headers`` (a dict of bytes to lists of bytes) as ``(name, value)`` text pairs."""
    pairs: list[tuple[str, str]] = []
    # dict's own items(): Scrapy's Headers.items() normalises every key and list again.
    for name, values in dict.items(headers) if isinstance(headers, dict) else headers.items():
        if name.lower() in DROPPED_HEADERS:
            continue
        text = name.decode("latin-1")
        pairs.extend((text, value.decode("latin-1")) for value in values)
    return pairs


def _sha1(*parts: bytes) -> str:
    """A WARC digest (``sha1:`` and base 32, as warcio writes it)."""
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part)
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


_EMPTY_SHA1 = _sha1(b"")

#: The variant digit of a version 4 UUID (``10xx``) for each random hex digit.
_VARIANT = {f"{n:x}": f"{8 | (n & 3):x}" for n in range(16)}


def record_ids() -> Iterator[str]:
    """``WARC-Record-ID`` values: random (version 4) UUIDs as URNs, as warcio makes them with
    ``uuid.uuid4()``, from one ``os.urandom`` call per 256 of them instead of one each.

    >>> import uuid
    >>> ids = record_ids()
    >>> first = next(ids)
    >>> uuid.UUID(first[10:-1]).version, first.startswith("<urn:uuid:"), first != next(ids)
    (4, True, True)
    """
    while True:
        pool = os.urandom(16 * 256).hex()
        for start in range(0, len(pool), 32):
            h = pool[start : start + 32]
            yield f"<urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}>"


def _http_head(first_line: str, pairs: list[tuple[str, str]]) -> bytes:
    """An HTTP message's head as warcio writes it: ASCII, anything else percent-encoded (RFC 8187)."""
    text = first_line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in pairs) + "\r\n"
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        protocol, _, rest = first_line.partition(" ")
        encoded: bytes = StatusAndHeaders(rest, pairs, protocol=protocol).to_ascii_bytes()
        return encoded


def _head_of(first_line: str, headers: Any, host: str | None = None) -> bytes:
    r""":func:`_http_head` of Scrapy ``Headers``, joined as bytes when they are all ASCII (every
    page of the replica and of the site: no decoding and encoding again); ``host``: a ``Host``
    header first, unless the headers have one.

    >>> from scrapy.http import Headers
    >>> _head_of("GET / HTTP/1.1", Headers({"Accept": "*/*", "Transfer-Encoding": "chunked"}), "h:1")
    b'GET / HTTP/1.1\r\nHost: h:1\r\nAccept: */*\r\n\r\n'
    >>> _head_of("HTTP/1.1 200 OK", Headers({"X-Name": "caf\u00e9".encode()}))  # as warcio: each byte a character
    b'HTTP/1.1 200 OK\r\nX-Name: caf%C3%83%C2%A9\r\n\r\n'
    """
    # dict's own items(): Scrapy's Headers.items() normalises every key and list again.
    items = list(dict.items(headers) if isinstance(headers, dict) else headers.items())
    lines = [first_line.encode("utf-8"), b"\r\n"]
    if host is not None and not any(name.lower() == b"host" for name, _ in items):
        lines += (b"Host: ", host.encode("utf-8"), b"\r\n")
    for name, values in items:
        if name.lower() in DROPPED_HEADERS:
            continue
        for value in values:
            lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    head = b"".join(lines)
    if head.isascii():
        return head
    pairs = _header_pairs(headers)
    if host is not None and not any(name.lower() == "host" for name, _ in pairs):
        pairs.insert(0, ("Host", host))
    return _http_head(first_line, pairs)


def _warc_head(
    kind: str, record_id: str, url: str, date: str, more: str, block_digest: str | None, content_type: str,
    length: int,
) -> bytes:  # fmt: skip
    """A WARC 1.1 record's header, in warcio's order, for a block of ``length`` bytes (``more``:
    header lines after ``WARC-Date``; ``block_digest`` None: no ``WARC-Block-Digest``)."""
    block = f"WARC-Block-Digest: {block_digest}\r\n" if block_digest else ""
    return (
        f"WARC/1.1\r\nWARC-Type: {kind}\r\nWARC-Record-ID: {record_id}\r\nWARC-Target-URI: {url}\r\n"
        f"WARC-Date: {date}\r\n{more}{block}Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def status_line(status: int) -> str:
    """``200 OK``; a status Python does not know keeps an empty reason.

    >>> status_line(304), status_line(599)
    ('304 Not Modified', '599 ')
    """
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    return f"{status} {reason}"


#: Records :meth:`WarcStorage.store_later` holds before it writes them, and the bodies' bytes
#: that make it write them sooner. Hashing and gzipping a page after each response evicted
#: what the crawl's own code had in the CPU's caches, and that code ran slower: in process,
#: parsing 1,024 document pages each followed by its capture took 0.21 ms a page more than
#: the two apart; written 32 at a time, 0.063 ms; 128 at a time, 0.036 ms (issue 17). The
#: bodies held (16 compressed pages, ~260 KB; 13 uncompressed ones, 1 MiB at most) are memory
#: the crawl keeps a little longer: with uncompressed pages, 64 took the whole-replica details
#: crawl's peak RSS to ~121 MB, 32 to 116-121 MB. 16 at a
#: time cost no CPU that the crawl-to-crawl spread shows (1.140x and 1.236x against 1.170x
#: and 1.242x with 32, the same rounds; BENCHMARKS.md).
HELD_RECORDS = 16
HELD_BYTES = 1 << 20


@dataclass(frozen=True)
class _Pair:
    """A response and its request, their HTTP heads made, not written yet."""

    record_id: str
    request_id: str
    date: str
    url: str
    status: int
    mime: str
    body: bytes
    response_head: bytes
    request_head: bytes


class Sink(Protocol):
    """Where a :class:`WarcStorage` writes: a binary file, or a WACZ being written around its WARC
    (``tell()``: the offset in the WARC)."""

    @property
    def closed(self) -> bool: ...
    def write(self, data: bytes, /) -> int: ...
    def tell(self) -> int: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class WarcStorage:
    """A WARC file written as the run goes; :meth:`store` returns the response's :class:`Capture`."""

    def __init__(
        self, path: Path, software: str, filename: str = "data.warc.gz", *, file: Sink | None = None
    ) -> None:
        self.path = path
        """The file written; ``file``, when given, writes to it (a :class:`~.wacz.WaczWriter`)."""
        self.file: Sink = file if file is not None else path.open("wb")
        # warcio writes each record plain into a buffer, and we gzip it as one member with
        # ISA-L (COMPRESS_LEVEL): warcio's own gzip is zlib level 9, 4x zlib 6's CPU.
        self._buffer = BytesIO()
        self.writer = WARCWriter(self._buffer, gzip=False, warc_version="1.1")
        # On disk: a list of them was ~650 bytes a response for the whole run (issue 17).
        self.captures = CaptureLog()
        self._ids = record_ids()
        self._held: list[_Pair] = []
        self._held_bytes = 0
        info = self.writer.create_warcinfo_record(
            filename, {"software": software, "format": "WARC File Format 1.1"}
        )
        self._write(info)

    def store(
        self,
        *,
        url: str,
        method: str,
        request_headers: Any,
        status: int,
        response_headers: Any,
        body: bytes,
        protocol: str | None = None,
    ) -> Capture:
        """Write a response and its request now (after any record :meth:`store_later` holds)."""
        self.write_held()
        return self._write_pair(
            self._prepare(url, method, request_headers, status, response_headers, body, protocol)
        )

    def store_later(
        self,
        *,
        url: str,
        method: str,
        request_headers: Any,
        status: int,
        response_headers: Any,
        body: bytes,
        protocol: str | None = None,
    ) -> tuple[str, str]:
        """The same records as :meth:`store`, their heads made now, written with the next
        :data:`HELD_RECORDS` (or :data:`HELD_BYTES` of bodies), by :meth:`write_held`, or by the
        next :meth:`store`; their ``(record id, WARC-Date)``."""
        pair = self._prepare(url, method, request_headers, status, response_headers, body, protocol)
        self._held.append(pair)
        self._held_bytes += len(body)
        if len(self._held) >= HELD_RECORDS or self._held_bytes >= HELD_BYTES:
            self.write_held()
        return pair.record_id, pair.date

    def write_held(self) -> None:
        """Write the records :meth:`store_later` holds (an error loses those not written yet)."""
        held, self._held, self._held_bytes = self._held, [], 0
        for pair in held:
            self._write_pair(pair)

    def _prepare(
        self, url: str, method: str, request_headers: Any, status: int, response_headers: Any, body: bytes,
        protocol: str | None,
    ) -> _Pair:  # fmt: skip
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        mime = (response_headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip()
        return _Pair(
            record_id=next(self._ids), request_id=next(self._ids),
            date=datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z",  # warcio's, with microseconds
            url=url, status=status, mime=mime or "unk", body=body,
            response_head=_head_of(f"{protocol or 'HTTP/1.1'} {status_line(status)}", response_headers),
            request_head=_head_of(f"{method} {target} HTTP/1.1", request_headers, host=parts.netloc),
        )  # fmt: skip

    def _write_pair(self, pair: _Pair) -> Capture:
        record_id, date, url, head, body = pair.record_id, pair.date, pair.url, pair.response_head, pair.body
        digest = _sha1(body)
        offset = self.file.tell()
        self._write_bytes(
            _warc_head("response", record_id, url, date, f"WARC-Payload-Digest: {digest}\r\n",
                       None, "application/http; msgtype=response", len(head) + len(body)),
            head, body,
        )  # fmt: skip
        length = self.file.tell() - offset
        head = pair.request_head
        self._write_bytes(
            _warc_head("request", pair.request_id, url, date,
                       f"WARC-Concurrent-To: {record_id}\r\nWARC-Payload-Digest: {_EMPTY_SHA1}\r\n",
                       _sha1(head), "application/http; msgtype=request", len(head)),
            head,
        )  # fmt: skip
        capture = Capture(record_id, date, url, pair.status, pair.mime, digest, offset, length)
        self.captures.append(capture)
        return capture

    def store_revisit(
        self,
        *,
        url: str,
        method: str,
        request_headers: Any,
        date: str,
        refers_to: str,
        refers_to_url: str,
        refers_to_date: str,
        digest: str | None,
    ) -> Capture:
        """A trusted 304 received at ``date``: a ``revisit`` record (server-not-modified) of
        the capture ``refers_to`` (its target URI, date and payload ``digest``, when known)."""
        headers = {
            "WARC-Date": date, "WARC-Profile": SERVER_NOT_MODIFIED, "WARC-Refers-To": refers_to,
            "WARC-Refers-To-Target-URI": refers_to_url, "WARC-Refers-To-Date": refers_to_date,
        }  # fmt: skip
        if digest:
            headers["WARC-Payload-Digest"] = digest
        self.write_held()
        revisit = self.writer.create_warc_record(url, "revisit", warc_headers_dict=headers)
        if not digest:  # not the digest of an empty payload: unknown
            revisit.rec_headers.remove_header("WARC-Payload-Digest")
        offset = self.file.tell()
        self._write(revisit)
        length = self.file.tell() - offset
        record_id = revisit.rec_headers.get_header("WARC-Record-ID")
        self._write_request(url, method, request_headers, date, record_id)
        capture = Capture(
            record_id=record_id, date=date, url=url, status=304, mime=REVISIT_MIME, digest=digest or "",
            offset=offset, length=length,
        )  # fmt: skip
        self.captures.append(capture)
        return capture

    def append_records(self, data: bytes, captures: list[Capture]) -> None:
        """Whole records written by another storage (a killed run's), copied as they are;
        ``captures`` are their response records, at offsets in ``data``."""
        self.write_held()
        base = self.file.tell()
        self.file.write(data)
        self.captures.extend(replace(c, offset=c.offset + base) for c in captures)

    def _write_request(
        self, url: str, method: str, request_headers: Any, date: str, concurrent_to: str
    ) -> None:
        """The request record of a revisit (as :meth:`store` writes a response's)."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pairs = _header_pairs(request_headers)
        if not any(name.lower() == "host" for name, _ in pairs):
            pairs.insert(0, ("Host", parts.netloc))
        request = self.writer.create_warc_record(
            url, "request",
            http_headers=StatusAndHeaders(f"{method} {target} HTTP/1.1", pairs, is_http_request=True),
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": concurrent_to},
        )  # fmt: skip
        self._write(request)

    def _write_bytes(self, *parts: bytes) -> None:
        """One record written by :func:`_warc_head` and its block, as one gzip member."""
        self.file.write(_gzip(b"".join((*parts, b"\r\n\r\n"))))

    def _write(self, record: Any) -> None:
        """One record, as one gzip member (so that a reader can seek to it)."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self.writer.write_record(record)
        self.file.write(_gzip(self._buffer.getvalue()))

    def close(self) -> None:
        if not self.file.closed:
            self.write_held()
            self.file.flush()
            self.file.close()
