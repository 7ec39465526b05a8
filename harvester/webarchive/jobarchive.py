"""A scheduled job's web archive grows night by night (issue 17).

``jobs/<job>/archive.wacz`` holds every night's capture: one WARC per night under
``archive/``, named after the time (UTC) the night's run started, ``YYYYmmdd-HHMMSS.warc.gz``
(lower case: a Frictionless data package's resource names are), copied from the last
published archive as they were stored (never recompressed, their ``sha256`` checked as they
are copied), then tonight's. Its index is every night's lines merged (sorted), its page list
every night's pages, its ``datapackage.json`` the digest of every file; ``created`` is the
first night's. A night adds only the pages it fetched, and a 304 the job trusted as a
``revisit`` record of the capture it confirms (:meth:`~.warc.WarcStorage.store_revisit`).

What a night adds comes from WACZs: the capture of the night itself (the WACZ a single run
would publish, kept aside as ``archive.failed.wacz`` when the night fails) and the captures of
failed nights kept aside since the last published archive (their records may be published
tonight, so their captures must be in the archive that publishes them). A killed run's
capture file is salvaged into the next run's (:func:`salvage`): the records it committed name
captures in it.

:func:`grow` also checks that each capture a published record names (``capture_id``) is in
the archive it writes, and returns those it lacks.
"""

from __future__ import annotations

import heapq
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator

from harvester.exceptions import HarvesterError
from harvester.webarchive.wacz import (
    INDEX_NAME,
    LEGACY_INDEX_NAME,
    PACKAGE_NAME,
    PAGES_NAME,
    RECORD_ID,
    WarcPart,
    write_package,
)
from harvester.webarchive.warc import Capture


class JobArchiveError(HarvesterError):
    """A job's archive (or a night's capture) that cannot be read to grow it."""


@dataclass(frozen=True)
class Found:
    """Where a capture is, as its index line says."""

    url: str
    date: str
    digest: str


