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

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from harvester.exceptions import HarvesterError
from harvester.files import PARTIAL_SUFFIX
from harvester.text import utc_now

logger = logging.getLogger(__name__)

#: Fields that describe the run, not the document: left out of fingerprints.
RUN_FIELDS = frozenset({"query", "listing_url", "position", "harvested_at"})

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
    published_hashes TEXT
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


class JobLockedError(HarvesterError):
    """Another run of the same job holds its lock."""


def _hash(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def content_of(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in RUN_FIELDS}


def fingerprint(record: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The content fingerprint of a record and one short hash per content field."""
    content = content_of(record)
    hashes = {k: _hash(v) for k, v in sorted(content.items())}
    return _hash(hashes), hashes


def listing_fingerprint(url: str, title: str | None, date_raw: str | None, summary: str | None) -> str:
    """Fingerprint of a result row as displayed: unchanged row, unchanged listing."""
    return _hash([url, title, date_raw, summary])


class JobLock:
    """An exclusive ``flock`` on ``<job dir>/lock``: released by the kernel when the process dies.

    So a lock left by a killed run is never stale: the next run simply takes it. The file
    holds the holder's PID, for the message when two runs overlap.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise JobLockedError(
                f"job is already running (pid {holder}, lock {self.path}); wait for it to finish, "
                "or stop it, before starting another run of the same job"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


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

    def record(self, record: dict[str, Any], listing_fp: str | None) -> None:
        """Store a harvested record (it has reached the job's output)."""
        fp, hashes = fingerprint(record)
        now = utc_now()
        self.conn.execute(
            """INSERT INTO documents (url, record, fingerprint, field_hashes, listing_fp, first_seen,
                                      last_seen, seen_run, done_run, present)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
               ON CONFLICT(url) DO UPDATE SET record=excluded.record, fingerprint=excluded.fingerprint,
                   field_hashes=excluded.field_hashes, listing_fp=excluded.listing_fp,
                   last_seen=excluded.last_seen, seen_run=excluded.seen_run,
                   done_run=excluded.done_run, present=1""",
            (record["url"], json.dumps(record, ensure_ascii=False), fp, json.dumps(hashes),
             listing_fp, now, now, self.run_id, self.run_id),
        )  # fmt: skip
        self._maybe_commit()

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
