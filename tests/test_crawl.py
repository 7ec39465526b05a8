"""End to end: the real ``scrapy crawl archive`` CLI against the replica over loopback."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from harvester.items import LISTING_FIELDS
from replica.process import Replica, running_replica
from tests.conftest import read_jsonl, run_crawl, shared_data
from tests.test_items import validator

SEED_QUERY = "Korean Workers' Party"
# Listing fields the replica's truth states (query and harvested_at belong to the run).
COMPARED = ("id", "url", "title", "date", "date_precision", "date_raw", "summary")


def test_seed_search_gives_the_eleven_seed_documents(replica: Replica, truth: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    seed = shared_data("seed-search.json")
    out = tmp_path / "seed.jsonl"
    result = run_crawl(replica.base_url, out, f"query={SEED_QUERY}")
    assert result.returncode == 0, result.stderr[-3000:]
    items = read_jsonl(out)
    assert [i["title"] for i in items] == [r["title"] for r in seed["results"]]
    assert [i["position"] for i in items] == list(range(1, 12))
    assert [i["date_raw"] for i in items] == [r["date_raw"] for r in seed["results"]]
    assert items[0]["date"] == "1962-01-03" and items[0]["date_precision"] == "day"
    assert all(i["query"] == SEED_QUERY for i in items)
    # The two Mikoyan telegrams share a title and are two records.
    assert len({i["url"] for i in items}) == 11
    for item in items:
        for name in COMPARED:
            assert item[name] == truth[item["url"]][name], (item["url"], name)
        validator().validate(item)
        assert list(item) == list(LISTING_FIELDS)
    assert "Harvested 11 unique documents; the site reported 11 (100.00%)" in result.stderr


@pytest.mark.slow
def test_whole_archive_listing_equals_the_truth(replica: Replica, truth: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    result = run_crawl(replica.base_url, out)
    assert result.returncode == 0, result.stderr[-3000:]
    items = read_jsonl(out)
    assert len(items) == len(truth) == 16_153
    assert len({i["url"] for i in items}) == 16_153
    mismatches = [
        (item["url"], name)
        for item in items
        for name in (*COMPARED, "position", "listing_url")
        if item[name] != truth[item["url"]][name]
    ]
    assert mismatches == []
    assert "Harvested 16153 unique documents; the site reported 16153 (100.00%)" in result.stderr


def test_csv_export_has_the_listing_columns(tmp_path: Path) -> None:
    with running_replica(documents=40) as rep:
        out = tmp_path / "x.csv"
        result = run_crawl(rep.base_url, out, "query=Korean Workers' Party")
    assert result.returncode == 0, result.stderr[-3000:]
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(LISTING_FIELDS)
    assert len(rows) == 12


def test_a_document_listed_twice_is_exported_once(tmp_path: Path) -> None:
    with running_replica(documents=60, faults="repeat") as rep:
        # Protection off: without the duplicates pipeline the repeated rows come out twice.
        off = tmp_path / "off.jsonl"
        result = run_crawl(rep.base_url, off, settings={"HARVESTER_DEDUPE": "False"})
        urls = [i["url"] for i in read_jsonl(off)]
        assert len(urls) == 65 and len(set(urls)) == 60
        # Protection on: each document once, drops counted.
        on = tmp_path / "on.jsonl"
        result = run_crawl(rep.base_url, on)
    assert result.returncode == 0, result.stderr[-3000:]
    urls = [i["url"] for i in read_jsonl(on)]
    assert len(urls) == len(set(urls)) == 60
    assert "'harvester/duplicates/dropped': 5" in result.stderr


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("qeury=Korea", "argument qeury='Korea': unknown argument"),
        ("max_pages=ten", "argument max_pages='ten'"),
        ("details=maybe", "argument details='maybe'"),
    ],
)
def test_a_wrong_argument_stops_the_run_at_start(arg: str, message: str, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    result = run_crawl("http://127.0.0.1:9", out, arg)  # nothing listens there: it must not get that far
    assert result.returncode != 0
    assert message in result.stderr
    assert not out.exists()


def test_an_empty_search_exits_non_zero(tmp_path: Path) -> None:
    with running_replica(documents=40) as rep:
        result = run_crawl(rep.base_url, tmp_path / "x.jsonl", "query=zzzxqv nothing matches")
    assert result.returncode == 1
    assert "nothing harvested: the search found no documents" in result.stderr.splitlines()[-1] or \
        "nothing harvested: the search found no documents" in result.stderr


def test_max_pages_stops_early_and_passes(tmp_path: Path) -> None:
    with running_replica(documents=100) as rep:
        out = tmp_path / "x.jsonl"
        result = run_crawl(rep.base_url, out, "max_pages=3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [i["position"] for i in read_jsonl(out)] == list(range(1, 31))


def test_progress_lines_say_where_a_long_run_is(tmp_path: Path) -> None:
    with running_replica(documents=3000) as rep:
        result = run_crawl(rep.base_url, tmp_path / "x.jsonl", "details=true",
                           settings={"HARVESTER_PROGRESS_INTERVAL": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    progress = [line for line in result.stderr.splitlines() if "Progress: results pages" in line]
    assert progress, "no progress line"
    assert "of 300," in progress[-1] and "documents of 3000 reported" in progress[-1]
    assert "documents/s" in progress[-1] and "s left" in progress[0]
    summary = json.loads((tmp_path / "x.summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "ok" and summary["documents"]["harvested"] == 3000
