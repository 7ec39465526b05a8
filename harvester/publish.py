"""What a run leaves for its consumers: the run summary, and a job's published files.

Every file is written aside and renamed into place (``harvester.jobs.write_atomically``):
a consumer reads the previous complete file or the new complete file, never a partial one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from scrapy.exporters import JsonLinesItemExporter

from harvester.exporters import HarvesterCsvItemExporter
from harvester.jobs import JobStore, RunChanges, iter_changes, write_atomically


def write_jsonl(path: Path, records: Iterable[dict[str, Any]], fields: list[str]) -> int:
    count = 0

    def write(handle: IO[bytes]) -> None:
        nonlocal count
        exporter = JsonLinesItemExporter(handle, fields_to_export=fields, encoding="utf-8", ensure_ascii=False)
        exporter.start_exporting()
        for record in records:
            exporter.export_item(record)
            count += 1
        exporter.finish_exporting()

    write_atomically(path, write)
    return count


def write_csv(path: Path, records: Iterable[dict[str, Any]], fields: list[str], include_text: bool) -> None:
    def write(handle: IO[bytes]) -> None:
        exporter = HarvesterCsvItemExporter(handle, fields_to_export=fields, include_text=include_text)
        exporter.start_exporting()
        for record in records:
            exporter.export_item(record)
        exporter.finish_exporting()

    write_atomically(path, write)


def write_json(path: Path, value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n"
    write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def publish_job(store: JobStore, fields: list[str], include_text: bool) -> tuple[RunChanges, dict[str, str]]:
    """Write the job's dataset and change set from its state; return the changes and files."""
    directory = store.directory
    changes = store.changes()
    files = {
        "jsonl": directory / "archive.jsonl",
        "csv": directory / "archive.csv",
        "changes": directory / "changes.jsonl",
    }
    write_jsonl(files["jsonl"], store.present_records(), fields)
    write_csv(files["csv"], store.present_records(), fields, include_text)
    write_jsonl(files["changes"], iter_changes(store, changes, store.run_id), ["change", "id", "url", "fields", "run"])
    return changes, {k: str(v) for k, v in files.items()}
