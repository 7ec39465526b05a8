"""The README's main job: start the bundled replica and harvest the seed search into ``output/``.

``python -m replica.demo [--whole-archive] [--listing-only]``: by default the seed search
(``Korean Workers' Party``, 11 documents) with full document records; ``--whole-archive``
harvests all 16,153 documents of the replica. Ends by printing the path of the run's HTML
report (``output/archive.report.html``). Exits with the crawl's status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from replica.process import crawl_command, running_replica

ROOT = Path(__file__).resolve().parents[1]
SEED_QUERY = "Korean Workers' Party"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replica.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--whole-archive", action="store_true", help="harvest every document, not the seed search"
    )
    parser.add_argument(
        "--listing-only", action="store_true", help="do not follow results to their document pages"
    )
    args = parser.parse_args(argv)
    started = time.time()
    with running_replica() as replica:
        print(f"replica running at {replica.base_url}", flush=True)
        cmd = crawl_command(replica.base_url)
        if not args.whole_archive:
            cmd += ["-a", f"query={SEED_QUERY}"]
        if not args.listing_only:
            cmd += ["-a", "details=true"]
        status = subprocess.call(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    for name in ("archive.jsonl", "archive.csv"):
        path = ROOT / "output" / name
        if path.exists():
            print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")
    print(
        f"the records' url and listing_url point to the replica at {replica.base_url}, which stopped "
        "with the demo: those links are dead now (a harvest of the real site links to it)"
    )
    # Last: the run's report (written on a failed run too), to open in a browser, offline.
    report = ROOT / "output" / "archive.report.html"
    if report.exists() and report.stat().st_mtime >= started:
        print(f"report: {report.relative_to(ROOT)} (open {report.as_uri()})")
    return status


if __name__ == "__main__":
    sys.exit(main())
