"""JobStore: change sets, resume, removals, the lock (in-process, on a temporary folder)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harvester.files import write_atomically
from harvester.jobs.fingerprints import fingerprint
from harvester.jobs.lock import JobLock, JobLockedError
from harvester.jobs.store import JobStore


def rec(url: str, title: str, position: int, **extra: object) -> dict[str, object]:
    return {
        "id": url.rsplit("/", 1)[1],
        "url": url,
        "title": title,
        "position": position,
        "listing_url": "http://h/search",
        "harvested_at": "2026-11-30T00:00:00Z",
        **extra,
    }


def test_fingerprint_ignores_run_fields_only() -> None:
    a = rec("http://h/document/a", "A", 1)
    b = rec("http://h/document/a", "A", 7, harvested_at="2027-01-01T00:00:00Z")
    assert fingerprint(a)[0] == fingerprint(b)[0]
    assert fingerprint(a)[0] != fingerprint(rec("http://h/document/a", "A.", 1))[0]


def test_change_set_since_the_last_published_run(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "job")
    store.open()
    store.begin_run("{}", full=True)
    for n, title in enumerate(["A", "B", "C"], start=1):
        store.record(rec(f"http://h/document/{title.lower()}", title, n), listing_fp=title)
    first = store.changes()
    assert len(first.added) == 3 and not first.changed and not first.removed
    store.declare_removals()
    store.publish()
    store.end_run("ok", {})
    # Run 2: a changed, b unchanged (reused), c gone, d new.
    store.begin_run("{}", full=False)
    store.record(rec("http://h/document/a", "A (Revised)", 1), listing_fp="A2")
    store.reuse("http://h/document/b", 2, "http://h/search")
    store.record(rec("http://h/document/d", "D", 3), listing_fp="D")
    assert store.declare_removals() == 1
    changes = store.changes()
    assert changes.added == ["http://h/document/d"]
    assert changes.changed == [("http://h/document/a", ["title"])]
    assert changes.removed == ["http://h/document/c"]
    assert [r["title"] for r in store.present_records()] == ["A (Revised)", "B", "D"]
    store.publish()
    store.end_run("ok", {})
    assert store.changes().counts() == {"added": 0, "changed": 0, "removed": 0}
    assert store.published_count() == 3
    store.close()


def test_a_killed_run_is_resumed_with_its_work_kept(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "job")
    store.open()
    run = store.begin_run('{"q": 1}', full=True)
    store.record(rec("http://h/document/a", "A", 1), listing_fp="A")
    store.commit()
    store.db.close()  # type: ignore[union-attr]  # the process dies: no end_run
    store.db = None
    store.lock.release()

    again = JobStore(tmp_path / "job")
    again.open()
    assert again.begin_run('{"q": 1}', full=False) == run
    assert again.resumed and again.full
    known = again.known("http://h/document/a")
    assert known is not None and known.done_run == run
    # Different arguments: the old run is abandoned, a new one starts.
    again.end_run("running", {})
    assert again.begin_run('{"q": 2}', full=False) == run + 1
    again.close()


def test_uncommitted_records_are_not_marked(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "job")
    store.COMMIT_EVERY = 10_000
    store.COMMIT_SECONDS = 3600
    store.open()
    store.begin_run("{}", full=True)
    store.record(rec("http://h/document/a", "A", 1), listing_fp="A")
    # Killed before the batch was committed: the record never counted as done.
    store.db.close()  # type: ignore[union-attr]
    store.db = None
    store.lock.release()
    again = JobStore(tmp_path / "job")
    again.open()
    assert again.known("http://h/document/a") is None
    again.close()


def test_second_run_of_a_job_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    first = JobLock(tmp_path / "lock")
    first.acquire()
    with pytest.raises(JobLockedError, match=rf"already running \(pid {os.getpid()}"):
        JobLock(tmp_path / "lock").acquire()
    first.release()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from harvester.jobs.lock import JobLock;"
        f"lock = JobLock(Path({str(tmp_path / 'lock')!r})); lock.acquire(); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    # While it lives, the lock holds...
    with pytest.raises(JobLockedError, match=f"pid {holder.pid}"):
        JobLock(tmp_path / "lock").acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    holder.stdout.close()
    # ...and once it is dead, the next run takes it over although the file says its pid.
    assert str(holder.pid) in (tmp_path / "lock").read_text()
    lock = JobLock(tmp_path / "lock")
    lock.acquire()
    assert (tmp_path / "lock").read_text().strip() == str(os.getpid())
    lock.release()


def test_write_atomically_never_leaves_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "archive.jsonl"
    write_atomically(target, lambda h: h.write(b'{"a": 1}\n'))

    def broken(handle: object) -> None:
        handle.write(b'{"a": 2}\n{"tru')  # type: ignore[attr-defined]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, broken)
    assert target.read_text() == '{"a": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["archive.jsonl"]
    assert json.loads(target.read_text())["a"] == 1
    assert time.time() - target.stat().st_mtime < 60
