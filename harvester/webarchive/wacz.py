"""Package WARCs as a WACZ 1.1.1 (https://specs.webrecorder.net/wacz/1.1.1/).

A ZIP holding:

- ``archive/*.warc.gz``: the WARCs, *stored* (not deflated), so a reader seeks straight to a
  record by the offset the index gives (ReplayWeb.page reads it by HTTP range requests). A
  single run's WACZ holds one, ``archive/data.warc.gz``; a scheduled job's holds one per
  night (:mod:`harvester.webarchive.jobarchive`);
- ``indexes/index.cdx``: CDXJ, one line per response or revisit record,
  ``<SURT> <14-digit timestamp> {json}``, sorted, the form pywb and ReplayWeb.page read, with
  the record's ``warc-record-id`` (as ``cdxj-indexer -f warc-record-id`` names it) so a
  record's ``capture_id`` is found from the index alone. Named ``.cdx``, not ``.cdxj``:
  pywb's ``wb-manager add --unpack-wacz`` takes only ``*.cdx``/``*.cdx.gz`` indexes, and
  ReplayWeb.page takes both (WACZ 1.1.1 asks only that an index hold CDXJ);
- ``pages/pages.jsonl``: the pages a reader opens first: each document page a record was
  read from, with its title (in a listing run, the results pages the records came from);
- ``datapackage.json``: every file's ``sha256`` digest and size, and
  ``datapackage-digest.json``: the digest of ``datapackage.json``.

Our own small writer, not py-wacz's ``create``: that one writes a compressed ZipNum index
(``index.cdx.gz`` + ``index.idx``), re-reads the whole WARC to build it, and brings
frictionless and boilerpy3 into the harvester; the tests check what this writer makes with
py-wacz's validator and read it back with warcio.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import weakref
import zipfile
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import IO, Any

from isal import isal_zlib
from surt import surt
from warcio.timeutils import iso_date_to_timestamp

from harvester.webarchive.ondisk import sorted_lines
from harvester.webarchive.warc import Capture

WACZ_VERSION = "1.1.1"
WARC_NAME = "archive/data.warc.gz"
INDEX_NAME = "indexes/index.cdx"
#: The index's name in WACZs written before it was ``index.cdx`` (still read).
LEGACY_INDEX_NAME = "indexes/index.cdxj"
#: The index field that holds a record's ``WARC-Record-ID``.
RECORD_ID = "warc-record-id"
PAGES_NAME = "pages/pages.jsonl"
PACKAGE_NAME = "datapackage.json"
DIGEST_NAME = "datapackage-digest.json"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
#: zlib level of the deflated members (index, pages, datapackage): the index of 2,000 pages
#: (0.9 MB) deflated in 4.5 ms at level 1, 9.2 ms at the default 6, for a few % more bytes.
DEFLATE_LEVEL = 1
#: A WARC-Date in full (fraction of a second or not): the timestamp is its digits.
_WARC_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,9})?Z\Z")


@dataclass(frozen=True)
class Page:
    """A page of ``pages/pages.jsonl``: a capture a reader can open by its title."""

    capture: Capture
    title: str | None

    def entry(self) -> dict[str, Any]:
        """Its line of ``pages/pages.jsonl``."""
        entry: dict[str, Any] = {"id": self.capture.record_id.strip("<>").removeprefix("urn:uuid:"),
                                 "url": self.capture.url, "ts": self.capture.date}  # fmt: skip
        if self.title:
            entry["title"] = self.title
        return entry


@dataclass(frozen=True)
class WarcPart:
    """One WARC of a WACZ: its name under ``archive/`` and where its bytes come from."""

    name: str
    open: Callable[[], AbstractContextManager[IO[bytes]]]
    size: int
    sha256: str | None = None
    """The digest it must have (``sha256:...``), checked as it is copied; None: not known."""
    origin: str = ""
    """The WACZ it is copied from, for the message when its digest differs."""


class DigestMismatch(OSError):
    """A WARC being copied does not match the digest its archive recorded for it."""


def timestamp(warc_date: str) -> str:
    """A WARC-Date as the 14-digit timestamp of CDXJ lines and replay URLs.

    >>> timestamp("2026-11-30T13:06:08.123456Z"), timestamp("2026-11-30T13:06:08Z"), timestamp("2026-11-30T13:06Z")
    ('20261130130608', '20261130130608', '20261130130600')
    """
    whole = _WARC_DATE.match(warc_date)  # ours, always: its digits, without parsing a datetime
    return "".join(whole.groups()) if whole else str(iso_date_to_timestamp(warc_date))


def cdxj_line(capture: Capture, filename: str = "data.warc.gz") -> str:
    """The index line of one response (or revisit) record, with the fields py-wacz's indexer
    writes and the record's id.

    >>> c = Capture("<urn:uuid:1>", "2026-11-30T13:06:08.5Z", "http://127.0.0.1:8000/search?page=1",
    ...             200, "text/html", "sha1:ABC", 120, 3400)
    >>> cdxj_line(c)
    '1,0,0,127:8000)/search?page=1 20261130130608 {"url": "http://127.0.0.1:8000/search?page=1", "mime": "text/html", "status": "200", "digest": "sha1:ABC", "length": "3400", "offset": "120", "filename": "data.warc.gz", "warc-record-id": "<urn:uuid:1>"}'
    """
    fields = {
        "url": capture.url, "mime": capture.mime, "status": str(capture.status), "digest": capture.digest,
        "length": str(capture.length), "offset": str(capture.offset), "filename": filename,
        RECORD_ID: capture.record_id,
    }  # fmt: skip
    return f"{surt(capture.url)} {timestamp(capture.date)} {json.dumps(fields)}"


def _zip_date() -> tuple[int, int, int, int, int, int]:
    now = datetime.now(UTC)
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


def write_wacz(
    out: IO[bytes],
    warc: Path,
    captures: Iterable[Capture],
    pages: Iterable[Page],
    *,
    title: str,
    software: str,
    main_page: Capture | None = None,
    warc_name: str = WARC_NAME.removeprefix("archive/"),
) -> None:
    """Write the WACZ of one WARC, ``warc`` (whose response records are ``captures``), to
    ``out``, as ``archive/<warc_name>``."""
    name = warc_name
    write_package(
        out, [WarcPart(name, lambda: warc.open("rb"), warc.stat().st_size)],
        sorted_lines(cdxj_line(c, name) for c in captures), (page.entry() for page in pages),
        title=title, software=software,
        main_page=(main_page.url, main_page.date) if main_page is not None else None,
    )  # fmt: skip


class WaczWriter:
    """A WACZ written around its one WARC, as the run goes: the WARC is the ZIP's first member
    (stored), written record by record (this is the file :class:`~.warc.WarcStorage` writes
    to; :meth:`tell` is the offset in the WARC), its sha256 taken as it is written;
    :meth:`finish` adds the index, the pages and the datapackage. Packaging then neither reads
    nor copies the WARC (issue 17: copying 36 MB cost 0.05-0.2 s of CPU, the kernel's writes
    most of it). Closed before it is finished, the file is left incomplete, for the caller to
    remove.
    """

    def __init__(self, out: IO[bytes], warc_name: str) -> None:
        self.name = warc_name
        self._out = out
        self._zip = zipfile.ZipFile(out, "w", allowZip64=True, compresslevel=DEFLATE_LEVEL)
        self._info = zipfile.ZipInfo(f"archive/{warc_name}", _zip_date())
        self._info.compress_type = zipfile.ZIP_STORED
        # ZIP64 from the start: the WARC's size is known only at the end.
        self._warc = self._zip.open(self._info, "w", force_zip64=True)
        self._sha256 = hashlib.sha256()
        self._crc = 0
        self._size = 0
        # Never finished nor closed (a run that broke off): closed quietly when collected.
        self._closer = weakref.finalize(self, _close_quietly, self._warc, self._zip, out)

    @property
    def closed(self) -> bool:
        return not self._closer.alive

    def write(self, data: bytes, /) -> int:
        # Straight to the file, not through zipfile's member writer, which takes the CRC-32
        # with zlib (~10x ISA-L's time): the member's CRC and size are set when it is finished.
        self._out.write(data)
        self._crc = isal_zlib.crc32(data, self._crc)
        self._sha256.update(data)
        self._size += len(data)
        return len(data)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        self._out.flush()

    def finish(
        self, captures: Iterable[Capture], pages: Iterable[Page], *, title: str, software: str,
        main_page: Capture | None = None,
    ) -> None:  # fmt: skip
        """The rest of the WACZ (``captures``: the WARC's response records), then the file closed."""
        stamp = _zip_date()
        self._info.date_time = stamp  # as the other members: when the archive was packaged
        self._warc.close()  # written for 0 bytes: the next member goes after the WARC
        info = self._info
        info.CRC, info.file_size, info.compress_size = self._crc, self._size, self._size
        end = self._out.tell()
        self._out.seek(info.header_offset)
        self._out.write(info.FileHeader(zip64=True))  # the same length: ZIP64 from the start
        self._out.seek(end)
        resources = [{"name": self.name, "path": self._info.filename,
                      "hash": f"sha256:{self._sha256.hexdigest()}", "bytes": self._size}]  # fmt: skip
        _write_rest(
            self._zip, resources, sorted_lines(cdxj_line(c, self.name) for c in captures),
            (page.entry() for page in pages), title=title, software=software,
            main_page=(main_page.url, main_page.date) if main_page is not None else None, stamp=stamp,
        )  # fmt: skip
        self._zip.close()
        self._closer.detach()
        self._out.close()

    def close(self) -> None:
        self._closer()


def _close_quietly(warc: IO[bytes], wacz: zipfile.ZipFile, out: IO[bytes]) -> None:
    """Close a WACZ not finished: its file is left incomplete (a full disk may refuse even that)."""
    for done in (warc.close, wacz.close, out.close):
        with contextlib.suppress(OSError, ValueError):
            done()


def write_package(
    out: IO[bytes],
    warcs: list[WarcPart],
    index: Iterable[str],
    pages: Iterable[dict[str, Any]],
    *,
    title: str,
    software: str,
    main_page: tuple[str, str] | None = None,
    created: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a WACZ to ``out``: the ``warcs`` copied as stored members (a known digest checked
    as they are copied: :class:`DigestMismatch`), the ``index`` lines (sorted, without their
    newline) and the ``pages`` as they come, so that memory does not grow with the archive."""
    stamp = _zip_date()
    resources: list[dict[str, Any]] = []
    with zipfile.ZipFile(out, "w", allowZip64=True, compresslevel=DEFLATE_LEVEL) as wacz:
        for part in warcs:
            # Stored, not deflated: a reader seeks to a record by its offset.
            info = zipfile.ZipInfo(f"archive/{part.name}", stamp)
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = part.size  # > 2 GiB needs ZIP64 decided before writing
            digest = hashlib.sha256()
            size = 0
            with wacz.open(info, "w", force_zip64=part.size > 0x7FFFFFFF) as target, part.open() as source:
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    target.write(chunk)
                    size += len(chunk)
            found = f"sha256:{digest.hexdigest()}"
            if part.sha256 is not None and found != part.sha256:
                raise DigestMismatch(
                    f"archive/{part.name} of {part.origin or 'its archive'} does not match the sha256 recorded for it"
                )
            resources.append(
                {"name": part.name, "path": f"archive/{part.name}", "hash": found, "bytes": size}
            )
        _write_rest(
            wacz, resources, index, pages, title=title, software=software, main_page=main_page, created=created,
            extra=extra, stamp=stamp,
        )  # fmt: skip


def _write_rest(
    wacz: zipfile.ZipFile,
    resources: list[dict[str, Any]],
    index: Iterable[str],
    pages: Iterable[dict[str, Any]],
    *,
    title: str,
    software: str,
    main_page: tuple[str, str] | None,
    created: str | None = None,
    extra: dict[str, Any] | None = None,
    stamp: tuple[int, int, int, int, int, int],
) -> None:
    """The members of a WACZ after its WARCs (whose ``resources`` entries are given): the
    index, the pages, ``datapackage.json`` and its digest."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = [json.dumps(PAGES_HEADER)]
    for name, path, lines in (
        ("index.cdx", INDEX_NAME, index),
        ("pages.jsonl", PAGES_NAME, chain(header, (json.dumps(p, ensure_ascii=False) for p in pages))),
    ):
        resources.append(_write_lines(wacz, zipfile.ZipInfo(path, stamp), name, lines))
    package: dict[str, Any] = {
        "profile": "data-package", "resources": resources, "wacz_version": WACZ_VERSION,
        "title": title, "software": software, "created": created or now, "modified": now,
    }  # fmt: skip
    if main_page is not None:
        package["mainPageUrl"], package["mainPageDate"] = main_page
    package.update(extra or {})
    package_bytes = (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    digest_doc = {"path": PACKAGE_NAME, "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
    for name, data in (
        (PACKAGE_NAME, package_bytes),
        (DIGEST_NAME, (json.dumps(digest_doc) + "\n").encode()),
    ):
        member = zipfile.ZipInfo(name, stamp)
        member.compress_type = zipfile.ZIP_DEFLATED
        wacz.writestr(member, data)


def _write_lines(
    wacz: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, lines: Iterable[str]
) -> dict[str, Any]:
    """A deflated member of text lines, streamed; its resource entry (digest and size)."""
    info.compress_type = zipfile.ZIP_DEFLATED
    digest = hashlib.sha256()
    size = 0
    with wacz.open(info, "w") as member:
        for line in lines:
            data = (line + "\n").encode("utf-8")
            digest.update(data)
            member.write(data)
            size += len(data)
    return {"name": name, "path": info.filename, "hash": f"sha256:{digest.hexdigest()}", "bytes": size}
