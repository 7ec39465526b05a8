"""Requests per harvest: what a run would cost the real archive, side by side with before.

Every request we do not send is time given back and load taken off the archive, which sits
behind Cloudflare and takes one request every ``DOWNLOAD_DELAY`` (3 s) from us. Over the
replica (the whole archive by default) this suite runs, through the real CLI:

- a whole-archive listing run, with results pages of 10 (before) and of 100 (now);
- a job's first details harvest (pages of 10, then of 100);
- an unchanged nightly run straight after it;
- a nightly run after 25 uploads, 10 edits and 5 removals;
- seven nights of the rolling refresh (the days between them simulated by moving the
  job's history a day into the past), against the weekly full run it replaces (``full=true``).

For each: requests, and the hours they take at 3 s a request on the real site.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import ROOT, log
from replica.process import crawl_command, running_replica

REAL_DELAY = 3.0
SHIFT = "strftime('%Y-%m-%dT%H:%M:%SZ', {0}, '-1 day')"


@dataclass
class Row:
    what: str
    requests: int
    documents: int | None = None

    @property
    def hours(self) -> float:
        return self.requests * REAL_DELAY / 3600


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _crawl(base: str, jobs: Path, out: Path, *args: str, settings: tuple[str, ...] = ()) -> dict[str, object]:
    cmd = crawl_command(
        base, "-s", "HARVESTER_PROGRESS_INTERVAL=0", "-s", f"HARVESTER_JOBS_DIR={jobs}", "-O", str(out)
    )
    for arg in args:
        cmd += ["-a", arg]
    for setting in settings:
        cmd += ["-s", setting]
    done = subprocess.run(
        cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"crawl failed: {' '.join(args)}: {done.stderr[-2000:]}")
    job = next((a.split("=", 1)[1] for a in args if a.startswith("job=")), None)
    path = jobs / job / "summary.json" if job else out.with_name(out.name.split(".")[0] + ".summary.json")
    summary: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return summary


def _a_day_passes(jobs: Path, job: str) -> None:
    with sqlite3.connect(jobs / job / "state.sqlite") as db:
        db.execute(f"UPDATE runs SET started={SHIFT.format('started')}, ended={SHIFT.format('ended')}")


def _documents(summary: dict[str, object]) -> int:
    pages = summary["pages"]
    assert isinstance(pages, dict)
    return int(summary["requests"]) - int(pages["search"]) - 1  # type: ignore[call-overload]


def bench_requests(documents: int, workdir: Path) -> list[tuple[Row, Row | None]]:
    """(now, before) pairs; ``before`` is the same run as the harvester did it before issue 12."""
    port, jobs = _port(), workdir / "jobs"
    out = workdir / "requests.jsonl"
    pairs: list[tuple[Row, Row | None]] = []
    with running_replica(documents=documents, port=port) as rep:
        base = rep.base_url
        log("requests: whole-archive listing, pages of 10 and of 100")
        ten = _crawl(base, jobs, out, settings=("HARVESTER_PAGE_SIZE=10",))
        hundred = _crawl(base, jobs, out)
        pairs.append((Row("whole-archive listing", int(hundred["requests"])), Row("", int(ten["requests"]))))  # type: ignore[call-overload]
        log("requests: first details harvest of a job, pages of 10 and of 100")
        first_ten = _crawl(base, jobs, out, "job=ten", "details=true", settings=("HARVESTER_PAGE_SIZE=10",))
        first = _crawl(base, jobs, out, "job=nightly", "details=true")
        pairs.append((Row("first details harvest", int(first["requests"]), _documents(first)),  # type: ignore[call-overload]
                      Row("", int(first_ten["requests"]), _documents(first_ten))))  # type: ignore[call-overload]  # fmt: skip
        log("requests: an unchanged run straight after")
        quiet = _crawl(base, jobs, out, "job=nightly", "details=true")
        pairs.append((Row("unchanged run, straight after", int(quiet["requests"]), _documents(quiet)), None))  # type: ignore[call-overload]
    with running_replica(documents=documents, port=port, changes="25,10,5") as rep:
        log("requests: a night after 25 uploads, 10 edits, 5 removals")
        _a_day_passes(jobs, "nightly")
        changed = _crawl(rep.base_url, jobs, out, "job=nightly", "details=true")
        pairs.append(
            (Row("a night after 25/10/5 changes", int(changed["requests"]), _documents(changed)), None)
        )  # type: ignore[call-overload]
        log("requests: seven nights of rolling refresh, and the weekly full run it replaces")
        nights = []
        for _ in range(7):
            _a_day_passes(jobs, "nightly")
            nights.append(_crawl(rep.base_url, jobs, out, "job=nightly", "details=true"))
        weekly = _crawl(
            rep.base_url,
            jobs,
            out,
            "job=ten",
            "details=true",
            "full=true",
            settings=("HARVESTER_PAGE_SIZE=10",),
        )
    highest = max(nights, key=lambda s: int(s["requests"]))  # type: ignore[call-overload]
    mean = sum(int(s["requests"]) for s in nights) / len(nights)  # type: ignore[call-overload]
    mean_docs = sum(_documents(s) for s in nights) / len(nights)
    weekly_row = Row("", int(weekly["requests"]), _documents(weekly))  # type: ignore[call-overload]
    pairs.append(
        (Row("rolling refresh, highest night", int(highest["requests"]), _documents(highest)), weekly_row)
    )  # type: ignore[call-overload]
    pairs.append(
        (
            Row("rolling refresh, mean night", round(mean), round(mean_docs)),
            Row("", round(weekly_row.requests / 7), None),
        )
    )
    return pairs


def requests_report(pairs: list[tuple[Row, Row | None]], documents: int) -> str:
    lines = [
        f"Requests per harvest of {documents:,} documents, and hours at {REAL_DELAY:g} s/request on the real site",
        f"  {'run':34} {'now':>8} {'docs':>7} {'hours':>7}   {'before':>8} {'docs':>7} {'hours':>7}",
    ]
    for now, before in pairs:
        left = f"  {now.what:34} {now.requests:>8,} {now.documents if now.documents is not None else '':>7} {now.hours:>7.2f}"
        right = ""
        if before is not None:
            docs = f"{before.documents:,}" if before.documents is not None else ""
            right = f"   {before.requests:>8,} {docs:>7} {before.hours:>7.2f}"
        lines.append(left + right)
    lines.append(
        "  before: pages of 10; the weekly full run (full=true) where the rolling refresh now spreads"
        " the re-checks over the nights (before, 6 of 7 nights cost 3 requests and the 7th a full run)."
    )
    return "\n".join(lines)
