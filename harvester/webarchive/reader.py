"""Open a WACZ, check it, and answer requests from its index (``-a replay=PATH``).

:meth:`WaczArchive.open` refuses, with one line saying what is wrong, a file that is not a
ZIP (truncated, or another kind of file), a ZIP that is not a WACZ (no ``datapackage.json``),
a WACZ missing its WARC, its index or its page list, and a WACZ whose files do not match the
``sha256`` digests of its ``datapackage.json`` (corrupt). :meth:`WaczArchive.check_site`
refuses a WACZ of another site.

Requests are answered by URL and method, in the order the captures were written: a page
fetched twice (a retry after a 503, a re-walk) gets its captures in turn, the last again if
asked once more.

A WACZ may hold several WARCs: a scheduled job's archive holds one per night
(:mod:`harvester.webarchive.jobarchive`). A URL is answered from the last WARC that captured
it (its latest night), its captures in that WARC in turn. A ``revisit`` record (a 304 the job
trusted) is answered with the capture it confirms (``WARC-Refers-To``, found by the index's
``warc-record-id``, else by its target URI, date and payload digest): that capture's status,
headers, body, record id and date. A ``304`` kept as a plain response (one the job did not
trust, and asked again) is skipped when a later capture of the URL follows it in that WARC:
the answer is what the site sent when asked again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urlsplit

from isal import igzip_lib, isal_zlib
from warcio.archiveiterator import ArchiveIterator

from harvester.exceptions import HarvesterError
from harvester.webarchive.wacz import (
    INDEX_NAME,
    LEGACY_INDEX_NAME,
    PACKAGE_NAME,
    PAGES_NAME,
    RECORD_ID,
    timestamp,
)
from harvester.webarchive.warc import REVISIT_MIME


class WaczError(HarvesterError):
    """A WACZ that cannot be replayed; the message says what is wrong with it."""


@dataclass(frozen=True)
class Entry:
    url: str
    filename: str
    offset: int
    length: int
    status: int = 0
    revisit: bool = False
    record_id: str = ""
    digest: str = ""
    timestamp: str = ""


@dataclass(frozen=True)
class Archived:
    """An archived response, as the site sent it (less the transfer coding)."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    protocol: str
    record_id: str
    date: str


#: isal_zlib.error (its stub declares it as an instance, not a class).
_INFLATE_ERROR = cast(type[Exception], igzip_lib.IsalError)

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


