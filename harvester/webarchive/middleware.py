"""Capture and replay as downloader middlewares, the way Scrapy's ``HttpCacheMiddleware``
keeps its storage out of the spider; provenance as a spider middleware.

``CaptureMiddleware`` (``HARVESTER_WACZ``) sits next to the downloader (950, after
``HttpCacheMiddleware``'s 900): on the way back it sees every response as the site sent it,
before retries, redirects or decompression, and writes it with the request that asked for it
(:class:`~harvester.webarchive.warc.WarcStorage`). When the feeds are stored it packages the
WACZ and stages it with the publish gate, like a dataset: published on an ok verdict, kept
aside as ``<name>.failed.wacz`` otherwise, never published by a failed run.

``ReplayMiddleware`` (``-a replay=PATH``) sits at the same place and answers every request
from the archive (robots.txt included), so nothing reaches the downloader. The answer goes
back through every other middleware as a downloaded one would. A request the archive cannot
answer fails like a page that could not be fetched (``harvester/replay/missing``).

``ProvenanceMiddleware`` stamps each record with the capture of the response it was read
from: ``capture_id`` (its ``WARC-Record-ID``) and ``captured_at`` (its ``WARC-Date``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scrapy import Request, Spider
from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from harvester import stats
from harvester.files import dataset_stem, partial_path
from harvester.items import DocumentItem
from harvester.publish import PublishGate
from harvester.streams import stream_kind
from harvester.webarchive.ondisk import TitleStore
from harvester.webarchive.reader import WaczArchive
from harvester.webarchive.wacz import Page, write_wacz
from harvester.webarchive.warc import Capture, WarcStorage

logger = logging.getLogger(__name__)

#: ``Request.meta``: ``(record id, WARC-Date)`` of the capture the response was read from.
CAPTURE_META = "harvester_capture"


def software() -> str:
    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    return f"harvester {of('harvester')} (warcio {of('warcio')}, Scrapy {of('scrapy')})"


def first_file_feed(feeds: dict[str, Any], spider_name: str) -> Path | None:
    """The first feed written to a local file (not a stream, not another scheme).

    >>> first_file_feed({"stdout:": {}, "out/%(name)s.csv": {}}, "archive")
    PosixPath('out/archive.csv')
    >>> first_file_feed({"/dev/null": {}, "s3://b/x.jsonl": {}}, "archive") is None
    True
    """
    for uri in feeds:
        text = str(uri)
        if "://" in text and not text.startswith("file://"):
            continue
        text = text.removeprefix("file://")
        if text in ("-", "stdout:"):
            continue
        path = Path(text)
        if stream_kind(path) is not None:
            continue
        return path.with_name(path.name.replace("%(name)s", spider_name))
    return None


def wacz_beside(first: Path) -> Path:
    """``auto``: the WACZ beside the run's first output file, named after its dataset.

    >>> wacz_beside(Path("out/korea.jsonl")), wacz_beside(Path("output/archive.csv"))
    (PosixPath('out/korea.wacz'), PosixPath('output/archive.wacz'))
    """
    return first.with_name(dataset_stem(first) + ".wacz")


class CaptureMiddleware:
    def __init__(self, crawler: Crawler, target: Path | None, folder: Path) -> None:
        self.crawler = crawler
        self.target = target
        """Where the WACZ goes; None: beside the first file the run stages (``auto``)."""
        self.folder = folder
        self.storage: WarcStorage | None = None
        self.titles = TitleStore()  # on disk: ~180 bytes a record for the whole run (issue 17)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureMiddleware:
        settings = crawler.settings
        setting = str(settings.get("HARVESTER_WACZ") or "")
        if not setting or settings.get("HARVESTER_REPLAY"):
            raise NotConfigured
        name = crawler.spidercls.name
        target: Path | None
        if settings.get("HARVESTER_JOB"):
            target = Path(settings.get("HARVESTER_JOBS_DIR")) / settings.get("HARVESTER_JOB") / "archive.wacz"
            folder = target.parent
        elif setting != "auto":
            target = Path(setting.replace("%(name)s", name))
            folder = target.parent
        else:
            first = first_file_feed(settings.getdict("FEEDS"), name)
            if first is None:
                logger.info(
                    "No web archive: the run writes no file to put it beside (a stream, /dev/null); "
                    "give -s HARVESTER_WACZ=PATH.wacz to keep one"
                )
                raise NotConfigured
            target, folder = None, first.parent
            while "%(" in str(folder):
                folder = folder.parent
        mw = cls(crawler, target, folder)
        crawler.signals.connect(mw.spider_opened, signal=scrapy_signals.spider_opened)
        crawler.signals.connect(mw.item_scraped, signal=scrapy_signals.item_scraped)
        # The WACZ is staged after the feeds, so the run's first staged file stays its dataset.
        done = (
            scrapy_signals.feed_exporter_closed if settings.getdict("FEEDS") else scrapy_signals.spider_closed
        )
        crawler.signals.connect(mw.package, signal=done)
        return mw

    def spider_opened(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".harvester-capture.", suffix=".warc.gz.partial", dir=self.folder)
        os.close(fd)  # WarcStorage opens it again
        self.storage = WarcStorage(Path(name), software())

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if self.storage is None:
            return response
        capture = self.storage.store(
            url=response.url, method=request.method, request_headers=request.headers, status=response.status,
            response_headers=response.headers, body=response.body, protocol=response.protocol,
        )  # fmt: skip
        self.crawler.stats.inc_value(stats.WACZ_RESPONSES)
        request.meta[CAPTURE_META] = (capture.record_id, capture.date)
        return response

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, DocumentItem) and item.capture_id:
            self.titles.setdefault(item.capture_id, item.title)

    def package(self) -> None:
        storage, self.storage = self.storage, None
        if storage is None:
            return
        storage.close()
        gate = self.crawler.get_extension(PublishGate)
        target = self.target
        if target is None and gate is not None and gate.staged:
            target = wacz_beside(gate.staged[0].final)
        if target is None or gate is None:
            logger.info("No web archive: the run wrote no file to put it beside")
            storage.path.unlink(missing_ok=True)
            return
        tmp = partial_path(target)
        try:
            with tmp.open("wb") as out:
                write_wacz(
                    out, storage.path, storage.captures, self._pages(storage.captures),
                    title=f"harvester: {target.stem}", software=software(), main_page=_main_page(storage.captures),
                )  # fmt: skip
            self.crawler.stats.set_value(stats.WACZ_BYTES, tmp.stat().st_size)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            logger.error("Could not write the web archive %s (%s)", target, exc.strerror or exc)
            gate.lose(target, exc.strerror or str(exc))
            return
        finally:
            storage.path.unlink(missing_ok=True)
        gate.stage(tmp, target, "wacz")

    def _pages(self, captures: Iterable[Capture]) -> Iterator[Page]:
        for capture in captures:
            if capture.record_id not in self.titles:
                continue
            results = urlsplit(capture.url).path.rstrip("/") == "/search"
            title = _results_title(capture.url) if results else self.titles[capture.record_id]
            yield Page(capture, title)


def _results_title(url: str) -> str:
    """A results page's title in the page list.

    >>> _results_title("http://h/search?search_api_fulltext=Korea&page=2")
    'Results page 3: Korea'
    """
    query = parse_qs(urlsplit(url).query)
    number = int((query.get("page") or ["0"])[0] or 0) + 1
    words = (query.get("search_api_fulltext") or [""])[0]
    return f"Results page {number}" + (f": {words}" if words else "")


def _main_page(captures: Sequence[Capture]) -> Capture | None:
    for capture in captures:
        if capture.status == 200 and urlsplit(capture.url).path.rstrip("/") == "/search":
            return capture
    return captures[0] if captures else None


class NotArchived(IgnoreRequest):
    """The archive being replayed holds no answer to this request."""


class ReplayMiddleware:
    def __init__(self, crawler: Crawler, archive: WaczArchive) -> None:
        self.crawler = crawler
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReplayMiddleware:
        path = crawler.settings.get("HARVESTER_REPLAY")
        if not path:
            raise NotConfigured
        # harvester.config has checked it (digests, index, site) before the crawl.
        mw = cls(crawler, WaczArchive.open(Path(path), verify=False))
        crawler.signals.connect(mw.spider_closed, signal=scrapy_signals.spider_closed)
        return mw

    def process_request(self, request: Request, spider: Spider | None = None) -> Response:
        archived = self.archive.answer(request.method, request.url)
        if archived is None:
            self.crawler.stats.inc_value(stats.REPLAY_MISSING)
            raise NotArchived(f"not in the archive {self.archive.path}")
        self.crawler.stats.inc_value(stats.REPLAY_ANSWERED)
        headers = Headers(archived.headers)
        cls = responsetypes.from_args(headers=headers, url=request.url, body=archived.body)
        request.meta[CAPTURE_META] = (archived.record_id, archived.date)
        return cls(
            url=request.url, status=archived.status, headers=headers, body=archived.body, request=request,
            protocol=archived.protocol, flags=["replayed"],
        )  # fmt: skip

    def spider_closed(self) -> None:
        self.archive.close()


class ProvenanceMiddleware:
    """Each record names the capture it was read from (a spider middleware: the spider does not know)."""

    def process_spider_output(
        self, response: Response, result: Iterable[Any], spider: Spider | None = None
    ) -> Iterator[Any]:
        capture = response.meta.get(CAPTURE_META) if response.request is not None else None
        for element in result:
            if capture is not None and isinstance(element, DocumentItem):
                element.capture_id, element.captured_at = capture
            yield element

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        capture = response.meta.get(CAPTURE_META) if response.request is not None else None
        async for element in result:
            if capture is not None and isinstance(element, DocumentItem):
                element.capture_id, element.captured_at = capture
            yield element
