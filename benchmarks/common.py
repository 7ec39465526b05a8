"""What every benchmark suite shares: child processes and their measurement, the replica's
truth and the checks against it, plain-text tables, and where the figures were taken."""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    """Progress goes to stderr; the tables go to stdout."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: Iterable[float]) -> float:
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else float("nan")


# --- running one crawl as a child process -------------------------------------------------


@dataclass
class ChildUsage:
    """What ``os.wait4`` says about one finished child process."""

    returncode: int
    wall: float
    cpu: float
    """User plus system CPU seconds of the child."""
    maxrss_kib: int
    """Peak resident set size (Linux: KiB)."""


#: A small Python process between the benchmark and each crawl. On Linux a process keeps
#: the peak RSS of the process it was forked from across ``exec`` (``ru_maxrss`` would
#: report the benchmark's own size, truth included); forked from this launcher instead,
#: the crawl's figure starts from a few MB. It reports the crawl's ``wait4`` as JSON.
_LAUNCHER = """
import json, os, signal, sys, time
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
try:
    _, status, usage = os.wait4(pid, 0)
except BaseException:
    os.kill(pid, 9)
    os.wait4(pid, 0)
    raise
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    json.dump({"returncode": os.waitstatus_to_exitcode(status), "wall": wall,
               "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss}, out)
"""


def run_child(
    cmd: Sequence[str], *, cwd: Path, env: dict[str, str], log_path: Path, timeout: float
) -> ChildUsage:
    """Run *cmd* to completion, its output to *log_path*; the child's own CPU and peak RSS.

    The command runs under :data:`_LAUNCHER`, which measures it with ``os.wait4``.
    """
    usage_path = log_path.with_suffix(".usage.json")
    with log_path.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(usage_path), *cmd],
            cwd=cwd,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            process.wait(timeout=timeout)
        except BaseException:
            process.terminate()  # the launcher kills the crawl on its way out
            process.wait()
            raise
    try:
        usage = json.loads(usage_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ChildUsage(process.returncode or 1, float("nan"), float("nan"), 0)
    return ChildUsage(usage["returncode"], usage["wall"], usage["cpu"], usage["maxrss_kib"])


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by a running process (``/proc/PID/stat``); 0 if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_STAT = re.compile(r"'(?P<name>[\w/]+)': (?P<value>\d+)")


def scrapy_stats(log_text: str) -> dict[str, int]:
    """The integer stats of Scrapy's final stats dump in a crawl's log."""
    start = log_text.rfind("Dumping Scrapy stats:")
    return {m["name"]: int(m["value"]) for m in _STAT.finditer(log_text[start:])} if start >= 0 else {}


# --- the truth and the checks ----------------------------------------------------------------


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_truth(path: Path, fields: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """The replica's truth by URL; only *fields* of each record when given (to save memory)."""
    truth: dict[str, dict[str, Any]] = {}
    for record in read_jsonl(path):
        truth[record["url"]] = record if fields is None else {f: record.get(f) for f in fields if f in record}
    return truth


@dataclass
class Check:
    """How a crawl's output compares with the replica's truth."""

    expected: int
    records: int = 0
    unique: int = 0
    unknown: int = 0
    """Records whose URL is not in the truth."""
    mismatches: dict[str, int] = field(default_factory=dict)
    """Field name: records whose value differs from the truth's (harvester only)."""
    csv_rows: int | None = None
    fields: int = 0
    """How many fields of each record were compared (0: count only)."""

    @property
    def equal(self) -> bool:
        if self.fields == 0:  # the bare spider: its count of unique URLs only
            return self.unique == self.expected
        return (
            self.records == self.unique == self.expected
            and not self.unknown
            and not self.mismatches
            and self.csv_rows in (None, self.expected)
        )

    def describe(self) -> str:
        if self.equal:
            return "yes" if self.fields else f"yes ({self.unique} URLs)"
        parts = [f"{self.records} records, {self.unique} unique of {self.expected}"]
        if self.unknown:
            parts.append(f"{self.unknown} unknown URLs")
        if self.mismatches:
            parts.append(", ".join(f"{k}: {v}" for k, v in sorted(self.mismatches.items())))
        if self.csv_rows not in (None, self.expected):
            parts.append(f"CSV {self.csv_rows} rows")
        return "NO (" + "; ".join(parts) + ")"


def check_harvest(
    jsonl: Path, csv_path: Path | None, truth: dict[str, dict[str, Any]], fields: Sequence[str]
) -> Check:
    """Every record equal to the truth on *fields*, each document once, all of them."""
    check = Check(expected=len(truth), fields=len(fields))
    seen: set[str | None] = set()
    mismatches: Counter[str] = Counter()
    if jsonl.exists():
        for record in read_jsonl(jsonl):
            check.records += 1
            url: str | None = record.get("url")
            seen.add(url)
            known = truth.get(url) if url is not None else None
            if known is None:
                check.unknown += 1
                continue
            for name in fields:
                if record.get(name) != known.get(name):
                    mismatches[name] += 1
    check.unique = len(seen)
    check.mismatches = dict(mismatches)
    if csv_path is not None:
        check.csv_rows = 0
        if csv_path.exists():
            with csv_path.open(encoding="utf-8", newline="") as handle:
                check.csv_rows = sum(1 for _ in csv.reader(handle)) - 1
    return check


def check_count(jsonl: Path, expected: int) -> Check:
    """The bare spider: how many unique URLs it wrote."""
    urls = [r.get("url") for r in read_jsonl(jsonl)] if jsonl.exists() else []
    return Check(expected=expected, records=len(urls), unique=len(set(urls)))


# --- the report --------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"  # NaN prints as "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A plain-text table; *align* per column ``l`` or ``r`` (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if a == "l" else str(c).rjust(w)
            for c, w, a in zip(cells, widths, align, strict=True)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def verdict(met: bool, miss: str) -> str:
    return "MET" if met else f"MISSED ({miss})"


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        mem = f"{mem_kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        mem = "?"
    import parsel
    import scrapy
    import twisted

    lxml_version = _version("lxml")  # metadata, not lxml.etree.LXML_VERSION: lxml ships no type stubs
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, Python {platform.python_version()}, "
        f"Scrapy {scrapy.__version__}, Twisted {twisted.__version__}, parsel {parsel.__version__}, "
        f"lxml {lxml_version}, {platform.system()} {platform.release()}"
    )


def code_version() -> str:
    """The checkout's commit and how many files differ from it (read-only git calls)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not commit:
        return "unknown"
    return f"{commit}" + (
        f" with {len(changed)} modified file(s): {', '.join(c[3:] for c in changed)}" if changed else ""
    )
