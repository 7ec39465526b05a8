"""The one owner of a scheduled job's state during a run, as scrapy-deltafetch's middleware
owns its store: it alone reads the ``HARVESTER_JOB*`` settings, opens (and locks) the store
when the crawl is built, records every item on ``item_scraped``, answers the spider's two
questions (what to do at the start, and "harvest this row, or is it known and unchanged?"),
settles the job's HTTP answers for :class:`harvester.jobs.middleware.JobHttpMiddleware`
(validators, 304, gone, failing), and stages the job's files through the publish gate only
when the run's verdict is ok.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from harvester import signals, stats
from harvester.identity import document_id, needs_resolving
from harvester.items import fields_of
from harvester.jobs.files import write_job_files
from harvester.jobs.fingerprints import listing_fingerprint
from harvester.jobs.policy import (
    History,
    Row,
    format_time,
    full_run_reason,
    next_try,
    ranks,
    refresh_plan,
    refresh_share,
    rolling_pages,
    row_decision,
    vanished,
)
from harvester.jobs.store import JobStore, RunChanges
from harvester.publish import PublishGate
from harvester.walk import WalkOutcome

logger = logging.getLogger(__name__)

#: ``Request.meta`` key: the address of the result row a document request comes from (or
#: the refreshed document's URL).
ROW_META = "harvester_row"
#: ``Request.meta`` key: the request is the rolling refresh of a document the job holds.
REFRESH_META = "harvester_refresh"
#: ``Request.meta`` key set on a response the job has settled (304, gone, failing): the
#: spider reads nothing from it.
SETTLED_META = "harvester_settled"
#: The rolling walk's place (the rank its next window starts at), kept in the job's meta.
WALK_CURSOR = "walk_cursor"


@dataclass(frozen=True)
class JobStart:
    """What a job asks of this run, given once at its start."""

    full: bool = False
    """This run walks everything and fetches every document again."""
    already_done: int = 0
    """Documents a resumed run had harvested before it was killed (its plan counts the rest)."""
    refresh: list[dict[str, Any]] = field(default_factory=list)
    """Records of the documents to fetch again (the rolling refresh), oldest fetch first."""
    stop_after_known: int = 0
    """Stop paging after this many known, unchanged rows in a row (0: never)."""
    published: int = 0
    """Documents the job has published: with the new rows, what the site should report."""
    check_count: bool = True
    """Stop early only when the site's count is what the job expects. A details job with a
    rolling walk finds removals and additions deep in the results within its refresh period
    instead of walking every page whenever the count moves."""
    rolling_pages: list[int] = field(default_factory=list)
    """Results pages (0-based) to read beyond an early stop tonight: the rolling walk."""


@dataclass(frozen=True)
class RowAnswer:
    """The job's answer about one result row."""

    url: str | None
    """Harvest the document at this address (the canonical one when an alias row was resolved
    before); ``None``: keep what the job has."""
    new: bool
    """A document the job has not published."""


