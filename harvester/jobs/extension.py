"""The one owner of a scheduled job's state during a run, as scrapy-deltafetch's middleware
owns its store: it alone reads the ``HARVESTER_JOB*`` settings, opens (and locks) the store
when the crawl is built, records every item on ``item_scraped``, answers the spider's one
question ("harvest this row, or is it known and unchanged?"), and publishes the job's files
through the publish gate only when the run's verdict is ok.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from harvester import signals, stats
from harvester.exporters import csv_export_kwargs
from harvester.items import fields_of
from harvester.jobs.files import write_job_files
from harvester.jobs.fingerprints import listing_fingerprint
from harvester.jobs.policy import History, Row, full_run_reason, row_decision
from harvester.jobs.store import JobStore, RunChanges
from harvester.publish import PublishGate
from harvester.walk import WalkOutcome

logger = logging.getLogger(__name__)

#: ``Request.meta`` key: the canonical URL of the result row a document request comes from.
ROW_META = "harvester_row"


class JobExtension:
    def __init__(
        self, crawler: Crawler, name: str, store: JobStore, *, stop_after_known: int, refresh_days: float = 0
    ) -> None:
        self.crawler = crawler
        self.name = name
        self.store = store
        self.stop_after_known = 0 if store.full else stop_after_known
        self.refresh_days = 0 if store.full else refresh_days
        self._refreshing: set[str] = set()
        self.fields: list[str] = list(crawler.settings.getlist("FEED_EXPORT_FIELDS"))
        self.csv_options = csv_export_kwargs(crawler.settings)
        self.new_seen = 0
        self.outcome: WalkOutcome | None = None
        self.changes: RunChanges | None = None
        self.files: dict[str, str] = {}
        self._pending: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JobExtension:
        settings = crawler.settings
        name = settings.get("HARVESTER_JOB")
        if not name:
            raise NotConfigured  # not a scheduled run
        store = JobStore(Path(settings.get("HARVESTER_JOBS_DIR")) / name)
        store.open()  # JobLockedError: the crawl command says so in one line
        run_args = settings.get("HARVESTER_JOB_ARGS") or "{}"
        every = settings.getfloat("HARVESTER_JOB_FULL_EVERY_DAYS")
        # A details job refreshes a share of its documents every night (rolling) instead of
        # a periodic full run; a listing job walks everything every so many days.
        rolling = bool(json.loads(run_args).get("details"))
        history = History(store.has_baseline(), store.last_full_run(), store.last_ok_args())
        why_full = full_run_reason(
            history, run_args=run_args, asked=settings.getbool("HARVESTER_JOB_FULL"),
            every_days=0 if rolling else every, now=datetime.now(UTC),
        )  # fmt: skip
        run_id = store.begin_run(run_args, why_full is not None)
        ext = cls(
            crawler, name, store, stop_after_known=settings.getint("HARVESTER_JOB_STOP_AFTER_KNOWN"),
            refresh_days=every if rolling else 0,
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

    # --- during the run ---------------------------------------------------------------------

    @property
    def full(self) -> bool:
        """This run walks everything and fetches every document again."""
        return self.store.full

    def refresh_due(self) -> list[dict[str, Any]]:
        """The rolling refresh: the records of the documents to fetch again this run (see
        :func:`refresh_plan`)."""
        if not self.refresh_days:
            return []
        records = self.store.oldest_fetched(*refresh_plan(
            self.store.published_count(), self.refresh_days, self.store.last_ok_end(), datetime.now(UTC)
        ))  # fmt: skip
        self._refreshing = {str(r["url"]) for r in records}
        if records:
            self.crawler.stats.set_value(stats.JOB_REFRESH_PLANNED, len(records))
            logger.info("Job %s: refreshing the %s documents fetched longest ago", self.name, len(records))
        return records

    def conditional_headers(self, url: str) -> dict[str, str]:
        """``If-None-Match`` / ``If-Modified-Since`` from the validators the page last came with."""
        etag, modified = self.store.validators(url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        return headers

    def not_modified(self, url: str) -> None:
        """The site answered 304: the document is unchanged, and counts as fetched."""
        self.store.not_modified(url, self._pending.pop(url, None))
        self.crawler.stats.inc_value(stats.JOB_NOT_MODIFIED)

    def harvest(self, url: str, title: str | None, date_raw: str | None, summary: str | None,
                position: int, listing_url: str) -> bool:  # fmt: skip
        """The spider's one question: harvest this row (``True``), or keep what the job has."""
        listing_fp = listing_fingerprint(url, title, date_raw, summary)
        known = self.store.known(url)
        if known is None or not known.published_present:
            self.new_seen += 1
        decision = row_decision(known, listing_fp, run_id=self.store.run_id, full=self.store.full)
        if decision is not Row.DONE and url in self._refreshing:
            # Already being fetched by the rolling refresh: where it stands now is kept.
            self._pending[url] = listing_fp
            self.store.reuse(url, position, listing_url)
            return False
        if decision is Row.HARVEST:
            self._pending[url] = listing_fp
            return True
        # Kept: still where it stands now (a resumed run's rows too, after uploads moved them).
        self.store.reuse(url, position, listing_url)
        self.crawler.stats.inc_value(
            stats.JOB_REUSED if decision is Row.UNCHANGED else stats.JOB_ALREADY_DONE
        )
        return False

    def expected_total(self) -> int:
        """How many documents the site should report if nothing else changed."""
        return self.store.published_count() + self.new_seen

    def item_scraped(self, item: Any, response: Response | None = None) -> None:
        values = fields_of(item)
        record = {name: values.get(name) for name in self.fields}
        url = str(record["url"])
        row: str | None = response.meta.get(ROW_META) if response is not None else None
        listing_fp = self._pending.pop(url, None) or (self._pending.pop(row, None) if row else None)
        if url in self._refreshing:
            # The walk may have seen it since the refresh began: keep where it stands now.
            record["position"], record["listing_url"] = self.store.place_of(url)
        etag = modified = None
        if response is not None and row is not None:  # a document page
            etag = _header(response, b"ETag")
            modified = _header(response, b"Last-Modified")
        self.store.record(record, listing_fp, etag, modified)
        self.crawler.stats.inc_value(stats.JOB_RECORDED)

    def walk_finished(self, outcome: WalkOutcome) -> None:
        self.outcome = outcome

    # --- the end of the run -------------------------------------------------------------------

    def write_files(self, gate: PublishGate) -> None:
        """The verdict is ok: settle the state and stage the job's files."""
        store, outcome = self.store, self.outcome
        if outcome is not None and outcome.complete and not outcome.early_stopped:
            removed = store.declare_removals()
            if removed:
                logger.info("Job %s: %s documents are gone from the archive", self.name, removed)
        elif outcome is not None and outcome.early_stopped:
            store.shift_unseen(self.new_seen, outcome.page_size, outcome.listing_url)
        if outcome is not None and outcome.corrections:
            store.apply_corrections(outcome.corrections)
        self.changes, self.files = write_job_files(
            store, self.fields, self.csv_options["include_text"], gate.stage
        )

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
            if summary is not None:
                self.store.keep_summary(summary)
        finally:
            self.store.close()

    def summary(self) -> dict[str, Any]:
        return {
            "job": self.name,
            "run": self.store.run_id,
            "mode": "full" if self.store.full else "incremental",
            "resumed": self.store.resumed,
            "changes": self.changes.counts() if self.changes is not None else None,
        }

    @property
    def summary_path(self) -> Path:
        return self.store.directory / "summary.json"


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def refresh_plan(documents: int, days: float, last_end: str | None, now: datetime) -> tuple[int, str]:
    """How many of the documents fetched longest ago a run fetches again, and the time before
    which a fetch is too old whatever the count (a document is re-checked every ``days``).

    The share follows the time since the last complete run, so a nightly run fetches about
    ``documents / days`` again, and a run straight after another almost none.

    >>> now = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
    >>> refresh_plan(16_153, 7, "2026-12-01T02:30:00Z", now)
    (2308, '2026-11-25T02:30:00Z')
    >>> refresh_plan(16_153, 7, "2026-12-02T02:29:00Z", now)[0]
    2
    >>> refresh_plan(100, 7, "2026-11-01T00:00:00Z", now)[0]
    100
    """
    cutoff = (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if last_end is None:
        return documents, cutoff
    elapsed = (
        now - datetime.strptime(last_end, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    ).total_seconds() / 86_400
    share = min(max(elapsed, 0.0), days) / days
    return min(documents, round(documents * share)), cutoff
