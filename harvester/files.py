"""Files a run leaves for its consumers, written aside and put in place only when complete.

Every output is first written to ``.<name>.<random>.partial`` in the folder where it will
live, then renamed over the final path (a rename within one folder is atomic on POSIX): a
consumer reads the previous complete file or the new complete file, never a partial one.
A file that is replaced keeps its permission bits and, where the process may set it, its
owner. A path that is not a regular file is handled by :func:`resolve_output`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from harvester.streams import stream_kind


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


#: Permissions of a new file: what ``open()`` would give (``mkstemp`` makes them 0600).
FILE_MODE = 0o666 & ~_umask()
PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class OutputPath:
    """Where an output goes. ``stream``: write straight to it (a device, a FIFO), no rename."""

    path: Path
    stream: bool = False


class OutputPathError(OSError):
    """An output path that cannot be written the safe way; the message says why and the fix."""


def resolve_output(path: Path) -> OutputPath:
    """Decide how to write ``path``: a stream (``-``, ``/dev/stdout``, a character device
    or a FIFO, through symlinks too) is written to directly and never replaced; a symlink to
    a file is written through to its target (atomically, in the target's folder); a
    directory or any other special file is refused with the reason."""
    if stream_kind(path) is not None:
        return OutputPath(path, stream=True)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return OutputPath(target)  # a new file (an unusable folder is the folder check's to say)
    if stat.S_ISREG(mode):
        return OutputPath(target)
    if stat.S_ISDIR(mode):
        raise OutputPathError(
            f"{path} is a folder; give a file name inside it, e.g. {path / 'archive.jsonl'}"
        )
    raise OutputPathError(f"{path} is not a regular file, a device or a FIFO; choose another output path")


_ROLE = re.compile(r"\.(?:failed(?:-\d+)?|summary|report)$")


def dataset_stem(path: Path) -> str:
    """A dataset's name: its file name less its last suffix, and less the role a file of the
    harvester's gives it (a failed run's aside, a summary, a report).

    >>> dataset_stem(Path("out/wilson.2026-12-01.jsonl")), dataset_stem(Path("wilson.2026-12-02.csv"))
    ('wilson.2026-12-01', 'wilson.2026-12-02')
    >>> dataset_stem(Path("korea.failed.jsonl")), dataset_stem(Path("korea.failed-2.jsonl"))
    ('korea', 'korea')
    >>> dataset_stem(Path("x.y.summary.json")), dataset_stem(Path("data"))
    ('x.y', 'data')
    """
    name = path.name[: -len(path.suffix)] if path.suffix else path.name
    return _ROLE.sub("", name)


#: Locks on the outputs of the runs of this process: id of the run's settings -> lock files.
_output_locks: dict[int, list[tuple[Path, int]]] = {}


def lock_output(final: Path, run: object) -> None:
    """Hold ``.<name>.lock`` beside ``final`` until :func:`release_outputs` for ``run`` (the
    run's settings): a second run writing the same output while this one runs is refused,
    before it sends any request (it would remove this run's ``.partial`` as a killed
    run's, or publish over it). A killed run's lock is released by the kernel."""
    lock = final.with_name(f".{final.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise OutputPathError(
                f"another run (pid {holder}) is writing {final}; wait for it to end, or give this run "
                "another output"
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the run that held it removed it meanwhile: take the new one
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    _output_locks.setdefault(id(run), []).append((lock, fd))


def release_outputs(run: object) -> None:
    """Let other runs write ``run``'s outputs again (its files are in place, or it was
    refused); the lock files go (removed while still held, so no other run holds a lock
    on a file that is gone)."""
    for lock, fd in _output_locks.pop(id(run), []):
        lock.unlink(missing_ok=True)
        os.close(fd)


def partial_path(final: Path) -> Path:
    """A new hidden temporary file beside ``final`` (created empty, mode :data:`FILE_MODE`)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=PARTIAL_SUFFIX, dir=final.parent)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    return Path(tmp)


def stale_partials(final: Path) -> list[Path]:
    """Hidden ``.partial`` files a killed run left beside ``final``."""
    if not final.parent.is_dir():
        return []
    return sorted(final.parent.glob(f".{final.name}.*{PARTIAL_SUFFIX}"))


def replace_keeping_mode(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` over ``final``; the new file keeps the old one's mode and owner."""
    try:
        old = final.stat()
    except FileNotFoundError:
        old = None
    if old is not None:
        os.chmod(tmp, stat.S_IMODE(old.st_mode))
        with contextlib.suppress(PermissionError):
            os.chown(tmp, old.st_uid, old.st_gid)
    os.replace(tmp, final)


def fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place."""
    tmp = partial_path(path)
    try:
        with tmp.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        replace_keeping_mode(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    data = (json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n").encode("utf-8")

    def write(handle: IO[bytes]) -> None:
        handle.write(data)

    write_atomically(path, write)
