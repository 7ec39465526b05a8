"""Capture and replay as downloader middlewares, the way Scrapy's ``HttpCacheMiddleware``
keeps its storage out of the spider; provenance as a spider middleware.

``CaptureMiddleware`` (``HARVESTER_WACZ``) sits next to the downloader (950, after
``HttpCacheMiddleware``'s 900): on the way back it sees every response as the site sent it,
before retries, redirects or decompression, and writes it with the request that asked for it
(:class:`~harvester.webarchive.warc.WarcStorage`), to a capture file that the run locks
(:mod:`.partials`; a killed run's is removed by the next run in that folder). When the feeds
are stored it packages the WACZ and stages it with the publish gate, like a dataset: published
on an ok verdict, kept aside as ``<name>.failed.wacz`` otherwise, never published by a failed
run. In a scheduled job, a 304 to the job's conditional request is held until the job settles
it (``not_modified_settled``): trusted, it becomes a ``revisit`` record of the capture it
confirms; not, the plain response it was. On an ok verdict the job's archive grows by the
night's capture (:mod:`.jobarchive`); a killed run's capture is salvaged into the next run's.

``ReplayMiddleware`` (``-a replay=PATH``) sits at the same place and answers every request
from the archive (robots.txt included), so nothing reaches the downloader. The answer goes
back through every other middleware as a downloaded one would. A request the archive cannot
answer fails like a page that could not be fetched (``harvester/replay/missing``).

``ProvenanceMiddleware`` stamps each record with the capture of the response it was read
from: ``capture_id`` (its ``WARC-Record-ID``) and ``captured_at`` (its ``WARC-Date``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import time
import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from scrapy import Request, Spider
from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from harvester import __version__, signals, stats
from harvester.files import FILE_MODE, dataset_stem, partial_path, stale_partials
from harvester.items import DocumentItem
from harvester.jobs.extension import JobExtension
from harvester.outputs import first_file_feed
from harvester.publish import PublishGate, asides_of
from harvester.webarchive.jobarchive import Found, JobArchiveError, Source, find_captures, grow, salvage
from harvester.webarchive.ondisk import TitleStore
from harvester.webarchive.partials import CaptureFile, abandoned_captures, open_capture
from harvester.webarchive.reader import WaczArchive
from harvester.webarchive.wacz import WARC_NAME, Page, WaczWriter
from harvester.webarchive.warc import Capture, WarcStorage

logger = logging.getLogger(__name__)

#: ``Request.meta``: ``(record id, WARC-Date)`` of the capture the response was read from.
CAPTURE_META = "harvester_capture"
#: ``Request.meta``: a 304 to a conditional request, held until the job settles it.
HELD_META = "harvester_held_304"
#: What reading a damaged or unreadable archive raises (zipfile's CRC check, a bad index line).
ARCHIVE_ERRORS = (OSError, JobArchiveError, zipfile.BadZipFile, EOFError, ValueError, KeyError)
#: ``TitleStore.get``'s answer for a capture no record was read from (not in the page list).
_UNTITLED = object()
#: Request headers that make a request conditional (a job's validators).
VALIDATOR_HEADERS = (b"If-None-Match", b"If-Modified-Since")


def software() -> str:
    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    # Our own version from the code: an egg deployed to Scrapyd is stored as <version>.egg,
    # under which importlib.metadata does not find a distribution named harvester.
    return f"harvester {__version__} (warcio {of('warcio')}, Scrapy {of('scrapy')})"


def wacz_beside(first: Path) -> Path:
    """``auto``: the WACZ beside the run's first output file, named after its dataset.

    >>> wacz_beside(Path("out/korea.jsonl")), wacz_beside(Path("output/archive.csv"))
    (PosixPath('out/korea.wacz'), PosixPath('output/archive.wacz'))
    """
    return first.with_name(dataset_stem(first) + ".wacz")


@dataclass(frozen=True)
class _Held304:
    """A 304 to a conditional request, written once the job has settled it."""

    url: str
    method: str
    request_headers: Any
    status: int
    response_headers: Any
    protocol: str | None
    date: str


class CaptureMiddleware:
    def __init__(self, crawler: Crawler, target: Path | None, folder: Path, job: str | None = None) -> None:
        self.crawler = crawler
        self.target = target
        """Where the WACZ goes; None: beside the first file the run stages (``auto``)."""
        self.folder = folder
        self.job = job
        """The scheduled job whose archive grows (``HARVESTER_JOB``), or None."""
        self.storage: WarcStorage | None = None
        self.wacz: WaczWriter | None = None
        """The WACZ the capture file becomes (``storage`` writes its WARC)."""
        self.capture: CaptureFile | None = None
        self.warc_name = WARC_NAME.removeprefix("archive/")
        self.titles = TitleStore()  # on disk: ~180 bytes a record for the whole run (issue 17)
        self.revisits: list[tuple[_Held304, tuple[str, str]]] = []
        self.broken: str | None = None
        """Why the capture could not be written whole (a full disk): no archive is kept."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureMiddleware:
        settings = crawler.settings
        setting = str(settings.get("HARVESTER_WACZ") or "")
        if not setting or settings.get("HARVESTER_REPLAY"):
            raise NotConfigured
        name = crawler.spidercls.name
        target: Path | None
        job = settings.get("HARVESTER_JOB") or None
        if job:
            target = Path(settings.get("HARVESTER_JOBS_DIR")) / job / "archive.wacz"
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
        mw = cls(crawler, target, folder, job)
        crawler.signals.connect(mw.spider_opened, signal=scrapy_signals.spider_opened)
        crawler.signals.connect(mw.item_scraped, signal=scrapy_signals.item_scraped)
        crawler.signals.connect(mw.not_modified_settled, signal=signals.not_modified_settled)
        # The WACZ is staged after the feeds, so the run's first staged file stays its dataset.
        done = (
            scrapy_signals.feed_exporter_closed if settings.getdict("FEEDS") else scrapy_signals.spider_closed
        )
        crawler.signals.connect(mw.package, signal=done)
        return mw

    def spider_opened(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        left = abandoned_captures(self.folder)
        self.capture = open_capture(self.folder)
        if self.job:  # one WARC a night in the job's archive, named after the night
            self.warc_name = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + ".warc.gz"  # UTC
        # The capture file is the WACZ being written (its WARC member first): packaging adds the
        # rest, and the file is renamed into place, not copied (issue 17).
        self.wacz = WaczWriter(self.capture.path.open("wb"), self.warc_name)
        self.storage = WarcStorage(self.capture.path, software(), self.warc_name, file=self.wacz)
        for path in left:
            if self.job:
                # The records a killed run of the job committed name captures in its file.
                data, captures = salvage(path)
                self.storage.append_records(data, captures)
                self.storage.file.flush()
                self.crawler.stats.inc_value(stats.WACZ_SALVAGED, len(captures))
                logger.info("Salvaged %s responses from %s, the capture of a killed run", len(captures), path)
            else:
                logger.info("Removed %s, the capture of a run that was killed", path)
            path.unlink(missing_ok=True)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if self.storage is None:
            return response
        self._write_held(request)  # a 304 nobody settled, asked again: kept as it came
        if self.job and response.status == 304 and _conditional(request):
            # Trusted by the job, it is a revisit of the capture it confirms; if not, the
            # plain response it was (not_modified_settled says which).
            request.meta[HELD_META] = _Held304(
                url=response.url, method=request.method, request_headers=request.headers.copy(),
                status=response.status, response_headers=response.headers.copy(), protocol=response.protocol,
                date=warc_now(),
            )  # fmt: skip
            return response
        if self.broken is not None:
            return response
        message: dict[str, Any] = {
            "url": response.url, "method": request.method, "request_headers": request.headers,
            "status": response.status, "response_headers": response.headers, "body": response.body,
            "protocol": response.protocol,
        }  # fmt: skip
        try:
            if self.job:
                capture = self.storage.store(**message)
                # On disk before any record read from it is committed: a killed job's run is salvaged.
                self.storage.file.flush()
                request.meta[CAPTURE_META] = (capture.record_id, capture.date)
            else:  # a killed single run's capture is removed: written 16 at a time
                request.meta[CAPTURE_META] = self.storage.store_later(**message)
        except OSError as exc:
            self._broke(exc)
            return response
        self.crawler.stats.inc_value(stats.WACZ_RESPONSES)
        return response

    def _broke(self, exc: OSError) -> None:
        self.broken = exc.strerror or str(exc)
        self.crawler.stats.inc_value(stats.OUTPUT_ERRORS)
        logger.error(
            "Could not write the web archive's capture %s (%s): no web archive is kept, and the run "
            "fails; free space, then run again",
            self.capture.path if self.capture else self.folder, self.broken,
        )  # fmt: skip

    def not_modified_settled(
        self, request: Request, response: Response, confirms: tuple[str, str] | None
    ) -> None:
        held = request.meta.pop(HELD_META, None)
        if held is None or self.storage is None:
            return
        if confirms is None:
            self._store_plain(held)
        else:
            self.revisits.append((held, confirms))  # written with what it refers to, at the end

    def _write_held(self, request: Request) -> None:
        held = request.meta.pop(HELD_META, None)
        if held is not None:
            self._store_plain(held)

    def _store_plain(self, held: _Held304) -> None:
        assert self.storage is not None
        if self.broken is not None:
            return
        try:
            self.storage.store(
                url=held.url, method=held.method, request_headers=held.request_headers, status=held.status,
                response_headers=held.response_headers, body=b"", protocol=held.protocol,
            )  # fmt: skip
            self.storage.file.flush()
        except OSError as exc:
            self._broke(exc)
            return
        self.crawler.stats.inc_value(stats.WACZ_RESPONSES)

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, DocumentItem) and item.capture_id:
            self.titles.add(item.capture_id, item.title)

    def package(self) -> None:
        storage, self.storage = self.storage, None
        if storage is None:
            return
        try:
            self._package(storage)
        finally:
            storage.path.unlink(missing_ok=True)
            if self.capture is not None:
                self.capture.release()

    def _package(self, storage: WarcStorage) -> None:
        gate = self.crawler.get_extension(PublishGate)
        target = self.target
        if target is None and gate is not None and gate.staged:
            target = wacz_beside(gate.staged[0].final)
        if target is None or gate is None:
            storage.close()
            logger.info("No web archive: the run wrote no file to put it beside")
            return
        try:
            if self.broken is None:
                storage.write_held()
            if self.revisits and self.broken is None:
                self._write_revisits(storage)
            storage.file.flush()
        except OSError as exc:  # the records held, the revisits: the run fails, as during the crawl
            if self.broken is None:
                self._broke(exc)
        if self.broken is not None:
            # A capture that could not be written whole: neither published nor kept aside.
            with contextlib.suppress(OSError):
                storage.file.close()
            gate.lose(target, self.broken)
            return
        for stale in stale_partials(target):  # a run killed while it packaged this archive
            stale.unlink(missing_ok=True)
        tmp = partial_path(target)
        title = f"harvester: job {self.job}" if self.job else f"harvester: {target.stem}"
        assert self.wacz is not None
        try:
            self.wacz.finish(
                storage.captures, self._pages(storage.captures), title=title, software=software(),
                main_page=_main_page(storage.captures),
            )  # fmt: skip
            _move_into(storage.path, tmp)
            self.crawler.stats.set_value(stats.WACZ_BYTES, tmp.stat().st_size)
        except OSError as exc:
            storage.file.close()
            tmp.unlink(missing_ok=True)
            logger.error("Could not write the web archive %s (%s)", target, exc.strerror or exc)
            gate.lose(target, exc.strerror or str(exc))
            return
        # Tonight's capture alone: kept aside as <name>.failed.wacz if the run fails; on an ok
        # verdict a job's archive grows by it instead.
        gate.stage(tmp, target, "wacz")
        if self.job:
            gate.on_ok(lambda: self._grow(tmp, target, title))

    def _write_revisits(self, storage: WarcStorage) -> None:
        """The 304s the job trusted, as revisit records of the captures they confirm (found in
        tonight's capture, or the job's archive and the failed nights' kept aside)."""
        assert self.target is not None
        tonight = {c.record_id: Found(c.url, c.date, c.digest) for c in storage.captures}
        wanted = {capture_id for _, (capture_id, _) in self.revisits} - tonight.keys()
        found = dict(tonight)
        try:
            sources = _open_sources([self.target, *asides_of(self.target)])
            try:
                found.update(find_captures(sources, wanted))
            finally:
                for source in sources:
                    source.close()
        except ARCHIVE_ERRORS as exc:  # growing the archive fails the run, saying why
            logger.warning("Could not read the job's web archive to find what its 304s confirm: %s", exc)
        before = storage.file.tell()
        for held, (capture_id, captured_at) in self.revisits:
            original = found.get(capture_id)
            storage.store_revisit(
                url=held.url, method=held.method, request_headers=held.request_headers, date=held.date,
                refers_to=capture_id, refers_to_url=original.url if original else held.url,
                refers_to_date=captured_at, digest=original.digest if original else None,
            )  # fmt: skip
        self.crawler.stats.inc_value(stats.WACZ_REVISITS, len(self.revisits))
        self.crawler.stats.inc_value(stats.WACZ_REVISIT_BYTES, storage.file.tell() - before)
        self.revisits = []

    def _grow(self, tonight: Path, target: Path, title: str) -> None:
        """The verdict is ok: the job's archive becomes the last one published, the captures
        of the failed nights since, and tonight's (issue 17), in place of tonight's alone."""
        job = self.crawler.get_extension(JobExtension)
        captures = job.captures() if job is not None else {}
        previous = target.stat().st_size if target.exists() else 0
        started = time.monotonic()
        out = partial_path(target)
        sources: list[Source] = []
        try:
            sources = _open_sources([target, *asides_of(target), tonight])
            main = sources[-1].package
            with out.open("wb") as handle:
                grown = grow(
                    handle, sources, title=title, software=software(), wanted=set(captures),
                    main_page=(main["mainPageUrl"], main["mainPageDate"]) if "mainPageUrl" in main else None,
                )  # fmt: skip
                handle.flush()
                os.fsync(handle.fileno())
        except ARCHIVE_ERRORS as exc:
            out.unlink(missing_ok=True)
            logger.error(
                "Could not add tonight's capture to the job's web archive %s (%s); if that archive is "
                "damaged, move it away: the next run starts a new one",
                target, exc,
            )  # fmt: skip
            raise OSError(f"could not grow the job's web archive {target}: {exc}") from exc
        finally:
            for source in sources:
                source.close()
        os.replace(out, tonight)  # staged in its place: published with the dataset
        size = tonight.stat().st_size
        self.crawler.stats.set_value(stats.WACZ_BYTES, size)
        self.crawler.stats.set_value(stats.WACZ_ADDED_BYTES, size - previous)
        if grown.missing and job is not None:
            urls = sorted(captures[c] for c in grown.missing)
            self.crawler.stats.set_value(stats.WACZ_UNRESOLVED, len(urls))
            logger.warning(
                "%s published records name a capture the job's web archive lacks (an archive from "
                "before it grew, or a night whose capture was lost), e.g. %s: their next refresh "
                "fetches the whole page again",
                len(urls), urls[0],
            )  # fmt: skip
            job.fetch_whole(urls)
        logger.info(
            "Job web archive %s: %s WARCs (one a night), %s captures, %s bytes (%+d tonight), written in %.1f s",
            target, grown.warcs, grown.captures, size, size - previous, time.monotonic() - started,
        )  # fmt: skip

    def _pages(self, captures: Iterable[Capture]) -> Iterator[Page]:
        for capture in captures:
            title = self.titles.get(capture.record_id, _UNTITLED)
            if title is _UNTITLED:
                continue
            results = urlsplit(capture.url).path.rstrip("/") == "/search"
            yield Page(capture, _results_title(capture.url) if results else cast("str | None", title))


def _move_into(capture: Path, tmp: Path) -> None:
    """The finished capture file renamed over ``tmp`` (an empty file :func:`partial_path` made,
    whose mode it takes); copied when ``tmp`` is on another file system."""
    try:
        os.replace(capture, tmp)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copyfile(capture, tmp)
    else:
        os.chmod(tmp, FILE_MODE)


def _open_sources(paths: list[Path]) -> list[Source]:
    sources: list[Source] = []
    try:
        for path in paths:
            if path.exists():
                sources.append(Source.open(path))
    except JobArchiveError:
        for source in sources:
            source.close()
        raise
    return sources


def _conditional(request: Request) -> bool:
    return any(name in request.headers for name in VALIDATOR_HEADERS)


def warc_now() -> str:
    """Now as a WARC 1.1 ``WARC-Date`` (UTC, microseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
