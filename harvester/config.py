"""A run's settings and feeds, adjusted in one place before the crawl starts.

Called by the spider while Scrapy still lets settings change (``from_crawler``): it checks
the base URL and every ``HARVESTER_*`` value, turns the spider's arguments into the
settings the components read (a job's ``HARVESTER_JOB*``, the export fields), lifts the
throttle for the loopback replica, keeps ``-o``/``-O`` from merging with the default
``output/`` feeds, and makes sure every output can be written. Anything wrong fails here,
before any request, with an :class:`~harvester.exceptions.ArgumentError` naming the fix.
"""

from __future__ import annotations

import csv
import difflib
import ipaddress
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings, Settings
from scrapy.utils.conf import closest_scrapy_cfg

from harvester import settings as harvester_settings
from harvester.args import ArchiveArgs
from harvester.exceptions import ArgumentError
from harvester.exporters import csv_export_kwargs
from harvester.files import OutputPathError, lock_output, release_outputs, resolve_output
from harvester.items import FIELD_ORDER, LISTING_FIELDS
from harvester.outputs import exporter_formats, suffix_of
from harvester.parquet import pyarrow_missing
from harvester.settings import FEEDS as DEFAULT_FEEDS
from harvester.settings import HARVESTER_JOBS_DIR as DEFAULT_JOBS_DIR
from harvester.streams import open_fifo, park, stream_kind
from harvester.webarchive.reader import WaczArchive, WaczError

logger = logging.getLogger(__name__)

PREFIX = "HARVESTER_"

#: Numeric settings checked before the crawl: name -> (lowest, highest).
NUMBERS: dict[str, tuple[float, float]] = {
    "HARVESTER_MIN_COMPLETENESS": (0.0, 1.0),
    "HARVESTER_COVERAGE_DROP": (0.0, 1.0),
    "HARVESTER_PAGE_SIZE": (1.0, 1000.0),
    "HARVESTER_PROGRESS_INTERVAL": (0.0, 86_400.0),
    "HARVESTER_RETRY_AFTER_MAX": (0.0, 86_400.0),
    "HARVESTER_BACKOFF_BASE": (0.0, 3_600.0),
    "HARVESTER_BACKOFF_MAX": (0.0, 86_400.0),
    "HARVESTER_RATE_LIMIT_WAIT_MAX": (0.0, 86_400.0),
    "HARVESTER_BLOCK_RETRIES": (0.0, 100.0),
    "HARVESTER_BLOCK_BACKOFF": (0.0, 86_400.0),
    "HARVESTER_MAX_REWALKS": (0.0, 1000.0),
    "HARVESTER_REQUEST_BUDGET": (0.0, 1000.0),
    "HARVESTER_MAX_RESULTS": (1.0, 1e12),
    "HARVESTER_JOB_STOP_AFTER_KNOWN": (0.0, 1e9),
    "HARVESTER_JOB_FULL_EVERY_DAYS": (0.0, 3_650.0),
    "HARVESTER_JOB_MAX_FAILING": (0.0, 1e9),
    "HARVESTER_STREAM_WAIT": (0.0, 3_600.0),
}
#: Those of them read as whole numbers (``getint``): "2.5" is refused, not a traceback later.
WHOLE = {
    "HARVESTER_PAGE_SIZE",
    "HARVESTER_BLOCK_RETRIES",
    "HARVESTER_MAX_REWALKS",
    "HARVESTER_MAX_RESULTS",
    "HARVESTER_JOB_STOP_AFTER_KNOWN",
}


@dataclass(frozen=True)
class RunConfig:
    base_url: str
    """The site's origin (``scheme://host[:port]``): no request leaves it."""
    host: str


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configure(settings: Settings, args: ArchiveArgs) -> RunConfig:
    base = _base_url(settings, args)
    host = urlsplit(base).hostname or ""
    _check_names(settings)
    _check_numbers(settings)
    _user_agent(settings, base)
    if is_loopback(host) and settings.getbool("HARVESTER_LOCAL_FAST"):
        for name, value in (
            ("DOWNLOAD_DELAY", 0),
            ("AUTOTHROTTLE_ENABLED", False),
            ("CONCURRENT_REQUESTS_PER_DOMAIN", 16),
        ):
            settings.set(name, value, priority="spider")
    fields = list(FIELD_ORDER if args.details else LISTING_FIELDS)
    settings.set("FEED_EXPORT_FIELDS", fields, priority="spider")
    feeds = settings["FEEDS"]
    if isinstance(feeds, BaseSettings):
        cmdline = SETTINGS_PRIORITIES["cmdline"]
        given = [k for k in feeds if k not in DEFAULT_FEEDS and (feeds.getpriority(k) or 0) >= cmdline]
        # -o/-O name the files the user wants, and nothing else; a job publishes its own.
        if given or args.job:
            for key in DEFAULT_FEEDS:
                if key in feeds:
                    del feeds[key]
    if args.replay:
        _replay(settings, Path(args.replay), base)
    if args.plan:
        # A plan writes nothing: no feeds, no summary, no web archive, and a job's state is only read.
        settings.set("FEEDS", {}, priority="cmdline")
        settings.set("HARVESTER_SUMMARY_FILE", "", priority="cmdline")
        settings.set("HARVESTER_WACZ", "", priority="cmdline")
        return RunConfig(base_url=base, host=host)
    _defaults_in_project(settings)
    _check_wacz(settings)
    if args.job:
        settings.set("HARVESTER_JOB", args.job, priority="spider")
        settings.set("HARVESTER_JOB_FULL", args.full, priority="spider")
        settings.set("HARVESTER_JOB_ARGS", args.model_dump_json(exclude={"full"}), priority="spider")
        _check_folder(Path(settings.get("HARVESTER_JOBS_DIR")) / args.job, "HARVESTER_JOBS_DIR")
        _check_job_formats(settings)
    else:
        _check_feeds(settings)
    return RunConfig(base_url=base, host=host)


