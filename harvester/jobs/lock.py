"""One run of a job at a time: an exclusive ``flock`` on the job's ``lock`` file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from harvester.exceptions import HarvesterError


class JobLockedError(HarvesterError):
    """Another run of the same job holds its lock."""


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
