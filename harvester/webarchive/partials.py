"""A run's capture file while the run goes, and those a killed run left behind.

The capture is written to ``.harvester-capture.<pid>.<random>.warc.gz.partial`` in the folder
of the web archive, and the run holds an exclusive ``flock`` on it until the WACZ is written
and the file removed. A run killed meanwhile (SIGKILL) leaves the file; the kernel releases
its lock. The next run in that folder finds it (:func:`abandoned_captures`) and removes it, or
a scheduled job salvages it (:func:`harvester.webarchive.jobarchive.salvage`). A file is
abandoned only when the process its name gives is gone (a live process keeps it, whatever it
is) and its lock can be taken: a run going on in the same folder keeps its file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

CAPTURE_PREFIX = ".harvester-capture."
CAPTURE_SUFFIX = ".warc.gz.partial"


@dataclass
class CaptureFile:
    """The capture file of this run, and the descriptor that holds its lock."""

    path: Path
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # the lock goes with it
            self.fd = -1


def open_capture(folder: Path) -> CaptureFile:
    """A new capture file in ``folder``, locked for as long as this run holds it."""
    fd, name = tempfile.mkstemp(prefix=f"{CAPTURE_PREFIX}{os.getpid()}.", suffix=CAPTURE_SUFFIX, dir=folder)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new: nobody else can hold it
    return CaptureFile(Path(name), fd)


def owner_of(name: str) -> int | None:
    """The process id in a capture file's name (None in a name without one).

    >>> owner_of(".harvester-capture.4242.k2j_x9.warc.gz.partial"), owner_of(".harvester-capture.k2j.warc.gz.partial")
    (4242, None)
    """
    first = name.removeprefix(CAPTURE_PREFIX).split(".", 1)[0]
    return int(first) if first.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def abandoned_captures(folder: Path) -> list[Path]:
    """Capture files in ``folder`` whose run is gone (killed), oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(f"{CAPTURE_PREFIX}*{CAPTURE_SUFFIX}"):
        pid = owner_of(path.name)
        if pid is not None and _alive(pid):
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a run holds it
        finally:
            os.close(fd)
        found.append(path)
    with contextlib.suppress(FileNotFoundError):
        found.sort(key=lambda p: p.stat().st_mtime)
    return found
