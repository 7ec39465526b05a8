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
- ``profile`` (only when asked): one harvester details crawl under ``py-spy``, with the
  samples split between the framework and our code.

Every crawl is its own ``python -m scrapy`` process; its CPU time and peak RSS come from
``os.wait4``. The harvester's output is compared with the replica's truth field by field;
the bare spider's only by its number of unique URLs. Figures are medians over the runs.
The script exits 1 when a crawl fails or an output is not what the truth says, never
because of a timing: benchmarks are measurements, not tests.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import gc
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harvester.items import FIELD_ORDER, LISTING_FIELDS
from replica.dataset import DEFAULT_SIZE
from replica.process import Replica, running_replica

ROOT = Path(__file__).resolve().parents[1]
BASELINE_MODULE = Path(__file__).resolve().with_name("baseline_spider.py")
SUITES = ("listing", "details", "parsing", "dates", "memory", "profile")
DEFAULT_SUITES = ("listing", "details", "parsing", "dates", "memory")
SPIDERS = ("baseline", "harvester")

# Targets of issue #6.
TARGET_LISTING_RATIO = 0.9
TARGET_DETAILS_CPU_RATIO = 1.0
TARGET_DATES_PER_S = 100_000
TARGET_PEAK_RSS_MB = 250.0
TARGET_RSS_GROWTH = 0.20


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


def run_child(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], log_path: Path,
              timeout: float) -> ChildUsage:
    """Run *cmd* to completion, its output to *log_path*; the child's own CPU and peak RSS.

    The command runs under :data:`_LAUNCHER`, which measures it with ``os.wait4``.
    """
    usage_path = log_path.with_suffix(".usage.json")
    with log_path.open("wb") as handle:
        process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(usage_path), *cmd], cwd=cwd, env=env,
                                   stdout=handle, stderr=subprocess.STDOUT)
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
        return (self.records == self.unique == self.expected and not self.unknown and not self.mismatches
                and self.csv_rows in (None, self.expected))

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


def check_harvest(jsonl: Path, csv_path: Path | None, truth: dict[str, dict[str, Any]],
                  fields: Sequence[str]) -> Check:
    """Every record equal to the truth on *fields*, each document once, all of them."""
    check = Check(expected=len(truth), fields=len(fields))
    seen: set[str] = set()
    mismatches: Counter[str] = Counter()
    if jsonl.exists():
        for record in read_jsonl(jsonl):
            check.records += 1
            url = record.get("url")
            seen.add(url)
            known = truth.get(url)
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


class Crawler:
    """Runs the bare spider and the harvester against one replica, checks what they wrote."""

    def __init__(self, replica: Replica, truth: dict[str, dict[str, Any]], workdir: Path, *,
                 timeout: float, settings: Sequence[str] = ()) -> None:
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
            cmd = [sys.executable, "-m", "scrapy", "crawl", "archive", "-s", f"HARVESTER_BASE_URL={base}",
                   "-O", str(out.with_suffix(".jsonl")), "-O", str(out.with_suffix(".csv"))]
            if details:
                cmd += ["-a", "details=true"]
            for setting in self.settings:
                cmd += ["-s", setting]
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            return cmd, ROOT, env
        # The bare spider runs outside the project (no scrapy.cfg above its directory), so
        # none of the harvester's settings, pipelines or extensions apply.
        cmd = [sys.executable, "-m", "scrapy", "runspider", str(BASELINE_MODULE), "-a", f"base_url={base}",
               "-a", f"details={'true' if details else 'false'}", "-O", str(out.with_suffix(".jsonl"))]
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
            fields = [f for f in (FIELD_ORDER if mode == "details" else LISTING_FIELDS)
                      if f in next(iter(self.truth.values()), {})]
            check = check_harvest(out.with_suffix(".jsonl"), out.with_suffix(".csv"), self.truth, fields)
        else:
            check = check_count(out.with_suffix(".jsonl"), self.documents)
        result = CrawlResult(
            spider=spider, mode=mode, documents=self.documents, round=round_, returncode=usage.returncode,
            wall=usage.wall, cpu=usage.cpu, maxrss_mb=usage.maxrss_kib / 1024,
            pages=stats.get("downloader/response_count", 0), items=stats.get("item_scraped_count", 0),
            server_cpu=server_cpu, check=check,
        )
        log(f"{spider:9} {mode:8} {self.documents:>7} docs: wall {result.wall:7.2f} s, CPU {result.cpu:7.2f} s, "
            f"{result.pages} pages, peak RSS {result.maxrss_mb:6.1f} MB, exit {result.returncode}, "
            f"equal: {check.describe()}")
        if result.ok:
            shutil.rmtree(out.parent, ignore_errors=True)
        else:
            log(f"kept {out.parent} (log {log_path})")
        return result


