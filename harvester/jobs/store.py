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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings

from harvester.corrections import correct
from harvester.exceptions import HarvesterError
from harvester.files import PARTIAL_SUFFIX
from harvester.jobs.fingerprints import fingerprint
from harvester.jobs.lock import JobLock
from harvester.jobs.policy import Known, Place, refresh_plan, same_args
from harvester.text import utc_now
from harvester.webarchive.partials import CAPTURE_PREFIX

logger = logging.getLogger(__name__)

#: The job's published dataset, from which a lost state is rebuilt.
PUBLISHED_DATASET = "archive.jsonl"

#: The schema of version 1 (harvester 0.1.0, before ``PRAGMA user_version`` was kept): a
#: state of that release has these tables, with or without the three columns that
#: :func:`_migrate_1` adds when they are missing.
_SCHEMA_1 = """
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


def _columns(db: sqlite3.Connection) -> set[str]:
    return {row[1] for row in db.execute("PRAGMA table_info(documents)")}


def _migrate_1(db: sqlite3.Connection) -> None:
    """Version 0 (a new file, or harvester 0.1.0): the tables, and the rolling refresh's and
    conditional requests' columns, which states written before them lack."""
    db.executescript(_SCHEMA_1)
    columns = _columns(db)
    for column, kind in (("fetched_run", "INTEGER"), ("etag", "TEXT"), ("last_modified", "TEXT")):
        if column not in columns:
            db.execute(f"ALTER TABLE documents ADD COLUMN {column} {kind}")


