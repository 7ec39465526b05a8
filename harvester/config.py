"""A run's settings and feeds, adjusted in one place before the crawl starts.

Called by the spider while Scrapy still lets settings change (``from_crawler``): it checks
the base URL and every ``HARVESTER_*`` value, turns the spider's arguments into the
settings the components read (a job's ``HARVESTER_JOB*``, the export fields), lifts the
throttle for the loopback replica, keeps ``-o``/``-O`` from merging with the default
``output/`` feeds, and makes sure every output can be written. Anything wrong fails here,
before any request, with an :class:`~harvester.exceptions.ArgumentError` naming the fix.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings, Settings
from scrapy.utils.conf import closest_scrapy_cfg

from harvester.args import ArchiveArgs
from harvester.exceptions import ArgumentError
from harvester.exporters import csv_export_kwargs
from harvester.files import OutputPathError, resolve_output
from harvester.items import FIELD_ORDER, LISTING_FIELDS
from harvester.settings import FEEDS as DEFAULT_FEEDS
from harvester.settings import HARVESTER_JOBS_DIR as DEFAULT_JOBS_DIR

#: Numeric settings checked before the crawl: name -> (lowest, highest).
NUMBERS: dict[str, tuple[float, float]] = {
    "HARVESTER_MIN_COMPLETENESS": (0.0, 1.0),
    "HARVESTER_PAGE_SIZE": (1.0, 1000.0),
    "HARVESTER_PROGRESS_INTERVAL": (0.0, 86_400.0),
    "HARVESTER_RETRY_AFTER_MAX": (0.0, 86_400.0),
    "HARVESTER_BACKOFF_BASE": (0.0, 3_600.0),
    "HARVESTER_BACKOFF_MAX": (0.0, 86_400.0),
    "HARVESTER_BLOCK_RETRIES": (0.0, 100.0),
    "HARVESTER_BLOCK_BACKOFF": (0.0, 86_400.0),
    "HARVESTER_MAX_REWALKS": (0.0, 1000.0),
    "HARVESTER_REQUEST_BUDGET": (0.0, 1000.0),
    "HARVESTER_MAX_RESULTS": (1.0, 1e12),
    "HARVESTER_JOB_STOP_AFTER_KNOWN": (0.0, 1e9),
    "HARVESTER_JOB_FULL_EVERY_DAYS": (0.0, 3_650.0),
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
    _check_numbers(settings)
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
    if args.plan:
        # A plan writes nothing: no feeds, no summary, and a job's state is only read.
        settings.set("FEEDS", {}, priority="cmdline")
        settings.set("HARVESTER_SUMMARY_FILE", "", priority="cmdline")
        return RunConfig(base_url=base, host=host)
    _defaults_in_project(settings)
    if args.job:
        settings.set("HARVESTER_JOB", args.job, priority="spider")
        settings.set("HARVESTER_JOB_FULL", args.full, priority="spider")
        settings.set("HARVESTER_JOB_ARGS", args.model_dump_json(exclude={"full"}), priority="spider")
        _check_folder(Path(settings.get("HARVESTER_JOBS_DIR")) / args.job, "HARVESTER_JOBS_DIR")
    else:
        _check_feeds(settings)
    return RunConfig(base_url=base, host=host)


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
    for name in ("HARVESTER_CSV_TEXT", "HARVESTER_LOCAL_FAST", "HARVESTER_REWALK", "HARVESTER_DEDUPE"):
        try:
            settings.getbool(name)
        except ValueError:
            raise ArgumentError(name, settings.get(name), "give True or False") from None


def _check_feeds(settings: Settings) -> None:
    feeds = settings.getdict("FEEDS")
    extra = csv_export_kwargs(settings)
    for uri, options in feeds.items():
        if options.get("format") == "csv":
            options.setdefault("item_export_kwargs", {}).update(extra)
        text = str(uri)
        if "://" in text and not text.startswith("file://"):
            continue  # stdout:, s3:// ...: Scrapy's own storages
        path = Path(text.removeprefix("file://"))
        if text == "-":
            continue
        if "%(" not in path.name:
            try:
                resolve_output(path)
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
    settings.set("FEEDS", feeds, priority=settings.getpriority("FEEDS") or "project")


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