def alternate(repeat: int) -> Iterator[tuple[int, tuple[str, str]]]:
    """Rounds of the two spiders, the order swapped every round (BH, HB, BH, ...)."""
    for round_ in range(repeat):
        yield round_, (SPIDERS if round_ % 2 == 0 else SPIDERS[::-1])


# --- in-process measurements: document pages -----------------------------------------------


def fetch_pages(base_url: str, urls: Sequence[str]) -> list[tuple[str, bytes]]:
    """``(url, body)`` of each page, fetched once from the replica."""
    pages = []
    for url in urls:
        with urllib.request.urlopen(url, timeout=30) as response:
            pages.append((url, response.read()))
    return pages


def sample(items: Sequence[Any], count: int) -> list[Any]:
    """*count* items spread evenly over *items*."""
    if count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def parsing_variants(base_url: str) -> dict[str, Callable[[str, bytes], Any]]:
    """Ways to read a document page, from the harvester's to a whole-page ``Selector``."""
    from parsel import Selector
    from scrapy.http import HtmlResponse

    from benchmarks.baseline_spider import BaselineSpider
    from harvester.pages.document import DocumentPage

    spider = BaselineSpider(base_url=base_url, details="true")

    def harvester(url: str, body: bytes) -> Any:
        return DocumentPage(url, body).fields()

    def bare_spider(url: str, body: bytes) -> Any:
        response = HtmlResponse(url=url, body=body, encoding="utf-8")
        return spider.parse_document(response, {"url": url, "summary": ""})

    def whole_page_css(url: str, body: bytes) -> Any:
        sel = Selector(text=body.decode("utf-8"))
        return (
            sel.css("h1.title ::text").getall(),
            sel.css("h2.date::text").get(),
            sel.css("a.pill-places span.name ::text").getall(),
            sel.css("a.pill-subject span.name ::text").getall(),
            sel.css("#documentTabs div.tab-pane.active p ::text").getall(),
        )

    def whole_page(url: str, body: bytes) -> Any:
        return Selector(text=body.decode("utf-8")).root

    def main_region(url: str, body: bytes) -> Any:
        start = body.find(b"<main")
        end = body.find(b"</main>", start) + len(b"</main>")
        return Selector(text=body[start:end].decode("utf-8")).root

    return {
        "harvester: DocumentPage(url, body).fields()": harvester,
        "bare spider: its parse_document(HtmlResponse)": bare_spider,
        "Selector(whole page) + 5 CSS selectors": whole_page_css,
        "Selector(whole page), parse only": whole_page,
        "Selector(<main> region), parse only": main_region,
    }


def time_cpu(fn: Callable[[str, bytes], Any], pages: Sequence[tuple[str, bytes]]) -> float:
    """CPU seconds of *fn* over every page (this process only)."""
    started = time.process_time()
    for url, body in pages:
        fn(url, body)
    return time.process_time() - started


@dataclass
class ParsingResult:
    pages: int
    mean_kb: float
    main_kb: float
    ms_per_page: dict[str, list[float]]


def bench_parsing(replica: Replica, truth: dict[str, dict[str, Any]], count: int, repeat: int) -> ParsingResult:
    urls = sample(list(truth), count)
    log(f"parsing: fetching {len(urls)} document pages")
    pages = fetch_pages(replica.base_url, urls)
    variants = parsing_variants(replica.base_url)
    for fn in variants.values():  # warm-up: imports, compiled selectors, caches
        time_cpu(fn, pages[:5])
    ms: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(repeat):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            ms[name].append(1000 * time_cpu(variants[name], pages) / len(pages))
        log(f"parsing round {round_ + 1}: " + ", ".join(f"{ms[n][-1]:.2f}" for n in names) + " ms/page")
    main_sizes = [body.find(b"</main>") - body.find(b"<main") for _, body in pages]
    return ParsingResult(len(pages), statistics.mean(len(b) for _, b in pages) / 1024,
                         statistics.mean(main_sizes) / 1024, ms)