@dataclass
class Source:
    """A WACZ whose WARCs, index lines and pages go into the job's archive."""

    path: Path
    zip: zipfile.ZipFile
    warcs: list[zipfile.ZipInfo]
    index_name: str
    package: dict[str, Any]
    renamed: dict[str, str] = field(default_factory=dict)
    """WARC names changed in the archive being written (a name another source has)."""
    _ids: dict[str, dict[int, str]] | None = None

    @classmethod
    def open(cls, path: Path) -> Source:
        try:
            zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise JobArchiveError(f"cannot read {path} ({exc})") from exc
        try:
            names = set(zf.namelist())
            index = INDEX_NAME if INDEX_NAME in names else LEGACY_INDEX_NAME
            if index not in names or PACKAGE_NAME not in names:
                raise JobArchiveError(
                    f"{path} is not a WACZ a harvest wrote (no {INDEX_NAME} or {PACKAGE_NAME})"
                )
            package = json.loads(zf.read(PACKAGE_NAME))
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            zf.close()
            raise JobArchiveError(f"cannot read {path} ({exc})") from exc
        except JobArchiveError:
            zf.close()
            raise
        warcs = [i for i in zf.infolist() if i.filename.startswith("archive/") and ".warc" in i.filename]
        return cls(path, zf, warcs, index, package)

    def close(self) -> None:
        self.zip.close()

    def name_of(self, info: zipfile.ZipInfo) -> str:
        name = info.filename.removeprefix("archive/")
        return self.renamed.get(name, name)

    def digest_of(self, info: zipfile.ZipInfo) -> str | None:
        for resource in self.package.get("resources", []):
            if resource.get("path") == info.filename:
                return str(resource.get("hash")) or None
        return None

    def part(self, info: zipfile.ZipInfo) -> WarcPart:
        return WarcPart(
            self.name_of(info),
            lambda: self.zip.open(info),
            info.file_size,
            self.digest_of(info),
            str(self.path),
        )

    def raw_lines(self) -> Iterator[str]:
        with self.zip.open(self.index_name) as member:
            for raw in io.TextIOWrapper(member, encoding="utf-8"):
                line = raw.rstrip("\n")
                if line.strip() and not line.startswith("!"):
                    yield line

    @property
    def rewritten(self) -> bool:
        """Its lines change on their way into the archive (a WARC renamed, ids filled in)."""
        return bool(self.renamed) or self.index_name != INDEX_NAME

    def lines(self) -> Iterator[str]:
        """Its index lines as the archive being written has them, in order."""
        if not self.rewritten:
            yield from self.raw_lines()
            return
        lines = []
        for line in self.raw_lines():
            key, stamp, rest = line.split(" ", 2)
            fields = json.loads(rest)
            name = str(fields.get("filename", ""))
            if RECORD_ID not in fields:
                fields[RECORD_ID] = self._record_ids(name).get(int(fields.get("offset", -1)), "")
            fields["filename"] = self.renamed.get(name, name)
            lines.append(f"{key} {stamp} {json.dumps(fields)}")
        yield from sorted(lines)

    def _record_ids(self, name: str) -> dict[int, str]:
        """``WARC-Record-ID`` by offset in one of its WARCs, read once (an index written
        before the index had them)."""
        if self._ids is None:
            self._ids = {}
        if name not in self._ids:
            ids: dict[int, str] = {}
            try:
                with self.zip.open(f"archive/{name}") as warc:
                    iterator = ArchiveIterator(warc)
                    for record in iterator:
                        ids[iterator.get_record_offset()] = record.rec_headers.get_header("WARC-Record-ID")
            except (KeyError, OSError, zipfile.BadZipFile) as exc:
                raise JobArchiveError(f"cannot read archive/{name} in {self.path} ({exc})") from exc
            self._ids[name] = ids
        return self._ids[name]

    def pages(self) -> Iterator[dict[str, Any]]:
        if PAGES_NAME not in self.zip.namelist():
            return
        with self.zip.open(PAGES_NAME) as member:
            for raw in io.TextIOWrapper(member, encoding="utf-8"):
                if raw.strip():
                    entry = json.loads(raw)
                    if "url" in entry:  # not the header line
                        yield entry


def record_id_of(line: str) -> str:
    """The ``warc-record-id`` of an index line ("" when it has none).

    >>> record_id_of('k 2026 {"url": "u", "warc-record-id": "<urn:uuid:1>"}')
    '<urn:uuid:1>'
    """
    marker = f'"{RECORD_ID}": "'
    start = line.find(marker)
    if start < 0:
        return ""
    start += len(marker)
    return line[start : line.index('"', start)]


def find_captures(sources: Iterable[Source], wanted: set[str]) -> dict[str, Found]:
    """Where the captures ``wanted`` (record ids) are in ``sources``, as their index says."""
    found: dict[str, Found] = {}
    for source in sources:
        for line in source.lines():
            record_id = record_id_of(line)
            if record_id in wanted:
                fields = json.loads(line.split(" ", 2)[2])
                found[record_id] = Found(
                    str(fields["url"]), line.split(" ", 2)[1], str(fields.get("digest", ""))
                )
    return found


@dataclass(frozen=True)
class Grown:
    """What :func:`grow` wrote."""

    warcs: int
    captures: int
    missing: set[str]
    """Record ids asked for that the archive lacks."""