def _replay(settings: Settings, path: Path, base: str) -> None:
    """``-a replay=PATH``: the archive must be a whole WACZ of this site, checked before the crawl."""
    try:
        archive = WaczArchive.open(path)
        try:
            archive.check_site(base)
        finally:
            archive.close()
    except WaczError as exc:
        raise ArgumentError("replay", str(path), str(exc)) from exc
    settings.set("HARVESTER_REPLAY", str(path.resolve()), priority="cmdline")
    settings.set("HARVESTER_WACZ", "", priority="cmdline")  # a replay reads an archive, it keeps none
    # No HTTP client at all: the archive answers every request (ReplayMiddleware), and a
    # request that got past it would fail (no handler for http) instead of reaching the network.
    settings.set("DOWNLOAD_HANDLERS", {"http": None, "https": None}, priority="cmdline")


def _check_wacz(settings: Settings) -> None:
    value = str(settings.get("HARVESTER_WACZ") or "")
    if value in ("", "auto"):
        return
    if not value.endswith(".wacz"):
        raise ArgumentError(
            "HARVESTER_WACZ",
            value,
            "give auto, a path ending in .wacz, or nothing (-s HARVESTER_WACZ=) for none",
        )
    _check_folder(Path(value).parent, "HARVESTER_WACZ")


def project_root() -> Path:
    """The folder of the project's ``scrapy.cfg`` (Scrapy finds it upwards from here)."""
    found = closest_scrapy_cfg()
    return Path(found).parent if found else Path.cwd()


def _defaults_in_project(settings: Settings) -> None:
    """The default ``output/`` is the project's, wherever the command runs (``-o``/``-O``
    paths stay relative to where you are)."""
    root = project_root()
    feeds = settings.getdict("FEEDS")
    if any(key in feeds for key in DEFAULT_FEEDS):
        moved = {str(root / key) if key in DEFAULT_FEEDS else key: options for key, options in feeds.items()}
        settings.set("FEEDS", moved, priority=settings.getpriority("FEEDS") or "project")
    if settings.get("HARVESTER_JOBS_DIR") == DEFAULT_JOBS_DIR:
        settings.set("HARVESTER_JOBS_DIR", str(root / DEFAULT_JOBS_DIR), priority="spider")


def _base_url(settings: Settings, args: ArchiveArgs) -> str:
    value = settings.get("HARVESTER_BASE_URL")
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ArgumentError(
            "HARVESTER_BASE_URL",
            value,
            "give the site's origin, e.g. -s HARVESTER_BASE_URL=https://digitalarchive.wilsoncenter.org",
        )
    base = f"{parts.scheme}://{parts.netloc}"
    exported = os.environ.get("HARVESTER_BASE_URL")
    if exported and exported.rstrip("/") != str(value).rstrip("/"):
        raise ArgumentError(
            "HARVESTER_BASE_URL", exported,
            f"is exported in the environment, but the run would harvest {value}: Scrapy does not read "
            "settings from the environment. Give it with -s HARVESTER_BASE_URL=..., or unset the variable",
        )  # fmt: skip
    if args.start_url:
        start = urlsplit(args.start_url)
        if f"{start.scheme}://{start.netloc}".lower() != base.lower():
            raise ArgumentError(
                "start_url", args.start_url,
                f"is not on the site being harvested ({base}); requests never leave HARVESTER_BASE_URL. "
                f"Give a results URL of {base}, or set -s HARVESTER_BASE_URL={start.scheme}://{start.netloc}",
            )  # fmt: skip
    return base