# --- in-process measurements: dates ----------------------------------------------------------

DATE_FORMS = (
    # (form, share): the archive's forms, then the old layout's.
    ("day", 0.50),  # January 3, 1962
    ("month", 0.15),  # September 1956
    ("year", 0.10),  # 1958
    ("absent", 0.10),  # ""
    ("old day", 0.10),  # April 05, 1956
    ("old month", 0.05),  # September, 1956
)


def date_strings(count: int, seed: int = 1962) -> list[tuple[str, str | None, str | None, str]]:
    """``(text, expected iso, expected precision, form)`` in the site's forms, deterministic."""
    rng = random.Random(seed)
    forms = [form for form, _ in DATE_FORMS]
    weights = [share for _, share in DATE_FORMS]
    out = []
    for form in rng.choices(forms, weights, k=count):
        year, month = rng.randint(1917, 1991), rng.randint(1, 12)
        day = rng.randint(1, calendar.monthrange(year, month)[1])
        name = calendar.month_name[month]
        if form == "day":
            out.append((f"{name} {day}, {year}", f"{year}-{month:02d}-{day:02d}", "day", form))
        elif form == "old day":
            out.append((f"{name} {day:02d}, {year}", f"{year}-{month:02d}-{day:02d}", "day", form))
        elif form == "month":
            out.append((f"{name} {year}", f"{year}-{month:02d}", "month", form))
        elif form == "old month":
            out.append((f"{name}, {year}", f"{year}-{month:02d}", "month", form))
        elif form == "year":
            out.append((str(year), str(year), "year", form))
        else:
            out.append(("", None, None, form))
    return out


@dataclass
class DatesResult:
    count: int
    day_count: int
    per_s: dict[str, list[float]]
    wrong: int
    """Results whose ISO text or precision differ from what the string states."""
    invented: int
    """Results more precise than the string (a year that became a month or a day)."""


def bench_dates(count: int, repeat: int) -> DatesResult:
    from harvester.dates import normalize_date

    data = date_strings(count)
    texts = [d[0] for d in data]
    day_texts = [d[0] for d in data if d[3] in ("day", "old day")]
    wrong = invented = 0
    rank = {"year": 1, "month": 2, "day": 3}
    for text, iso, precision, _ in data:
        got = normalize_date(text)
        if (got.iso if got else None, got.precision if got else None) != (iso, precision):
            wrong += 1
        if got is not None and (precision is None or rank[got.precision] > rank[precision]
                                or got.iso.count("-") > rank[precision] - 1):
            invented += 1

    def run_normalize(strings: list[str]) -> None:
        fn = normalize_date
        for s in strings:
            fn(s)

    def run_strptime(strings: list[str]) -> None:
        parse = datetime.strptime
        for s in strings:
            parse(s, "%B %d, %Y")

    runs: dict[str, tuple[Callable[[list[str]], None], list[str]]] = {
        "normalize_date, all forms": (run_normalize, texts),
        "normalize_date, day forms only": (run_normalize, day_texts),
        "datetime.strptime('%B %d, %Y'), day forms": (run_strptime, day_texts),
    }
    per_s: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else names[::-1]:
            fn, strings = runs[name]
            gc.collect()
            started = time.process_time()
            fn(strings)
            per_s[name].append(len(strings) / max(time.process_time() - started, 1e-9))
    return DatesResult(len(texts), len(day_texts), per_s, wrong, invented)


# --- profile -----------------------------------------------------------------------------------

