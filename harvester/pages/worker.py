"""Document pages read in a second process: the same page classes, in a worker (issue 17).

A replay answers every request from its archive at once, so all it spends is CPU, and about
half of that went to reading document pages (py-spy). An online crawl of the replica keeps
both cores busy (the replica serves on the second); a replay left its second core idle.
:class:`PageWorker` hands each document page's body to one worker process (``python -m
harvester.pages.worker``), which reads it with :class:`~harvester.pages.document.DocumentPage`
and sends back its :class:`~harvester.pages.document.DocumentReading` (or the
:class:`~harvester.exceptions.PageError` the page raised), while the crawl's process goes on
with the next response. One worker, first in first out: the pages are read, and their
records come out, in the order their responses came.

The two processes talk over the worker's standard input and output: frames of a 4-byte
big-endian length and a pickle. To the worker ``(url, body)``; back ``(kind, value, logs)``,
``kind`` being ``page`` (a reading), ``error`` (a ``PageError``) or ``crash`` (a traceback),
``logs`` the log lines the page classes wrote meanwhile, logged again by the crawl's process
under their own logger names. A worker that dies, or cannot be started, fails the pages it
held with :class:`WorkerGone`; the caller reads them (and all later ones) in its own process.

No Scrapy here: the parent side needs only a running asyncio loop (the crawl's reactor).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import traceback
from collections import deque
from typing import Any, BinaryIO

from harvester.child import child_env
from harvester.exceptions import HarvesterError, PageError

__all__ = ["PageWorker", "WorkerGone"]

logger = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
#: Linux lets a pipe hold more than its default 64 KiB: a document page (60-90 KB) then goes
#: in one write, and the worker's queue of pages waits in the pipe, not in our buffer.
_PIPE_SIZE = 1 << 20
#: fcntl's F_SETPIPE_SZ (Linux; Python names it from 3.10).
_F_SETPIPE_SZ = 1031
#: At most this many buffers in one ``writev`` (Linux's IOV_MAX is 1024).
_IOV_MAX = 64
#: Seconds the worker has to exit once its input is closed, before it is killed.
_EXIT_WAIT = 5.0


class WorkerGone(HarvesterError):
    """The page worker stopped (or never started): the page is to be read in this process."""


def _frame(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


class PageWorker:
    """One worker process reading document pages; :meth:`read` awaits a page's reading."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self._stdin: BinaryIO = process.stdin  # type: ignore[assignment]
        self._stdout: BinaryIO = process.stdout  # type: ignore[assignment]
        self._to = self._stdin.fileno()
        self._from = self._stdout.fileno()
        import fcntl  # POSIX: the spider starts no worker elsewhere

        for fd in (self._to, self._from):
            os.set_blocking(fd, False)
            with contextlib.suppress(OSError):  # not Linux, or past /proc/sys/fs/pipe-max-size
                fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", _F_SETPIPE_SZ), _PIPE_SIZE)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._out: deque[memoryview] = deque()
        self._in = bytearray()
        self.gone: str | None = None
        #: Pages the worker read, a page that raised included (if it stopped, the caller read the rest).
        self.pages = 0

    @classmethod
    def start(cls, command: list[str] | None = None) -> PageWorker:
        """Start the worker process (it imports the page classes while the crawl starts);
        ``command`` for another program in its place (tests)."""
        process = subprocess.Popen(
            command or [sys.executable, "-m", "harvester.pages.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
            close_fds=True,
        )
        return cls(process)

    async def read(self, url: str, body: bytes) -> Any:
        """What the document page at ``url`` says (a ``DocumentReading``), read in the worker.

        Raises the page's :class:`PageError` as reading it in this process would, and
        :class:`WorkerGone` when the worker is not there to read it.
        """
        if self.gone is not None:
            raise WorkerGone(self.gone)
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:  # a reactor other than asyncio's (TWISTED_REACTOR)
                self._stop("the page worker needs Twisted's asyncio reactor")
                raise WorkerGone(str(self.gone)) from None
            self._loop.add_reader(self._from, self._readable)
        future: asyncio.Future[Any] = self._loop.create_future()
        self._waiting.append(future)
        data = pickle.dumps((url, body), protocol=pickle.HIGHEST_PROTOCOL)
        self._send(_LENGTH.pack(len(data)), data)
        kind, value, logs = await future
        for name, level, message in logs:
            logging.getLogger(name).log(level, "%s", message)
        if kind == "crash":
            raise RuntimeError(f"reading {url} in the page worker failed:\n{value}")
        self.pages += 1
        if kind == "error":
            raise value
        return value

    def _send(self, *parts: bytes) -> None:
        """Write ``parts`` to the worker, or queue them until its pipe has room: the pages
        wait as they are (no growing buffer copied over and over), in order."""
        if self._out:
            self._out.extend(map(memoryview, parts))
            return
        self._out.extend(map(memoryview, parts))
        if self._flush():
            assert self._loop is not None
            self._loop.add_writer(self._to, self._writable)

    def _flush(self) -> bool:
        """Write what waits, as far as the pipe takes it; True when some is left."""
        out = self._out
        while out:
            try:
                written = os.writev(self._to, list(itertools.islice(out, _IOV_MAX)))
            except BlockingIOError:
                return True
            except OSError as exc:
                self._stop(f"the page worker does not read its input ({exc.strerror or exc})")
                return False
            while written and out:
                head = out[0]
                if written < len(head):
                    out[0] = head[written:]
                    return True
                written -= len(head)
                out.popleft()
        return False

    def _writable(self) -> None:
        if not self._flush() and self._loop is not None:
            self._loop.remove_writer(self._to)

    def _readable(self) -> None:
        try:
            data = os.read(self._from, 1 << 20)
        except BlockingIOError:
            return
        except OSError as exc:
            self._stop(f"the page worker's output cannot be read ({exc.strerror or exc})")
            return
        if not data:
            code = self.process.poll()
            self._stop(
                f"the page worker stopped (exit status {code})"
                if code is not None
                else "the page worker closed its output"
            )
            return
        self._in += data
        at, end = 0, len(self._in)
        with memoryview(self._in) as view:
            while end - at >= _LENGTH.size:
                (size,) = _LENGTH.unpack_from(view, at)
                if end - at < _LENGTH.size + size:
                    break
                answer = pickle.loads(view[at + _LENGTH.size : at + _LENGTH.size + size])
                at += _LENGTH.size + size
                future = self._waiting.popleft()
                if not future.done():  # a callback cancelled meanwhile (the engine closing) awaits nothing
                    future.set_result(answer)
        del self._in[:at]

    def _stop(self, why: str) -> None:
        """No more pages for the worker: those it held fail with :class:`WorkerGone`."""
        if self.gone is None:
            self.gone = why
            logger.warning("%s: document pages are read in the crawl's process from now on", why)
        self._unwatch()
        self._out.clear()
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(WorkerGone(why))

    def _unwatch(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._from)
            self._loop.remove_writer(self._to)

    def close(self) -> None:
        """Let the worker go (its input closed, it exits; killed if it does not)."""
        if self.gone is None:
            self.gone = "the page worker was closed"
        self._unwatch()
        while self._waiting:
            self._waiting.popleft().cancel()
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            self.process.wait(_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stdout.close()


# --- the worker's side ----------------------------------------------------------------------


class _Collect(logging.Handler):
    """Log records of the page classes, sent back with the page they were written for."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.levelno, record.getMessage()))


def _read_exactly(source: BinaryIO, size: int) -> bytes | None:
    data = source.read(size)
    return data if len(data) == size else None


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    """Read pages from ``source`` until it ends, each answer to ``sink``."""
    from harvester.pages.document import DocumentPage  # the worker's one heavy import

    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    root.setLevel(logging.DEBUG)
    while (header := _read_exactly(source, _LENGTH.size)) is not None:
        data = _read_exactly(source, _LENGTH.unpack(header)[0])
        if data is None:
            return
        url, body = pickle.loads(data)
        collect.lines = []
        answer: tuple[str, Any]
        try:
            answer = ("page", DocumentPage(url, body).reading())
        except PageError as exc:
            answer = ("error", exc)
        except Exception:  # a bug, not a page: the crawl's process says where it was raised
            answer = ("crash", traceback.format_exc())
        sink.write(_frame(pickle.dumps((*answer, collect.lines), protocol=pickle.HIGHEST_PROTOCOL)))
        sink.flush()


def main() -> None:
    # Ctrl-C stops the crawl, which then closes this worker's input: the worker ends with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not break a frame
    try:
        serve(source, sink)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
