"""Parquet (harvester/parquet.py): typed columns, the same records as JSON Lines, row groups,
the publish gate and position corrections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from benchmarks.parquet import as_json
from harvester.items import FIELD_ORDER, LIST_FIELDS, LISTING_FIELDS
from harvester.parquet import ParquetItemExporter
from replica.process import running_replica
from tests.conftest import DetailsExport, read_jsonl
from tests.crawling import crawl


def export(records: list[dict[str, Any]], path: Path, **options: Any) -> ParquetItemExporter:
    with path.open("wb") as handle:
        exporter = ParquetItemExporter(handle, fields_to_export=list(FIELD_ORDER), **options)
        exporter.start_exporting()
        for record in records:
            exporter.export_item(record)
        exporter.finish_exporting()
    return exporter


def test_a_parquet_feed_has_typed_columns_and_the_records_of_the_json_lines(
    details_300: DetailsExport,
) -> None:
    schema = pq.read_schema(details_300.parquet)
    assert schema.names == list(FIELD_ORDER)
    expected = {
        "position": pa.int32(),
        "uploaded_date": pa.date32(),
        "harvested_at": pa.timestamp("ms", tz="UTC"),
    }
    for name in FIELD_ORDER:
        want = expected.get(name, pa.list_(pa.string()) if name in LIST_FIELDS else pa.string())
        assert schema.field(name).type == want, name
    rows = pq.read_table(details_300.parquet).to_pylist()
    records = read_jsonl(details_300.jsonl)
    assert len(rows) == 300
    assert [as_json(r) for r in rows] == records
    # Published by the gate like the other files: in place, nothing hidden left beside it.
    assert not list(details_300.parquet.parent.glob(".*partial"))
    assert details_300.result.stat("feedexport/success_count/GatedFileFeedStorage") == 3


def test_records_are_written_a_row_group_at_a_time(details_300: DetailsExport, tmp_path: Path) -> None:
    records = read_jsonl(details_300.jsonl)
    export(records, tmp_path / "x.parquet", row_group_size=128)
    meta = pq.ParquetFile(tmp_path / "x.parquet").metadata
    assert meta.num_row_groups == 3
    assert [meta.row_group(i).num_rows for i in range(3)] == [128, 128, 44]


def test_unknown_options_and_malformed_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="row_groups"), (tmp_path / "x").open("wb") as handle:
        ParquetItemExporter(handle, row_groups=10)
    with (tmp_path / "y").open("wb") as handle:
        exporter = ParquetItemExporter(handle, fields_to_export=["id", "uploaded_date"])
        exporter.start_exporting()
        with pytest.raises(ValueError, match=r"uploaded_date='2 April 2013' cannot be written to Parquet"):
            exporter.export_item({"id": "x", "uploaded_date": "2 April 2013"})
        exporter.finish_exporting()


@deferred_f_from_coro_f
async def test_a_failed_run_keeps_its_parquet_aside(tmp_path: Path) -> None:
    files = [tmp_path / "x.jsonl", tmp_path / "x.parquet"]
    with running_replica(documents=20) as rep:
        first = await crawl(rep.base_url, out=files)
        assert first.verdict == "ok", first.reasons
        published = files[1].read_bytes()
        assert pq.read_table(files[1]).column_names == list(LISTING_FIELDS)
        # A previous run that (by this summary) had a query in every record: this run's
        # none is a drop of 100 points, and fails it when asked.
        summary_file = tmp_path / "x.summary.json"
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        summary["published_coverage"]["fields"]["query"] = {"count": 20, "share": 1.0}
        summary_file.write_text(json.dumps(summary), encoding="utf-8")
        failed = await crawl(rep.base_url, out=files, settings={"HARVESTER_COVERAGE_DROP_FAILS": True})
    assert failed.verdict == "failed"
    assert files[1].read_bytes() == published
    aside = tmp_path / "x.failed.parquet"
    assert pq.read_table(aside).num_rows == 20


@deferred_f_from_coro_f
async def test_a_job_publishes_parquet_when_asked_with_the_records_of_its_json_lines(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    settings = {"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_JOB_FORMATS": "jsonlines,csv,parquet"}
    folder = jobs / "nightly"
    with running_replica(documents=40) as rep:
        first = await crawl(rep.base_url, "job=nightly", "details=true", settings=settings)
    assert first.verdict == "ok", first.reasons
    with running_replica(documents=40, changes="3,2,1") as rep:
        second = await crawl(rep.base_url, "job=nightly", "details=true", settings=settings)
    assert second.verdict == "ok", second.reasons
    records = read_jsonl(folder / "archive.jsonl")
    assert len(records) == 42  # 3 uploads, 1 removal
    rows = pq.read_table(folder / "archive.parquet").to_pylist()
    assert [as_json(r) for r in rows] == records
    assert pq.read_schema(folder / "archive.parquet").field("uploaded_date").type == pa.date32()
    assert json.loads((folder / "summary.json").read_text(encoding="utf-8"))["files"]["parquet"] == str(
        folder / "archive.parquet"
    )


def test_the_crawl_never_imports_pyarrow(details_300: DetailsExport, tmp_path: Path) -> None:
    # pyarrow (~50 MB), and pandas which it imports when installed (~50 MB more), would stay
    # in the crawl's memory to its end (issue 18): the exporter leaves them to its child.
    records = tmp_path / "records.json"
    records.write_text(json.dumps(read_jsonl(details_300.jsonl)), encoding="utf-8")
    script = f"""
import json, sys
from harvester.items import FIELD_ORDER
from harvester.parquet import ParquetItemExporter
with open({str(tmp_path / "x.parquet")!r}, "wb") as handle:
    exporter = ParquetItemExporter(handle, fields_to_export=list(FIELD_ORDER))
    exporter.start_exporting()
    for record in json.load(open({str(records)!r})):
        exporter.export_item(record)
    exporter.finish_exporting()
print(sorted(m for m in ("pyarrow", "pandas", "numpy") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
    rows = pq.read_table(tmp_path / "x.parquet").to_pylist()
    assert [as_json(r) for r in rows] == read_jsonl(details_300.jsonl)


@deferred_f_from_coro_f
async def test_a_parquet_file_that_cannot_be_written_fails_the_run_and_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The writer is a child process: one that cannot run (here, no interpreter where the
    # crawl's was) is a failed feed, not a missing file nobody is told about.
    files = [tmp_path / "x.jsonl", tmp_path / "x.parquet"]
    with running_replica(documents=20) as rep:
        monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
        result = await crawl(rep.base_url, out=files)
    assert result.verdict == "failed"
    assert "an output could not be written in full (see the errors above)" in result.reasons
    assert f"Could not write {files[1]}: its exporter failed while finishing it" in caplog.text
    assert "writing Parquet failed: could not start" in caplog.text
    assert not any(f.exists() for f in files)
    assert not list(tmp_path.glob(".*partial"))  # and no half-written file left beside them
