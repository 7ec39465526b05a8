"""Every stat key the harvester writes, in one place. All live under ``harvester/``.

Components count into Scrapy's stats as they go (``crawler.stats.inc_value(stats.PAGES_FAILED)``);
the verdict (:mod:`harvester.report.verdict`) and the summary read the same names.
Keys that take a part (a field name, a date precision) are built by the functions below.
"""

from __future__ import annotations

PREFIX = "harvester"

# --- what the site said -------------------------------------------------------------------
ARGS = "harvester/args"
REPORTED_TOTAL = "harvester/reported_total"
COMPLETENESS = "harvester/completeness"
SHIFTS = "harvester/shifts"
REWALK_PAGES = "harvester/rewalk/pages"
REWALK_ROWS_REREAD = "harvester/rewalk/rows_reread"
REWALKS = "harvester/rewalk/count"
STOPPED_BY = "harvester/stopped_by"

# --- pages ------------------------------------------------------------------------------------
PAGES_SEARCH = "harvester/pages/search"
PAGES_EXPECTED = "harvester/pages/expected"
PAGES_DOCUMENT = "harvester/pages/document"
PAGES_FAILED = "harvester/pages/failed"
PAGES_BLOCKED = "harvester/pages/blocked"
PAGES_OVERSIZE = "harvester/pages/oversize"
PAGES_INCOMPLETE_RETRIED = "harvester/pages/incomplete_retried"
PAGES_INVALID_UTF8 = "harvester/pages/invalid_utf8"
STRUCTURE_ERRORS = "harvester/structure_errors"
ROBOTS_FORBIDDEN = "harvester/pages/robots_forbidden"
PAGES_REDIRECTED_OFFSITE = "harvester/pages/redirected_offsite"
BLOCKED = "harvester/blocked"
PAGINATION_LOOPS = "harvester/pagination/loops"
PAGINATION_OFFSITE = "harvester/pagination/offsite"
PLAN_REQUESTS = "harvester/plan/requests"
PLAN_SECONDS = "harvester/plan/seconds"

# --- rows and documents -----------------------------------------------------------------------
ROWS_OFFSITE = "harvester/rows/offsite"
ROWS_BEYOND_COUNT = "harvester/rows/beyond_count"
ALIAS_LINKS = "harvester/identity/alias_links"
CANONICAL_REJECTED = "harvester/identity/canonical_rejected"
# Links of document pages (scans, download, related) that are no address on the site.
LINKS_DROPPED = "harvester/links/dropped"
DUPLICATES_DROPPED = "harvester/duplicates/dropped"
TITLE_EMPTY = "harvester/title/empty"
DATE_UNREADABLE = "harvester/date/unreadable"
DATE_ABSENT = "harvester/date/absent"

# --- politeness -------------------------------------------------------------------------------
RETRY_AFTER_COUNT = "harvester/retry_after/count"
RETRY_AFTER_SECONDS = "harvester/retry_after/seconds"
RETRY_AFTER_CAPPED = "harvester/retry_after/capped"
BACKOFF_COUNT = "harvester/backoff/count"
BACKOFF_SECONDS = "harvester/backoff/seconds"
# The longest streak of 429/503 answers from a host (the one that stopped the run, if it
# did): its answers, the waiting it imposed (s), its statuses ("429", "503", "429/503").
RATE_LIMIT_ANSWERS = "harvester/rate_limit/answers_in_a_row"
RATE_LIMIT_SECONDS = "harvester/rate_limit/seconds_in_a_row"
RATE_LIMIT_STATUSES = "harvester/rate_limit/statuses"
# True when that streak passed HARVESTER_RATE_LIMIT_WAIT_MAX and stopped the run.
RATE_LIMIT_STOPPED = "harvester/rate_limit/stopped"
# Requests dropped when it stopped: held in a pause, in flight, or the one that tripped it.
RATE_LIMIT_DROPPED = "harvester/rate_limit/dropped"

