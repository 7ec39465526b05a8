"""The run summary (``summary.json``): what a scheduler or a script reads after a run."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harvester import stats as keys
from harvester.files import dataset_stem

logger = logging.getLogger(__name__)


def _by_prefix(stats: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix)}


def build_summary(
    stats: Mapping[str, Any],
    *,
    status: str,
    reasons: list[str],
    finish_reason: str,
    arguments: dict[str, Any],
    base_url: str | None,
    items: int,
    corrections: int,
    files: dict[str, Any],
    job: dict[str, Any] | None,
    pages_per_minute: dict[str, Any] | None = None,
    coverage: dict[str, Any] | None = None,
    coverage_change: dict[str, Any] | None = None,
    coverage_drops: list[dict[str, Any]] | None = None,
    published_coverage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    get = stats.get
    start = get("start_time")
    ended = datetime.now(UTC)
    job = job or {}
    return {
        "job": job.get("job"),
        "run": job.get("run"),
        "status": status,
        "reasons": reasons,
        "finish_reason": finish_reason,
        "arguments": arguments,
        "base_url": base_url,
        "mode": job.get("mode", "single"),
        "resumed": job.get("resumed", False),
        "stopped_by": get(keys.STOPPED_BY),
        "started": start.strftime("%Y-%m-%dT%H:%M:%SZ") if start else None,
        "ended": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round((ended - start).total_seconds(), 3) if start else None,
        "requests": get(keys.REQUEST_COUNT, 0),
        "responses_by_status": _by_prefix(stats, keys.RESPONSE_STATUS_PREFIX),
        "pages": {
            "search": get(keys.PAGES_SEARCH, 0),
            "search_expected": get(keys.PAGES_EXPECTED),
            "document": get(keys.PAGES_DOCUMENT, 0),
            "failed": get(keys.PAGES_FAILED, 0),
            "blocked": get(keys.PAGES_BLOCKED, 0),
            "incomplete_retried": get(keys.PAGES_INCOMPLETE_RETRIED, 0),
        },
        "documents": {
            "harvested": items,
            "kept_unchanged": get(keys.JOB_REUSED, 0),
            "already_done": get(keys.JOB_ALREADY_DONE, 0),
            "not_modified": get(keys.JOB_NOT_MODIFIED, 0),
            "refreshed": get(keys.JOB_REFRESH_PLANNED, 0),
            "gone": get(keys.JOB_GONE, 0),
            "stale": get(keys.JOB_STALE, 0),
            "untrusted_304": get(keys.JOB_UNTRUSTED_304, 0),
            "dataset": get(keys.JOB_DATASET_DOCUMENTS, items),
        },
        "reported_total": get(keys.REPORTED_TOTAL),
        "completeness": get(keys.COMPLETENESS),
        "duplicates_dropped": get(keys.DUPLICATES_DROPPED, 0),
        "dates_unread": get(keys.DATE_UNREADABLE, 0),
        "titles_empty": get(keys.TITLE_EMPTY, 0),
        "structure_errors": get(keys.STRUCTURE_ERRORS, 0),
        "pagination_loops": get(keys.PAGINATION_LOOPS, 0),
        "retries": get(keys.RETRY_COUNT, 0),
        "retries_by_reason": _by_prefix(stats, keys.RETRY_REASON_PREFIX),
        "waits": {
            "retry_after": get(keys.RETRY_AFTER_COUNT, 0),
            "retry_after_seconds": get(keys.RETRY_AFTER_SECONDS, 0),
            "backoff": get(keys.BACKOFF_COUNT, 0),
            "backoff_seconds": get(keys.BACKOFF_SECONDS, 0),
        },
        "moved_results": {
            "count_changes": get(keys.SHIFTS, 0),
            "rewalks": get(keys.REWALKS, 0),
            "pages_reread": get(keys.REWALK_PAGES, 0),
            "positions_corrected": corrections,
        },
        "skipped": {
            "oversize_pages": get(keys.PAGES_OVERSIZE, 0),
            "offsite_rows": get(keys.ROWS_OFFSITE, 0),
            "rows_beyond_count": get(keys.ROWS_BEYOND_COUNT, 0),
            "invalid_utf8_pages": get(keys.PAGES_INVALID_UTF8, 0),
            "canonical_rejected": get(keys.CANONICAL_REJECTED, 0),
            "links_dropped": get(keys.LINKS_DROPPED, 0),
        },
        "retries_exhausted": get(keys.RETRY_MAX_REACHED, 0),
        # {"bucket_s": B, "series": [pages per minute in each B-second step of the run]}
        "pages_per_minute": pages_per_minute,
        # Records that have each field (harvester/report/coverage.py): a job's whole dataset,
        # a single run's records. {"documents": N, "fields": {name: {"count": c, "share": s}}}
        "coverage": coverage,
        # Against the previous run's published coverage: {"against": {...}, "documents":
        # {"previous", "now", "change"}, "fields": {name: {"previous", "now", "change"}}}; null
        # without a previous run to compare with.
        "coverage_change": coverage_change,
        # Fields whose share dropped by more than HARVESTER_COVERAGE_DROP.
        "coverage_drops": coverage_drops or [],
        # The coverage of the dataset left published: what the next run compares with.
        "published_coverage": published_coverage,
        "files": files,
        # The run's web archive (harvester/webarchive): responses and revisits written, the
        # WACZ's bytes; for a job, the bytes tonight added to its archive, records whose
        # capture the archive lacks (fetched again first) and responses salvaged from a
        # killed run's capture.
        "web_archive": {
            "responses": get(keys.WACZ_RESPONSES, 0),
            "revisits": get(keys.WACZ_REVISITS, 0),
            "revisit_bytes": get(keys.WACZ_REVISIT_BYTES, 0),
            "bytes": get(keys.WACZ_BYTES),
            "added_bytes": get(keys.WACZ_ADDED_BYTES),
            "unresolved": get(keys.WACZ_UNRESOLVED, 0),
            "salvaged": get(keys.WACZ_SALVAGED, 0),
        },
        # What each JSON Lines file was when the run ended: a report rebuilt later from this
        # summary refuses a file that a later run (or anyone) has replaced since.
        "datasets": dataset_fingerprints(files),
        "changes": job.get("changes"),
        # A job's known documents whose page failed: kept with their last good record.
        "stale_documents": job.get("stale", []),
        "state_rebuilt_from_published": job.get("state_rebuilt_from_published"),
    }


def jsonl_files(files: Mapping[str, Any]) -> list[str]:
    """The JSON Lines files a summary's ``files`` names: the published one, then those kept aside.

    >>> jsonl_files({"jsonl": "o/a.jsonl", "csv": "o/a.csv", "kept_aside": ["o/a.failed.jsonl", "o/a.failed.csv"]})
    ['o/a.jsonl', 'o/a.failed.jsonl']
    """
    named = [str(files["jsonl"])] if files.get("jsonl") else []
    return named + [str(f) for f in files.get("kept_aside") or [] if str(f).endswith(".jsonl")]


class Fingerprint:
    """The size and SHA-256 of a file's bytes, fed as they are read."""

    def __init__(self) -> None:
        self.size = 0
        self._hash = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._hash.update(chunk)

    def as_dict(self) -> dict[str, Any]:
        return {"bytes": self.size, "sha256": self._hash.hexdigest()}

    @classmethod
    def of(cls, path: Path) -> Fingerprint:
        found = cls()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                found.update(chunk)
        return found


