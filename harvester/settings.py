"""Scrapy settings of the harvester. Our own settings take the ``HARVESTER_`` prefix.

Defaults are polite for the real site (it sits behind Cloudflare; public scrapers slept
3-15 s a page). A run against a loopback host (the bundled replica) lifts the throttle:
see ``harvester.config``. Anything given with ``-s`` wins over both.
"""

from __future__ import annotations

from harvester.items import FIELD_ORDER

BOT_NAME = "harvester"
SPIDER_MODULES = ["harvester.spiders"]
NEWSPIDER_MODULE = "harvester.spiders"
COMMANDS_MODULE = "harvester.commands"

# --- what and where -----------------------------------------------------------------
HARVESTER_BASE_URL = "https://digitalarchive.wilsoncenter.org"
#: Who runs this harvester: an e-mail address or URL, put in the user agent for the site's
#: operators (harvester.config). A run against the real site without one logs a warning.
HARVESTER_CONTACT = ""
#: Include the long ``text`` field in CSV exports (it is always in JSON Lines).
HARVESTER_CSV_TEXT = False
#: Relax throttling when the base URL is a loopback host (the replica).
HARVESTER_LOCAL_FAST = True
#: Results per page asked of the site (``items_per_page``; it serves 10 when not asked, and
#: 100 was observed to work). The walk follows whatever size the site actually serves.
HARVESTER_PAGE_SIZE = 100
#: Seconds between progress lines in the log.
HARVESTER_PROGRESS_INTERVAL = 30.0

#: Seconds a run waits, before any request, for a reader to open a FIFO given as output.
HARVESTER_STREAM_WAIT = 30.0

#: Run summary (JSON) of a single run: "auto" puts it beside the first feed
#: (``output/archive.summary.json`` by default); a path (``%(name)s`` allowed); "" for none.
HARVESTER_SUMMARY_FILE = "auto"
#: Write the HTML run report beside the run's files (False: only the summary).
HARVESTER_REPORT = True
#: The run's web archive (WACZ: every response it read, harvester.webarchive): "auto" puts
#: ``<dataset name>.wacz`` beside the first output file (``output/archive.wacz`` by default;
#: none for a run that writes only streams); a path (``%(name)s`` allowed); "" for none. A job
#: writes ``archive.wacz`` in its folder. Published, or kept aside, with the dataset.
HARVESTER_WACZ = "auto"
#: The WACZ a run replays instead of the network: set from ``-a replay=PATH`` by
#: ``harvester.config``; read only by ``harvester.webarchive.middleware.ReplayMiddleware``.
HARVESTER_REPLAY = ""
#: A replay reads document pages in a second process (harvester.pages.worker), the core a
#: replay leaves idle, when the machine has more than one. False: in the crawl's process.
HARVESTER_REPLAY_WORKER = True
#: The scheduled job of this run and its arguments: set from ``-a job=NAME`` / ``-a full=true``
#: by ``harvester.config``; read only by ``harvester.jobs.extension``.
HARVESTER_JOB = ""
HARVESTER_JOB_FULL = False
HARVESTER_JOB_ARGS = ""
#: Where scheduled jobs (``-a job=NAME``) keep their state and publish their files.
HARVESTER_JOBS_DIR = "output/jobs"
#: The formats a job publishes its dataset in, ``archive.<suffix>`` in its folder: any format
#: of ``FEED_EXPORTERS`` (``parquet`` needs pyarrow); JSON Lines always (the dataset of record).
HARVESTER_JOB_FORMATS = ["jsonlines", "csv"]
#: An incremental run stops paging after this many known, unchanged documents in a row
#: (results sorted newest upload first). 0: never stop early.
HARVESTER_JOB_STOP_AFTER_KNOWN = 20
#: Days between full runs of a job (every page, every document refetched). 0: never by age.
HARVESTER_JOB_FULL_EVERY_DAYS = 7.0
#: A known document whose page fails keeps its last good record and fails nothing; more than
#: this many failing in one run fail the run (the site, not a page, is in trouble).
HARVESTER_JOB_MAX_FAILING = 10
#: A run whose completeness (unique documents / reported) is below this fails.
HARVESTER_MIN_COMPLETENESS = 1.0
#: A field whose coverage (share of records that have it) drops by more than this since the
#: previous run (a share: 0.10 is 10 points) is a warning (harvester/report/coverage.py)...
HARVESTER_COVERAGE_DROP = 0.10
#: ... and fails the run when this is True.
HARVESTER_COVERAGE_DROP_FAILS = False

