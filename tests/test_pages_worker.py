"""Tests of ``harvester.pages.worker``: document pages read in a second process (issue 17).

The worker must say what the page classes say in this process, field for field, raise the
same named errors, relay their log lines, keep the order of the pages, and leave the reading
to the caller (:class:`WorkerGone`) when it is not there.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import sys

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged, PageError, PageTooDeep
from harvester.items import DocumentItem
from harvester.pages.document import DocumentPage
from harvester.pages.worker import PageWorker, WorkerGone
from tests.test_pages_document import (
    ALL_REAL,
    SITE,
    URL,
    _real_body,
    document_page,
    wrap_pane,
)


def test_page_errors_cross_processes_as_they_are() -> None:
    for error in (
        PageError("u", "HTTP 500"),
        IncompleteResponse("u", "empty body"),
        BlockedPage("u", "Cloudflare"),
        LayoutChanged("u", "h1.title"),
        PageTooDeep("u", 2048),
    ):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and back.args == error.args and vars(back) == vars(error)


@deferred_f_from_coro_f
async def test_the_worker_reads_pages_as_this_process_does() -> None:
    pages = [(f"{SITE}/document/{slug}", _real_body(slug)) for slug in ALL_REAL]
    pages.append((URL, document_page().encode("utf-8")))
    worker = PageWorker.start()
    try:
        # Sent all at once, answered in order.
        readings = await asyncio.gather(*(worker.read(url, body) for url, body in pages))
    finally:
        worker.close()
    assert worker.process.returncode == 0
    assert worker.pages == len(pages)
    for (url, body), reading in zip(pages, readings, strict=True):
        page = DocumentPage(url, body)
        assert reading == page.reading()
        assert reading.fields == page.fields() and reading.links_dropped == page.links_dropped
        item_fields = {"id": "x", "url": url, "title": "the listing's", "position": 3}
        assert reading.to_item(DocumentItem(**item_fields)) == page.to_item(DocumentItem(**item_fields))


@deferred_f_from_coro_f
async def test_the_worker_raises_what_the_page_raises_and_relays_its_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = document_page()
    cases: list[tuple[str | bytes, type[PageError] | None]] = [
        (good.encode("utf-8")[:-2000], IncompleteResponse),
        (b"", IncompleteResponse),
        (b"<html><head><title>Just a moment...</title></head><body>cf-chl-x</body></html>", BlockedPage),
        (good.replace('class="title"', 'class="heading"', 1).encode("utf-8"), LayoutChanged),
        (wrap_pane(good, "translation-English", 3000).encode("utf-8"), None),  # read whole, with a warning
    ]
    worker = PageWorker.start()
    caplog.set_level(logging.WARNING)
    try:
        for body, raised in cases:
            if raised is None:
                reading = await worker.read(URL, body)  # type: ignore[arg-type]
                assert reading == DocumentPage(URL, body).reading()
                continue
            with pytest.raises(raised) as err:
                await worker.read(URL, body)  # type: ignore[arg-type]
            with pytest.raises(raised) as here:
                DocumentPage(URL, body)
            assert str(err.value) == str(here.value)
    finally:
        worker.close()
    # The deep page's warning, written in the worker, logged here under the page classes' logger.
    relayed = [
        r for r in caplog.records if r.name == "harvester.pages.raw" and "nests elements deeper" in r.message
    ]
    assert len(relayed) == 2  # the worker's, then this process's own reading
    assert worker.pages == len(cases)


@deferred_f_from_coro_f
async def test_a_worker_that_is_gone_leaves_the_pages_to_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    # A worker that exits at once (as one killed would): the page it held, and every later one.
    worker = PageWorker.start([sys.executable, "-c", "import sys; sys.stdin.buffer.read(4)"])
    body = document_page().encode("utf-8")
    with pytest.raises(WorkerGone):
        await worker.read(URL, body)
    with pytest.raises(WorkerGone):
        await worker.read(URL, body)
    worker.close()
    assert worker.pages == 0
    said = [r.message for r in caplog.records if r.name == "harvester.pages.worker"]
    assert len(said) == 1 and said[0].endswith(": document pages are read in the crawl's process from now on")
    assert "the page worker" in said[0]  # stopped, or does not read its input (whichever it met first)


@deferred_f_from_coro_f
async def test_closing_the_worker_ends_its_process() -> None:
    worker = PageWorker.start()
    await worker.read(URL, document_page().encode("utf-8"))
    worker.close()
    assert worker.process.returncode == 0
    with pytest.raises(WorkerGone):
        await worker.read(URL, document_page().encode("utf-8"))


def test_without_an_asyncio_loop_the_caller_reads_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    # Under another Twisted reactor there is no asyncio loop to watch the worker's pipes.
    def no_loop() -> None:
        raise RuntimeError("no running event loop")

    monkeypatch.setattr(asyncio, "get_running_loop", no_loop)
    worker = PageWorker.start()
    try:
        with pytest.raises(WorkerGone, match="asyncio reactor"):
            worker.read(URL, document_page().encode("utf-8")).send(None)
    finally:
        worker.close()
    assert worker.process.returncode == 0


def test_the_worker_imports_no_scrapy() -> None:
    # The page classes import no Scrapy (nor Twisted): the worker starts in a fraction of the time.
    import subprocess

    code = "import sys, harvester.pages.worker as w, harvester.pages.document; print(sorted({'scrapy', 'twisted'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
