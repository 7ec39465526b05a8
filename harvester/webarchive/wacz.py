"""Package a run's WARC as a WACZ 1.1.1 (https://specs.webrecorder.net/wacz/1.1.1/).

A ZIP holding:

- ``archive/data.warc.gz``: the WARC, *stored* (not deflated), so a reader seeks straight to a
  record by the offset the index gives (ReplayWeb.page reads it by HTTP range requests);
- ``indexes/index.cdxj``: one line per response record, ``<SURT> <14-digit timestamp> {json}``,
  sorted, the form pywb and ReplayWeb.page read;
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

import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from surt import surt
from warcio.timeutils import iso_date_to_timestamp

from harvester.webarchive.ondisk import sorted_lines
from harvester.webarchive.warc import Capture

WACZ_VERSION = "1.1.1"
WARC_NAME = "archive/data.warc.gz"
INDEX_NAME = "indexes/index.cdxj"
PAGES_NAME = "pages/pages.jsonl"
PACKAGE_NAME = "datapackage.json"
DIGEST_NAME = "datapackage-digest.json"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}


@dataclass(frozen=True)
class Page:
    """A page of ``pages/pages.jsonl``: a capture a reader can open by its title."""

    capture: Capture
    title: str | None


def timestamp(warc_date: str) -> str:
    """A WARC-Date as the 14-digit timestamp of CDXJ lines and replay URLs.

    >>> timestamp("2026-11-30T13:06:08.123456Z")
    '20261130130608'
    """
    return str(iso_date_to_timestamp(warc_date))


def cdxj_line(capture: Capture, filename: str = "data.warc.gz") -> str:
    """The index line of one response record, with the fields py-wacz's indexer writes.

    >>> c = Capture("<urn:uuid:1>", "2026-11-30T13:06:08.5Z", "http://127.0.0.1:8000/search?page=1",
    ...             200, "text/html", "sha1:ABC", 120, 3400)
    >>> cdxj_line(c)
    '1,0,0,127:8000)/search?page=1 20261130130608 {"url": "http://127.0.0.1:8000/search?page=1", "mime": "text/html", "status": "200", "digest": "sha1:ABC", "length": "3400", "offset": "120", "filename": "data.warc.gz"}'
    """
    fields = {
        "url": capture.url, "mime": capture.mime, "status": str(capture.status), "digest": capture.digest,
        "length": str(capture.length), "offset": str(capture.offset), "filename": filename,
    }  # fmt: skip
    return f"{surt(capture.url)} {timestamp(capture.date)} {json.dumps(fields)}"


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return f"sha256:{digest.hexdigest()}", size


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
) -> None:
    """Write the WACZ of ``warc`` (whose response records are ``captures``) to ``out``."""
    stamp = _zip_date()
    warc_hash, warc_size = _sha256(warc)
    with zipfile.ZipFile(out, "w", allowZip64=True) as wacz:
        # The WARC stored, not deflated: a reader seeks to a record by its offset.
        info = zipfile.ZipInfo(WARC_NAME, stamp)
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = warc_size  # > 2 GiB needs ZIP64 decided before writing
        with wacz.open(info, "w", force_zip64=warc_size > 0x7FFFFFFF) as target, warc.open("rb") as source:
            shutil.copyfileobj(source, target, 1 << 20)
        # The index and the page list streamed, sorted from disk: memory does not grow with
        # the archive (issue 17; they are 60 MB at 161,530 documents).
        resources = [
            {"name": "data.warc.gz", "path": WARC_NAME, "hash": warc_hash, "bytes": warc_size},
            _write_lines(wacz, INDEX_NAME, stamp, "index.cdxj", sorted_lines(cdxj_line(c) for c in captures)),
            _write_lines(wacz, PAGES_NAME, stamp, "pages.jsonl", _page_lines(pages)),
        ]
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        package: dict[str, Any] = {
            "profile": "data-package", "resources": resources, "wacz_version": WACZ_VERSION,
            "title": title, "software": software, "created": created, "modified": created,
        }  # fmt: skip
        if main_page is not None:
            package["mainPageUrl"] = main_page.url
            package["mainPageDate"] = main_page.date
        package_bytes = (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        digest = {"path": PACKAGE_NAME, "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
        for name, data in ((PACKAGE_NAME, package_bytes),
                           (DIGEST_NAME, (json.dumps(digest) + "\n").encode("utf-8"))):  # fmt: skip
            member = zipfile.ZipInfo(name, stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            wacz.writestr(member, data)


def _page_lines(pages: Iterable[Page]) -> Iterator[str]:
    yield json.dumps(PAGES_HEADER)
    for page in pages:
        entry: dict[str, Any] = {"id": page.capture.record_id.strip("<>").removeprefix("urn:uuid:"),
                                 "url": page.capture.url, "ts": page.capture.date}  # fmt: skip
        if page.title:
            entry["title"] = page.title
        yield json.dumps(entry, ensure_ascii=False)


def _write_lines(
    wacz: zipfile.ZipFile,
    name: str,
    stamp: tuple[int, int, int, int, int, int],
    label: str,
    lines: Iterable[str],
) -> dict[str, Any]:
    """A deflated member of text lines, written as they come; its resource (digest and size)."""
    member = zipfile.ZipInfo(name, stamp)
    member.compress_type = zipfile.ZIP_DEFLATED
    digest = hashlib.sha256()
    size = 0
    with wacz.open(member, "w") as target:
        for line in lines:
            data = (line + "\n").encode("utf-8")
            digest.update(data)
            target.write(data)
            size += len(data)
    return {"name": label, "path": name, "hash": f"sha256:{digest.hexdigest()}", "bytes": size}
