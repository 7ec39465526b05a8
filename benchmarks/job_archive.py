"""A job's growing web archive, night by night (issue 17): ``python -m benchmarks.job_archive``.

A scheduled details job (``scrapy crawl archive -a job=nightly -a details=true``, the CLI as
cron runs it) against the replica: night 0 harvests everything, then ``--nights`` nights follow,
each a day later (the job's history moved a day back), quiet (the archive as it stood) unless
``--churn`` (the replica's nights 1, 2, ...). For each night: requests, 304s, revisit records
and their bytes, the bytes the night added to ``archive.wacz`` and its size, and the seconds
the night took to write the grown archive (copying every earlier night's WARC).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log
from replica.process import ROOT, crawl_command, running_replica

GROWN = re.compile(r"Job web archive .* written in ([0-9.]+) s")


def run_night(base_url: str, jobs: Path, page_size: int) -> tuple[dict[str, Any], float, float | None]:
    cmd = crawl_command(
        base_url, "-a", "job=nightly", "-a", "details=true", "-s", f"HARVESTER_JOBS_DIR={jobs}",
        "-s", f"HARVESTER_PAGE_SIZE={page_size}", "-s", "HARVESTER_PROGRESS_INTERVAL=0",
        "-s", "HARVESTER_REPORT=False",
    )  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=7200)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"the night failed:\n{result.stderr[-3000:]}")
    grown = GROWN.search(result.stderr)
    summary = json.loads((jobs / "nightly" / "summary.json").read_text(encoding="utf-8"))
    return summary, wall, float(grown.group(1)) if grown else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.job_archive", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--nights", type=int, default=3, help="nights after the first")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--churn", action="store_true", help="the replica's churning nights, not quiet ones")
    args = parser.parse_args(argv)
    import socket

    from tests.nights import a_day_passes  # test tooling: the job's history moved a day back

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    rows = []
    with tempfile.TemporaryDirectory(prefix="job-archive-") as tmp:
        jobs = Path(tmp)
        for night in range(args.nights + 1):
            if night:
                a_day_passes(jobs)
            archive_night = night if args.churn else 0
            with running_replica(port=port, documents=args.documents, night=archive_night) as rep:
                summary, wall, grow = run_night(rep.base_url, jobs, args.page_size)
            web = summary["web_archive"]
            statuses = summary.get("responses_by_status", {})
            rows.append(
                (night, summary["requests"], statuses.get("304", 0), web["revisits"], web["revisit_bytes"],
                 web["added_bytes"], web["bytes"], grow, wall)
            )  # fmt: skip
            log(f"night {night}: {rows[-1]}")
    kind = "churning" if args.churn else "quiet"
    print(
        f"A job's web archive: {args.documents} documents, pages of {args.page_size}, night 0 then {args.nights} {kind} nights"
    )
    print(f"{'night':>5} {'requests':>8} {'304s':>6} {'revisits':>8} {'revisit B':>10} {'added B':>12} "
          f"{'archive B':>12} {'grow s':>7} {'night s':>8}")  # fmt: skip
    for night, requests, n304, revisits, rbytes, added, size, grow, wall in rows:
        per = f" ({rbytes / revisits:.0f}/revisit)" if revisits else ""
        print(f"{night:>5} {requests:>8} {n304:>6} {revisits:>8} {rbytes:>10}{per} {added or 0:>12} {size:>12} "
              f"{grow if grow is not None else float('nan'):>7.2f} {wall:>8.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
