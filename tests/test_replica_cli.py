"""``python -m replica``: the base URL line, ``--dump-only``, the truth file's mode."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from replica.process import ROOT, running_replica
from tests.conftest import read_jsonl


def _replica(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "replica", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
        preexec_fn=lambda: os.umask(umask),
    )


def test_dump_only_writes_the_truth_with_the_umask_mode_and_exits(tmp_path: Path) -> None:
    truth = tmp_path / "deep" / "truth.jsonl"
    done = _replica("--documents", "20", "--dump-truth", str(truth), "--dump-only")
    assert done.returncode == 0 and done.stdout == ""
    assert truth.stat().st_mode & 0o777 == 0o644
    assert len(read_jsonl(truth)) == 20
    assert [p.name for p in truth.parent.iterdir()] == ["truth.jsonl"]  # no temporary file left
    private = tmp_path / "private.jsonl"
    assert (
        _replica("--documents", "20", "--dump-truth", str(private), "--dump-only", umask=0o077).returncode
        == 0
    )
    assert private.stat().st_mode & 0o777 == 0o600


def test_dump_only_needs_a_truth_file() -> None:
    done = _replica("--documents", "20", "--dump-only")
    assert done.returncode == 2 and "--dump-only needs --dump-truth" in done.stderr


def test_the_url_line_comes_once_the_server_listens(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    with running_replica(documents=20, dump_truth=truth) as rep:
        # No retry: the line is printed after the socket listens (and after the truth is written).
        parts = urlsplit(rep.base_url)
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as conn:
            conn.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert conn.recv(12) == b"HTTP/1.1 200"
        assert parts.hostname == "127.0.0.1" and len(read_jsonl(truth)) == 20


def test_night_and_churn_are_checked_before_anything_is_built(tmp_path: Path) -> None:
    for args, words in [
        (["--churn", "upload=3"], "unknown name 'upload'"),
        (["--churn", "edits=5-2"], "N <= M"),
        (["--churn", "edits"], "NAME=COUNT"),
        (["--churn", "edits=1,edits=2"], "given twice"),
        (["--night", "-1"], "whole number from 0"),
        (["--night", "soon"], "whole number from 0"),
    ]:
        done = _replica("--documents", "20", *args, "--dump-truth", str(tmp_path / "t.jsonl"), "--dump-only")
        assert done.returncode == 2 and words in done.stderr, (args, done.stderr)
    both = _replica(
        "--documents",
        "20",
        "--night",
        "2",
        "--changes",
        "1,1,1",
        "--dump-events",
        str(tmp_path / "e"),
        "--dump-only",
    )
    assert both.returncode == 2 and "give one" in both.stderr
    rules = _replica("--churn-help")
    assert rules.returncode == 0 and "reappearances" in rules.stdout and "COUNT = N" in rules.stdout
    assert "--churn-help" in _replica("--help").stdout


def test_dump_only_writes_the_events_alone(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    done = _replica(
        "--documents",
        "60",
        "--night",
        "3",
        "--churn",
        "uploads=2,removals=1",
        "--dump-events",
        str(events),
        "--dump-only",
    )
    assert done.returncode == 0 and done.stdout == ""
    got = read_jsonl(events)
    assert [(e["night"], e["event"]) for e in got] == [(3, "remove"), (3, "upload"), (3, "upload")]
    assert [e["position"] for e in got[1:]] == [2, 1]  # the newest upload is the first row
    assert not (tmp_path / "t.jsonl").exists()
