"""A child Python process for work whose libraries must not join the crawl's memory.

Drawing the report's charts (matplotlib and numpy, ~45 MB) and writing Parquet (pyarrow,
~50 MB) happen once, at the end of a run; imported into the crawl process, their RSS stays
for the rest of it and sets its peak. A child imports them, does the work, and exits: the
crawl's peak stays the crawl's, and the child's (smaller) is its own.

The child runs ``python -m MODULE`` with this interpreter and this process's import path,
so it finds the same harvester wherever it comes from (a checkout, a wheel, or the egg
Scrapyd adds to ``sys.path``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import IO

#: How much of a failed child's stderr an error message quotes.
STDERR_TAIL = 2_000


class ChildFailed(RuntimeError):
    """The child exited with an error; the message ends with its stderr's last lines."""


def child_env() -> dict[str, str]:
    """This process's environment, with ``PYTHONPATH`` set to its import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def run_module(
    module: str, args: list[str], *, stdin: IO[bytes] | int | None, stdout: IO[bytes] | int | None, what: str
) -> None:
    """Run ``python -m module *args`` to its end, its stdin and stdout as given (files or
    pipes); raise :class:`ChildFailed`, naming ``what`` and quoting its stderr, when it fails."""
    with tempfile.TemporaryFile() as stderr:
        command = [sys.executable, "-m", module, *args]
        try:
            code = subprocess.call(command, stdin=stdin, stdout=stdout, stderr=stderr, env=child_env())
        except OSError as exc:
            raise ChildFailed(f"{what} failed: could not start {sys.executable}: {exc}") from exc
        if code == 0:
            return
        stderr.seek(0)
        tail = stderr.read().decode("utf-8", "replace").strip()[-STDERR_TAIL:]
    raise ChildFailed(f"{what} failed (python -m {module} exited {code}){': ' + tail if tail else ''}")
