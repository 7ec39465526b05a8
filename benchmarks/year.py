"""A year of nights: a scheduled details job against a churning archive (issue #15).

``python -m benchmarks.year [--nights 365] [--documents 300] [--page-size 10] [--quiet-every 4]``

Night after night the job runs against the replica as it stands that night (``--night K``
with its default ``--churn``: uploads, edits and deep edits, removals and reappearances
anywhere in the results), with the job's history moved a day back before each night. Faults
come and go between nights: one document whose page answers 500 on every churning night,
alias rows on every night, a front that lies with 304 on some nights, bursts of 429. Every
``quiet_every``-th week the archive stands still and the faults stop: a quiet week.

After every night the published dataset is compared with the archive's truth:

- **lag**: each document that differs (missing, extra, or a field other than its place)
  must have changed in the archive within the last 7 nights; the largest lag in nights is
  reported, and a difference with no change behind it counts as unexplained;
- **equal**: at the end of every quiet week the dataset equals the truth exactly, place
  included (position and results page);
- **requests**: requests a night (retries aside) against ``ceil(N / 7) + 50``.

The same :func:`simulate` runs in the test suite at a small scale (``tests/test_year.py``,
in-process crawls) and here, where every night is a ``scrapy crawl`` process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from replica.process import ROOT, crawl_command, running_replica

#: What differs between runs and is not the document's: left out of the lag comparison.
PLACE_FIELDS = ("position", "listing_url")
RUN_FIELDS = ("harvested_at", "capture_id", "captured_at")
WINDOW = 7


@dataclass(frozen=True)
class Night:
    number: int
    """The job's night, from 1."""
    archive: int
    """The replica's ``--night``: the archive as it stands tonight."""
    faults: str
    quiet: bool


def schedule(nights: int, broken: str, *, quiet_every: int = 4) -> list[Night]:
    """The year: the archive moves a night every night but in quiet weeks; faults on
    churning nights only (the broken document on all of them, a lying front every 9th night,
    a 429 burst every 30th)."""
    out, archive = [], 0
    for number in range(1, nights + 1):
        quiet = quiet_every > 0 and ((number - 1) // 7 + 1) % quiet_every == 0
        faults = ["aliases"]
        if not quiet:
            archive += 1
            faults.append(f"500@{broken}")
            if number % 9 == 4:
                faults.append("lie304@0.2/document/")
            if number % 30 == 3:
                faults.append("429:retry-after=1@0.1/document/#1")
        out.append(Night(number, archive, ",".join(faults), quiet))
    return out


def without_sort(url: Any) -> Any:
    if not isinstance(url, str):
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "sort_bef_combine"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def differing(published: list[dict[str, Any]], truth: list[dict[str, Any]], *, place: bool) -> set[str]:
    """Ids of the documents whose records differ (or that are on one side only)."""
    skip = set(RUN_FIELDS) | (set() if place else set(PLACE_FIELDS))
    ours = {r["id"]: r for r in published}
    theirs = {r["id"]: r for r in truth}
    out = set(ours) ^ set(theirs)
    for key in set(ours) & set(theirs):
        a, b = ours[key], theirs[key]
        for name, value in b.items():
            if name in skip:
                continue
            got = without_sort(a.get(name)) if name == "listing_url" else a.get(name)
            if got != value:
                out.add(key)
                break
    return out


@dataclass
class YearResult:
    nights: int = 0
    weeks_checked: int = 0
    weeks_unequal: list[int] = field(default_factory=list)
    largest_lag: int = 0
    unexplained: list[tuple[int, str]] = field(default_factory=list)
    late: list[tuple[int, str, int]] = field(default_factory=list)
    """(night, document, lag) of every difference older than the window."""
    failed_nights: list[tuple[int, list[str]]] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    over_quota: list[tuple[int, int, int]] = field(default_factory=list)
    stale_nights: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"nights: {self.nights}; quiet weeks checked: {self.weeks_checked}; unequal: {len(self.weeks_unequal)} {self.weeks_unequal[:10]}",
            f"largest lag: {self.largest_lag} nights (goal <= {WINDOW}); unexplained differences: {len(self.unexplained)} {self.unexplained[:5]}; late: {self.late[:5]}",
            f"failed nights: {len(self.failed_nights)} {self.failed_nights[:3]}",
            f"requests a night (retries aside): max {max(self.requests, default=0)}, mean {sum(self.requests) / max(len(self.requests), 1):.1f}; "
            f"over ceil(N/7)+50: {len(self.over_quota)} {self.over_quota[:5]}",
            f"nights naming a stale document: {self.stale_nights}",
            f"wall time: {self.seconds:.1f} s ({self.seconds / max(self.nights, 1):.2f} s a night)",
        ]


#: Runs the job one night against ``base_url``; returns its summary.
RunNight = Callable[[str, Path], Awaitable[dict[str, Any]]]