def grow(
    out: IO[bytes],
    sources: list[Source],
    *,
    title: str,
    software: str,
    main_page: tuple[str, str] | None,
    wanted: set[str],
) -> Grown:
    """Write to ``out`` the archive of every WARC of ``sources`` (oldest first), their index
    lines merged and sorted, their pages (each once); check that it holds ``wanted``."""
    taken: set[str] = set()
    for source in sources:
        for info in source.warcs:
            name = info.filename.removeprefix("archive/")
            if name in taken:
                source.renamed[name] = unique_name(name, taken)
            taken.add(source.name_of(info))
    parts = [source.part(info) for source in sources for info in source.warcs]
    missing = set(wanted)
    counted = [0]

    def index() -> Iterator[str]:
        for line in heapq.merge(*(source.lines() for source in sources)):
            counted[0] += 1
            missing.discard(record_id_of(line))
            yield line

    def pages() -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for source in sources:
            for entry in source.pages():
                key = str(entry.get("id") or (entry["url"], entry.get("ts")))
                if key not in seen:
                    seen.add(key)
                    yield entry

    created = next((str(s.package["created"]) for s in sources if s.package.get("created")), None)
    write_package(
        out, parts, index(), pages(), title=title, software=software, main_page=main_page, created=created
    )
    return Grown(len(parts), counted[0], missing)


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``<stem>-2.warc.gz``, ``-3``, ... when another WARC has it.

    >>> unique_name("a.warc.gz", set()), unique_name("a.warc.gz", {"a.warc.gz", "a-2.warc.gz"})
    ('a.warc.gz', 'a-3.warc.gz')
    """
    stem, dot, suffix = name.partition(".")
    number = 1
    candidate = name
    while candidate in taken:
        number += 1
        candidate = f"{stem}-{number}{dot}{suffix}"
    return candidate


#: The signature a ZIP local file header starts with.
_LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"


def salvage(path: Path) -> tuple[bytes, list[Capture]]:
    """The whole records of a killed run's capture file (its ``warcinfo`` left out, a record
    cut short at the end dropped) and its response records' captures, offsets in those bytes."""
    data = memoryview(path.read_bytes())
    kept = io.BytesIO()
    captures: list[Capture] = []
    position = _warc_start(data)
    while position < len(data):
        end = _member_end(data, position)
        if end is None:
            break  # cut short by the kill
        member = bytes(data[position:end])
        position = end
        record = next(iter(ArchiveIterator(io.BytesIO(member))))
        kind = record.rec_type
        if kind == "warcinfo":
            continue
        offset = kept.tell()
        kept.write(member)
        if kind == "response" and record.http_headers is not None:
            headers = record.rec_headers
            mime = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip()
            capture = Capture(
                record_id=headers.get_header("WARC-Record-ID"), date=headers.get_header("WARC-Date"),
                url=headers.get_header("WARC-Target-URI"), status=int(record.http_headers.get_statuscode()),
                mime=mime or "unk", digest=headers.get_header("WARC-Payload-Digest") or "",
                offset=offset, length=len(member),
            )  # fmt: skip
            captures.append(capture)
    return kept.getvalue(), captures


def _warc_start(data: memoryview) -> int:
    """Where the WARC of a capture file starts: after the ZIP local header of the WACZ it was
    becoming (:class:`~harvester.webarchive.wacz.WaczWriter`), or at 0 (a plain WARC).

    >>> _warc_start(memoryview(b"PK\\x03\\x04" + bytes(22) + b"\\x03\\x00\\x02\\x00" + b"a/bxx" + b"\\x1f\\x8b"))
    35
    >>> _warc_start(memoryview(b"\\x1f\\x8b\\x08"))
    0
    """
    if bytes(data[:4]) != _LOCAL_HEADER_SIGNATURE or len(data) < 30:
        return 0
    name_length, extra_length = struct.unpack_from("<HH", data, 26)
    return 30 + int(name_length) + int(extra_length)


def _member_end(data: memoryview, start: int) -> int | None:
    """Where the gzip member that starts at ``start`` ends; None if it is cut short or damaged."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    position = start
    try:
        while not inflater.eof and position < len(data):
            chunk = data[position : position + (1 << 16)]
            inflater.decompress(chunk)
            position += len(chunk)
    except zlib.error:
        return None
    return position - len(inflater.unused_data) if inflater.eof else None