def dataset_fingerprints(files: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: {"bytes": N, "sha256": HEX}}`` of each JSON Lines file of ``files`` that is a
    regular file (not a stream or a device), by the name ``files`` gives it."""
    found: dict[str, dict[str, Any]] = {}
    for name in jsonl_files(files):
        try:
            if Path(name).is_file():
                found[name] = Fingerprint.of(Path(name)).as_dict()
        except OSError as exc:
            logger.warning("Could not read %s to fingerprint it in the run summary: %s", name, exc)
    return found


def summary_path(template: str, first_feed: Path | None, name: str) -> Path | None:
    """Where a single run's summary goes: ``auto`` puts it beside the first file the run
    staged, named after it less its last suffix (``out/wilson.2026-12-01.jsonl`` ->
    ``out/wilson.2026-12-01.summary.json``); a run that staged no file (a stream, ``/dev/null``,
    an output that could not be written) has none, unless a path is given; empty: nowhere.

    >>> summary_path("auto", Path("out/wilson.2026-12-01.jsonl"), "archive")
    PosixPath('out/wilson.2026-12-01.summary.json')
    >>> summary_path("auto", None, "archive") is None
    True
    >>> summary_path("runs/%(name)s.json", None, "archive")
    PosixPath('runs/archive.json')
    >>> summary_path("", Path("x.jsonl"), "archive") is None
    True
    """
    if not template:
        return None
    if template != "auto":
        return Path(template % {"name": name})
    if first_feed is None:
        logger.info(
            "No run summary or report: the run wrote no file to put them beside (a stream, /dev/null, "
            "or an output that could not be written); give -s HARVESTER_SUMMARY_FILE=PATH to keep them"
        )
        return None
    return first_feed.with_name(dataset_stem(first_feed) + ".summary.json")
