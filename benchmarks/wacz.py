"""The web archive's costs (issue 17): ``python -m benchmarks.wacz [--documents N] [--repeat R] [--baseline DIR] [--identity]``.

Over a replica of N documents (2,000 by default), a details harvest through the CLI. The
replica compresses what it serves (gzip, as the site's front does); ``--identity`` starts it
with ``--identity``, every page uncompressed (the capture then hashes and compresses ~77 KB a
page instead of ~16 KB):

- online without a web archive (``HARVESTER_WACZ=``) and with one (``auto``), alternating
  (ABBA: plain first in even rounds, last in odd ones), R times each: the capture's CPU
  overhead (the crawl process's user + system seconds), as a ratio of medians and round by round;
  with ``--baseline DIR`` (another checkout, e.g. an older commit extracted by ``git archive``)
  that checkout's run with a web archive too, in every round: before and after, side by side;
- a replay of the last WACZ with the replica stopped (``-a replay=``), R times: wall time against
  the online crawl with its web archive (a run's default, issue 17's goal: at most 0.6x) and
  without, and whether it published the same dataset (``harvested_at`` aside);
- the WACZ's bytes per document page.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ChildUsage, run_child
from replica.process import ROOT, crawl_command, running_replica


def _crawl(base_url: str, out: Path, *extra: str, root: Path = ROOT) -> ChildUsage:
    cmd = crawl_command(
        base_url, "-s", "HARVESTER_PROGRESS_INTERVAL=0", "-a", "details=true", "-O", str(out), *extra
    )
    env = dict(os.environ, PYTHONPATH=str(root))
    usage = run_child(cmd, cwd=root, env=env, log_path=out.with_suffix(".log"), timeout=1800)
    if usage.returncode != 0:
        raise SystemExit(f"the crawl to {out} failed: see {out.with_suffix('.log')}")
    return usage


def _records(path: Path) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return {r["url"]: {k: v for k, v in r.items() if k != "harvested_at"} for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout (e.g. `git archive` of an older commit, "
        "extracted): its run with a web archive alternates with this tree's, round after round",
    )  # fmt: skip
    parser.add_argument("--identity", action="store_true", help="the replica serves every page uncompressed")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-wacz-"))
    plain: list[ChildUsage] = []
    kept: list[ChildUsage] = []
    baseline: list[ChildUsage] = []
    with running_replica(documents=args.documents, extra_args=["--identity"] if args.identity else []) as rep:
        for n in range(args.repeat):
            # ABBA: odd rounds run the crawl with a web archive first, so that a machine slowing
            # down (or speeding up) over the run does not favour one side.
            order = ("plain", "kept") if n % 2 == 0 else ("kept", "plain")
            for side in order:
                if side == "plain":
                    plain.append(_crawl(rep.base_url, work / f"plain{n}.jsonl", "-s", "HARVESTER_WACZ="))
                else:
                    kept.append(_crawl(rep.base_url, work / f"kept{n}.jsonl"))
            if args.baseline:
                baseline.append(
                    _crawl(rep.base_url, work / f"baseline{n}.jsonl", root=args.baseline.resolve())
                )
    last = work / f"kept{args.repeat - 1}.jsonl"
    wacz = last.with_suffix(".wacz")
    replays = [
        _crawl(rep.base_url, work / f"replay{n}.jsonl", "-a", f"replay={wacz}") for n in range(args.repeat)
    ]  # the replica is stopped: any network request would fail the run
    same = _records(work / "replay0.jsonl") == _records(last)
    pages = len(_records(last))

    def med(runs: list[ChildUsage], what: str) -> float:
        return float(statistics.median(getattr(u, what) for u in runs))

    def runs(usages: list[ChildUsage]) -> str:
        return ", ".join(f"{u.cpu:.2f}" for u in usages)

    served = "uncompressed (--identity)" if args.identity else "gzip-compressed, as the site's front"
    print(
        f"{args.documents:,} documents, details, median of {args.repeat} (CLI, this machine); pages served {served}"
    )
    print(
        f"online, no web archive:   wall {med(plain, 'wall'):6.1f} s  CPU {med(plain, 'cpu'):6.1f} s  (runs {runs(plain)})"
    )
    print(f"online, with web archive: wall {med(kept, 'wall'):6.1f} s  CPU {med(kept, 'cpu'):6.1f} s  (runs {runs(kept)}; "
          f"capture CPU {med(kept, 'cpu') / med(plain, 'cpu'):.3f}x)")  # fmt: skip
    # Each round's own ratio: the machine's speed drifts between rounds (a shared VM), and a
    # round's two crawls run minutes apart at most.
    ratios = [k.cpu / p.cpu for p, k in zip(plain, kept, strict=True)]
    print(f"capture CPU, round by round: {', '.join(f'{r:.3f}x' for r in ratios)} "
          f"(median {statistics.median(ratios):.3f}x)")  # fmt: skip
    if baseline:
        print(f"baseline, web archive:    wall {med(baseline, 'wall'):6.1f} s  CPU {med(baseline, 'cpu'):6.1f} s  "
              f"(runs {runs(baseline)}; {med(baseline, 'cpu') / med(plain, 'cpu'):.3f}x; {args.baseline})")  # fmt: skip
    print(f"replay, replica stopped:  wall {med(replays, 'wall'):6.1f} s  CPU {med(replays, 'cpu'):6.1f} s  "
          f"({med(replays, 'wall') / med(kept, 'wall'):.2f}x the wall of the crawl with its web archive, "
          f"{med(replays, 'wall') / med(plain, 'wall'):.2f}x the plain crawl's); same dataset: {same}")  # fmt: skip
    print("each run's wall: " + "; ".join(
        f"{name} {', '.join(f'{u.wall:.1f}' for u in usages)}"
        for name, usages in (("plain", plain), ("with web archive", kept), ("replay", replays))
    ) + f" s (load average at the end {os.getloadavg()[0]:.2f})")  # fmt: skip
    print("peak RSS (MB of 2^20 bytes): " + "; ".join(
        f"{name} {', '.join(f'{u.maxrss_kib / 1024:.1f}' for u in usages)}"
        for name, usages in (("plain", plain), ("with web archive", kept), ("replay", replays))
    ))  # fmt: skip
    size = wacz.stat().st_size
    print(f"WACZ: {size:,} bytes, {size / pages / 1024:.1f} KiB per document page ({pages:,} pages)")
    print(f"files in {work}")


if __name__ == "__main__":
    main()
