"""The bare Scrapy spider that ``python -m benchmarks`` measures the harvester against.

What a naive spider for this archive looks like: ``response.css(...)`` over the whole
response, plain dicts, no item pipelines, no extensions of ours, Scrapy's own JSON Lines
exporter. It is run with ``scrapy runspider`` from a directory without ``scrapy.cfg``, so
none of the project's settings apply; the settings below are the ones the harvester runs
with against a loopback host (``ArchiveSpider.from_crawler``: no delay, no AutoThrottle,
16 requests per domain; robots.txt obeyed; INFO log; telnet and remote control off).

``scrapy runspider benchmarks/baseline_spider.py -a base_url=http://127.0.0.1:PORT
[-a details=true] -O out.jsonl``

It is a yardstick, not a product: it validates nothing, normalises nothing and keeps the
values roughly as the page shows them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response

#: The harvester's settings for a loopback host (``harvester/settings.py`` and
#: ``ArchiveSpider.from_crawler``), minus everything that is the harvester's own.
BASELINE_SETTINGS: dict[str, Any] = {
    "USER_AGENT": "harvester/0.1 (harvester of digital archives, built on Scrapy)",
    "ROBOTSTXT_OBEY": True,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_TIMEOUT": 60,
    "RETRY_TIMES": 5,
    "FEED_EXPORT_ENCODING": "utf-8",
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
}


def _join(texts: list[str]) -> str:
    return " ".join(t.strip() for t in texts if t.strip())


class BaselineSpider(scrapy.Spider):
    """Walk the pager of ``/search``; with ``-a details=true`` also every document page."""

    name = "baseline"
    custom_settings: dict[str, Any] | None = BASELINE_SETTINGS

    def __init__(
        self, base_url: str = "http://127.0.0.1:8000", details: str = "false", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.details = details.lower() in ("1", "true", "yes")

    async def start(self) -> Any:  # Scrapy >= 2.13
        yield scrapy.Request(f"{self.base_url}/search", callback=self.parse)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        for row in response.css("div.documents table tbody tr"):
            item = {
                "url": response.urljoin(row.css("td.document a::attr(href)").get("")),
                "title": _join(row.css("h3.sub-title ::text").getall()),
                "date": _join(row.css("td.date ::text").getall()),
                "summary": _join(row.css("div.text p ::text").getall()),
            }
            if self.details:
                yield response.follow(item["url"], callback=self.parse_document, cb_kwargs={"item": item})
            else:
                yield item
        next_page = response.css("nav.pager a[rel=next]::attr(href)").get()
        if next_page:
            yield response.follow(next_page, callback=self.parse)

    def parse_document(self, response: Response, item: dict[str, Any]) -> dict[str, Any]:
        def pills(heading: str) -> list[str]:
            return [
                t.strip()
                for t in response.xpath(
                    f'//div[contains(@class, "pill-block")][h3[normalize-space()="{heading}"]]'
                    '//span[contains(@class, "name")]//text()'
                ).getall()
                if t.strip()
            ]

        def info(label: str) -> str:
            return _join(
                response.xpath(
                    f'//div[contains(@class, "information-block")][h3[normalize-space()="{label}"]]'
                    '/div[contains(@class, "text")]//text()'
                ).getall()
            )

        item.update(
            url=response.url,
            title=_join(response.css("h1.title ::text").getall()),
            date=_join(response.css("div.content-block h2.date::text").getall()),
            summary=_join(response.css("div.text-block p::text").getall()) or item["summary"],
            authors=[
                t.strip()
                for t in response.xpath(
                    '//h2[contains(., "Author")]/following-sibling::ul//span[contains(@class, "name")]//text()'
                ).getall()
                if t.strip()
            ],
            people=pills("Associated People & Organizations"),
            places=pills("Associated Places"),
            topics=pills("Associated Topics"),
            subjects=pills("Subjects Discussed"),
            record_id=info("Record ID"),
            source=info("Source"),
            languages=info("Language"),
            type=info("Type"),
            classification=info("Original Classification"),
            uploaded_date=info("Original Uploaded Date"),
            rights=info("Rights"),
            credits=_join(response.css("p.donated ::text").getall()),
            pdf_urls=[response.urljoin(u) for u in response.css("object.pdf-preview::attr(data)").getall()],
            download_url=response.urljoin(response.css('a[href$="/download"]::attr(href)').get("")),
            related=[
                response.urljoin(u)
                for u in response.xpath(
                    '//h3[normalize-space()="Related Documents"]/following-sibling::*//td//a/@href'
                ).getall()
            ],
            text="\n\n".join(
                _join(p.css("::text").getall()) for p in response.css("#documentTabs div.tab-pane.active p")
            ),
        )
        return item
