"""The ``listing`` and ``details`` suites: the harvester against the bare spider, each crawl
its own process, alternating and repeated, every output checked against the truth."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ROOT,
    Check,
    check_count,
    check_harvest,
    fmt,
    log,
    median,
    process_cpu,
    run_child,
    scrapy_stats,
    table,
    verdict,
)
from harvester.items import FIELD_ORDER, LISTING_FIELDS
from replica.process import Replica, crawl_command

BASELINE_MODULE = Path(__file__).resolve().with_name("baseline_spider.py")
SPIDERS = ("baseline", "harvester")

# Targets of issue #6.
TARGET_LISTING_RATIO = 0.9
TARGET_DETAILS_CPU_RATIO = 1.0


# --- the crawls ------------------------------------------------------------------------------


@dataclass
class CrawlResult:
    spider: str
    mode: str
    documents: int
    round: int
    returncode: int
    wall: float
    cpu: float
    maxrss_mb: float
    pages: int
    """Responses received (``downloader/response_count``, robots.txt included)."""
    items: int
    server_cpu: float
    """CPU seconds the replica spent serving this crawl."""
    check: Check

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall if self.wall else float("nan")

    @property
    def docs_per_s(self) -> float:
        return self.items / self.wall if self.wall else float("nan")

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu / self.pages if self.pages else float("nan")

    @property
    def cpu_ms_per_doc(self) -> float:
        return 1000 * self.cpu / self.items if self.items else float("nan")

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.check.equal


class CrawlRun:
    """Runs the bare spider and the harvester against one replica, checks what they wrote."""

    def __init__(
        self,
        replica: Replica,
        truth: dict[str, dict[str, Any]],
        workdir: Path,
        *,
        timeout: float,
        settings: Sequence[str] = (),
    ) -> None:
        self.replica = replica
        self.settings = list(settings)
        self.truth = truth
        self.workdir = workdir
        self.timeout = timeout
        self.documents = len(truth)

    def command(self, spider: str, mode: str, out: Path) -> tuple[list[str], Path, dict[str, str]]:
        """The command line, working directory and environment of one crawl."""
        details = mode == "details"
        base = self.replica.base_url
        if spider == "harvester":
            cmd = crawl_command(
                base, "-O", str(out.with_suffix(".jsonl")), "-O", str(out.with_suffix(".csv"))
            )
            if details:
                cmd += ["-a", "details=true"]
            for setting in self.settings:
                cmd += ["-s", setting]
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            return cmd, ROOT, env
        # The bare spider runs outside the project (no scrapy.cfg above its directory), so
        # none of the harvester's settings, pipelines or extensions apply.
        cmd = [
            sys.executable,
            "-m",
            "scrapy",
            "runspider",
            str(BASELINE_MODULE),
            "-a",
            f"base_url={base}",
            "-a",
            f"details={'true' if details else 'false'}",
            "-O",
            str(out.with_suffix(".jsonl")),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
        return cmd, out.parent, env

    def run(self, spider: str, mode: str, round_: int) -> CrawlResult:
        out = self.workdir / f"{spider}-{mode}-{self.documents}-{round_}"
        out.mkdir(parents=True, exist_ok=True)
        out = out / "out"
        cmd, cwd, env = self.command(spider, mode, out)
        log_path = out.with_suffix(".log")
        server_before = process_cpu(self.replica.process.pid)
        usage = run_child(cmd, cwd=cwd, env=env, log_path=log_path, timeout=self.timeout)
        server_cpu = process_cpu(self.replica.process.pid) - server_before
        stats = scrapy_stats(log_path.read_text(encoding="utf-8", errors="replace"))
        if spider == "harvester":
            fields = [
                f
                for f in (FIELD_ORDER if mode == "details" else LISTING_FIELDS)
                if f in next(iter(self.truth.values()), {})
            ]
            check = check_harvest(out.with_suffix(".jsonl"), out.with_suffix(".csv"), self.truth, fields)
        else:
            check = check_count(out.with_suffix(".jsonl"), self.documents)
        result = CrawlResult(
            spider=spider,
            mode=mode,
            documents=self.documents,
            round=round_,
            returncode=usage.returncode,
            wall=usage.wall,
            cpu=usage.cpu,
            maxrss_mb=usage.maxrss_kib / 1024,
            pages=stats.get("downloader/response_count", 0),
            items=stats.get("item_scraped_count", 0),
            server_cpu=server_cpu,
            check=check,
        )
        log(
            f"{spider:9} {mode:8} {self.documents:>7} docs: wall {result.wall:7.2f} s, CPU {result.cpu:7.2f} s, "
            f"{result.pages} pages, peak RSS {result.maxrss_mb:6.1f} MB, exit {result.returncode}, "
            f"equal: {check.describe()}"
        )
        if result.ok:
            shutil.rmtree(out.parent, ignore_errors=True)
        else:
            log(f"kept {out.parent} (log {log_path})")
        return result


def alternate(repeat: int) -> Iterator[tuple[int, tuple[str, str]]]:
    """Rounds of the two spiders, the order swapped every round (BH, HB, BH, ...)."""
    for round_ in range(repeat):
        yield round_, (SPIDERS if round_ % 2 == 0 else SPIDERS[::-1])


def crawl_table(results: list[CrawlResult], documents: int, repeat: int) -> tuple[str, dict[str, float]]:
    headers = [
        "spider",
        "crawl",
        "runs",
        "wall s",
        "CPU s",
        "pages",
        "pages/s",
        "docs/s",
        "CPU ms/page",
        "CPU ms/doc",
        "peak RSS MB",
        "server CPU s",
        "equal to truth",
    ]
    rows = []
    medians: dict[str, float] = {}
    for mode in ("listing", "details"):
        for spider in SPIDERS:
            runs = [r for r in results if r.spider == spider and r.mode == mode and r.documents == documents]
            if not runs:
                continue
            m = {
                name: median(getattr(r, name) for r in runs)
                for name in (
                    "wall",
                    "cpu",
                    "pages",
                    "pages_per_s",
                    "docs_per_s",
                    "cpu_ms_per_page",
                    "cpu_ms_per_doc",
                    "maxrss_mb",
                    "server_cpu",
                )
            }
            for name, value in m.items():
                medians[f"{spider}/{mode}/{name}"] = value
            equal = (
                "yes"
                if all(r.ok for r in runs)
                else "; ".join(
                    sorted(
                        {
                            r.check.describe() if r.returncode == 0 else f"exit {r.returncode}"
                            for r in runs
                            if not r.ok
                        }
                    )
                )
            )
            rows.append(
                [
                    spider,
                    mode,
                    str(len(runs)),
                    fmt(m["wall"], 2),
                    fmt(m["cpu"], 2),
                    fmt(m["pages"], 0),
                    fmt(m["pages_per_s"]),
                    fmt(m["docs_per_s"]),
                    fmt(m["cpu_ms_per_page"], 2),
                    fmt(m["cpu_ms_per_doc"], 2),
                    fmt(m["maxrss_mb"]),
                    fmt(m["server_cpu"], 1),
                    equal,
                ]
            )
    title = (
        f"Crawls of the replica ({documents:,} documents): medians of up to {repeat} runs each, "
        "the two spiders alternating"
    )
    return title + "\n" + table(headers, rows, "llr" + "r" * 9 + "l"), medians


def paired_ratios(
    results: list[CrawlResult], mode: str, metric: Callable[[CrawlResult], float]
) -> list[float]:
    """Harvester / baseline *metric* of each round (the two crawls ran back to back)."""
    out = []
    for round_ in sorted({r.round for r in results}):
        pair = {r.spider: r for r in results if r.mode == mode and r.round == round_}
        if len(pair) == 2 and metric(pair["baseline"]):
            out.append(metric(pair["harvester"]) / metric(pair["baseline"]))
    return out


def ratio_lines(results: list[CrawlResult], medians: dict[str, float]) -> list[str]:
    lines = []
    # Documents per second: the harvester asks for pages of 100 (the bare spider reads the
    # site's 10), so pages per second no longer compare like for like.
    base, harv = medians.get("baseline/listing/docs_per_s"), medians.get("harvester/listing/docs_per_s")
    if base and harv:
        ratio = harv / base
        pairs = paired_ratios(results, "listing", lambda r: r.docs_per_s)
        lines.append(
            f"listing: harvester/bare spider throughput (documents/s) {ratio:.2f}x "
            f"(per round: {', '.join(f'{p:.2f}' for p in pairs)}); target >= {TARGET_LISTING_RATIO}x: "
            + verdict(
                ratio >= TARGET_LISTING_RATIO,
                f"{100 * (TARGET_LISTING_RATIO - ratio) / TARGET_LISTING_RATIO:.0f}% short",
            )
        )
        cpu = medians["harvester/listing/cpu_ms_per_doc"] / medians["baseline/listing/cpu_ms_per_doc"]
        lines.append(f"listing: harvester/bare spider CPU per document {cpu:.2f}x")
    base, harv = (
        medians.get("baseline/details/cpu_ms_per_doc"),
        medians.get("harvester/details/cpu_ms_per_doc"),
    )
    if base and harv:
        ratio = harv / base
        pairs = paired_ratios(results, "details", lambda r: r.cpu_ms_per_doc)
        lines.append(
            f"details: harvester/bare spider CPU per document page {ratio:.2f}x "
            f"(per round: {', '.join(f'{p:.2f}' for p in pairs)}); target <= {TARGET_DETAILS_CPU_RATIO}x: "
            + verdict(ratio <= TARGET_DETAILS_CPU_RATIO, f"{100 * (ratio - 1):.0f}% over")
        )
        thr = medians["harvester/details/docs_per_s"] / medians["baseline/details/docs_per_s"]
        lines.append(f"details: harvester/bare spider throughput (documents/s) {thr:.2f}x")
    return lines