PROFILE_CATEGORIES = (
    # (path fragment, category): the innermost frame that matches names the sample's owner.
    ("harvester/pages/", "harvester: page classes (pages/, lxml parse included)"),
    ("harvester/pipelines.py", "harvester: item pipelines"),
    ("harvester/extensions.py", "harvester: run report extension"),
    ("harvester/exporters.py", "feed exports (JSON Lines + CSV)"),
    ("scrapy/exporters.py", "feed exports (JSON Lines + CSV)"),
    ("scrapy/extensions/feedexport.py", "feed exports (JSON Lines + CSV)"),
    ("harvester/spiders/", "harvester: spider callbacks"),
    ("harvester/middlewares.py", "harvester: downloader middlewares"),
)
#: A sample with no frame of the categories above but some frame of ours (rules, jobs...).
HARVESTER_OTHER = ("(harvester/", "harvester: other modules")
FRAMEWORK = "Scrapy, Twisted, asyncio (the framework)"
#: Frames counted inclusively (every sample with the frame on its stack), by what they do.
PROFILE_HOTSPOTS = (
    ("warn_on_generator_with_return_value (scrapy/utils/misc.py",
     "Scrapy: callback source re-read and parsed per response (WARN_ON_GENERATOR_RETURN_VALUE)"),
    ("DocumentPage.__init__ (harvester/pages/document.py", "DocumentPage(): validate, cut and parse <main>"),
    ("DocumentPage.fields (harvester/pages/document.py", "DocumentPage.fields()"),
    ("SearchPage.__init__ (harvester/pages/search.py", "SearchPage(): validate, cut and parse <main>"),
    ("SearchPage.rows (harvester/pages/search.py", "SearchPage.rows()"),
    ("ItemPipelineManager.process_item_async (scrapy/pipelines/__init__.py", "item pipelines (all)"),
    ("FeedExporter.item_scraped (scrapy/extensions/feedexport.py", "feed exports (both)"),
    ("RunReport.item_scraped (harvester/extensions.py", "run report, per item"),
    ("HTTP11ClientProtocol.dataReceived (twisted/web/_newclient.py", "Twisted: reading HTTP responses"),
    ("Logger.log (logging/__init__.py", "logging calls (DEBUG records built, then filtered)"),
)
IDLE_FRAMES = ("select (selectors.py", "EpollSelector.select", "poll (selectors.py")


def categorize_profile(raw: str) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    """py-spy ``--format raw`` samples of the main thread: busy samples, by category, the
    framework's by innermost module, and the :data:`PROFILE_HOTSPOTS` (inclusive)."""
    categories: Counter[str] = Counter()
    framework: Counter[str] = Counter()
    hotspots: Counter[str] = Counter()
    busy = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit() or not stack.startswith("_run_module_as_main"):
            continue  # other threads (Twisted's DNS thread pool), or not a sample
        frames = stack.split(";")
        if any(frames[-1].startswith(idle) for idle in IDLE_FRAMES):
            continue
        count = int(count_text)
        busy += count
        for label in {label for frag, label in PROFILE_HOTSPOTS for frame in frames if frame.startswith(frag)}:
            hotspots[label] += count
        owner = next((cat for frame in reversed(frames) for frag, cat in PROFILE_CATEGORIES if frag in frame), None)
        if owner is None and any(HARVESTER_OTHER[0] in frame and "(harvester/commands/" not in frame
                                 for frame in frames):
            owner = HARVESTER_OTHER[1]  # every sample runs under our crawl command: not that one
        if owner is None:
            owner = FRAMEWORK
            module = re.search(r"\(([^:()]+)", frames[-1])
            framework[module.group(1) if module else frames[-1]] += count
        categories[owner] += count
    return busy, categories, framework, hotspots


def bench_profile(crawler: Crawler, workdir: Path, keep: Path | None = None) -> dict[str, Any] | None:
    """One harvester details crawl under py-spy; where its main thread's CPU goes.

    *keep*: also write py-spy's raw samples there (for flamegraph.pl or a closer look).
    """
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        log("profile: py-spy not found (pip install py-spy); skipped")
        return None
    out = workdir / "profile" / "out"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd, cwd, env = crawler.command("harvester", "details", out)
    raw_path = workdir / "profile" / "samples.txt"
    spy = [py_spy, "record", "--rate", "100", "--format", "raw", "--output", str(raw_path), "--", *cmd]
    log("profile: one harvester details crawl under py-spy")
    usage = run_child(spy, cwd=cwd, env=env, log_path=out.with_suffix(".log"), timeout=crawler.timeout)
    if usage.returncode != 0 or not raw_path.exists():
        log(f"profile: py-spy exited {usage.returncode}; see {out.with_suffix('.log')}")
        return None
    raw = raw_path.read_text(encoding="utf-8", errors="replace")
    if keep is not None:
        keep.write_text(raw, encoding="utf-8")
    busy, categories, framework, hotspots = categorize_profile(raw)
    return {"busy_samples": busy, "categories": dict(categories), "framework_top": dict(framework.most_common(12)),
            "hotspots": {label: hotspots[label] for _, label in PROFILE_HOTSPOTS if label in hotspots},
            "wall": usage.wall, "cpu": usage.cpu}