class JobExtension:
    def __init__(
        self,
        crawler: Crawler,
        name: str,
        store: JobStore,
        *,
        stop_after_known: int,
        refresh_days: float = 0,
        details: bool = False,
    ) -> None:
        self.crawler = crawler
        self.name = name
        self.store = store
        self.stop_after_known = 0 if store.full else stop_after_known
        self.refresh_days = refresh_days
        self.details = details
        self.page_size = crawler.settings.getint("HARVESTER_PAGE_SIZE") or 10
        self.fields: list[str] = list(crawler.settings.getlist("FEED_EXPORT_FIELDS"))
        self.new_seen = 0
        self.outcome: WalkOutcome | None = None
        self.changes: RunChanges | None = None
        self.files: dict[str, str] = {}
        self._refreshing: set[str] = set()
        self._pending: dict[str, str] = {}
        """Listing fingerprints of rows being harvested, by document (or row) address."""
        self._changed: set[str] = set()
        """Documents whose row this run's walk shows changed: never asked conditionally."""
        self._fetched: set[str] = set()
        """Documents whose whole page this run read."""
        self._next_cursor: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JobExtension:
        settings = crawler.settings
        name = settings.get("HARVESTER_JOB")
        if not name:
            raise NotConfigured  # not a scheduled run
        store = JobStore(Path(settings.get("HARVESTER_JOBS_DIR")) / name)
        store.open()  # JobLockedError, JobStateError: the crawl command says so in one line
        run_args = settings.get("HARVESTER_JOB_ARGS") or "{}"
        every = settings.getfloat("HARVESTER_JOB_FULL_EVERY_DAYS")
        # A details job refreshes a share of its documents every night (rolling) instead of
        # a periodic full run; a listing job walks everything every so many days.
        details = bool(json.loads(run_args).get("details"))
        history = History(store.has_baseline(), store.last_full_run(), store.last_ok_args())
        why_full = full_run_reason(
            history, run_args=run_args, asked=settings.getbool("HARVESTER_JOB_FULL"),
            every_days=0 if details else every, now=datetime.now(UTC),
        )  # fmt: skip
        if store.adopted is not None and why_full is not None:
            why_full = f"{why_full}; its state was rebuilt from the published dataset"
        run_id = store.begin_run(run_args, why_full is not None)
        ext = cls(
            crawler, name, store, stop_after_known=settings.getint("HARVESTER_JOB_STOP_AFTER_KNOWN"),
            refresh_days=every if details else 0, details=details,
        )  # fmt: skip
        logger.info(
            "Job %s: %s run %s (%s)", name, "resuming" if store.resumed else "starting", run_id,
            f"full: {why_full}" if store.full else "incremental",
        )  # fmt: skip
        crawler.signals.connect(ext.item_scraped, signal=scrapy_signals.item_scraped)
        crawler.signals.connect(ext.walk_finished, signal=signals.walk_finished)
        crawler.signals.connect(ext.engine_started, signal=scrapy_signals.engine_started)
        return ext

    def engine_started(self) -> None:
        gate = self.crawler.get_extension(PublishGate)
        if gate is not None:
            gate.on_ok(lambda: self.write_files(gate))

    @property
    def full(self) -> bool:
        """This run walks everything and fetches every document again."""
        return self.store.full

    # --- the spider's two questions -----------------------------------------------------------

    def start(self) -> JobStart:
        """What this run does for the job: the documents to fetch again, when to stop paging,
        and the results pages of tonight's rolling walk."""
        store, now = self.store, datetime.now(UTC)
        published = store.published_count()
        if self.full or not self.refresh_days:
            return JobStart(
                full=self.full, stop_after_known=self.stop_after_known, published=published,
                already_done=store.done_in_run() if store.resumed else 0,
            )  # fmt: skip
        last_end = store.last_ok_end()
        records = store.oldest_fetched(
            *refresh_plan(published, self.refresh_days, last_end, now), now=format_time(now)
        )
        self._refreshing = {str(r["url"]) for r in records}
        if records:
            self.crawler.stats.set_value(stats.JOB_REFRESH_PLANNED, len(records))
            logger.info("Job %s: refreshing the %s documents fetched longest ago", self.name, len(records))
        cursor = int(store.get_meta(WALK_CURSOR) or 1)
        pages, self._next_cursor = rolling_pages(
            published, self.page_size, refresh_share(self.refresh_days, last_end, now), cursor
        )
        if pages:
            self.crawler.stats.set_value(stats.JOB_ROLLING_PAGES, len(pages))
            logger.info(
                "Job %s: the rolling walk reads results pages %s-%s beyond the known ones tonight",
                self.name, pages[0] + 1, pages[-1] + 1,
            )  # fmt: skip
        return JobStart(
            refresh=records, stop_after_known=self.stop_after_known, published=published,
            check_count=False, rolling_pages=pages,
        )  # fmt: skip

    def harvest(
        self,
        url: str,
        title: str | None,
        date_raw: str | None,
        summary: str | None,
        position: int,
        listing_url: str,
    ) -> RowAnswer:
        """Harvest this row (at the address answered), or keep what the job has (``None``)."""
        store = self.store
        listing_fp = listing_fingerprint(url, title, date_raw, summary)
        known = store.known(url)
        new = known is None or not known.published_present
        if new:
            self.new_seen += 1
        if known is None:
            self._pending[url] = listing_fp
            return RowAnswer(url, new)
        target = known.url
        decision = row_decision(known, listing_fp, run_id=store.run_id, full=store.full)
        if decision is Row.HARVEST and target in self._fetched:
            # The whole page was read this run (the rolling refresh): the row joins it.
            store.reuse(target, position, listing_url, listing_fp=listing_fp)
            return RowAnswer(None, new)
        if decision is Row.HARVEST:
            self._pending[target] = listing_fp
            if known.listing_fp != listing_fp:
                self._changed.add(target)  # a changed row: a changed page, asked unconditionally
            store.reuse(target, position, listing_url, done=False)  # listed: never a removal
            return RowAnswer(target, new)
        store.reuse(target, position, listing_url, done=target not in self._refreshing)
        if target not in self._refreshing:  # a refreshed document counts by its page's answer
            self.crawler.stats.inc_value(
                stats.JOB_REUSED if decision is Row.UNCHANGED else stats.JOB_ALREADY_DONE
            )
        return RowAnswer(None, new)

    # --- the job's HTTP answers (JobHttpMiddleware) -----------------------------------------

    def validators(self, key: str) -> dict[str, str]:
        """``If-None-Match`` / ``If-Modified-Since`` for a document the job holds whose row is
        not changed this run; nothing otherwise (a changed row is a changed page)."""
        url = self.store.canonical(key)
        if url in self._changed or not self.store.holds(url):
            return {}
        etag, modified = self.store.validators(url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        return headers

    def not_modified(self, key: str) -> bool:
        """A 304 to a conditional request the job sent: accepted only for a document it holds
        whose row this run did not show changed. ``False``: not an answer to trust."""
        url = self.store.canonical(key)
        if url in self._changed or not self.store.holds(url):
            return False
        self.store.not_modified(url)
        self.crawler.stats.inc_value(stats.JOB_NOT_MODIFIED)
        return True

    def held_capture(self, key: str) -> tuple[str, str] | None:
        """``(capture_id, captured_at)`` of the record the job holds for a document: the
        capture a 304 confirms. None when it names none (a run that kept no web archive)."""
        record = self.store.record_of(self.store.canonical(key)) or {}
        if not record.get("capture_id"):
            return None
        return str(record["capture_id"]), str(record.get("captured_at") or "")

    def gone_away(self, key: str, why: str) -> bool:
        """The page of a document the job holds says it is gone (404/410, or a redirect to
        another document): removed with this run. ``False``: not a document the job holds."""
        url = self.store.canonical(key)
        if not self.store.holds(url):
            return False
        self.store.gone(url)
        self.crawler.stats.inc_value(stats.JOB_GONE)
        logger.info("Job %s: %s is gone from the archive (%s): removed from the dataset", self.name, url, why)
        return True

    def failed(self, key: str, error: str) -> bool:
        """The page of a document the job holds failed after retries: its last good record
        stays, it is named in the summary, and it is tried again on a later night.
        ``False``: not a document the job holds (the run fails as for any page)."""
        url = self.store.canonical(key)
        if not self.store.holds(url):
            return False
        attempts = self.store.fail_count(url) + 1
        when = next_try(attempts, self.refresh_days or 7.0, datetime.now(UTC))
        self.store.failed(url, error, when)
        self.crawler.stats.inc_value(stats.JOB_STALE)
        logger.warning(
            "Job %s: %s failed (%s), %s run(s) in a row: its last good record stays in the dataset; "
            "tried again from %s",
            self.name, url, error, attempts, when,
        )  # fmt: skip
        return True

    # --- recording -------------------------------------------------------------------------

    def item_scraped(self, item: Any, response: Response | None = None) -> None:
        values = fields_of(item)
        record = {name: values.get(name) for name in self.fields}
        url = str(record["url"])
        meta = response.meta if response is not None else {}
        row: str | None = meta.get(ROW_META)
        listing_fp = self._pending.pop(url, None) or (self._pending.pop(row, None) if row else None)
        refresh = bool(meta.get(REFRESH_META))
        if refresh:
            # The walk may have placed it since the refresh began: keep where it stands now.
            record["position"], record["listing_url"] = self.store.place_of(url)
        if row is not None and row != url and needs_resolving(row):
            self.store.remember_alias(row, url)
        etag = modified = None
        if response is not None and row is not None:  # a document page
            etag = _header(response, b"ETag")
            modified = _header(response, b"Last-Modified")
        self.store.record(record, listing_fp, etag, modified, listed=not refresh)
        self._fetched.add(url)
        self.crawler.stats.inc_value(stats.JOB_RECORDED)

    def walk_finished(self, outcome: WalkOutcome) -> None:
        self.outcome = outcome

    # --- the end of the run -------------------------------------------------------------------

    def write_files(self, gate: PublishGate) -> None:
        """The verdict is ok: settle the state and stage the job's files."""
        store, outcome = self.store, self.outcome
        if outcome is not None and outcome.corrections:
            store.apply_corrections(outcome.corrections)
        if outcome is not None and outcome.complete and not outcome.early_stopped:
            removed = store.declare_removals()
            if removed:
                logger.info("Job %s: %s documents are gone from the archive", self.name, removed)
        elif outcome is not None:
            # Not every page was read: the pages that were show what left the results.
            for url in vanished(store.places()):
                store.gone(url)
                self.crawler.stats.inc_value(stats.JOB_GONE)
                logger.info(
                    "Job %s: %s is no longer listed where it stood: removed from the dataset", self.name, url
                )
        if outcome is not None:
            store.set_places(ranks(store.places(), outcome.page_size, outcome.listing_url))
        if self._next_cursor is not None:
            store.set_meta(WALK_CURSOR, str(self._next_cursor))
        self.changes, self.files = write_job_files(self.crawler, store, self.fields, gate.stage)

    def captures(self) -> dict[str, str]:
        """The capture each record the job publishes names: capture id -> document URL."""
        return {
            str(r["capture_id"]): str(r["url"]) for r in self.store.present_records() if r.get("capture_id")
        }

    def fetch_whole(self, urls: list[str]) -> None:
        """Documents whose capture the job's web archive lacks: their next refresh (within
        the refresh period) asks without validators, so it captures the page again."""
        self.store.forget_validators(urls)

    def end(self, status: str, reasons: list[str]) -> None:
        """End the run: a new baseline when it is ok; resumable when interrupted."""
        store = self.store
        try:
            store.commit()
            if status == "ok" and self.changes is not None:
                store.publish()
                count = store.published_count()
                self.crawler.stats.set_value(stats.JOB_DATASET_DOCUMENTS, count)
                self.crawler.stats.set_value(stats.JOB_CHANGES, self.changes.counts())
                logger.info(
                    "Job %s: dataset of %s documents; since the last complete run: %s added, %s changed, %s removed",
                    self.name, count, *self.changes.counts().values(),
                )  # fmt: skip
                store.end_run("ok", {"changes": self.changes.counts(), "documents": count})
            elif status != "interrupted":
                store.end_run("failed", {"reasons": reasons})
        except BaseException:
            store.close()
            raise

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Keep the run's summary with the run (a job's history), then release the job."""
        try:
            if summary is not None and self.store.db is not None:
                self.store.keep_summary(summary)
        finally:
            self.store.close()

    def summary(self) -> dict[str, Any]:
        stale = [
            {"url": s.url, "id": document_id(s.url), "since": s.since, "error": s.error,
             "attempts": s.attempts, "next_try": s.next_try}
            for s in self.store.stale()
        ]  # fmt: skip
        return {
            "job": self.name,
            "run": self.store.run_id,
            "mode": "full" if self.store.full else "incremental",
            "resumed": self.store.resumed,
            "changes": self.changes.counts() if self.changes is not None else None,
            "stale": stale,
            "state_rebuilt_from_published": self.store.adopted,
        }

    @property
    def summary_path(self) -> Path:
        return self.store.directory / "summary.json"


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
