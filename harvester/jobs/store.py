"""Scheduled runs: a named job's state, its lock, and what a run publishes.

A job (``-a job=NAME``) keeps its state in ``<HARVESTER_JOBS_DIR>/<NAME>/state.sqlite``.
SQLite because it is in the standard library, survives a killed process without losing
committed rows (WAL journal), and lets one file hold both the documents and the run
history. Per document it keeps the identity (canonical URL), the record as last
harvested, a fingerprint of its content, a fingerprint of its listing row, when it was
first and last seen, and what the last *complete* run published.

The store, not a feed file, is where a harvested record lands first: a record counts as
done only once its row is committed. The files consumers read (``archive.jsonl``,
``archive.csv``, ``changes.jsonl``, ``summary.json``) are written from the store at the
end of a run that did its job, each to a temporary file that is then renamed into place,
so a consumer never sees a partial file. A run killed at any moment leaves a run marked
``running``; the next start of the job resumes it, skipping what is already done.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harvester.files import PARTIAL_SUFFIX
from harvester.jobs.fingerprints import fingerprint
from harvester.jobs.lock import JobLock
from harvester.text import utc_now

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    url TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    field_hashes TEXT NOT NULL,
    listing_fp TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    seen_run INTEGER,
    done_run INTEGER,
    present INTEGER NOT NULL DEFAULT 1,
    published_present INTEGER NOT NULL DEFAULT 0,
    published_fp TEXT,
    published_hashes TEXT,
    fetched_run INTEGER,
    etag TEXT,
    last_modified TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    ended TEXT,
    status TEXT NOT NULL,
    full INTEGER NOT NULL,
    args TEXT NOT NULL,
    pid INTEGER,
    summary TEXT
);
"""


def peek(directory: Path) -> tuple[int, str | None] | None:
    """``(published documents, when the last complete run ended)`` of a job, read without
    its lock (for a plan); ``None`` for a job that has no state yet."""
    path = directory / "state.sqlite"
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        count = db.execute("SELECT COUNT(*) FROM documents WHERE published_present=1").fetchone()[0]
        ended = db.execute("SELECT MAX(ended) FROM runs WHERE status='ok'").fetchone()[0]
    return int(count), ended


@dataclass
class Known:
    listing_fp: str | None
    done_run: int | None
    published_present: bool


@dataclass
class RunChanges:
    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "changed": len(self.changed), "removed": len(self.removed)}


