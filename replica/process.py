"""Start the replica in a subprocess and learn its address: for tests, benchmarks, demos."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The repository root: ``replica`` is test tooling beside the ``harvester`` package, not installed.
ROOT = Path(__file__).resolve().parents[1]


class ReplicaStartError(RuntimeError):
    """The replica did not print its base URL in time; carries what it printed on stderr."""


@dataclass
class Replica:
    base_url: str
    process: subprocess.Popen[str]
    truth_path: Path | None
    log_path: Path
    fault_log: Path | None = None
    """The ``--fault-log`` file (JSON lines, one per injected fault), if asked for."""
    events_path: Path | None = None
    """The ``--dump-events`` file (the night's events, one JSON line each), if asked for."""


@contextmanager
def running_replica(
    *,
    documents: int | None = None,
    faults: str = "",
    seed: int | None = None,
    dump_truth: Path | None = None,
    port: int = 0,
    changes: str | None = None,
    fault_log: Path | None = None,
    extra_args: list[str] | None = None,
    truth_page_size: int = 10,
    night: int = 0,
    churn: str | None = None,
    dump_events: Path | None = None,
    startup_timeout: float = 120.0,
) -> Iterator[Replica]:
    """Run ``python -m replica --port 0`` until the block ends.

    ``port`` fixes the port, for runs that must see the same host twice (a job's state
    keys documents by their canonical URL, host included). ``fault_log`` is passed as
    ``--fault-log`` (every injected fault, one JSON line each). ``night``, ``churn`` and
    ``dump_events`` are ``--night K``, ``--churn SPEC`` (None: the replica's default churn)
    and ``--dump-events FILE`` (see ``replica/churn.py``).
    """
    cmd = [sys.executable, "-m", "replica", "--port", str(port)]
    if changes:
        cmd += ["--changes", changes]
    if night:
        cmd += ["--night", str(night)]
    if churn is not None:
        cmd += ["--churn", churn]
    if dump_events is not None:
        cmd += ["--dump-events", str(dump_events)]
    if documents is not None:
        cmd += ["--documents", str(documents)]
    if faults:
        cmd += ["--faults", faults]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if dump_truth is not None:
        cmd += ["--dump-truth", str(dump_truth)]
    if fault_log is not None:
        cmd += ["--fault-log", str(fault_log)]
    if truth_page_size != 10:
        cmd += ["--truth-page-size", str(truth_page_size)]
    cmd += extra_args or []
    log = tempfile.NamedTemporaryFile(prefix="replica-", suffix=".log", delete=False)
    log_path = Path(log.name)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    try:
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=startup_timeout):
            raise ReplicaStartError(
                f"replica printed no URL in {startup_timeout} s: {log_path.read_text()[-2000:]}"
            )
        base_url = process.stdout.readline().strip()
        if not base_url.startswith("http://127.0.0.1:"):
            process.wait(timeout=10)
            raise ReplicaStartError(f"replica failed to start: {log_path.read_text()[-2000:]}")
        yield Replica(
            base_url=base_url,
            process=process,
            truth_path=dump_truth,
            log_path=log_path,
            fault_log=fault_log,
            events_path=dump_events,
        )
    finally:
        stop_process(process, 10)
        if process.stdout is not None:
            process.stdout.close()
        log.close()


def crawl_command(base_url: str, *extra: str) -> list[str]:
    """``python -m scrapy crawl archive`` against ``base_url``, with ``extra`` arguments: the
    harvester's CLI as the tests, the demo and the benchmarks run it (from the repository root)."""
    return [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "archive",
        "-s",
        f"HARVESTER_BASE_URL={base_url}",
        *extra,
    ]


def stop_process(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds; reaped either way."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
