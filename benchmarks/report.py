"""The ``report`` suite: building the HTML run report of the whole-archive details dataset.

One harvester details crawl of the replica writes the dataset (and, at its end, its own
report: the log says how long that took). Then ``python -m harvester.report`` rebuilds the
report from the dataset alone, ``--repeat`` times, each its own process (so matplotlib's
import is counted, as a scheduled run would pay it): wall and CPU seconds, peak RSS, and the
page's size in bytes, against the targets of issue #11 (about 5 s and 3 MB).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import ROOT, ChildUsage, fmt, log, median, run_child, table, verdict
from benchmarks.crawls import CrawlRun

TARGET_SECONDS = 5.0
TARGET_BYTES = 3_000_000

_IN_RUN = re.compile(r"Report: \S+ \(([\d,]+) bytes, ([\d.]+) s\)")


@dataclass
class ReportResult:
    documents: int
    dataset_bytes: int = 0
    crawl_returncode: int = 0
    in_run_seconds: float = float("nan")
    """The report written at the end of the crawl (its own records, no file to read)."""
    in_run_bytes: int = 0
    rebuilds: list[ChildUsage] = field(default_factory=list)
    bytes: int = 0
    charts: bool = True

    @property
    def ok(self) -> bool:
        return (
            self.crawl_returncode == 0
            and bool(self.rebuilds)
            and all(r.returncode == 0 for r in self.rebuilds)
        )


def bench_report(crawls: CrawlRun, workdir: Path, repeat: int, timeout: float) -> ReportResult:
    folder = workdir / "report"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "archive"
    cmd, cwd, env = crawls.command("harvester", "details", out)
    log(f"report: a details crawl of {crawls.documents:,} documents for the dataset")
    crawl = run_child(cmd, cwd=cwd, env=env, log_path=folder / "crawl.log", timeout=timeout)
    result = ReportResult(documents=crawls.documents, crawl_returncode=crawl.returncode)
    dataset = out.with_suffix(".jsonl")
    if crawl.returncode != 0 or not dataset.exists():
        log(f"report: the crawl failed (exit {crawl.returncode}); see {folder / 'crawl.log'}")
        return result
    result.dataset_bytes = dataset.stat().st_size
    found = _IN_RUN.search((folder / "crawl.log").read_text(encoding="utf-8", errors="replace"))
    if found:
        result.in_run_bytes, result.in_run_seconds = int(found[1].replace(",", "")), float(found[2])
    page = folder / "rebuilt.report.html"
    for round_ in range(repeat):
        usage = run_child(
            [sys.executable, "-m", "harvester.report", str(dataset), "-o", str(page)],
            cwd=ROOT, env=env, log_path=folder / f"rebuild-{round_}.log", timeout=timeout,
        )  # fmt: skip
        result.rebuilds.append(usage)
        log(f"report: rebuilt in {usage.wall:.2f} s (CPU {usage.cpu:.2f} s), exit {usage.returncode}")
    if page.exists():
        result.bytes = page.stat().st_size
        result.charts = "<svg" in page.read_text(encoding="utf-8")
    return result


def report_report(result: ReportResult, repeat: int) -> str:
    wall = median(r.wall for r in result.rebuilds)
    cpu = median(r.cpu for r in result.rebuilds)
    rss = median(r.maxrss_kib / 1024 for r in result.rebuilds)
    rows = [
        ["python -m harvester.report (rebuild)", str(len(result.rebuilds)), fmt(wall, 2), fmt(cpu, 2),
         fmt(rss, 0), f"{result.bytes:,}"],
        ["at the end of the crawl (in the run)", "1", fmt(result.in_run_seconds, 2), "-", "-",
         f"{result.in_run_bytes:,}"],
    ]  # fmt: skip
    text = table(["report build", "runs", "build s", "CPU s", "peak RSS MB", "bytes"], rows)
    return (
        f"Report of the details dataset ({result.documents:,} documents, "
        f"{result.dataset_bytes / 1e6:,.1f} MB of JSON Lines; medians of {repeat}):\n"
        + text
        + f"\n  build time: {fmt(wall, 2)} s, target <= {TARGET_SECONDS:g} s: "
        + verdict(wall <= TARGET_SECONDS, f"{fmt(wall, 2)} s")
        + f"\n  size: {result.bytes:,} bytes, target <= {TARGET_BYTES:,}: "
        + verdict(0 < result.bytes <= TARGET_BYTES, f"{result.bytes:,} bytes")
        + ("" if result.charts else "\n  (no charts drawn: matplotlib is not installed)")
    )
