"""A job's published files, written from its state: the dataset in each of the job's formats
(``HARVESTER_JOB_FORMATS``: ``archive.jsonl`` and ``archive.csv`` by default, Parquet and any
other ``FEED_EXPORTERS`` format when asked) and the change set (``changes.jsonl``).

Each is written by the format's exporter with the options a feed of that format would have
(:mod:`harvester.outputs`, the path single runs' files take too) to a hidden temporary file,
and staged with the publish gate, which renames it into place only when the run's verdict is
ok (:mod:`harvester.publish`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler

from harvester.exporters import csv_export_kwargs
from harvester.files import partial_path
from harvester.jobs.store import JobStore, RunChanges
from harvester.outputs import feed_options, suffix_of, write_file

CHANGE_FIELDS = ["change", "id", "url", "fields", "run"]
#: The dataset's name in the job's folder: ``archive.<suffix of the format>``.
DATASET_STEM = "archive"
#: Stage a finished temporary file for its final path (``PublishGate.stage``).
Stage = Callable[..., None]


def iter_changes(store: JobStore, changes: RunChanges, run_id: int) -> Iterable[dict[str, Any]]:
    """The change set as records: one JSON object a line in ``changes.jsonl``."""
    entries: list[tuple[str, str, list[str]]] = [("added", url, []) for url in changes.added]
    entries += [("changed", url, fields) for url, fields in changes.changed]
    entries += [("removed", url, []) for url in changes.removed]
    for change, url, fields in entries:
        record = store.record_of(url) or {}
        yield {"change": change, "id": record.get("id"), "url": url, "fields": fields, "run": run_id}


def _write(
    crawler: Crawler, final: Path, options: dict[str, Any], records: Iterable[Any], stage: Stage
) -> None:
    tmp = partial_path(final)
    try:
        write_file(crawler, tmp, options, records)
        stage(tmp, final, options["format"])
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def dataset_files(directory: Path, formats: Iterable[str]) -> dict[str, Path]:
    """The job's dataset files by suffix.

    >>> dataset_files(Path("jobs/korea"), ["jsonlines", "csv", "parquet"])["parquet"]
    PosixPath('jobs/korea/archive.parquet')
    """
    return {suffix_of(fmt): directory / f"{DATASET_STEM}.{suffix_of(fmt)}" for fmt in formats}


def write_job_files(
    crawler: Crawler, store: JobStore, fields: list[str], stage: Stage
) -> tuple[RunChanges, dict[str, str]]:
    """Write the job's dataset and change set from its state, staged; return the changes and files."""
    settings = crawler.settings
    changes = store.changes()
    formats = settings.getlist("HARVESTER_JOB_FORMATS")
    files = dataset_files(store.directory, formats)
    for fmt, final in zip(formats, files.values(), strict=True):
        extra = csv_export_kwargs(settings) if fmt == "csv" else {}
        options = feed_options(settings, fmt, fields=fields, item_export_kwargs=extra)
        _write(crawler, final, options, store.present_records(), stage)
    files["changes"] = store.directory / "changes.jsonl"
    options = feed_options(settings, "jsonlines", fields=CHANGE_FIELDS)
    _write(crawler, files["changes"], options, iter_changes(store, changes, store.run_id), stage)
    return changes, {k: str(v) for k, v in files.items()}
