"""Outputs that are streams: standard output, a FIFO, a character device.

A stream is written through as the run goes and never replaced: nothing can be renamed
over a pipe, a terminal or a cron job's log. ``-O -`` and ``-O /dev/stdout`` write to the
process's own standard output (a copy of file descriptor 1, so ``>> cron.log`` keeps
appending instead of truncating the log), every log line goes to standard error.

A FIFO is opened without blocking: while no reader has it open, the run waits at most
``HARVESTER_STREAM_WAIT`` seconds, checking for SIGTERM and Ctrl-C, then refuses to start.
Opening it the blocking way would hang the process for good, deaf to SIGTERM (the signal
handler only runs once ``open()`` returns).

Writes go through :class:`GuardedWriter`: the first error (a full disk, a reader that went
away) is logged once, counted, and the rest of that output is dropped instead of raising
on every record; the verdict then fails the run.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12

logger = logging.getLogger(__name__)
#: os.write, here so that a test can stage a full disk for the feeds alone.
_os_write = os.write

#: What ``-O`` names for the process's own standard output or error.
_STD = {"-": 1, "stdout:": 1, "/dev/stdout": 1, "/dev/stderr": 2}
_FD_PATH = re.compile(r"/(?:dev/fd|proc/self/fd)/(\d+)")

#: FIFOs opened (and waited for) while the run was checked, handed to the feed that writes them.
_parked: dict[str, int] = {}


class StreamError(OSError):
    """A stream that cannot be written; the message says why and the fix."""


def std_fd(path: str | Path) -> int | None:
    """The file descriptor an output names, when it names one of this process's own.

    >>> std_fd("-"), std_fd("/dev/stdout"), std_fd("/dev/stderr"), std_fd("/dev/fd/3")
    (1, 1, 2, 3)
    >>> std_fd("out/archive.jsonl") is None
    True
    """
    text = str(path)
    if text in _STD:
        return _STD[text]
    match = _FD_PATH.fullmatch(text)
    return int(match[1]) if match else None


def stream_kind(path: str | Path) -> str | None:
    """``"std"``, ``"fifo"`` or ``"device"`` when ``path`` is a stream (symlinks followed), else None."""
    if std_fd(path) is not None:
        return "std"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode):
        return "device"
    return None


@contextmanager
def _noting_signals() -> Iterator[list[int]]:
    """While the block runs, SIGTERM and SIGINT are noted (and passed on to the handler
    in place, if it is a function) instead of being lost in a wait."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    previous: dict[int, object] = {}

    def note(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)
        handler = previous.get(signum)
        if callable(handler):
            handler(signum, frame)

    for signum in (int(signal.SIGTERM), int(signal.SIGINT)):
        previous[signum] = signal.signal(signum, note)
    try:
        yield seen
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


def open_fifo(path: Path, wait: float, *, poll: float = 0.05) -> int:
    """Open a FIFO for writing once a reader has it open, waiting at most ``wait`` seconds."""
    deadline = time.monotonic() + wait
    logged = False
    with _noting_signals() as signals_seen:
        while True:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                break
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise StreamError(exc.errno, f"cannot open the FIFO {path}: {exc.strerror}") from exc
            if signals_seen:
                name = signal.Signals(signals_seen[0]).name
                raise StreamError(
                    errno.EINTR, f"stopped by {name} while waiting for a reader on the FIFO {path}"
                )
            if not logged:
                logger.info("Waiting up to %g s for a reader to open the FIFO %s", wait, path)
                logged = True
            if time.monotonic() >= deadline:
                raise StreamError(
                    errno.ENXIO,
                    f"nothing read the FIFO {path} within {wait:g} s; start its reader first "
                    f"(e.g. 'jq . < {path} &'), or wait longer with -s HARVESTER_STREAM_WAIT=SECONDS",
                )
            time.sleep(poll)
    os.set_blocking(fd, True)
    return fd


def park(path: Path, fd: int) -> None:
    """Keep an opened FIFO for the feed that will write it."""
    old = _parked.pop(str(path), None)
    if old is not None:
        os.close(old)
    _parked[str(path)] = fd


def open_stream(path: Path, wait: float) -> int:
    """A new file descriptor writing to the stream ``path``."""
    fd = std_fd(path)
    if fd is not None:
        return os.dup(fd)
    parked = _parked.pop(str(path), None)
    if parked is not None:
        return parked
    if stream_kind(path) == "fifo":
        return open_fifo(path, wait)
    return os.open(path, os.O_WRONLY | os.O_CLOEXEC)


class GuardedWriter(io.RawIOBase):
    """Writes to a file descriptor; the first error is reported once through ``failed`` and
    everything after it is dropped (the run is failed by then), instead of raising on
    every record."""

    def __init__(self, fd: int, failed: Callable[[OSError], None]) -> None:
        super().__init__()
        self.fd = fd
        self.failed = failed
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, data: Buffer, /) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            try:
                done = 0
                while done < len(view):
                    done += _os_write(self.fd, view[done:])
            except OSError as exc:
                self.fail(exc)
        return len(view)

    def fsync(self) -> None:
        if self.error is None:
            try:
                os.fsync(self.fd)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.EROFS):  # a pipe or a device: nothing to sync
                    self.fail(exc)

    def fail(self, exc: OSError) -> None:
        if self.error is None:
            self.error = exc
            self.failed(exc)

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self.fd)
            except OSError as exc:
                self.fail(exc)
        super().close()


def guarded_file(fd: int, failed: Callable[[OSError], None]) -> tuple[io.BufferedWriter, GuardedWriter]:
    raw = GuardedWriter(fd, failed)
    return io.BufferedWriter(raw, buffer_size=64 * 1024), raw
