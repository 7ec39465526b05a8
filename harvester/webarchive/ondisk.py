"""What the capture keeps per response until the WACZ is packaged, on disk rather than in memory.

A run's capture used to hold, for each response, its :class:`~.warc.Capture` (about 650 bytes
of Python objects), the title of its record (about 180 bytes) and, when packaging, its index
line (about 400 bytes): at 16,153 documents ~14 MB, at 161,530 ~140 MB of a details crawl's
peak RSS (issue 17). Here they live in temporary files, and memory stays the same at any size:

- :class:`CaptureLog`: the captures, one JSON line each, read back in the order written;
- :class:`TitleStore`: the record titles by capture id (an SQLite file: a lookup per page);
- :func:`sorted_lines`: index lines sorted in runs of :data:`RUN_LINES` merged from disk.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
import tempfile
import weakref
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, cast, overload

if TYPE_CHECKING:
    from harvester.webarchive.warc import Capture

#: Lines sorted in memory at a time by :func:`sorted_lines` (~0.8 MB of index lines; 10,000,
#: ~4 MB, made the whole-replica crawl's peak RSS when it packaged its WACZ: 113 -> 119 MB,
#: where 2,000 gave 111.7-115.3 MB; 81 runs to merge at 161,530 documents).
RUN_LINES = 2_000
#: Titles a :class:`TitleStore` holds in memory before it writes them (~200 bytes each).
TITLE_BATCH = 1_000
_MISSING = object()


class CaptureLog(Sequence["Capture"]):
    """The captures of a WARC in the order they were written, kept in an anonymous temporary
    file (8 bytes a capture in memory: where its line starts).

    >>> from harvester.webarchive.warc import Capture
    >>> log = CaptureLog()
    >>> log.append(Capture("<urn:uuid:1>", "2026-11-30T13:06:08.5Z", "http://h/a", 200, "text/html", "sha1:A", 0, 10))
    >>> log.extend([Capture("<urn:uuid:2>", "2026-11-30T13:06:09.5Z", "http://h/b", 404, "text/html", "", 10, 5)])
    >>> len(log), log[1].status, [c.url for c in log], bool(CaptureLog())
    (2, 404, ['http://h/a', 'http://h/b'], False)
    """

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="harvester-captures.")
        self._starts = array("Q")
        self._end = 0
        self._at_end = True
        """The file is where the next line goes (no seek: a seek writes the buffer out)."""
        self.close = weakref.finalize(self, self._file.close)
        """Delete the file now (else when the log is collected)."""

    def append(self, capture: Capture) -> None:
        line = json.dumps(
            [capture.record_id, capture.date, capture.url, capture.status, capture.mime, capture.digest,
             capture.offset, capture.length],
            ensure_ascii=False, separators=(",", ":"),
        ).encode("utf-8") + b"\n"  # fmt: skip
        if not self._at_end:
            self._file.seek(self._end)
            self._at_end = True
        self._file.write(line)
        self._starts.append(self._end)
        self._end += len(line)

    def extend(self, captures: Iterable[Capture]) -> None:
        for capture in captures:
            self.append(capture)

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> Capture: ...
    @overload
    def __getitem__(self, index: slice) -> list[Capture]: ...
    def __getitem__(self, index: int | slice) -> Capture | list[Capture]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        start = self._starts[index]
        self._at_end = False
        self._file.seek(start)
        return _capture(self._file.readline())

    def __iter__(self) -> Iterator[Capture]:
        position = 0
        while position < self._end:
            self._at_end = False
            self._file.seek(position)
            chunk = self._file.read(min(1 << 20, self._end - position))
            cut = chunk.rfind(b"\n") + 1
            for line in chunk[:cut].splitlines():
                yield _capture(line)  # the file may be read elsewhere between two captures
            position += cut


def _capture(line: bytes) -> Capture:
    from harvester.webarchive.warc import Capture

    record_id, date, url, status, mime, digest, offset, length = json.loads(line)
    return Capture(record_id, date, url, status, mime, digest, offset, length)


class TitleStore:
    """``capture id -> title`` (None: a record without a title), in a temporary SQLite file; the
    first title given for an id stays. Titles are added in batches of :data:`TITLE_BATCH`, each
    in one transaction (one a title was ~30 us a record).

    >>> titles = TitleStore()
    >>> titles.add("<urn:uuid:1>", "A"); titles.add("<urn:uuid:1>", "B"); titles.add("<urn:uuid:2>", None)
    >>> "<urn:uuid:1>" in titles, "<urn:uuid:3>" in titles, titles["<urn:uuid:1>"], titles["<urn:uuid:2>"]
    (True, False, 'A', None)
    >>> titles.get("<urn:uuid:3>", "none"), titles.get("<urn:uuid:2>", "none")
    ('none', None)
    """

    def __init__(self) -> None:
        # "": a private database on disk, deleted when closed. Its page cache is held to 256 KiB
        # (SQLite's default is ~2 MB): titles are written in batches and read once, in order.
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA cache_size = -256")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE titles (id TEXT PRIMARY KEY, title TEXT) WITHOUT ROWID")
        self._pending: list[tuple[str, str | None]] = []
        self.close = weakref.finalize(self, self._db.close)
        """Delete the file now (else when the store is collected)."""

    def add(self, key: str, title: str | None) -> None:
        """``title`` for ``key``, unless it has one already."""
        self._pending.append((key, title))
        if len(self._pending) >= TITLE_BATCH:
            self._write()

    def _write(self) -> None:
        if self._pending:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO titles VALUES (?, ?)", self._pending)
            self._db.execute("COMMIT")
            self._pending = []

    def get(self, key: str, default: object = None) -> object:
        """The title of ``key`` (possibly None), or ``default`` when it has none."""
        self._write()
        row: tuple[str | None] | None = self._db.execute(
            "SELECT title FROM titles WHERE id = ?", (key,)
        ).fetchone()
        return default if row is None else row[0]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def __getitem__(self, key: str) -> str | None:
        title = self.get(key, _MISSING)
        if title is _MISSING:
            raise KeyError(key)
        return cast("str | None", title)


def sorted_lines(lines: Iterable[str], run: int = RUN_LINES) -> Iterator[str]:
    """``sorted(lines)``, holding at most ``run`` lines in memory: sorted runs are written to
    temporary files and merged (the whole-archive index is 60 MB at 161,530 documents).

    >>> list(sorted_lines(["c", "a", "d", "b", "a"], run=2))
    ['a', 'a', 'b', 'c', 'd']
    """
    runs: list[IO[str]] = []
    chunk: list[str] = []
    try:
        for line in lines:
            chunk.append(line)
            if len(chunk) >= run:
                chunk.sort()
                spill = tempfile.TemporaryFile("w+", encoding="utf-8", prefix="harvester-index.")
                spill.writelines(line + "\n" for line in chunk)
                spill.seek(0)
                runs.append(spill)
                chunk = []
        chunk.sort()
        if not runs:
            yield from chunk
            return
        yield from heapq.merge(chunk, *((line.removesuffix("\n") for line in done) for done in runs))
    finally:
        for done in runs:
            done.close()