#: Every setting of ours, as ``harvester.settings`` defines it.
KNOWN_SETTINGS = sorted(name for name in vars(harvester_settings) if name.startswith(PREFIX))


def _user_agent(settings: Settings, base: str) -> None:
    """The contact goes into the user agent, where the site's operators read it."""
    contact = str(settings.get("HARVESTER_CONTACT") or "").strip()
    if any(c in contact for c in "()\r\n"):
        raise ArgumentError(
            "HARVESTER_CONTACT", contact, "give an e-mail address or a URL, without brackets or line breaks"
        )
    if contact and settings.getpriority("USER_AGENT") == SETTINGS_PRIORITIES["project"]:
        agent = str(settings.get("USER_AGENT"))
        settings.set("USER_AGENT", f"{agent[:-1]}; contact: {contact})" if agent.endswith(")") else
                     f"{agent} (contact: {contact})", priority="spider")  # fmt: skip
    if not contact and base.rstrip("/").lower() == str(harvester_settings.HARVESTER_BASE_URL).lower():
        logger.warning(
            "No contact in the user agent: the archive's operators cannot reach you if the harvest "
            "troubles them. Give one with -s HARVESTER_CONTACT=you@example.org"
        )


def _check_names(settings: Settings) -> None:
    """A mistyped ``-s HARVESTER_...`` would silently leave the default in place: refuse it."""
    for name in settings:
        if str(name).startswith(PREFIX) and name not in KNOWN_SETTINGS:
            # Compared without the prefix, which every name shares.
            tails = [known.removeprefix(PREFIX) for known in KNOWN_SETTINGS]
            close = difflib.get_close_matches(str(name).removeprefix(PREFIX), tails, n=1, cutoff=0.6)
            guess = f"did you mean {PREFIX}{close[0]}? " if close else ""
            raise ArgumentError(
                str(name), settings.get(name),
                f"unknown setting; {guess}The settings are listed in the README (Settings) and harvester/settings.py",
            )  # fmt: skip


def _check_numbers(settings: Settings) -> None:
    for name, (low, high) in NUMBERS.items():
        value = settings.get(name)
        whole = name in WHOLE
        fix = (
            f"give a whole number from {low:.0f} to {high:.0f}"
            if whole
            else f"give a number from {low:g} to {high:g}"
        )
        try:
            number = float(value)
            if whole:
                int(value)  # what settings.getint() does with it
        except (TypeError, ValueError):
            raise ArgumentError(name, value, fix) from None
        if not low <= number <= high or (whole and not number.is_integer()):
            raise ArgumentError(name, value, fix)
    for name in (
        "HARVESTER_CSV_TEXT",
        "HARVESTER_LOCAL_FAST",
        "HARVESTER_REWALK",
        "HARVESTER_DEDUPE",
        "HARVESTER_COVERAGE_DROP_FAILS",
        "HARVESTER_REPORT",
        "HARVESTER_REPLAY_WORKER",
    ):
        try:
            settings.getbool(name)
        except ValueError:
            raise ArgumentError(name, settings.get(name), "give True or False") from None


def _check_job_formats(settings: Settings) -> None:
    """``HARVESTER_JOB_FORMATS``: formats with an exporter, JSON Lines among them."""
    given = settings.get("HARVESTER_JOB_FORMATS")
    formats = [str(f).strip() for f in settings.getlist("HARVESTER_JOB_FORMATS")]
    known = exporter_formats(settings)
    for fmt in formats:
        if fmt not in known:
            raise ArgumentError(
                "HARVESTER_JOB_FORMATS", given, f"{fmt!r} is not a format; give formats of {', '.join(known)}"
            )
        if fmt == "parquet" and (missing := pyarrow_missing()):
            raise ArgumentError("HARVESTER_JOB_FORMATS", given, missing)
    suffixes = [suffix_of(f) for f in formats]
    if "jsonl" not in suffixes:
        raise ArgumentError(
            "HARVESTER_JOB_FORMATS", given,
            "a job always publishes JSON Lines (archive.jsonl: its dataset of record); add jsonlines",
        )  # fmt: skip
    if len(set(suffixes)) != len(suffixes):
        raise ArgumentError(
            "HARVESTER_JOB_FORMATS", given, "a format is named twice (jsonlines, jsonl and jl are one)"
        )
    settings.set(
        "HARVESTER_JOB_FORMATS", formats, priority=settings.getpriority("HARVESTER_JOB_FORMATS") or "project"
    )


def _check_feeds(settings: Settings) -> None:
    try:
        _check_each_feed(settings)
    except ArgumentError:
        release_outputs(settings)  # the outputs locked before the refusal
        raise