async def simulate(
    run_night: RunNight,
    work: Path,
    *,
    nights: int,
    documents: int,
    page_size: int,
    quiet_every: int = 4,
    port: int,
    progress: Callable[[str], None] | None = None,
) -> YearResult:
    """Run the job ``nights`` nights and judge every one (see the module's docstring)."""
    from tests.nights import a_day_passes  # test tooling: the job's history moved a day back

    jobs = work / "jobs"
    started = time.monotonic()
    result = YearResult()
    base_truth = work / "truth-0.jsonl"
    with running_replica(
        port=port, documents=documents, faults="aliases", dump_truth=base_truth, truth_page_size=page_size
    ) as rep:
        first = await run_night(rep.base_url, jobs)
    if first["status"] != "ok":
        raise RuntimeError(f"the first harvest failed: {first['reasons']}")
    truth0 = read_jsonl(base_truth)
    # The broken document is one the churn never touches (the seed search's), so that it stays
    # a known document all year: a document removed and back is new to the job, and a new
    # document whose page fails fails the run (there is no record to keep).
    seed = {
        r["title"] for r in json.loads((ROOT / "replica" / "facts.json").read_text(encoding="utf-8"))["seed"]
    }
    broken = "/document/" + next(r["id"] for r in truth0[len(truth0) // 2 :] + truth0 if r["title"] in seed)
    plan = schedule(nights, broken, quiet_every=quiet_every)
    changed_on: dict[str, int] = {}  # slug -> the job's night of its last change in the archive
    current = -1
    truth: list[dict[str, Any]] = truth0
    for night in plan:
        a_day_passes(jobs)
        truth_path = work / f"truth-{night.archive}.jsonl"
        events_path = work / f"events-{night.archive}.jsonl"
        with running_replica(
            port=port, documents=documents, night=night.archive, faults=night.faults,
            dump_truth=truth_path, truth_page_size=page_size,
            dump_events=events_path if night.archive else None,
        ) as rep:  # fmt: skip
            summary = await run_night(rep.base_url, jobs)
        if night.archive != current:
            current = night.archive
            truth = read_jsonl(truth_path)
            for event in read_jsonl(events_path) if night.archive else []:
                changed_on[event["slug"]] = night.number
        result.nights += 1
        if summary["status"] != "ok":
            result.failed_nights.append((night.number, summary["reasons"]))
        stale = {str(s["id"]) for s in summary.get("stale_documents") or []}
        result.stale_nights += bool(stale)
        # Retries (a 429 burst's) are the site's doing: the quota is on the run's own requests.
        requests = int(summary["requests"]) - int(summary.get("retries") or 0)
        result.requests.append(requests)
        quota = math.ceil(len(truth) / WINDOW) + 50
        if requests > quota:
            result.over_quota.append((night.number, requests, quota))
        published = read_jsonl(jobs / "nightly" / "archive.jsonl")
        for key in differing(published, truth, place=False) - stale:
            when = changed_on.get(key)
            if when is None:
                result.unexplained.append((night.number, key))
            else:
                lag = night.number - when + 1
                result.largest_lag = max(result.largest_lag, lag)
                if lag > WINDOW:
                    result.late.append((night.number, key, lag))
                    if progress is not None:
                        progress(f"night {night.number}: {key} differs {lag} nights after its change")
        if night.quiet and night.number % 7 == 0:
            result.weeks_checked += 1
            unequal = differing(published, truth, place=True)
            if unequal:
                result.weeks_unequal.append(night.number)
                if progress is not None:
                    progress(f"night {night.number}: a quiet week ends unequal: {sorted(unequal)[:5]}")
        if progress is not None and night.number % 7 == 0:
            progress(
                f"night {night.number}: archive night {night.archive}, {len(truth)} documents, "
                f"{requests} requests, lag so far {result.largest_lag}, unequal weeks {len(result.weeks_unequal)}"
            )
    result.seconds = time.monotonic() - started
    return result


def cli_night(page_size: int) -> RunNight:
    """A night as cron runs it: ``scrapy crawl archive -a job=nightly -a details=true``."""

    async def run(base_url: str, jobs: Path) -> dict[str, Any]:
        cmd = crawl_command(
            base_url, "-a", "job=nightly", "-a", "details=true", "-s", f"HARVESTER_JOBS_DIR={jobs}",
            "-s", f"HARVESTER_PAGE_SIZE={page_size}", "-s", "HARVESTER_PROGRESS_INTERVAL=0",
            "-s", "LOG_LEVEL=WARNING", "-s", "HARVESTER_REPORT=False",
        )  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
        return dict(json.loads((jobs / "nightly" / "summary.json").read_text(encoding="utf-8")))

    return run


def main(argv: list[str] | None = None) -> int:
    import asyncio
    import socket

    parser = argparse.ArgumentParser(prog="python -m benchmarks.year", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--page-size", type=int, default=10)
    parser.add_argument("--quiet-every", type=int, default=4)
    args = parser.parse_args(argv)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with tempfile.TemporaryDirectory(prefix="year-") as work:
        result = asyncio.run(
            simulate(
                cli_night(args.page_size), Path(work), nights=args.nights, documents=args.documents,
                page_size=args.page_size, quiet_every=args.quiet_every, port=port,
                progress=lambda line: print(line, file=sys.stderr, flush=True),
            )
        )  # fmt: skip
    print(
        f"A year of nights: {args.nights} nights, {args.documents} documents at night 0, pages of {args.page_size}"
    )
    for line in result.lines():
        print(line)
    return 0 if not result.weeks_unequal and not result.unexplained and not result.failed_nights else 1


if __name__ == "__main__":
    sys.exit(main())
