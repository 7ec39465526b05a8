"""A format is one exporter and one line in ``FEED_EXPORTERS`` (harvester/outputs.py): a
format the harvester has never heard of is written, corrected, gated and published by a job
like the built-in ones, with nothing else changed."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from scrapy.exporters import CsvItemExporter
from scrapy.utils.defer import deferred_f_from_coro_f

from replica.process import running_replica
from tests.conftest import read_jsonl
from tests.crawling import crawl


class TsvItemExporter(CsvItemExporter):
    """A new format for the test: tab-separated values, by Scrapy's CSV exporter."""

    def __init__(self, file: Any, **kwargs: Any) -> None:
        kwargs.setdefault("delimiter", "\t")
        super().__init__(file, **kwargs)


NEW_FORMAT = {"FEED_EXPORTERS": {"tsv": f"{__name__}.TsvItemExporter"}}


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@deferred_f_from_coro_f
async def test_a_new_format_is_corrected_when_results_move_like_every_other(tmp_path: Path) -> None:
    files = [tmp_path / "x.jsonl", tmp_path / "x.tsv"]
    settings: dict[str, Any] = {
        **NEW_FORMAT,
        "FEEDS": {str(files[0]): {"format": "jsonlines"}, str(files[1]): {"format": "tsv"}},
    }
    truth_path = tmp_path / "truth.jsonl"
    with running_replica(documents=200, faults="shift:count=20@/search?page=6", dump_truth=truth_path) as rep:
        result = await crawl(rep.base_url, settings=settings)
    assert result.verdict == "ok", result.reasons
    truth = {r["url"]: (r["position"], r["listing_url"]) for r in read_jsonl(truth_path)}
    # 20 records were read before the shift, at their old places.
    assert sum((i["position"], i["listing_url"]) != truth[i["url"]] for i in result.items) >= 20
    rows = read_tsv(files[1])
    assert len(rows) == 220
    assert {r["url"]: (int(r["position"]), r["listing_url"]) for r in rows} == truth
    assert [r["url"] for r in rows] == [r["url"] for r in read_jsonl(files[0])]


@deferred_f_from_coro_f
async def test_a_job_publishes_a_new_format_named_in_its_formats(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    settings = {**NEW_FORMAT, "HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_JOB_FORMATS": "jsonlines,tsv"}
    with running_replica(documents=30) as rep:
        first = await crawl(rep.base_url, "job=nightly", settings=settings)
    assert first.verdict == "ok", first.reasons
    folder = jobs / "nightly"
    records = read_jsonl(folder / "archive.jsonl")
    rows = read_tsv(folder / "archive.tsv")
    assert len(rows) == len(records) == 30
    assert [(r["url"], r["title"]) for r in rows] == [(r["url"], r["title"]) for r in records]
    assert not (folder / "archive.csv").exists()  # only the formats asked for


@deferred_f_from_coro_f
async def test_a_file_that_cannot_be_corrected_fails_the_run_and_publishes_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    import harvester.publish

    files = [tmp_path / "x.jsonl", tmp_path / "x.tsv"]
    for path in files:
        path.write_text("published before\n", encoding="utf-8")
    real_write = harvester.publish.write_file
    written: list[str] = []

    def write_file(crawler: Any, tmp: Path, options: dict[str, Any], records: Any) -> int:
        written.append(options["format"])
        if options["format"] == "tsv":  # the disk is full when the second file is corrected
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(crawler, tmp, options, records)

    monkeypatch.setattr(harvester.publish, "write_file", write_file)
    settings: dict[str, Any] = {
        **NEW_FORMAT,
        "FEEDS": {str(files[0]): {"format": "jsonlines"}, str(files[1]): {"format": "tsv"}},
    }
    with running_replica(documents=200, faults="shift:count=20@/search?page=6") as rep:
        result = await crawl(rep.base_url, settings=settings)
    assert written == ["jsonlines", "tsv"]  # results moved: both files were written again
    assert result.verdict == "failed"
    assert any("No space left on device" in r for r in result.reasons), result.reasons
    for path in files:  # nothing published, the JSON Lines included
        assert path.read_text(encoding="utf-8") == "published before\n"
    assert len(read_jsonl(tmp_path / "x.failed.jsonl")) == 220  # the records are kept aside
