"""The one way a published file is written: records through a Scrapy exporter.

A format is an exporter registered in ``FEED_EXPORTERS`` (Scrapy's own, plus the settings'
lines: CSV and Parquet). Every file the harvester publishes is written by one:

- a single run's ``-o``/``-O`` files, by Scrapy's feed exports as the run goes
  (:mod:`harvester.feedstorage`), and written again from the run's records by
  :func:`export_records` when results moved during the walk (:mod:`harvester.publish`);
- a job's files, from its state, by :func:`export_records` (:mod:`harvester.jobs.files`).

Both build the exporter the way Scrapy's feed slot does (the feed's fields, encoding, indent,
``item_export_kwargs``, ``postprocessing`` and ``item_filter``), so a file written again is
the file the feed would have written. A new format is one exporter and one line in
``FEED_EXPORTERS``; the publish gate puts it in place, keeps it aside or corrects it like any
other.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from scrapy.crawler import Crawler
from scrapy.extensions.feedexport import ItemFilter
from scrapy.extensions.postprocessing import PostProcessingManager
from scrapy.settings import BaseSettings
from scrapy.utils.conf import feed_complete_default_values_from_settings
from scrapy.utils.misc import build_from_crawler, load_object

from harvester.streams import stream_kind

#: A file's suffix for a format written by a job (``archive.<suffix>``).
SUFFIXES = {"jsonlines": "jsonl", "jsonl": "jsonl", "jl": "jsonl", "json": "json", "csv": "csv", "xml": "xml"}


def exporter_formats(settings: BaseSettings) -> list[str]:
    """The formats this project can write: Scrapy's and ``FEED_EXPORTERS``' lines."""
    return sorted(k for k, v in settings.getwithbase("FEED_EXPORTERS").items() if v)


def suffix_of(fmt: str) -> str:
    """A format's file suffix: its usual one, or the format's own name.

    >>> suffix_of("jsonlines"), suffix_of("csv"), suffix_of("parquet")
    ('jsonl', 'csv', 'parquet')
    """
    return SUFFIXES.get(fmt, fmt)


def feed_options(settings: BaseSettings, fmt: str, **options: Any) -> dict[str, Any]:
    """A feed's options completed from the settings, as Scrapy completes ``FEEDS`` entries."""
    return feed_complete_default_values_from_settings({"format": fmt, **options}, settings)


def export_records(
    crawler: Crawler, handle: IO[bytes], options: dict[str, Any], records: Iterable[Any]
) -> int:
    """Write ``records`` to ``handle`` in the feed's format, as its feed slot would; return
    how many were written (the feed's item filter may leave some out)."""
    exporters = crawler.settings.getwithbase("FEED_EXPORTERS")
    fmt = options["format"]
    if not exporters.get(fmt):
        raise ValueError(
            f"no exporter for the format {fmt!r}; known: {', '.join(exporter_formats(crawler.settings))}"
        )
    accepts = load_object(options.get("item_filter") or ItemFilter)(options).accepts
    file: Any = handle
    if options.get("postprocessing"):
        file = PostProcessingManager(options["postprocessing"], handle, options)
    exporter = build_from_crawler(
        load_object(exporters[fmt]), crawler, file, fields_to_export=options.get("fields"),
        encoding=options.get("encoding"), indent=options.get("indent"), **(options.get("item_export_kwargs") or {}),
    )  # fmt: skip
    written = 0
    exporter.start_exporting()
    for record in records:
        if accepts(record):
            exporter.export_item(record)
            written += 1
    exporter.finish_exporting()
    if file is not handle:
        file.close()  # a post-processing plugin writes its end (gzip's trailer) when closed
    return written


def write_file(crawler: Crawler, tmp: Path, options: dict[str, Any], records: Iterable[Any]) -> int:
    """:func:`export_records` into the file ``tmp``, flushed to disk."""
    with tmp.open("wb") as handle:
        written = export_records(crawler, handle, options, records)
        handle.flush()
    return written


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
