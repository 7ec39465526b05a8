"""Benchmarks of the harvester against a bare Scrapy spider, on the replica (issue #6).

``python -m benchmarks [--documents N] [--repeat N] [--quick] [--only WHAT ...]``

One invocation starts the replica (``replica.process.running_replica``, with
``--dump-truth``) and measures, alternating the two spiders and repeating every pair:

- ``listing``: the bare spider (``benchmarks/baseline_spider.py``) and the harvester walking
  every results page;
- ``details``: both also following every result to its document page;
- ``parsing``: CPU per document page of ``DocumentPage(url, body).fields()`` against a
  whole-page ``parsel.Selector`` with naive selectors, in this process, on replica pages;
- ``dates``: ``harvester.dates.normalize_date`` throughput against ``datetime.strptime``;
- ``memory``: the harvester's peak RSS at the archive's size and at ten times that size;
- ``requests``: requests per kind of run (listing, first harvest, nights of a job) and the
  hours they take at 3 s/request on the real site, against how the harvester did them before;
- ``report``: building the HTML run report of the details dataset (seconds and bytes);
- ``profile`` (only when asked): one harvester details crawl under ``py-spy``, with the
  samples split between the framework and our code.

Every crawl is its own ``python -m scrapy`` process; its CPU time and peak RSS come from
``os.wait4``. The harvester's output is compared with the replica's truth field by field;
the bare spider's only by its number of unique URLs. Figures are medians over the runs.
The script exits 1 when a crawl fails or an output is not what the truth says, never
because of a timing: benchmarks are measurements, not tests.

One module per suite: :mod:`benchmarks.crawls` (listing, details), :mod:`benchmarks.parsing`,
:mod:`benchmarks.dates`, :mod:`benchmarks.memory`, :mod:`benchmarks.report`,
:mod:`benchmarks.profile`; what they share
is in :mod:`benchmarks.common`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.common import code_version, load_truth, log, machine
from benchmarks.crawls import CrawlResult, CrawlRun, alternate, crawl_table, ratio_lines
from benchmarks.dates import bench_dates, dates_report
from benchmarks.memory import memory_report, memory_runs
from benchmarks.parsing import bench_parsing, parsing_report
from benchmarks.profile import bench_profile, profile_report
from benchmarks.report import bench_report, report_report
from benchmarks.requests import bench_requests, requests_report
from replica.dataset import DEFAULT_SIZE
from replica.process import running_replica

SUITES = ("listing", "details", "parsing", "dates", "memory", "requests", "report", "profile")
DEFAULT_SUITES = ("listing", "details", "parsing", "dates", "memory", "requests", "report")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--documents",
        type=int,
        default=DEFAULT_SIZE,
        help=f"size of the replica's archive (default {DEFAULT_SIZE:,})",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs of each crawl and measurement, alternating (default 3; 1 with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run each, fewer dates and pages, and no 10x memory run unless --only memory",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SUITES,
        metavar="WHAT",
        help=f"run only this part (repeatable): {', '.join(SUITES)}; "
        f"default: {', '.join(DEFAULT_SUITES)} ('profile' needs py-spy)",
    )
    parser.add_argument(
        "--memory-factor",
        type=int,
        default=10,
        help="the memory run's larger archive, as a multiple of --documents (default 10)",
    )
    parser.add_argument(
        "--memory-details",
        action="store_true",
        help="also run the details crawl on the larger archive (slow: ~10x a details crawl)",
    )
    parser.add_argument(
        "--dates", type=int, default=None, help="date strings to time (default 200,000; 20,000 quick)"
    )
    parser.add_argument(
        "--pages", type=int, default=None, help="document pages to parse (default 200; 50 quick)"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds one crawl may take (default 3600)"
    )
    parser.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for the harvester's crawls only (repeatable), to measure a change",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every measurement to FILE")
    parser.add_argument(
        "--profile-out", type=Path, metavar="FILE", help="with 'profile': keep py-spy's raw samples"
    )
    args = parser.parse_args(argv)
    if args.documents < 11:
        parser.error("--documents must be at least 11 (the seed search)")
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.dates = args.dates or (20_000 if args.quick else 200_000)
    args.pages = args.pages or (50 if args.quick else 200)
    args.explicit = set(args.only or ())
    args.suites = [s for s in SUITES if s in (args.only or DEFAULT_SUITES)]
    if args.quick and not args.only:
        # The requests suite is a series of whole harvests (~6 minutes): only when asked.
        args.suites.remove("requests")
    return args


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # On SIGTERM too, unwind: the replica and a running crawl are stopped, not orphaned.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.perf_counter()
    report: list[str] = [
        f"Machine: {machine()}\nCode: {code_version()}",
        f"Command: python -m benchmarks {' '.join(argv if argv is not None else sys.argv[1:])}",
    ]
    raw: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    ok = True
    results: list[CrawlResult] = []
    with tempfile.TemporaryDirectory(prefix="harvester-bench-") as tmp:
        workdir = Path(tmp)
        needs_replica = {"listing", "details", "parsing", "memory", "report", "profile"} & set(args.suites)
        if needs_replica:
            ok &= run_with_replica(args, workdir, results, report, raw)
        if "requests" in args.suites:
            pairs = bench_requests(args.documents, workdir)
            raw["requests"] = [[asdict(now), asdict(before) if before else None] for now, before in pairs]
            report.append(requests_report(pairs, args.documents))
    if "dates" in args.suites:
        log(f"dates: {args.dates:,} strings, {args.repeat} rounds")
        dates = bench_dates(args.dates, args.repeat)
        raw["dates"] = asdict(dates)
        report.append(dates_report(dates, args.repeat))
        ok &= dates.wrong == 0 and dates.invented == 0
    report.append(
        f"Benchmark wall time: {time.perf_counter() - started:.0f} s; outputs equal to the truth: "
        f"{'yes' if ok else 'NO'}"
    )
    print("\n\n".join(report))
    if args.json:
        raw["crawls"] = [
            dict(
                asdict(r),
                pages_per_s=r.pages_per_s,
                docs_per_s=r.docs_per_s,
                cpu_ms_per_page=r.cpu_ms_per_page,
                cpu_ms_per_doc=r.cpu_ms_per_doc,
                equal=r.check.equal,
            )
            for r in results
        ]
        args.json.write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
    return 0 if ok else 1


def run_with_replica(
    args: argparse.Namespace,
    workdir: Path,
    results: list[CrawlResult],
    report: list[str],
    raw: dict[str, Any],
) -> bool:
    """Everything that needs the replica of ``--documents`` (and the larger one for memory)."""
    ok = True
    truth_path = workdir / "truth.jsonl"
    log(f"starting the replica ({args.documents:,} documents, with its truth)")
    with running_replica(documents=args.documents, dump_truth=truth_path, truth_page_size=100) as replica:
        truth = load_truth(truth_path)
        log(f"replica at {replica.base_url}, truth {len(truth):,} records")
        crawls = CrawlRun(replica, truth, workdir, timeout=args.timeout, settings=args.set)
        for mode in ("listing", "details"):
            if mode in args.suites:
                for round_, order in alternate(args.repeat):
                    for spider in order:
                        results.append(crawls.run(spider, mode, round_))
        if results:
            text, medians = crawl_table(results, len(truth), args.repeat)
            lines = ratio_lines(results, medians)
            report.append(
                text
                + ("\n\nRatios, harvester / bare spider (medians):\n  " + "\n  ".join(lines) if lines else "")
            )
            ok &= all(r.ok for r in results)
        if "parsing" in args.suites:
            parsing = bench_parsing(replica, truth, args.pages, args.repeat)
            raw["parsing"] = asdict(parsing)
            report.append(parsing_report(parsing, results, args.repeat))
        if "report" in args.suites:
            built = bench_report(crawls, workdir, args.repeat, args.timeout)
            raw["report"] = asdict(built)
            report.append(report_report(built, args.repeat))
            ok &= built.ok
        if "profile" in args.suites:
            profile = bench_profile(crawls, workdir, args.profile_out)
            raw["profile"] = profile
            if profile:
                report.append(profile_report(profile))
        if "memory" in args.suites:
            for mode in ("listing", "details"):
                if not any(r.spider == "harvester" and r.mode == mode for r in results):
                    results.append(crawls.run("harvester", mode, 0))
            ok &= all(r.ok for r in results)
        del truth, crawls
    if "memory" in args.suites:
        big = args.documents * args.memory_factor
        if args.quick and "memory" not in args.explicit:
            log(f"memory: --quick, so no run at {big:,} documents")
        else:
            ok &= memory_runs(args, workdir, big, results)
        report.append(memory_report(results, args.documents, big))
    raw["memory_factor"] = args.memory_factor
    return ok


if __name__ == "__main__":
    sys.exit(main())
