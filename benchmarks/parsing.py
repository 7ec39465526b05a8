"""The ``parsing`` suite: CPU per document page of the harvester's page class against a
whole-page ``parsel.Selector``, in this process, on pages fetched once from the replica."""

from __future__ import annotations

import gc
import statistics
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.common import fmt, log, median, table
from benchmarks.crawls import CrawlResult
from replica.process import Replica

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


def bench_parsing(
    replica: Replica, truth: dict[str, dict[str, Any]], count: int, repeat: int
) -> ParsingResult:
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
    return ParsingResult(
        len(pages), statistics.mean(len(b) for _, b in pages) / 1024, statistics.mean(main_sizes) / 1024, ms
    )


def parsing_report(parsing: ParsingResult, results: list[CrawlResult], repeat: int) -> str:
    names = list(parsing.ms_per_page)
    ms = {name: median(values) for name, values in parsing.ms_per_page.items()}
    base = ms[names[0]]
    rows = [[name, fmt(ms[name], 2), f"{ms[name] / base:.2f}x"] for name in names]
    text = (
        f"Document page parsing, in process: {parsing.pages} replica pages (mean {parsing.mean_kb:.0f} KB, "
        f"<main> {parsing.main_kb:.0f} KB), CPU ms per page, medians of {repeat}\n"
        + table(["how", "CPU ms/page", "vs harvester"], rows)
    )
    small = (
        [r for r in results if r.mode == "details" and r.documents == results[0].documents] if results else []
    )
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