# --- the report --------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"  # NaN prints as "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A plain-text table; *align* per column ``l`` or ``r`` (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w)
                         for c, w, a in zip(cells, widths, align, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def verdict(met: bool, miss: str) -> str:
    return "MET" if met else f"MISSED ({miss})"


def crawl_table(results: list[CrawlResult], documents: int, repeat: int) -> tuple[str, dict[str, float]]:
    headers = ["spider", "crawl", "runs", "wall s", "CPU s", "pages", "pages/s", "docs/s", "CPU ms/page",
               "CPU ms/doc", "peak RSS MB", "server CPU s", "equal to truth"]
    rows = []
    medians: dict[str, float] = {}
    for mode in ("listing", "details"):
        for spider in SPIDERS:
            runs = [r for r in results if r.spider == spider and r.mode == mode and r.documents == documents]
            if not runs:
                continue
            m = {name: median(getattr(r, name) for r in runs) for name in
                 ("wall", "cpu", "pages", "pages_per_s", "docs_per_s", "cpu_ms_per_page", "cpu_ms_per_doc",
                  "maxrss_mb", "server_cpu")}
            for name, value in m.items():
                medians[f"{spider}/{mode}/{name}"] = value
            equal = "yes" if all(r.ok for r in runs) else "; ".join(
                sorted({r.check.describe() if r.returncode == 0 else f"exit {r.returncode}" for r in runs if not r.ok}))
            rows.append([spider, mode, str(len(runs)), fmt(m["wall"], 2), fmt(m["cpu"], 2), fmt(m["pages"], 0),
                         fmt(m["pages_per_s"]), fmt(m["docs_per_s"]), fmt(m["cpu_ms_per_page"], 2),
                         fmt(m["cpu_ms_per_doc"], 2), fmt(m["maxrss_mb"]), fmt(m["server_cpu"], 1), equal])
    title = (f"Crawls of the replica ({documents:,} documents): medians of up to {repeat} runs each, "
             "the two spiders alternating")
    return title + "\n" + table(headers, rows, "llr" + "r" * 9 + "l"), medians


def paired_ratios(results: list[CrawlResult], mode: str, metric: Callable[[CrawlResult], float]) -> list[float]:
    """Harvester / baseline *metric* of each round (the two crawls ran back to back)."""
    out = []
    for round_ in sorted({r.round for r in results}):
        pair = {r.spider: r for r in results if r.mode == mode and r.round == round_}
        if len(pair) == 2 and metric(pair["baseline"]):
            out.append(metric(pair["harvester"]) / metric(pair["baseline"]))
    return out


def ratio_lines(results: list[CrawlResult], medians: dict[str, float]) -> list[str]:
    lines = []
    base, harv = medians.get("baseline/listing/pages_per_s"), medians.get("harvester/listing/pages_per_s")
    if base and harv:
        ratio = harv / base
        pairs = paired_ratios(results, "listing", lambda r: r.pages_per_s)
        lines.append(f"listing: harvester/bare spider throughput (pages/s) {ratio:.2f}x "
                     f"(per round: {', '.join(f'{p:.2f}' for p in pairs)}); target >= {TARGET_LISTING_RATIO}x: "
                     + verdict(ratio >= TARGET_LISTING_RATIO, f"{100 * (TARGET_LISTING_RATIO - ratio) / TARGET_LISTING_RATIO:.0f}% short"))
        cpu = medians["harvester/listing/cpu_ms_per_page"] / medians["baseline/listing/cpu_ms_per_page"]
        lines.append(f"listing: harvester/bare spider CPU per page {cpu:.2f}x")
    base, harv = medians.get("baseline/details/cpu_ms_per_doc"), medians.get("harvester/details/cpu_ms_per_doc")
    if base and harv:
        ratio = harv / base
        pairs = paired_ratios(results, "details", lambda r: r.cpu_ms_per_doc)
        lines.append(f"details: harvester/bare spider CPU per document page {ratio:.2f}x "
                     f"(per round: {', '.join(f'{p:.2f}' for p in pairs)}); target <= {TARGET_DETAILS_CPU_RATIO}x: "
                     + verdict(ratio <= TARGET_DETAILS_CPU_RATIO, f"{100 * (ratio - 1):.0f}% over"))
        thr = medians["harvester/details/docs_per_s"] / medians["baseline/details/docs_per_s"]
        lines.append(f"details: harvester/bare spider throughput (documents/s) {thr:.2f}x")
    return lines


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal"))
        mem = f"{mem_kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        mem = "?"
    import lxml.etree
    import parsel
    import scrapy
    import twisted

    lxml_version = ".".join(map(str, lxml.etree.LXML_VERSION[:3]))
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, Python {platform.python_version()}, "
            f"Scrapy {scrapy.__version__}, Twisted {twisted.__version__}, parsel {parsel.__version__}, "
            f"lxml {lxml_version}, {platform.system()} {platform.release()}")


