"""``python -m harvester.report PATH [-o FILE]``: (re)build a run's HTML report from its files.

PATH is a dataset (``output/archive.jsonl``, or a failed run's ``archive.failed.jsonl``), a
run summary (``archive.summary.json``), or a job's folder (``output/jobs/nightly``). The
report is written where a run writes it (``output/archive.report.html``,
``output/jobs/nightly/report.html``) unless ``-o`` says otherwise; its path is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harvester.report import charts
from harvester.report.build import rebuild, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harvester.report", description=__doc__.splitlines()[0])
    parser.add_argument(
        "path", type=Path, help="a dataset (.jsonl), a run summary (.summary.json) or a job folder"
    )
    parser.add_argument("-o", "--output", type=Path, help="write the report here instead")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        target, data = rebuild(args.path)
        target = args.output or target
        size = write_report(target, data)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not charts.available():
        print(f"note: charts not drawn (matplotlib is missing): {charts.INSTALL_HINT}", file=sys.stderr)
    print(f"wrote {target} ({size:,} bytes in {time.perf_counter() - started:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
