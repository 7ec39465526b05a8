"""The ``profile`` suite (only when asked): one harvester details crawl under ``py-spy``,
its main thread's samples split between the framework and our code."""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import log, run_child, table
from benchmarks.crawls import CrawlRun

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
    (
        "warn_on_generator_with_return_value (scrapy/utils/misc.py",
        "Scrapy: callback source re-read and parsed per response (WARN_ON_GENERATOR_RETURN_VALUE)",
    ),
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
        for label in {
            label for frag, label in PROFILE_HOTSPOTS for frame in frames if frame.startswith(frag)
        }:
            hotspots[label] += count
        owner = next(
            (cat for frame in reversed(frames) for frag, cat in PROFILE_CATEGORIES if frag in frame), None
        )
        if owner is None and any(
            HARVESTER_OTHER[0] in frame and "(harvester/commands/" not in frame for frame in frames
        ):
            owner = HARVESTER_OTHER[1]  # every sample runs under our crawl command: not that one
        if owner is None:
            owner = FRAMEWORK
            module = re.search(r"\(([^:()]+)", frames[-1])
            framework[module.group(1) if module else frames[-1]] += count
        categories[owner] += count
    return busy, categories, framework, hotspots


def bench_profile(crawls: CrawlRun, workdir: Path, keep: Path | None = None) -> dict[str, Any] | None:
    """One harvester details crawl under py-spy; where its main thread's CPU goes.

    *keep*: also write py-spy's raw samples there (for flamegraph.pl or a closer look).
    """
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        log("profile: py-spy not found (pip install py-spy); skipped")
        return None
    out = workdir / "profile" / "out"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd, cwd, env = crawls.command("harvester", "details", out)
    raw_path = workdir / "profile" / "samples.txt"
    spy = [py_spy, "record", "--rate", "100", "--format", "raw", "--output", str(raw_path), "--", *cmd]
    log("profile: one harvester details crawl under py-spy")
    usage = run_child(spy, cwd=cwd, env=env, log_path=out.with_suffix(".log"), timeout=crawls.timeout)
    if usage.returncode != 0 or not raw_path.exists():
        log(f"profile: py-spy exited {usage.returncode}; see {out.with_suffix('.log')}")
        return None
    raw = raw_path.read_text(encoding="utf-8", errors="replace")
    if keep is not None:
        keep.write_text(raw, encoding="utf-8")
    busy, categories, framework, hotspots = categorize_profile(raw)
    return {
        "busy_samples": busy,
        "categories": dict(categories),
        "framework_top": dict(framework.most_common(12)),
        "hotspots": {label: hotspots[label] for _, label in PROFILE_HOTSPOTS if label in hotspots},
        "wall": usage.wall,
        "cpu": usage.cpu,
    }


def profile_report(profile: dict[str, Any]) -> str:
    busy = profile["busy_samples"] or 1
    rows = [
        [name, str(count), f"{100 * count / busy:.1f}%"]
        for name, count in sorted(profile["categories"].items(), key=lambda kv: -kv[1])
    ]
    top = [
        [name, str(count), f"{100 * count / busy:.1f}%"] for name, count in profile["framework_top"].items()
    ]
    hot = [
        [name, str(count), f"{100 * count / busy:.1f}%"]
        for name, count in profile.get("hotspots", {}).items()
    ]
    return (
        "Profile: one harvester details crawl under py-spy (100 Hz, main thread, idle excluded), "
        "samples by owner (the innermost frame of ours, else the framework)\n"
        + table(["owner", "samples", "share"], rows)
        + "\n\nThe framework's share by innermost module\n"
        + table(["module", "samples", "share"], top)
        + "\n\nHot spots, inclusive (a sample counts for every listed frame on its stack)\n"
        + table(["frame", "samples", "share"], hot)
    )