def code_version() -> str:
    """The checkout's commit and how many files differ from it (read-only git calls)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not commit:
        return "unknown"
    return f"{commit}" + (f" with {len(changed)} modified file(s): {', '.join(c[3:] for c in changed)}"
                          if changed else "")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=DEFAULT_SIZE,
                        help=f"size of the replica's archive (default {DEFAULT_SIZE:,})")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs of each crawl and measurement, alternating (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="one run each, fewer dates and pages, and no 10x memory run unless --only memory")
    parser.add_argument("--only", action="append", choices=SUITES, metavar="WHAT",
                        help=f"run only this part (repeatable): {', '.join(SUITES)}; "
                             f"default: {', '.join(DEFAULT_SUITES)} ('profile' needs py-spy)")
    parser.add_argument("--memory-factor", type=int, default=10,
                        help="the memory run's larger archive, as a multiple of --documents (default 10)")
    parser.add_argument("--memory-details", action="store_true",
                        help="also run the details crawl on the larger archive (slow: ~10x a details crawl)")
    parser.add_argument("--dates", type=int, default=None, help="date strings to time (default 200,000; 20,000 quick)")
    parser.add_argument("--pages", type=int, default=None, help="document pages to parse (default 200; 50 quick)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one crawl may take (default 3600)")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a Scrapy setting for the harvester's crawls only (repeatable), to measure a change")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every measurement to FILE")
    parser.add_argument("--profile-out", type=Path, metavar="FILE", help="with 'profile': keep py-spy's raw samples")
    args = parser.parse_args(argv)
    if args.documents < 11:
        parser.error("--documents must be at least 11 (the seed search)")
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.dates = args.dates or (20_000 if args.quick else 200_000)
    args.pages = args.pages or (50 if args.quick else 200)
    args.explicit = set(args.only or ())
    args.suites = [s for s in SUITES if s in (args.only or DEFAULT_SUITES)]
    return args


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # On SIGTERM too, unwind: the replica and a running crawl are stopped, not orphaned.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.perf_counter()
    report: list[str] = [f"Machine: {machine()}\nCode: {code_version()}",
                         f"Command: python -m benchmarks {' '.join(argv if argv is not None else sys.argv[1:])}"]
    raw: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    ok = True
    results: list[CrawlResult] = []
    with tempfile.TemporaryDirectory(prefix="harvester-bench-") as tmp:
        workdir = Path(tmp)
        needs_replica = {"listing", "details", "parsing", "memory", "profile"} & set(args.suites)
        if needs_replica:
            ok &= run_with_replica(args, workdir, results, report, raw)
    if "dates" in args.suites:
        log(f"dates: {args.dates:,} strings, {args.repeat} rounds")
        dates = bench_dates(args.dates, args.repeat)
        raw["dates"] = asdict(dates)
        report.append(dates_report(dates, args.repeat))
        ok &= dates.wrong == 0 and dates.invented == 0
    report.append(f"Benchmark wall time: {time.perf_counter() - started:.0f} s; outputs equal to the truth: "
                  f"{'yes' if ok else 'NO'}")
    print("\n\n".join(report))
    if args.json:
        raw["crawls"] = [dict(asdict(r), pages_per_s=r.pages_per_s, docs_per_s=r.docs_per_s,
                              cpu_ms_per_page=r.cpu_ms_per_page, cpu_ms_per_doc=r.cpu_ms_per_doc, equal=r.check.equal)
                         for r in results]
        args.json.write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
    return 0 if ok else 1


def run_with_replica(args: argparse.Namespace, workdir: Path, results: list[CrawlResult],
                     report: list[str], raw: dict[str, Any]) -> bool:
    """Everything that needs the replica of ``--documents`` (and the larger one for memory)."""
    ok = True
    truth_path = workdir / "truth.jsonl"
    log(f"starting the replica ({args.documents:,} documents, with its truth)")
    with running_replica(documents=args.documents, dump_truth=truth_path) as replica:
        truth = load_truth(truth_path)
        log(f"replica at {replica.base_url}, truth {len(truth):,} records")
        crawler = Crawler(replica, truth, workdir, timeout=args.timeout, settings=args.set)
        for mode in ("listing", "details"):
            if mode in args.suites:
                for round_, order in alternate(args.repeat):
                    for spider in order:
                        results.append(crawler.run(spider, mode, round_))
        if results:
            text, medians = crawl_table(results, len(truth), args.repeat)
            lines = ratio_lines(results, medians)
            report.append(text + ("\n\nRatios, harvester / bare spider (medians):\n  " + "\n  ".join(lines)
                                  if lines else ""))
            ok &= all(r.ok for r in results)
        if "parsing" in args.suites:
            parsing = bench_parsing(replica, truth, args.pages, args.repeat)
            raw["parsing"] = asdict(parsing)
            report.append(parsing_report(parsing, results, args.repeat))
        if "profile" in args.suites:
            profile = bench_profile(crawler, workdir, args.profile_out)
            raw["profile"] = profile
            if profile:
                report.append(profile_report(profile))
        if "memory" in args.suites:
            for mode in ("listing", "details"):
                if not any(r.spider == "harvester" and r.mode == mode for r in results):
                    results.append(crawler.run("harvester", mode, 0))
            ok &= all(r.ok for r in results)
        del truth, crawler
    if "memory" in args.suites:
        big = args.documents * args.memory_factor
        if args.quick and "memory" not in args.explicit:
            log(f"memory: --quick, so no run at {big:,} documents")
        else:
            ok &= memory_runs(args, workdir, big, results)
        report.append(memory_report(results, args.documents, big))
    raw["memory_factor"] = args.memory_factor
    return ok


def memory_runs(args: argparse.Namespace, workdir: Path, big: int, results: list[CrawlResult]) -> bool:
    """The harvester's crawls on the larger archive, once each (peak RSS is steady)."""
    truth_path = workdir / "truth-big.jsonl"
    log(f"memory: starting the replica with {big:,} documents (its truth takes a while)")
    modes = ("listing", "details") if args.memory_details else ("listing",)
    fields = [f for f in (FIELD_ORDER if args.memory_details else LISTING_FIELDS)
              if f not in ("query", "harvested_at")]
    with running_replica(documents=big, dump_truth=truth_path, startup_timeout=1800) as replica:
        truth = load_truth(truth_path, fields)
        truth_path.unlink()
        crawler = Crawler(replica, truth, workdir, timeout=args.timeout, settings=args.set)
        runs = [crawler.run("harvester", mode, 0) for mode in modes]
    results.extend(runs)
    return all(r.ok for r in runs)