class JobStore:
    """The state of one job. Not thread-safe: used from Scrapy's reactor thread only."""

    COMMIT_EVERY = 200
    COMMIT_SECONDS = 2.0

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.lock = JobLock(directory / "lock")
        self.db: sqlite3.Connection | None = None
        self.run_id = 0
        self.resumed = False
        self.full = False
        self._pending = 0
        self._last_commit = time.monotonic()

    # --- life cycle --------------------------------------------------------------------

    def open(self) -> None:
        self.lock.acquire()
        self.directory.mkdir(parents=True, exist_ok=True)
        # Files a killed run was writing: nobody else can be writing them, we hold the lock.
        for stale in self.directory.glob(f".*{PARTIAL_SUFFIX}"):
            stale.unlink(missing_ok=True)
        self.db = sqlite3.connect(self.directory / "state.sqlite", isolation_level="DEFERRED")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        # States written before the rolling refresh and conditional requests lack these.
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(documents)")}
        for column, kind in (("fetched_run", "INTEGER"), ("etag", "TEXT"), ("last_modified", "TEXT")):
            if column not in columns:
                self.db.execute(f"ALTER TABLE documents ADD COLUMN {column} {kind}")
        self.db.commit()

    def close(self) -> None:
        if self.db is not None:
            self.db.commit()
            self.db.close()
            self.db = None
        self.lock.release()

    @property
    def conn(self) -> sqlite3.Connection:
        if self.db is None:
            raise RuntimeError("job store is not open")
        return self.db

    def begin_run(self, args: str, full: bool) -> int:
        """Start a run, or resume the last one if it was killed with the same arguments."""
        row = self.conn.execute("SELECT id, args, full FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if row is not None:
            run_id, old_args, old_full = row
            status = self.conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()[0]
            if status == "running" and old_args == args:
                self.run_id, self.full, self.resumed = run_id, bool(old_full), True
                self.conn.execute("UPDATE runs SET pid=? WHERE id=?", (os.getpid(), run_id))
                self.conn.commit()
                return int(run_id)
            if status == "running":
                self.conn.execute(
                    "UPDATE runs SET status='abandoned', ended=? WHERE id=?", (utc_now(), run_id)
                )
        cur = self.conn.execute(
            "INSERT INTO runs (started, status, full, args, pid) VALUES (?, 'running', ?, ?, ?)",
            (utc_now(), int(full), args, os.getpid()),
        )
        self.conn.commit()
        self.run_id, self.full, self.resumed = int(cur.lastrowid or 0), full, False
        return self.run_id

    def has_baseline(self) -> bool:
        """True once a run has published a dataset: only then can a run stop early."""
        return self.conn.execute("SELECT 1 FROM runs WHERE status='ok' LIMIT 1").fetchone() is not None

    def last_full_run(self) -> str | None:
        row = self.conn.execute("SELECT MAX(ended) FROM runs WHERE status='ok' AND full=1").fetchone()
        return row[0] if row else None

    def last_ok_args(self) -> str | None:
        row = self.conn.execute("SELECT args FROM runs WHERE status='ok' ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def published_count(self) -> int:
        return int(
            self.conn.execute("SELECT COUNT(*) FROM documents WHERE published_present=1").fetchone()[0]
        )

    # --- during the run ----------------------------------------------------------------

    def known(self, url: str) -> Known | None:
        row = self.conn.execute(
            "SELECT listing_fp, done_run, published_present FROM documents WHERE url=?", (url,)
        ).fetchone()
        if row is None:
            return None
        return Known(listing_fp=row[0], done_run=row[1], published_present=bool(row[2]))

    def record(
        self,
        record: dict[str, Any],
        listing_fp: str | None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Store a harvested record (it has reached the job's output), with the validators
        its page was served with (for conditional requests next time)."""
        fp, hashes = fingerprint(record)
        now = utc_now()
        self.conn.execute(
            """INSERT INTO documents (url, record, fingerprint, field_hashes, listing_fp, first_seen,
                                      last_seen, seen_run, done_run, present, fetched_run, etag, last_modified)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET record=excluded.record, fingerprint=excluded.fingerprint,
                   field_hashes=excluded.field_hashes, listing_fp=COALESCE(excluded.listing_fp, listing_fp),
                   last_seen=excluded.last_seen, seen_run=excluded.seen_run,
                   done_run=excluded.done_run, present=1, fetched_run=excluded.fetched_run,
                   etag=excluded.etag, last_modified=excluded.last_modified""",
            (record["url"], json.dumps(record, ensure_ascii=False), fp, json.dumps(hashes),
             listing_fp, now, now, self.run_id, self.run_id, self.run_id, etag, last_modified),
        )  # fmt: skip
        self._maybe_commit()

    def not_modified(self, url: str, listing_fp: str | None) -> None:
        """The site answered 304 for a document: its record stands, fetched by this run."""
        self.conn.execute(
            """UPDATE documents SET last_seen=?, seen_run=?, done_run=?, present=1, fetched_run=?,
                   listing_fp=COALESCE(?, listing_fp) WHERE url=?""",
            (utc_now(), self.run_id, self.run_id, self.run_id, listing_fp, url),
        )
        self._maybe_commit()

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """``(ETag, Last-Modified)`` the document's page was last served with."""
        row = self.conn.execute("SELECT etag, last_modified FROM documents WHERE url=?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def oldest_fetched(self, limit: int, older_than: str | None = None) -> list[dict[str, Any]]:
        """The published documents to fetch again (the rolling refresh), oldest fetch first:
        the ``limit`` fetched longest ago, and every one last fetched by a run that started
        before ``older_than`` (UTC ``YYYY-MM-DDTHH:MM:SSZ``)."""
        rows = self.conn.execute(
            """SELECT d.record, r.started FROM documents d LEFT JOIN runs r ON r.id = d.fetched_run
               WHERE d.present=1 AND d.published_present=1 AND (d.done_run IS NULL OR d.done_run<>?)
               ORDER BY d.fetched_run IS NOT NULL, d.fetched_run, d.url""",
            (self.run_id,),
        )
        out = []
        for index, (record, started) in enumerate(rows):
            aged = older_than is not None and (started is None or started < older_than)
            if index >= limit and not aged:
                break
            out.append(json.loads(record))
        return out

    def last_ok_end(self) -> str | None:
        """When the last complete run ended."""
        row = self.conn.execute("SELECT MAX(ended) FROM runs WHERE status='ok'").fetchone()
        return row[0] if row else None

    def place_of(self, url: str) -> tuple[Any, Any]:
        """``(position, listing_url)`` of a document as the state has it now."""
        row = self.conn.execute(
            "SELECT json_extract(record, '$.position'), json_extract(record, '$.listing_url') FROM documents WHERE url=?",
            (url,),
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def reuse(self, url: str, position: int | None, listing_url: str | None) -> None:
        """A known document seen again (unchanged, or already harvested by this run before it
        was resumed): keep its record, update where it stands now."""
        self.conn.execute(
            """UPDATE documents SET last_seen=?, seen_run=?, done_run=?, present=1,
                   record=json_set(record, '$.position', ?, '$.listing_url', ?)
               WHERE url=?""",
            (utc_now(), self.run_id, self.run_id, position, listing_url, url),
        )
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        self._pending += 1
        now = time.monotonic()
        if self._pending >= self.COMMIT_EVERY or now - self._last_commit >= self.COMMIT_SECONDS:
            self.commit()

    def commit(self) -> None:
        self.conn.commit()
        self._pending = 0
        self._last_commit = time.monotonic()

    # --- the end of a run ------------------------------------------------------------

    def declare_removals(self) -> int:
        """After a complete walk: documents not seen by this run are gone from the archive."""
        cur = self.conn.execute(
            "UPDATE documents SET present=0 WHERE present=1 AND (seen_run IS NULL OR seen_run<>?)",
            (self.run_id,),
        )
        return cur.rowcount

    def shift_unseen(self, offset: int, page_size: int, page_url: Callable[[int], str]) -> None:
        """After an early stop: documents below the walked pages moved down by ``offset``."""
        if not offset:
            return
        rows = self.conn.execute(
            "SELECT url, json_extract(record, '$.position') FROM documents "
            "WHERE present=1 AND (seen_run IS NULL OR seen_run<>?)",
            (self.run_id,),
        ).fetchall()
        for url, position in rows:
            if position is None:
                continue
            new = int(position) + offset
            self.conn.execute(
                "UPDATE documents SET record=json_set(record, '$.position', ?, '$.listing_url', ?) WHERE url=?",
                (new, page_url((new - 1) // page_size), url),
            )

    def apply_corrections(self, corrections: dict[str, tuple[int, str]]) -> None:
        """Where documents stand after the results moved during the walk."""
        for url, (position, listing_url) in corrections.items():
            self.conn.execute(
                "UPDATE documents SET record=json_set(record, '$.position', ?, '$.listing_url', ?) "
                "WHERE url=? AND seen_run=?",
                (position, listing_url, url, self.run_id),
            )

    def changes(self) -> RunChanges:
        """What changed since the last published (complete) run."""
        out = RunChanges()
        rows = self.conn.execute(
            """SELECT url, present, published_present, fingerprint, published_fp, field_hashes,
                      published_hashes FROM documents
               WHERE present<>published_present OR (present=1 AND fingerprint<>published_fp)
               ORDER BY url"""
        )
        for url, present, was_present, fp, old_fp, hashes, old_hashes in rows:
            if present and not was_present:
                out.added.append(url)
            elif was_present and not present:
                out.removed.append(url)
            elif present and fp != old_fp:
                new_h, old_h = json.loads(hashes), json.loads(old_hashes or "{}")
                fields = sorted(k for k in set(new_h) | set(old_h) if new_h.get(k) != old_h.get(k))
                out.changed.append((url, fields))
        return out

    def present_records(self) -> Iterator[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT record FROM documents WHERE present=1 "
            "ORDER BY json_extract(record, '$.position') IS NULL, json_extract(record, '$.position'), url"
        )
        for (record,) in rows:
            yield json.loads(record)

    def record_of(self, url: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT record FROM documents WHERE url=?", (url,)).fetchone()
        return json.loads(row[0]) if row else None

    def publish(self) -> None:
        """Make the current state the baseline of the next change set."""
        self.conn.execute(
            "UPDATE documents SET published_present=present, published_fp=fingerprint, "
            "published_hashes=field_hashes"
        )
        self.conn.execute("DELETE FROM documents WHERE present=0 AND published_present=0")

    def keep_summary(self, summary: dict[str, Any]) -> None:
        """The whole run summary (``summary.json``) kept with the run, for the job's history."""
        self.conn.execute(
            "UPDATE runs SET summary=? WHERE id=?",
            (json.dumps(summary, ensure_ascii=False, default=str), self.run_id),
        )
        self.commit()

    def history(self) -> list[dict[str, Any]]:
        """Every run of the job, oldest first: id, started, ended, status, full, and its summary."""
        return _runs(self.conn)

    def end_run(self, status: str, summary: dict[str, Any]) -> None:
        self.conn.execute(
            "UPDATE runs SET status=?, ended=?, summary=? WHERE id=?",
            (status, utc_now(), json.dumps(summary, ensure_ascii=False), self.run_id),
        )
        self.commit()


def _runs(db: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = db.execute("SELECT id, started, ended, status, full, summary FROM runs ORDER BY id")
    return [
        {"run": r[0], "started": r[1], "ended": r[2], "status": r[3], "full": bool(r[4]),
         "summary": json.loads(r[5]) if r[5] else None}
        for r in rows
    ]  # fmt: skip


def read_history(directory: Path) -> list[dict[str, Any]]:
    """A job's runs, oldest first, as :meth:`JobStore.history` gives them, read without the
    job's lock and without writing: for the report, also while a run is going. Empty when
    the job has no state yet."""
    path = directory / "state.sqlite"
    if not path.is_file():
        return []
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return _runs(db)
    finally:
        db.close()