def _check_each_feed(settings: Settings) -> None:
    feeds = settings.getdict("FEEDS")
    extra = csv_export_kwargs(settings)
    for uri, options in feeds.items():
        if options.get("format") == "csv":
            options.setdefault("item_export_kwargs", {}).update(extra)
        text = str(uri)
        if "://" in text and not text.startswith("file://"):
            continue  # s3:// ...: Scrapy's own storages
        path = Path(text.removeprefix("file://"))
        if path.name.count("%(") == path.name.count("%(name)s"):  # the default output/%(name)s.jsonl
            path = path.with_name(path.name.replace("%(name)s", SPIDER_NAME))
        kind = stream_kind(path)
        if kind is not None:
            _check_stream(path, kind, settings.getfloat("HARVESTER_STREAM_WAIT"))
            continue
        fmt = str(options.get("format", ""))
        if options.get("batch_item_count") or settings.getint("FEED_EXPORT_BATCH_ITEM_COUNT"):
            raise ArgumentError(
                "output", text,
                "batches (batch_item_count, FEED_EXPORT_BATCH_ITEM_COUNT) are not supported: a file is "
                "published whole, with the places of documents that moved during the walk corrected",
            )  # fmt: skip
        if fmt == "parquet" and (missing := pyarrow_missing()):
            raise ArgumentError("output", text, missing)
        append = not options.get("overwrite", False)
        if append and fmt in NOT_APPENDABLE:
            raise ArgumentError(
                "output", text,
                f"-o appends, and a second {fmt.upper()} document after the first is not valid {fmt.upper()}; "
                f"use -O to replace the file, or JSON Lines (.jsonl), which -o appends to",
            )  # fmt: skip
        final: Path | None = None
        if "%(" not in path.name:
            try:
                final = resolve_output(path).path
            except OutputPathError as exc:
                raise ArgumentError("output", text, f"{exc}") from exc
        summary_like = path.name.endswith(".summary.json")
        if summary_like and settings.get("HARVESTER_SUMMARY_FILE") == "auto":
            raise ArgumentError(
                "output",
                text,
                "names a run summary file (*.summary.json), which the run writes itself; choose another name",
            )
        folder = path.parent
        while "%(" in str(folder):
            folder = folder.parent
        _check_folder(folder, "output (-o/-O)")
        if final is not None:
            if append and fmt == "csv":
                _check_csv_columns(final, _columns(settings, options, extra))
            try:
                lock_output(final, settings)
            except OutputPathError as exc:
                raise ArgumentError("output", text, f"{exc}") from exc
    settings.set("FEEDS", feeds, priority=settings.getpriority("FEEDS") or "project")


#: The name of the one spider, as Scrapy's %(name)s gives it in feed URIs
#: (:attr:`harvester.spiders.archive.ArchiveSpider.name`; a test keeps them equal).
SPIDER_NAME = "archive"

#: Formats whose file is one document: a second run's records appended after it make it invalid.
NOT_APPENDABLE = ("json", "xml", "parquet")


def _columns(settings: Settings, options: dict[str, Any], extra: dict[str, Any]) -> list[str]:
    """The header a CSV feed of this run will write (the exporter drops ``text`` unless asked)."""
    fields = list(options.get("fields") or settings.getlist("FEED_EXPORT_FIELDS"))
    return fields if extra.get("include_text") else [f for f in fields if f != "text"]


def _check_csv_columns(path: Path, columns: list[str]) -> None:
    """``-o x.csv`` appends rows under the file's header: they must be the same columns."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), None)
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ArgumentError("output", str(path), f"cannot read its header to append to it ({exc})") from exc
    if header is None or header == columns:
        return
    raise ArgumentError(
        "output", str(path),
        f"has {len(header)} columns ({_kind(header)}), and this run would append rows of {len(columns)} "
        f"({_kind(columns)}); append to a file of the same columns, or write another file (-O)",
    )  # fmt: skip


def _kind(columns: list[str]) -> str:
    details = "details fields" if "record_id" in columns else "listing fields"
    return f"{details}{', with text' if 'text' in columns else ''}"


def _check_stream(path: Path, kind: str, wait: float) -> None:
    """A stream is written as the run goes: a FIFO must have a reader before any request."""
    if kind == "fifo":
        try:
            park(path, open_fifo(path, wait))
        except OSError as exc:
            raise ArgumentError("output", str(path), exc.strerror or str(exc)) from exc
    elif kind == "device" and not os.access(path, os.W_OK):
        raise ArgumentError("output", str(path), "cannot write to this device; choose another output")


def _check_folder(folder: Path, what: str) -> None:
    """Fail before any request when an output folder cannot be written: nothing is lost later."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".harvester-write-test-"):
            pass
    except OSError as exc:
        raise ArgumentError(
            what,
            str(folder),
            f"cannot write there ({exc.strerror or exc}); choose another path, or fix the folder",
        ) from exc