def parsing_report(parsing: ParsingResult, results: list[CrawlResult], repeat: int) -> str:
    names = list(parsing.ms_per_page)
    ms = {name: median(values) for name, values in parsing.ms_per_page.items()}
    base = ms[names[0]]
    rows = [[name, fmt(ms[name], 2), f"{ms[name] / base:.2f}x"] for name in names]
    text = (f"Document page parsing, in process: {parsing.pages} replica pages (mean {parsing.mean_kb:.0f} KB, "
            f"<main> {parsing.main_kb:.0f} KB), CPU ms per page, medians of {repeat}\n"
            + table(["how", "CPU ms/page", "vs harvester"], rows))
    small = [r for r in results if r.mode == "details" and r.documents == results[0].documents] if results else []
    bare = median(r.cpu_ms_per_doc for r in small if r.spider == "baseline")
    harv = median(r.cpu_ms_per_doc for r in small if r.spider == "harvester")
    if bare == bare and harv == harv:
        framework = bare - ms[names[1]]
        ceiling = framework + ms["Selector(<main> region), parse only"]
        rest = harv - framework - ms[names[0]]
        text += (
            "\n\nCeiling (details crawl CPU per document page, search pages' share included):\n"
            f"  bare spider's crawl {bare:.2f} ms - its page parsing {ms[names[1]]:.2f} ms = Scrapy's own cost "
            f"{framework:.2f} ms per document page\n"
            f"  ceiling = Scrapy's own cost + parsing only <main> = {framework:.2f} + "
            f"{ms['Selector(<main> region), parse only']:.2f} = {ceiling:.2f} ms\n"
            f"  harvester's crawl {harv:.2f} ms = Scrapy's own cost {framework:.2f} + DocumentPage {ms[names[0]]:.2f}"
            f" + the rest (spider, pipelines, two exports, run report) {rest:.2f} ms"
        )
    return text