# --- jobs -------------------------------------------------------------------------------------
JOB_REUSED = "harvester/job/reused"
JOB_ALREADY_DONE = "harvester/job/already_done"
JOB_RECORDED = "harvester/job/recorded"
JOB_REFRESH_PLANNED = "harvester/job/refresh_planned"
JOB_NOT_MODIFIED = "harvester/job/not_modified"
JOB_GONE = "harvester/job/gone"
#: Known documents whose page failed this run: their last good record is kept.
JOB_STALE = "harvester/job/stale"
JOB_ROLLING_PAGES = "harvester/job/rolling_pages"
#: Answers the job did not trust (a 304 it did not ask for, or one a changed row contradicts).
JOB_UNTRUSTED_304 = "harvester/job/untrusted_304"
JOB_DATASET_DOCUMENTS = "harvester/job/dataset_documents"
JOB_CHANGES = "harvester/job/changes"

# --- web archive (harvester.webarchive) -------------------------------------------------------
WACZ_RESPONSES = "harvester/wacz/responses"
#: Size of the WACZ the run stages (a job's: the grown archive, every night's capture).
WACZ_BYTES = "harvester/wacz/bytes"
#: A job's trusted 304s, written as revisit records, and their bytes (with their request records).
WACZ_REVISITS = "harvester/wacz/revisits"
WACZ_REVISIT_BYTES = "harvester/wacz/revisit_bytes"
#: Bytes this night adds to a job's archive (its WARC, index lines and pages).
WACZ_ADDED_BYTES = "harvester/wacz/added_bytes"
#: Records a job publishes whose capture its archive lacks (fetched again first next night).
WACZ_UNRESOLVED = "harvester/wacz/unresolved"
#: Records salvaged from a killed run's capture file.
WACZ_SALVAGED = "harvester/wacz/salvaged"
REPLAY_ANSWERED = "harvester/replay/answered"
REPLAY_MISSING = "harvester/replay/missing"
#: Document pages a replay's page worker read (HARVESTER_REPLAY_WORKER; the rest in the crawl's process).
REPLAY_WORKER_PAGES = "harvester/replay/worker_pages"

# --- output and verdict -----------------------------------------------------------------------
OUTPUT_ERRORS = "harvester/output/errors"
OUTPUT_KEPT_ASIDE = "harvester/output/kept_aside"
#: Outputs whose records could not be kept at all (a full disk): "path: reason" each.
OUTPUT_LOST = "harvester/output/lost"
SUMMARY_FILE = "harvester/output/summary"
#: Fields whose coverage dropped by more than HARVESTER_COVERAGE_DROP since the previous run
#: ("date 97.3% -> 48.0% (-49.3 points)" each), and True when that fails the run
#: (HARVESTER_COVERAGE_DROP_FAILS): the verdict reads the latter.
COVERAGE_DROPS = "harvester/coverage_drops"
COVERAGE_DROPS_FAIL = "harvester/coverage_drops/fail"
REPORT_FILE = "harvester/output/report"
VERDICT = "harvester/verdict"
VERDICT_REASONS = "harvester/verdict_reasons"

# --- Scrapy's own keys that the verdict and the summary read -----------------------------------
ITEM_SCRAPED = "item_scraped_count"
REQUEST_COUNT = "downloader/request_count"
RESPONSE_STATUS_PREFIX = "downloader/response_status_count/"
RETRY_COUNT = "retry/count"
RETRY_MAX_REACHED = "retry/max_reached"
RETRY_REASON_PREFIX = "retry/reason_count/"
FEED_FAILED_PREFIX = "feedexport/failed_count/"
SPIDER_EXCEPTIONS = "spider_exceptions/count"


def date_precision(precision: str) -> str:
    """``harvester/date/day`` etc.: dates read at each precision."""
    return f"{PREFIX}/date/{precision}"


def coverage(field: str) -> str:
    """``harvester/coverage/<field>``: the share of records that have the field."""
    return f"{PREFIX}/coverage/{field}"


def pages_failed(kind: str) -> str:
    """``harvester/pages/failed/<kind>`` (``search`` or ``document``)."""
    return f"{PAGES_FAILED}/{kind}"
