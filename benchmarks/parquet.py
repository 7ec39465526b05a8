"""What a Parquet feed costs (issue 18): ``python -m benchmarks.parquet [--documents N] [--repeat R]``.

Over a replica of N documents (the whole replica, 16,153, by default), a details harvest
through the CLI with ``-O x.jsonl`` and with ``-O x.jsonl -O x.parquet``, alternating, R
times each. Peak RSS is ``wait4``'s ``ru_maxrss`` for the crawl, which on Linux is the
largest of the crawl and the children it waited for (the report's charts, the Parquet
writer): the figure a machine's memory has to hold at once. Also: the Parquet file read
back (pyarrow, here) against the JSON Lines of the same run, record for record, its row
groups, and the crawl's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import ChildUsage, run_child
from replica.process import ROOT, crawl_command, running_replica

#: Issue 18: a Parquet feed adds at most this much to the run's peak RSS.
TARGET_EXTRA_MB = 20.0


def _crawl(base_url: str, outputs: list[Path]) -> ChildUsage:
    extra = [arg for out in outputs for arg in ("-O", str(out))]
    cmd = crawl_command(base_url, "-s", "HARVESTER_PROGRESS_INTERVAL=0", "-a", "details=true", *extra)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    log = outputs[-1].with_suffix(".log")
    usage = run_child(cmd, cwd=ROOT, env=env, log_path=log, timeout=3600)
    if usage.returncode != 0:
        raise SystemExit(f"the crawl to {outputs} failed: see {log}")
    return usage


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A Parquet row in the JSON Lines forms (a date32 as YYYY-MM-DD, a timestamp as ...Z)."""
    out = dict(row)
    if isinstance(out.get("uploaded_date"), date):
        out["uploaded_date"] = out["uploaded_date"].isoformat()
    if isinstance(out.get("harvested_at"), datetime):
        out["harvested_at"] = out["harvested_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def read_back(parquet: Path, jsonl: Path) -> tuple[bool, int, int]:
    """Whether the Parquet's rows equal the JSON Lines' records; records; row groups."""
    import pyarrow.parquet as pq

    with jsonl.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    table = pq.read_table(parquet)
    rows = [as_json(r) for r in table.to_pylist()]
    return rows == records, len(records), pq.ParquetFile(parquet).metadata.num_row_groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--documents", type=int, default=None, help="replica size (default: the whole replica)"
    )
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-parquet-"))
    plain: list[ChildUsage] = []
    both: list[ChildUsage] = []
    kwargs = {"documents": args.documents} if args.documents else {}
    with running_replica(**kwargs) as rep:
        for n in range(args.repeat):
            plain.append(_crawl(rep.base_url, [work / f"plain{n}.jsonl"]))
            both.append(_crawl(rep.base_url, [work / f"both{n}.jsonl", work / f"both{n}.parquet"]))
    equal, records, groups = read_back(work / "both0.parquet", work / "both0.jsonl")

    def med(runs: list[ChildUsage], what: str) -> float:
        return float(statistics.median(getattr(u, what) for u in runs))

    rss_plain = med(plain, "maxrss_kib") / 1024
    rss_both = med(both, "maxrss_kib") / 1024
    print(f"{records:,} documents, details, median of {args.repeat} (CLI, this machine)")
    print(f"-O x.jsonl:               peak RSS {rss_plain:6.1f} MB  CPU {med(plain, 'cpu'):6.1f} s  "
          f"runs {', '.join(f'{u.maxrss_kib / 1024:.1f}' for u in plain)} MB")  # fmt: skip
    print(f"-O x.jsonl -O x.parquet:  peak RSS {rss_both:6.1f} MB  CPU {med(both, 'cpu'):6.1f} s  "
          f"runs {', '.join(f'{u.maxrss_kib / 1024:.1f}' for u in both)} MB")  # fmt: skip
    extra = rss_both - rss_plain
    met = "MET" if extra <= TARGET_EXTRA_MB else "MISSED"
    print(f"Parquet's extra peak RSS: {extra:+.1f} MB, target <= {TARGET_EXTRA_MB:g} MB: {met}")
    print(f"read back equal to the JSON Lines: {equal} ({records:,} records, {groups} row groups, "
          f"{(work / 'both0.parquet').stat().st_size:,} bytes)")  # fmt: skip
    print(f"files in {work}")


if __name__ == "__main__":
    main()
