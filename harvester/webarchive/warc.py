"""Write what the downloader returned as WARC 1.1 records, gzip per record (warcio).

Each response is written as a ``response`` record followed by the ``request`` record that
asked for it (``WARC-Concurrent-To`` the response), as warcio's own
``write_request_response_pair`` orders them. The storage remembers where each response record
lies in the file (offset and length of its gzip member) so the CDXJ index is written without
reading the WARC again.
"""

from __future__ import annotations

import gzip
import http
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from harvester.webarchive.ondisk import CaptureLog

#: gzip level of each record (zlib's default; 9 costs 4x the CPU for 2% fewer bytes).
COMPRESS_LEVEL = 6

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
    pairs = []
    for name, values in headers.items():
        if name.lower() in DROPPED_HEADERS:
            continue
        for value in values:
            pairs.append((name.decode("latin-1"), value.decode("latin-1")))
    return pairs


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


class WarcStorage:
    """A WARC file written as the run goes; :meth:`store` returns the response's :class:`Capture`."""

    def __init__(self, path: Path, software: str) -> None:
        self.path = path
        self.file: IO[bytes] = path.open("wb")
        # warcio writes each record plain into a buffer, and we gzip it as one member at level
        # 6: warcio's own gzip is level 9, 4x the CPU for 2% fewer bytes on real pages.
        self._buffer = BytesIO()
        self.writer = WARCWriter(self._buffer, gzip=False, warc_version="1.1")
        # On disk: a list of them was ~650 bytes a response for the whole run (issue 17).
        self.captures = CaptureLog()
        self.bytes_in = 0
        info = self.writer.create_warcinfo_record(
            "data.warc.gz", {"software": software, "format": "WARC File Format 1.1"}
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
        http_headers = StatusAndHeaders(
            status_line(status), _header_pairs(response_headers), protocol=protocol or "HTTP/1.1"
        )
        response = self.writer.create_warc_record(
            url, "response", payload=BytesIO(body), length=len(body), http_headers=http_headers
        )
        offset = self.file.tell()
        self._write(response)
        length = self.file.tell() - offset
        rec = response.rec_headers
        record_id, date = rec.get_header("WARC-Record-ID"), rec.get_header("WARC-Date")
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pairs = _header_pairs(request_headers)
        if not any(name.lower() == "host" for name, _ in pairs):
            pairs.insert(0, ("Host", parts.netloc))
        request = self.writer.create_warc_record(
            url, "request",
            http_headers=StatusAndHeaders(f"{method} {target} HTTP/1.1", pairs, is_http_request=True),
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id},
        )  # fmt: skip
        self._write(request)
        mime = (response_headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip()
        capture = Capture(
            record_id=record_id, date=date, url=url, status=status, mime=mime or "unk",
            digest=rec.get_header("WARC-Payload-Digest") or "", offset=offset, length=length,
        )  # fmt: skip
        self.captures.append(capture)
        self.bytes_in += len(body)
        return capture

    def _write(self, record: Any) -> None:
        """One record, as one gzip member (so that a reader can seek to it)."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self.writer.write_record(record)
        self.file.write(gzip.compress(self._buffer.getvalue(), compresslevel=COMPRESS_LEVEL, mtime=0))

    def close(self) -> None:
        if not self.file.closed:
            self.file.flush()
            self.file.close()
