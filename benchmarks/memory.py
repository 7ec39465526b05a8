"""The ``memory`` suite: the harvester's peak RSS at the archive's size and at a multiple."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common import fmt, load_truth, log, median, table, verdict
from benchmarks.crawls import CrawlResult, CrawlRun
from harvester.items import FIELD_ORDER, LISTING_FIELDS
from replica.process import running_replica

# Targets of issue #6.
TARGET_PEAK_RSS_MB = 250.0
TARGET_RSS_GROWTH = 0.20
# Issue #17: the whole replica's details crawl with its web archive (capture on: the crawls
# here write -O .jsonl -O .csv, so HARVESTER_WACZ=auto keeps a WACZ beside them).
TARGET_CAPTURE_PEAK_RSS_MB = 120.0


def memory_runs(args: argparse.Namespace, workdir: Path, big: int, results: list[CrawlResult]) -> bool:
    """The harvester's crawls on the larger archive, once each (peak RSS is steady)."""
    truth_path = workdir / "truth-big.jsonl"
    log(f"memory: starting the replica with {big:,} documents (its truth takes a while)")
    modes = ("listing", "details") if args.memory_details else ("listing",)
    fields = [
        f
        for f in (FIELD_ORDER if args.memory_details else LISTING_FIELDS)
        if f not in ("query", "harvested_at", "capture_id", "captured_at")
    ]
    with running_replica(
        documents=big, dump_truth=truth_path, startup_timeout=1800, truth_page_size=100
    ) as replica:
        truth = load_truth(truth_path, fields)
        truth_path.unlink()
        # The walk refuses a site that claims more than HARVESTER_MAX_RESULTS (50,000): a
        # replica this large is real, so the cap is raised to its size.
        crawls = CrawlRun(
            replica,
            truth,
            workdir,
            timeout=args.timeout,
            settings=[f"HARVESTER_MAX_RESULTS={big}", *args.set],
        )
        runs = [crawls.run("harvester", mode, 0) for mode in modes]
    results.extend(runs)
    return all(r.ok for r in runs)


def memory_report(results: list[CrawlResult], small: int, big: int) -> str:
    rows = []
    peaks: dict[tuple[str, int], float] = {}
    failed: list[str] = []
    for mode in ("listing", "details"):
        for size in (small, big):
            runs = [r for r in results if r.spider == "harvester" and r.mode == mode and r.documents == size]
            if runs:
                if all(r.ok for r in runs):  # a failed crawl's peak is no figure of this size
                    peaks[(mode, size)] = median(r.maxrss_mb for r in runs)
                else:
                    failed.append(f"{mode} at {size:,} documents")
                rows.append(
                    [
                        mode,
                        f"{size:,}",
                        str(len(runs)),
                        fmt(median(r.maxrss_mb for r in runs)),
                        fmt(median(r.wall for r in runs), 1),
                        "yes" if all(r.ok for r in runs) else "NO",
                    ]
                )
    lines = [
        "Harvester peak RSS (MB = 2^20 bytes), medians\n"
        + table(["crawl", "documents", "runs", "peak RSS MB", "wall s", "equal to truth"], rows)
    ]
    if ("details", small) in peaks:
        peak = peaks[("details", small)]
        lines.append(
            f"Peak RSS of the details crawl at {small:,} documents: {peak:.1f} MB; target < "
            f"{TARGET_PEAK_RSS_MB:.0f} MB: "
            + verdict(peak < TARGET_PEAK_RSS_MB, f"{peak - TARGET_PEAK_RSS_MB:.0f} MB over")
        )
        lines.append(
            f"The same crawl keeps its web archive (capture on, HARVESTER_WACZ=auto) and draws the HTML "
            f"report at its end: target <= {TARGET_CAPTURE_PEAK_RSS_MB:.0f} MB (issue 17): "
            + verdict(peak <= TARGET_CAPTURE_PEAK_RSS_MB, f"{peak - TARGET_CAPTURE_PEAK_RSS_MB:.0f} MB over")
        )
    for mode in ("details", "listing"):
        if (mode, small) in peaks and (mode, big) in peaks:
            growth = peaks[(mode, big)] / peaks[(mode, small)] - 1
            lines.append(
                f"Growth of the {mode} crawl's peak RSS from {small:,} to {big:,} documents: "
                f"{100 * growth:+.1f}%; target < {100 * TARGET_RSS_GROWTH:.0f}%: "
                + verdict(growth < TARGET_RSS_GROWTH, f"{100 * (growth - TARGET_RSS_GROWTH):.0f} points over")
            )
    if failed:
        lines.append(
            "NOT MEASURED: " + ", ".join(failed) + " failed or differed from the truth (see its log): "
            "no target is judged on it"
        )
    if ("listing", big) not in peaks and not failed:
        lines.append(f"(No crawl at {big:,} documents: --quick skips it unless --only memory is given.)")
    elif ("details", big) not in peaks and not failed:
        lines.append(f"(The details crawl was not run at {big:,} documents: pass --memory-details.)")
    return "\n".join(lines)