class WaczArchive:
    def __init__(self, path: Path, zf: zipfile.ZipFile, index: dict[tuple[str, str], list[Entry]]) -> None:
        self.path = path
        self.zip = zf
        self.index = index
        self.by_id = {e.record_id: e for entries in index.values() for e in entries if e.record_id}
        self._served: dict[tuple[str, str], int] = defaultdict(int)
        self._sources: dict[str, tuple[IO[bytes], int]] = {}
        self._temp: list[Any] = []

    @classmethod
    def open(cls, path: Path, *, verify: bool = True) -> WaczArchive:
        fix = "give the .wacz file a harvest wrote (HARVESTER_WACZ)"
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise WaczError(
                f"{path} is not a WACZ: not a ZIP file ({exc}; truncated, or another kind of file); {fix}"
            ) from exc
        except OSError as exc:
            raise WaczError(f"cannot read {path} ({exc.strerror or exc}); {fix}") from exc
        names = set(zf.namelist())
        if PACKAGE_NAME not in names:
            raise WaczError(f"{path} is not a WACZ: a ZIP without {PACKAGE_NAME}; {fix}")
        try:
            package = json.loads(zf.read(PACKAGE_NAME))
            resources = {r["path"]: r for r in package["resources"]}
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise WaczError(f"{path} is corrupt: its {PACKAGE_NAME} cannot be read ({exc}); {fix}") from exc
        index_name = (
            LEGACY_INDEX_NAME if LEGACY_INDEX_NAME in names and INDEX_NAME not in names else INDEX_NAME
        )
        for needed, what in ((index_name, "index"), (PAGES_NAME, "page list")):
            if needed not in names:
                raise WaczError(f"{path} is not a complete WACZ: it lacks its {what} {needed}; {fix}")
        if not any(n.startswith("archive/") and n.endswith((".warc.gz", ".warc")) for n in names):
            raise WaczError(f"{path} is not a complete WACZ: it holds no WARC under archive/; {fix}")
        if verify:
            for name in sorted(names - {PACKAGE_NAME, "datapackage-digest.json"}):
                if name.endswith("/"):
                    continue
                _check_digest(path, zf, name, resources.get(name))
        index = _read_index(path, zf, index_name)
        if not index:
            raise WaczError(f"{path} holds no archived responses (its index is empty); {fix}")
        return cls(path, zf, index)

    def origins(self) -> list[str]:
        """The sites the archive holds pages of (``scheme://host:port``), most pages first."""
        counts: dict[str, int] = defaultdict(int)
        for _, url in self.index:
            parts = urlsplit(url)
            counts[f"{parts.scheme}://{parts.netloc}".lower()] += 1
        return sorted(counts, key=lambda o: -counts[o])

    def check_site(self, base_url: str) -> None:
        origins = self.origins()
        if base_url.rstrip("/").lower() not in origins:
            raise WaczError(
                f"{self.path} is an archive of another site ({', '.join(origins[:3])}), not of {base_url}; "
                f"replay it with the base URL it was harvested from: -s HARVESTER_BASE_URL={origins[0]}"
            )

    def answer(self, method: str, url: str) -> Archived | None:
        """The next capture of ``url`` (the last one again once all were served), or None."""
        entries = self.index.get((method.upper(), url))
        if not entries:
            return None
        key = (method.upper(), url)
        entries = _latest_night(entries)
        entry = entries[min(self._served[key], len(entries) - 1)]
        self._served[key] += 1
        if entry.revisit:
            return self._confirmed(entry)
        return self._read(entry)

    def _confirmed(self, entry: Entry) -> Archived | None:
        """The capture a revisit record confirms, or None when the archive lacks it."""
        record = self._record(entry)
        headers = record.rec_headers
        original = self.by_id.get(headers.get_header("WARC-Refers-To") or "")
        if original is None:  # found as pywb finds it: same target, the closest date, same digest
            target = headers.get_header("WARC-Refers-To-Target-URI") or entry.url
            refers_date = headers.get_header("WARC-Refers-To-Date")
            when = timestamp(refers_date) if refers_date else entry.timestamp
            candidates = [
                e for e in self.index.get(("GET", target), [])
                if not e.revisit and (not entry.digest or e.digest == entry.digest)
            ]  # fmt: skip
            if not candidates:
                return None
            original = min(candidates, key=lambda e: abs(int(e.timestamp or 0) - int(when or 0)))
        if original.revisit:
            return None
        return self._read(original)

    def _raw(self, entry: Entry) -> bytes:
        """The bytes of the record at ``entry`` (one gzip member)."""
        source, start = self._source(entry.filename)
        source.seek(start + entry.offset)
        return source.read(entry.length)

    def _record(self, entry: Entry, raw: bytes | None = None) -> Any:
        """The WARC record at ``entry`` read by warcio, its headers read (its block not yet)."""
        try:
            return next(iter(ArchiveIterator(BytesIO(self._raw(entry) if raw is None else raw))))
        except Exception as exc:  # warcio raises several kinds on a damaged record
            raise WaczError(f"{self.path}: the record of {entry.url} cannot be read ({exc})") from exc

    def _read(self, entry: Entry) -> Archived:
        raw = self._raw(entry)
        fast = _read_response(raw)
        if fast is not None:
            record_id, date, protocol, status, headers, body = fast
            return Archived(url=entry.url, status=status, headers=headers, body=body, protocol=protocol,
                            record_id=record_id, date=date)  # fmt: skip
        record = self._record(entry, raw)
        try:
            body = record.raw_stream.read()
        except Exception as exc:  # warcio raises several kinds on a damaged record
            raise WaczError(f"{self.path}: the record of {entry.url} cannot be read ({exc})") from exc
        http = record.http_headers
        headers = [(str(k), str(v)) for k, v in http.headers]
        return Archived(
            url=entry.url, status=int(http.get_statuscode()), headers=headers, body=body,
            protocol=http.protocol or "HTTP/1.1", record_id=record.rec_headers.get_header("WARC-Record-ID"),
            date=record.rec_headers.get_header("WARC-Date"),
        )  # fmt: skip

    def _source(self, filename: str) -> tuple[IO[bytes], int]:
        """A file object and where the WARC's bytes start in it."""
        if filename in self._sources:
            return self._sources[filename]
        info = self.zip.getinfo(f"archive/{filename}")
        if info.compress_type == zipfile.ZIP_STORED:
            raw = self.path.open("rb")
            raw.seek(info.header_offset)
            header = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
            start = info.header_offset + _LOCAL_HEADER.size + header[9] + header[10]
            self._sources[filename] = (raw, start)
        else:  # a deflated WARC cannot be read at an offset: read it out once
            temp = tempfile.TemporaryFile()
            with self.zip.open(info) as member:
                shutil.copyfileobj(member, temp)
            self._temp.append(temp)
            self._sources[filename] = (temp, 0)
        return self._sources[filename]

    def close(self) -> None:
        for source, _ in self._sources.values():
            source.close()
        self._sources.clear()
        self.zip.close()


