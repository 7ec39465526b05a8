"""A job's published files, written from its state: the dataset (JSON Lines and CSV) and the
change set. Each is written to a hidden temporary file that the publish gate renames into
place only when the run's verdict is ok (:mod:`harvester.publish`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from scrapy.exporters import JsonLinesItemExporter

from harvester.exporters import HarvesterCsvItemExporter
from harvester.files import partial_path
from harvester.jobs.store import JobStore, RunChanges

CHANGE_FIELDS = ["change", "id", "url", "fields", "run"]
#: Stage a finished temporary file for its final path.
Stage = Callable[[Path, Path], None]


def iter_changes(store: JobStore, changes: RunChanges, run_id: int) -> Iterable[dict[str, Any]]:
    """The change set as records: one JSON object a line in ``changes.jsonl``."""
    entries: list[tuple[str, str, list[str]]] = [("added", url, []) for url in changes.added]
    entries += [("changed", url, fields) for url, fields in changes.changed]
    entries += [("removed", url, []) for url in changes.removed]
    for change, url, fields in entries:
        record = store.record_of(url) or {}
        yield {"change": change, "id": record.get("id"), "url": url, "fields": fields, "run": run_id}


def _write(final: Path, stage: Stage, export: Callable[[IO[bytes]], None]) -> None:
    tmp = partial_path(final)
    try:
        with tmp.open("wb") as handle:
            export(handle)
        stage(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _jsonl(records: Iterable[dict[str, Any]], fields: list[str]) -> Callable[[IO[bytes]], None]:
    def export(handle: IO[bytes]) -> None:
        stream: Any = handle  # Scrapy types it as BytesIO; any binary file will do
        exporter = JsonLinesItemExporter(
            stream, fields_to_export=fields, encoding="utf-8", ensure_ascii=False
        )
        exporter.start_exporting()
        for record in records:
            exporter.export_item(record)
        exporter.finish_exporting()

    return export


def _csv(
    records: Iterable[dict[str, Any]], fields: list[str], include_text: bool
) -> Callable[[IO[bytes]], None]:
    def export(handle: IO[bytes]) -> None:
        exporter = HarvesterCsvItemExporter(handle, fields_to_export=fields, include_text=include_text)
        exporter.start_exporting()
        for record in records:
            exporter.export_item(record)
        exporter.finish_exporting()

    return export


def write_job_files(
    store: JobStore, fields: list[str], include_text: bool, stage: Stage
) -> tuple[RunChanges, dict[str, str]]:
    """Write the job's dataset and change set from its state, staged; return the changes and files."""
    directory = store.directory
    changes = store.changes()
    files = {
        "jsonl": directory / "archive.jsonl",
        "csv": directory / "archive.csv",
        "changes": directory / "changes.jsonl",
    }
    _write(files["jsonl"], stage, _jsonl(store.present_records(), fields))
    _write(files["csv"], stage, _csv(store.present_records(), fields, include_text))
    _write(files["changes"], stage, _jsonl(iter_changes(store, changes, store.run_id), CHANGE_FIELDS))
    return changes, {k: str(v) for k, v in files.items()}