def dates_report(dates: DatesResult, repeat: int) -> str:
    rows = [[name, fmt(median(v), 0)] for name, v in dates.per_s.items()]
    best = median(dates.per_s["normalize_date, all forms"])
    return (f"Date normalisation, in process: {dates.count:,} strings in the site's forms "
            f"({', '.join(f'{f} {int(100 * s)}%' for f, s in DATE_FORMS)}; {dates.day_count:,} with a day), "
            f"dates per CPU second, medians of {repeat}\n"
            + table(["how", "dates/s"], rows)
            + f"\nWrong results: {dates.wrong}; invented parts (a year or month given more precision): "
              f"{dates.invented}\nTarget >= {TARGET_DATES_PER_S:,} dates/s: "
            + verdict(best >= TARGET_DATES_PER_S, f"{best:,.0f}/s"))


def memory_report(results: list[CrawlResult], small: int, big: int) -> str:
    rows = []
    peaks: dict[tuple[str, int], float] = {}
    for mode in ("listing", "details"):
        for size in (small, big):
            runs = [r for r in results if r.spider == "harvester" and r.mode == mode and r.documents == size]
            if runs:
                peaks[(mode, size)] = median(r.maxrss_mb for r in runs)
                rows.append([mode, f"{size:,}", str(len(runs)), fmt(peaks[(mode, size)]),
                             fmt(median(r.wall for r in runs), 1), "yes" if all(r.ok for r in runs) else "NO"])
    lines = ["Harvester peak RSS (MB = 2^20 bytes), medians\n"
             + table(["crawl", "documents", "runs", "peak RSS MB", "wall s", "equal to truth"], rows)]
    if ("details", small) in peaks:
        peak = peaks[("details", small)]
        lines.append(f"Peak RSS of the details crawl at {small:,} documents: {peak:.1f} MB; target < "
                     f"{TARGET_PEAK_RSS_MB:.0f} MB: " + verdict(peak < TARGET_PEAK_RSS_MB, f"{peak - TARGET_PEAK_RSS_MB:.0f} MB over"))
    for mode in ("details", "listing"):
        if (mode, small) in peaks and (mode, big) in peaks:
            growth = peaks[(mode, big)] / peaks[(mode, small)] - 1
            lines.append(f"Growth of the {mode} crawl's peak RSS from {small:,} to {big:,} documents: "
                         f"{100 * growth:+.1f}%; target < {100 * TARGET_RSS_GROWTH:.0f}%: "
                         + verdict(growth < TARGET_RSS_GROWTH, f"{100 * (growth - TARGET_RSS_GROWTH):.0f} points over"))
    if ("listing", big) not in peaks:
        lines.append(f"(No crawl at {big:,} documents: --quick skips it unless --only memory is given.)")
    elif ("details", big) not in peaks:
        lines.append(f"(The details crawl was not run at {big:,} documents: pass --memory-details.)")
    return "\n".join(lines)


def profile_report(profile: dict[str, Any]) -> str:
    busy = profile["busy_samples"] or 1
    rows = [[name, str(count), f"{100 * count / busy:.1f}%"]
            for name, count in sorted(profile["categories"].items(), key=lambda kv: -kv[1])]
    top = [[name, str(count), f"{100 * count / busy:.1f}%"] for name, count in profile["framework_top"].items()]
    hot = [[name, str(count), f"{100 * count / busy:.1f}%"] for name, count in profile.get("hotspots", {}).items()]
    return ("Profile: one harvester details crawl under py-spy (100 Hz, main thread, idle excluded), "
            "samples by owner (the innermost frame of ours, else the framework)\n"
            + table(["owner", "samples", "share"], rows)
            + "\n\nThe framework's share by innermost module\n" + table(["module", "samples", "share"], top)
            + "\n\nHot spots, inclusive (a sample counts for every listed frame on its stack)\n"
            + table(["frame", "samples", "share"], hot))


if __name__ == "__main__":
    sys.exit(main())