def _read_response(raw: bytes) -> tuple[str, str, str, int, list[tuple[str, str]], bytes] | None:
    """A response record in one gzip member, read as warcio reads it: ``(record id, date,
    protocol, status, headers, body)``; None for anything else (warcio reads those).

    A replay spent a tenth of its time in warcio's record reader (its buffered readers and
    line-by-line parsing, py-spy); this reads one ~18 KB member in a few calls (issue 17).
    """
    try:
        data = isal_zlib.decompress(raw, 31)  # wbits 31: one gzip member
    except _INFLATE_ERROR:
        return None  # not one gzip member: warcio reads it, or says what is wrong
    end = data.find(b"\r\n\r\n")
    if end < 0 or not data.startswith(b"WARC/1."):
        return None
    fields: dict[str, str] = {}
    for line in _lines(data[:end])[1:]:
        name, sep, value = line.partition(":")
        if not sep or line[:1] in (" ", "\t"):
            return None  # a continuation line or no colon: warcio's rules
        fields[name.rstrip(" \t").lower()] = value.lstrip()
    try:
        length = int(fields["content-length"])
    except (KeyError, ValueError):
        return None
    block = data[end + 4 : end + 4 + length]
    if (
        fields.get("warc-type") != "response"
        or not fields.get("content-type", "").startswith("application/http")
        or len(block) != length
        or data[end + 4 + length :] != b"\r\n\r\n"
        or "warc-record-id" not in fields
        or "warc-date" not in fields
    ):
        return None
    head_end = block.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = _lines(block[:head_end])
    protocol, _, status_text = lines[0].partition(" ")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or line[:1] in (" ", "\t"):
            return None
        headers.append((name.rstrip(" \t"), value.lstrip()))
    try:
        status = int(status_text.strip().split(" ", 1)[0])
    except ValueError:
        return None
    return (
        fields["warc-record-id"],
        fields["warc-date"],
        protocol or "HTTP/1.1",
        status,
        headers,
        block[head_end + 4 :],
    )


def _lines(head: bytes) -> list[str]:
    """Header lines as warcio's parser decodes them (UTF-8, else ISO-8859-1), right-stripped."""
    out = []
    for line in head.split(b"\n"):
        try:
            out.append(line.decode("utf-8").rstrip())
        except UnicodeDecodeError:
            out.append(line.decode("iso-8859-1").rstrip())
    return out


def _check_digest(path: Path, zf: zipfile.ZipFile, name: str, resource: dict[str, Any] | None) -> None:
    if resource is None:
        raise WaczError(f"{path} is corrupt: {name} is not listed in its {PACKAGE_NAME}")
    algorithm, _, expected = str(resource.get("hash", "")).partition(":")
    if algorithm not in ("sha256", "md5"):
        raise WaczError(f"{path}: {name} has no sha256 digest in its {PACKAGE_NAME}; it cannot be checked")
    digest = hashlib.new(algorithm)
    try:
        with zf.open(name) as member:
            while chunk := member.read(1 << 20):
                digest.update(chunk)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise WaczError(f"{path} is corrupt: {name} cannot be read ({exc})") from exc
    if digest.hexdigest() != expected:
        raise WaczError(f"{path} is corrupt: {name} does not match its {algorithm} in {PACKAGE_NAME}")


def _read_index(
    path: Path, zf: zipfile.ZipFile, name: str = INDEX_NAME
) -> dict[tuple[str, str], list[Entry]]:
    index: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    try:
        lines = zf.read(name).decode("utf-8").splitlines()
        for line in lines:
            if not line.strip() or line.startswith("!"):
                continue
            _, stamp, rest = line.split(" ", 2)
            fields = json.loads(rest)
            if str(fields.get("status", "")) == "":
                continue  # not a response we can answer with
            url = str(fields["url"])
            method = str(fields.get("method", "GET")).upper()
            index[(method, url)].append(
                Entry(
                    url,
                    str(fields.get("filename", "data.warc.gz")),
                    int(fields["offset"]),
                    int(fields["length"]),
                    int(fields["status"]) if str(fields["status"]).isdigit() else 0,
                    fields.get("mime") == REVISIT_MIME,
                    str(fields.get(RECORD_ID, "")),
                    str(fields.get("digest", "")),
                    stamp,
                )
            )
    except (ValueError, KeyError, IndexError, zipfile.BadZipFile) as exc:
        raise WaczError(f"{path} is corrupt: its index {name} cannot be read ({exc})") from exc
    # The order they were captured in: the archive's WARCs in the order it holds them (a job's,
    # night after night), each from its start.
    order = {n.removeprefix("archive/"): i for i, n in enumerate(zf.namelist()) if n.startswith("archive/")}
    for entries in index.values():
        entries.sort(key=lambda e: (order.get(e.filename, -1), e.offset))
    return dict(index)


def _latest_night(entries: list[Entry]) -> list[Entry]:
    """The captures of a URL in the last WARC that holds any, less the 304s asked again.

    >>> a = Entry("u", "n1.warc.gz", 0, 1, 200)
    >>> b, c = Entry("u", "n2.warc.gz", 0, 1, 304), Entry("u", "n2.warc.gz", 9, 1, 200)
    >>> _latest_night([a]) == [a], _latest_night([a, b, c]) == [c], _latest_night([a, b]) == [b]
    (True, True, True)
    """
    last = entries[-1].filename
    night = [e for e in entries if e.filename == last]
    kept = [e for i, e in enumerate(night) if e.revisit or e.status != 304 or i == len(night) - 1]
    return kept
