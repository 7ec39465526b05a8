"""Crawls in the test process: real Scrapy, real HTTP to the replica over loopback.

``await crawl(base_url, "query=...", details=...)`` runs the ``archive`` spider with the
project's settings through Scrapy's ``AsyncCrawlerRunner`` on the reactor that
pytest-twisted keeps running (``--reactor=asyncio``), and returns the items as exported,
the stats and the crawler. Only what the command line alone shows (exit status, the last
log line, files left by a killed process) needs a subprocess (``tests.conftest.run_crawl``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.settings import Settings

from harvester.items import fields_of
from harvester.spiders.archive import ArchiveSpider

#: ``HARVESTER_WACZ`` of the crawls in the test process unless a test gives it: none.
WACZ_DEFAULT = ""


@dataclass
class Crawl:
    crawler: Crawler
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stats(self) -> dict[str, Any]:
        assert self.crawler.stats is not None
        return self.crawler.stats.get_stats()

    def stat(self, key: str, default: Any = 0) -> Any:
        return self.stats.get(key, default)

    @property
    def verdict(self) -> str:
        return str(self.stat("harvester/verdict", ""))

    @property
    def reasons(self) -> list[str]:
        return list(self.stat("harvester/verdict_reasons", []))


def project_settings(
    base_url: str, out: Path | list[Path] | None, overrides: dict[str, Any] | None, append: bool = False
) -> Settings:
    settings = Settings()
    settings.setmodule("harvester.settings", priority="project")
    settings.set("HARVESTER_BASE_URL", base_url, priority="cmdline")
    settings.set("HARVESTER_PROGRESS_INTERVAL", 0, priority="cmdline")
    # Pages of 10 (the site's default) unless a test asks for more: the fault tests stage
    # faults on pages such as /search?page=2 of small archives.
    settings.set("HARVESTER_PAGE_SIZE", 10, priority="cmdline")
    settings.set("LOG_LEVEL", "INFO", priority="cmdline")
    # The web archive costs CPU in every crawl; tests/test_wacz.py turns it back on.
    settings.set("HARVESTER_WACZ", WACZ_DEFAULT, priority="cmdline")
    feeds: dict[str, Any] = {}
    for path in [out] if isinstance(out, Path) else out or []:
        fmt = {".csv": "csv", ".json": "json", ".xml": "xml", ".parquet": "parquet"}.get(
            path.suffix, "jsonlines"
        )
        feeds[str(path)] = {"format": fmt, "overwrite": not append}
    settings.set("FEEDS", feeds, priority="cmdline")
    if out is None:
        settings.set("HARVESTER_SUMMARY_FILE", "", priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


async def crawl(
    base_url: str,
    *args: str,
    out: Path | list[Path] | None = None,
    settings: dict[str, Any] | None = None,
    append: bool = False,
) -> Crawl:
    """Run ``scrapy crawl archive -a ARG ...`` in this process; ``out``: also export there
    (as ``-O``; as ``-o`` with ``append``)."""
    runner = AsyncCrawlerRunner(project_settings(base_url, out, settings, append))
    crawler = runner.create_crawler(ArchiveSpider)
    result = Crawl(crawler)

    def scraped(item: Any) -> None:
        result.items.append(dict(fields_of(item)))

    crawler.signals.connect(scraped, signal=signals.item_scraped)
    spider_args = dict(arg.split("=", 1) for arg in args)
    await crawler.crawl_async(**spider_args)
    return result