def _migrate_2(db: sqlite3.Connection) -> None:
    """Version 2: documents found gone, documents that keep failing (since when, with what,
    when to try again), where each stood in the published dataset (positions are ranks), alias
    addresses resolved once, and the job's own values (the rolling walk's place)."""
    for column, kind in (
        ("gone_run", "INTEGER"),
        ("fail_count", "INTEGER NOT NULL DEFAULT 0"),
        ("failed_since", "TEXT"),
        ("last_error", "TEXT"),
        ("next_try", "TEXT"),
        ("published_position", "INTEGER"),
    ):
        db.execute(f"ALTER TABLE documents ADD COLUMN {column} {kind}")
    # What a version-1 state published is where its records stand.
    db.execute(
        "UPDATE documents SET published_position=json_extract(record, '$.position') WHERE published_present=1"
    )
    db.executescript(
        """
        CREATE TABLE aliases (alias TEXT PRIMARY KEY, url TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )


#: Migrations in order: ``MIGRATIONS[n]`` takes a state from version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_1, _migrate_2]
SCHEMA_VERSION = len(MIGRATIONS)


class JobStateError(HarvesterError):
    """The job's state cannot be read or was written by a newer harvester."""


def migrate(db: sqlite3.Connection) -> int:
    """Bring a state to :data:`SCHEMA_VERSION`, one explicit step at a time, each in one
    transaction; return the version it had."""
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise JobStateError(
            f"the job's state is of schema version {found}, newer than this harvester's "
            f"{SCHEMA_VERSION}: run the harvester that wrote it, or a newer one"
        )
    for version in range(found, SCHEMA_VERSION):
        with db:
            MIGRATIONS[version](db)
            db.execute(f"PRAGMA user_version={version + 1}")
    return found


def preview(settings: BaseSettings, job: str, *, details: bool) -> int | None:
    """How many documents a run of ``job`` would fetch again (for ``-a plan=true``, which
    writes nothing): read without the job's lock; ``None`` for a job that has no state yet."""
    path = Path(settings.get("HARVESTER_JOBS_DIR")) / job / "state.sqlite"
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        count = db.execute("SELECT COUNT(*) FROM documents WHERE published_present=1").fetchone()[0]
        ended = db.execute("SELECT MAX(ended) FROM runs WHERE status='ok'").fetchone()[0]
    days = settings.getfloat("HARVESTER_JOB_FULL_EVERY_DAYS")
    if not details or not days:
        return 0
    return refresh_plan(int(count), days, ended, datetime.now(UTC))[0]


@dataclass(frozen=True)
class Stale:
    """A known document whose page keeps failing: its last good record is kept."""

    url: str
    since: str
    error: str
    attempts: int
    next_try: str | None


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
        self.adopted: int | None = None
        """Documents taken from the published dataset because the state was lost."""
        self.upgraded_from: int | None = None
        self._pending = 0
        self._last_commit = time.monotonic()

    @property
    def path(self) -> Path:
        return self.directory / "state.sqlite"

    # --- life cycle --------------------------------------------------------------------

    def open(self) -> None:
        self.lock.acquire()
        try:
            self._open()
        except BaseException:
            if self.db is not None:
                self.db.close()
                self.db = None
            self.lock.release()
            raise

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Files a killed run was writing: nobody else can be writing them, we hold the lock.
        # Its web archive capture is the capture middleware's to salvage (the records it
        # committed name captures in it).
        for stale in self.directory.glob(f".*{PARTIAL_SUFFIX}"):
            if not stale.name.startswith(CAPTURE_PREFIX):
                stale.unlink(missing_ok=True)
        lost = not self.path.exists() or self.path.stat().st_size == 0
        try:
            self.db = sqlite3.connect(self.path, isolation_level="DEFERRED")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            found = migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise JobStateError(
                f"the job's state {self.path} cannot be read ({exc}); move it away and run again: "
                "the job then starts from its published dataset"
            ) from exc
        if 0 < found < SCHEMA_VERSION:
            self.upgraded_from = found
            logger.info(
                "Job state %s upgraded from schema version %s to %s", self.path, found, SCHEMA_VERSION
            )
        empty = self.conn.execute("SELECT NOT EXISTS (SELECT 1 FROM runs)").fetchone()[0]
        if (lost or empty) and (self.directory / PUBLISHED_DATASET).is_file():
            self.adopted = self._adopt_published(self.directory / PUBLISHED_DATASET)

    def _adopt_published(self, dataset: Path) -> int:
        """The state is lost but the job's published dataset is there: take it as what the
        job last published, so that the change set compares against it (never "all added")."""
        count = 0
        with self.conn:
            with dataset.open(encoding="utf-8") as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line a killed writer never finished: not published
                    if not isinstance(record, dict) or not record.get("url"):
                        continue
                    fp, hashes = fingerprint(record)
                    now = utc_now()
                    self.conn.execute(
                        """INSERT OR IGNORE INTO documents (url, record, fingerprint, field_hashes, first_seen,
                               last_seen, present, published_present, published_fp, published_hashes,
                               published_position)
                           VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?, ?, ?)""",
                        (record["url"], json.dumps(record, ensure_ascii=False), fp, json.dumps(hashes),
                         now, now, fp, json.dumps(hashes), record.get("position")),
                    )  # fmt: skip
                    count += 1
        logger.warning(
            "Job state %s was missing or empty, but the job's published dataset %s is there: "
            "starting from its %s documents (this run walks everything and fetches every document again; "
            "the change set compares against what was published)",
            self.path, dataset, count,
        )  # fmt: skip
        return count

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
            if status == "running" and same_args(old_args, args):
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

    def done_in_run(self) -> int:
        """Documents this run has harvested so far (a resumed run: before it was killed)."""
        row = self.conn.execute("SELECT COUNT(*) FROM documents WHERE done_run=?", (self.run_id,)).fetchone()
        return int(row[0])

    def last_ok_end(self) -> str | None:
        """When the last complete run ended."""
        row = self.conn.execute("SELECT MAX(ended) FROM runs WHERE status='ok'").fetchone()
        return row[0] if row else None

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    # --- during the run ----------------------------------------------------------------

    def canonical(self, url: str) -> str:
        """The canonical URL an alias address (``/node/<nid>``, a legacy id) was resolved to
        before; the URL itself otherwise."""
        row = self.conn.execute("SELECT url FROM aliases WHERE alias=?", (url,)).fetchone()
        return str(row[0]) if row else url

    def remember_alias(self, alias: str, url: str) -> None:
        self.conn.execute(
            "INSERT INTO aliases (alias, url) VALUES (?, ?) ON CONFLICT(alias) DO UPDATE SET url=excluded.url",
            (alias, url),
        )

    def known(self, url: str) -> Known | None:
        """What the job holds of the document a row links to (by any address resolved before)."""
        url = self.canonical(url)
        row = self.conn.execute(
            "SELECT listing_fp, done_run, published_present FROM documents WHERE url=? AND present=1",
            (url,),
        ).fetchone()
        if row is None:
            return None
        return Known(url=url, listing_fp=row[0], done_run=row[1], published_present=bool(row[2]))

    def holds(self, url: str) -> bool:
        """The job has a published record of this document (a known document)."""
        row = self.conn.execute(
            "SELECT 1 FROM documents WHERE url=? AND present=1 AND published_present=1", (url,)
        ).fetchone()
        return row is not None

    def record(
        self,
        record: dict[str, Any],
        listing_fp: str | None,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        listed: bool = True,
    ) -> None:
        """Store a harvested record (it has reached the job's output), with the validators
        its page was served with (for conditional requests next time). ``listed``: this
        run's walk placed it (its position is this run's); else it keeps the place it has."""
        fp, hashes = fingerprint(record)
        now = utc_now()
        seen = self.run_id if listed else None
        self.conn.execute(
            """INSERT INTO documents (url, record, fingerprint, field_hashes, listing_fp, first_seen,
                                      last_seen, seen_run, done_run, present, fetched_run, etag, last_modified)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET record=excluded.record, fingerprint=excluded.fingerprint,
                   field_hashes=excluded.field_hashes, listing_fp=COALESCE(excluded.listing_fp, listing_fp),
                   last_seen=excluded.last_seen,
                   seen_run=COALESCE(excluded.seen_run, seen_run),
                   done_run=excluded.done_run, present=1, gone_run=NULL, fetched_run=excluded.fetched_run,
                   etag=excluded.etag, last_modified=excluded.last_modified,
                   fail_count=0, failed_since=NULL, last_error=NULL, next_try=NULL""",
            (record["url"], json.dumps(record, ensure_ascii=False), fp, json.dumps(hashes),
             listing_fp, now, now, seen, self.run_id, self.run_id, etag, last_modified),
        )  # fmt: skip
        self._maybe_commit()

    def not_modified(self, url: str) -> None:
        """The site answered 304 to the job's conditional request: the page is unchanged,
        and counts as fetched. Nothing else is taken from it (not the listing, not a place)."""
        self.conn.execute(
            """UPDATE documents SET last_seen=?, done_run=?, present=1, gone_run=NULL, fetched_run=?,
                   fail_count=0, failed_since=NULL, last_error=NULL, next_try=NULL WHERE url=?""",
            (utc_now(), self.run_id, self.run_id, url),
        )
        self._maybe_commit()

    def gone(self, url: str) -> None:
        """The document's page says it is gone (404/410, or it now redirects to another
        document): it leaves the dataset with this run."""
        self.conn.execute(
            "UPDATE documents SET present=0, gone_run=?, done_run=? WHERE url=?",
            (self.run_id, self.run_id, url),
        )
        self._maybe_commit()

    def failed(self, url: str, error: str, next_try: str) -> int:
        """A known document's page failed again: its last good record stays; it is tried
        again from ``next_try`` on. Returns how many runs in a row it has failed."""
        self.conn.execute(
            """UPDATE documents SET fail_count=fail_count+1, failed_since=COALESCE(failed_since, ?),
                   last_error=?, next_try=? WHERE url=?""",
            (utc_now(), error, next_try, url),
        )
        self._maybe_commit()
        row = self.conn.execute("SELECT fail_count FROM documents WHERE url=?", (url,)).fetchone()
        return int(row[0]) if row else 0

    def fail_count(self, url: str) -> int:
        row = self.conn.execute("SELECT fail_count FROM documents WHERE url=?", (url,)).fetchone()
        return int(row[0]) if row else 0

    def stale(self) -> list[Stale]:
        """Known documents whose page failed on their last try, longest failing first."""
        rows = self.conn.execute(
            """SELECT url, failed_since, last_error, fail_count, next_try FROM documents
               WHERE present=1 AND fail_count>0 ORDER BY failed_since, url"""
        )
        return [Stale(r[0], r[1], r[2] or "", int(r[3]), r[4]) for r in rows]

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """``(ETag, Last-Modified)`` the document's page was last served with."""
        row = self.conn.execute("SELECT etag, last_modified FROM documents WHERE url=?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def oldest_fetched(
        self, limit: int, older_than: str | None = None, now: str | None = None
    ) -> list[dict[str, Any]]:
        """The published documents to fetch again (the rolling refresh), oldest fetch first:
        the ``limit`` fetched longest ago, and every one last fetched by a run that started
        before ``older_than`` (UTC ``YYYY-MM-DDTHH:MM:SSZ``). A document that keeps failing
        waits for its ``next_try``."""
        rows = self.conn.execute(
            """SELECT d.record, r.started FROM documents d LEFT JOIN runs r ON r.id = d.fetched_run
               WHERE d.present=1 AND d.published_present=1 AND (d.done_run IS NULL OR d.done_run<>?)
                   AND (d.next_try IS NULL OR ? IS NULL OR d.next_try <= ?)
               ORDER BY d.fetched_run IS NOT NULL, d.fetched_run, d.url""",
            (self.run_id, now, now),
        )
        out = []
        for index, (record, started) in enumerate(rows):
            aged = older_than is not None and (started is None or started < older_than)
            if index >= limit and not aged:
                break
            out.append(json.loads(record))
        return out

    def forget_validators(self, urls: list[str]) -> None:
        """These documents are asked for without validators next time (a 304 would confirm a
        page the job cannot show): their next refresh reads the whole page."""
        self.conn.executemany(
            "UPDATE documents SET etag=NULL, last_modified=NULL WHERE url=?", [(u,) for u in urls]
        )
        self._maybe_commit()

    def place_of(self, url: str) -> tuple[Any, Any]:
        """``(position, listing_url)`` of a document as the state has it now."""
        row = self.conn.execute(
            "SELECT json_extract(record, '$.position'), json_extract(record, '$.listing_url') FROM documents WHERE url=?",
            (url,),
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def reuse(
        self,
        url: str,
        position: int | None,
        listing_url: str | None,
        *,
        done: bool = True,
        listing_fp: str | None = None,
    ) -> None:
        """A known document listed by this run's walk: keep its record, note where it stands
        now (and, given, the fingerprint of the row that lists it)."""
        self.conn.execute(
            """UPDATE documents SET last_seen=?,
                   seen_run=?, done_run=CASE WHEN ? THEN ? ELSE done_run END, present=1,
                   record=json_set(record, '$.position', ?, '$.listing_url', ?),
                   listing_fp=COALESCE(?, listing_fp)
               WHERE url=?""",
            (utc_now(), self.run_id, done, self.run_id, position, listing_url, listing_fp, url),
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
        """After a complete walk: documents the walk did not list are gone from the archive."""
        cur = self.conn.execute(
            "UPDATE documents SET present=0 WHERE present=1 AND (seen_run IS NULL OR seen_run<>?)",
            (self.run_id,),
        )
        return cur.rowcount

    def places(self) -> list[Place]:
        """Every present document's place, for :func:`harvester.jobs.policy.ranks`: where
        this run's walk listed it, and where it stood in the last published dataset (a failed
        run's walk, which published nothing, counts for neither)."""
        rows = self.conn.execute(
            "SELECT url, json_extract(record, '$.position'), published_position, seen_run FROM documents WHERE present=1"
        )
        places = []
        for url, position, published, seen in rows:
            listed = seen == self.run_id
            before = published if published is not None or listed else position
            places.append(Place(url, position if listed else before, before, listed))
        return places

    def set_places(self, places: dict[str, tuple[int, str]]) -> None:
        """Write each document's position and results page (``url -> (position, listing_url)``)."""
        self.conn.executemany(
            """UPDATE documents SET record=json_set(record, '$.position', ?, '$.listing_url', ?)
               WHERE url=? AND (json_extract(record, '$.position') IS NOT ? OR
                                json_extract(record, '$.listing_url') IS NOT ?)""",
            ((p, u, url, p, u) for url, (p, u) in places.items()),
        )

    def apply_corrections(self, corrections: dict[str, tuple[int, str]]) -> None:
        """Where documents stand after the results moved during the walk."""
        for url in corrections:
            row = self.conn.execute(
                "SELECT record FROM documents WHERE url=? AND seen_run=?", (url, self.run_id)
            ).fetchone()
            if row is None:
                continue
            record = json.loads(row[0])
            if correct(record, corrections):
                self.conn.execute(
                    "UPDATE documents SET record=? WHERE url=?", (json.dumps(record, ensure_ascii=False), url)
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
            "published_hashes=field_hashes, published_position=json_extract(record, '$.position')"
        )
        self.conn.execute("DELETE FROM documents WHERE present=0 AND published_present=0")
        self.conn.execute("DELETE FROM aliases WHERE url NOT IN (SELECT url FROM documents)")

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