# --- politeness (real site) -------------------------------------------------------
#: What the project is, and no invented URL; harvester.config adds HARVESTER_CONTACT to it
#: (unless USER_AGENT is given with -s).
USER_AGENT = "harvester/0.1 (harvester of digital archives, built on Scrapy)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 3.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 3.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 60
RETRY_ENABLED = True
RETRY_TIMES = 5
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: Longest wait a Retry-After may impose (seconds); longer values are capped and counted.
HARVESTER_RETRY_AFTER_MAX = 300.0
#: Back-off on 429/503 without Retry-After: BASE x 2^(n-1) seconds for the n-th in a row, at most MAX.
HARVESTER_BACKOFF_BASE = 2.0
HARVESTER_BACKOFF_MAX = 120.0
#: The breaker: 429/503 answers from a host in a row (a 2xx/3xx ends the streak) may impose
#: this much waiting in all (seconds); past it the run stops and fails, instead of waiting out
#: RETRY_TIMES retries of every request (weeks at the real site's pace). 0: no breaker, only to
#: show what it protects against.
HARVESTER_RATE_LIMIT_WAIT_MAX = 1800.0
#: A block or challenge page is retried this many times (waiting BACKOFF, doubling) before the run stops.
HARVESTER_BLOCK_RETRIES = 2
HARVESTER_BLOCK_BACKOFF = 60.0
#: When the site's count changes during a walk, read the walked pages again. Off only to
#: show what it protects against.
HARVESTER_REWALK = True
#: At most this many re-walks a run; a count that keeps changing after them fails the run.
HARVESTER_MAX_REWALKS = 3
#: A walk may send this many times the requests the site's first report calls for (results
#: pages, plus documents in a details run), plus 20, plus a reading of every page per
#: allowed re-walk; then it ends unfinished. 0: no budget (only to show what it protects).
HARVESTER_REQUEST_BUDGET = 1.5
#: The most results a search may claim: a count over it (first reported, or grown to it
#: mid-walk) fails the walk at once, and the request budget is never derived from more.
#: About 3x the real archive's 16,153 documents; an endless pager claiming 10^12 stops here.
HARVESTER_MAX_RESULTS = 50_000
#: Drop documents listed twice (by identity). Off only to show what it protects against.
HARVESTER_DEDUPE = True
# The spider retries pages that were truncated, blocked or not UTF-8 from its callbacks with
# Scrapy's get_retry_request, which keeps the request's retry count on purpose.
META_COPY_WARN_SKIP_KEYS = ["retry_times", "download_latency"]
# A Cloudflare block page comes as a 403: let the page class recognise it.
HTTPERROR_ALLOWED_CODES = [403]
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "harvester.middlewares.PoliteRetryMiddleware": 550,
    # Just before Scrapy's redirects (600) on the way back: it sees a 3xx first.
    "harvester.middlewares.OffsiteRedirects": 610,
    # Below the retries (550) and redirects (600): it settles what is left of a job's
    # document requests after them (304, gone, failing); off unless the run is a job.
    "harvester.jobs.middleware.JobHttpMiddleware": 540,
    # Next to the downloader (after HttpCacheMiddleware's 900): every response as the site
    # sent it, before retries, redirects and decompression (harvester/webarchive).
    "harvester.webarchive.middleware.CaptureMiddleware": 950,
    "harvester.webarchive.middleware.ReplayMiddleware": 960,
}
# Each record names the archived response it was read from (capture_id, captured_at).
SPIDER_MIDDLEWARES = {"harvester.webarchive.middleware.ProvenanceMiddleware": 50}
# A real document page is 60-90 KB (less on the wire when compressed); the longest
# translations run to a few hundred KB. 32 MiB holds any real page with a wide margin; a page
# over it, as it comes or once inflated, fails the run (never a record silently missing its
# details), and a job tries it again on its next run.
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024

# --- items ---------------------------------------------------------------------------
ITEM_PIPELINES = {
    "harvester.pipelines.DuplicatesPipeline": 100,
    "harvester.pipelines.TitlePipeline": 200,
    "harvester.pipelines.DatePipeline": 300,
}
# The gate first: feed storages and the job stage their files with it. The job's extension
# is off (NotConfigured) unless the run is a job. The report judges on engine_stopped.
EXTENSIONS = {
    "harvester.publish.PublishGate": 100,
    "harvester.jobs.extension.JobExtension": 200,
    "harvester.report.progress.Progress": 500,
    # Before RunEnd: on engine_stopped it compares coverage before RunEnd judges.
    "harvester.report.extension.RunReport": 510,
    # The one owner of a run's end: judges, lets the gate publish and the job record, then
    # the report writes the summary and the HTML (run_ended).
    "harvester.finish.RunEnd": 520,
}

# --- output --------------------------------------------------------------------------
FEED_EXPORT_ENCODING = "utf-8"
FEED_EXPORT_FIELDS = list(FIELD_ORDER)
# Written aside, renamed into place when complete (harvester/feedstorage.py).
# Streams (-O -, /dev/stdout, a FIFO) are written through, never replaced (harvester/streams.py).
FEED_STORAGES = {
    "": "harvester.feedstorage.GatedFileFeedStorage",
    "file": "harvester.feedstorage.GatedFileFeedStorage",
    "stdout": "harvester.feedstorage.GatedFileFeedStorage",
}
FEED_EXPORTERS = {
    "csv": "harvester.exporters.HarvesterCsvItemExporter",
    # -O x.parquet: typed columns, a row group per 1,000 records (pyarrow: the parquet extra).
    "parquet": "harvester.parquet.ParquetItemExporter",
}
FEEDS = {
    "output/%(name)s.jsonl": {"format": "jsonlines", "overwrite": True},
    "output/%(name)s.csv": {"format": "csv", "overwrite": True},
}

# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every callback's output (its scraper's
# _parallel_asyncio); our pipelines are synchronous, so more than one buys nothing and costs:
# 10 took a details crawl from 4.52 to 3.54 ms CPU a document, 1 a replay's crawl process
# from 6.15 to 5.57 s CPU at 2,000 documents (BENCHMARKS.md). A callback's outputs go through
# one at a time, in the order it gave them (as they did: no pipeline of ours waits).
CONCURRENT_ITEMS = 1

# Scrapy re-reads a callback's source (inspect + ast) on every response to warn about
# generators that return values; with bound-method callbacks its cache rarely hits. That
# was ~8% of a crawl's CPU (BENCHMARKS.md); our callbacks return nothing.
WARN_ON_GENERATOR_RETURN_VALUE = False

LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote control runs code sent to a local HTTP port: an unattended
# harvester has no use for it.
REMOTE_CONTROL_ENABLED = False
