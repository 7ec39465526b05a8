"""Listing crawls of the replica, in the test process: real Scrapy, real HTTP over loopback."""

from __future__ import annotations

import csv
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from parsel import Selector
from scrapy.utils.defer import deferred_f_from_coro_f

from harvester.items import LISTING_FIELDS
from replica.process import Replica, running_replica
from tests.conftest import ROOT, read_jsonl, shared_data
from tests.crawling import crawl
from tests.test_items import validator

SEED_QUERY = "Korean Workers' Party"
# Listing fields the replica's truth states (query and harvested_at belong to the run).
COMPARED = ("id", "url", "title", "date", "date_precision", "date_raw", "summary")


def _get(url: str) -> str:
    with urllib.request.urlopen(url) as response:
        return str(response.read().decode("utf-8"))


@deferred_f_from_coro_f
async def test_seed_search_gives_the_eleven_seed_documents(
    replica: Replica, truth: dict[str, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The seed's facts as the replica carries them (replica/facts.json, built from
    # ../shared/data/seed-search.json): this test runs without ../shared too.
    seed = {"results": json.loads((ROOT / "replica" / "facts.json").read_text(encoding="utf-8"))["seed"]}
    out = tmp_path / "seed.jsonl"
    result = await crawl(replica.base_url, f"query={SEED_QUERY}", out=out)
    assert result.verdict == "ok", result.reasons
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
    assert "Harvested 11 unique documents; the site reported 11 (100.00%)" in caplog.text
    summary = json.loads((tmp_path / "seed.summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "ok" and summary["documents"]["harvested"] == 11


@pytest.mark.slow
@deferred_f_from_coro_f
async def test_whole_archive_listing_equals_the_truth(
    replica: Replica, truth: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "all.jsonl"
    result = await crawl(replica.base_url, out=out, settings={"HARVESTER_PAGE_SIZE": 100})
    assert result.verdict == "ok", result.reasons
    # Results pages of 100: 162 pages, and robots.txt.
    assert result.stat("downloader/request_count") == 163
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
    assert result.stat("harvester/reported_total") == 16_153


@deferred_f_from_coro_f
async def test_csv_export_has_the_listing_columns(tmp_path: Path) -> None:
    with running_replica(documents=40) as rep:
        out = tmp_path / "x.csv"
        result = await crawl(rep.base_url, "query=Korean Workers' Party", out=out)
    assert result.verdict == "ok", result.reasons
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(LISTING_FIELDS)
    assert len(rows) == 12


@pytest.mark.parametrize(("documents", "per_page"), [(60, 10), (295, 10), (295, 100)])
@deferred_f_from_coro_f
async def test_a_document_listed_twice_is_exported_once_where_it_stands(
    documents: int, per_page: int, tmp_path: Path
) -> None:
    truth_path = tmp_path / "truth.jsonl"
    pages = -(-documents // per_page)
    with running_replica(
        documents=documents, faults="repeat", dump_truth=truth_path, truth_page_size=per_page
    ) as rep:
        # The damage on a short last page: it shows fewer rows than a page holds, the first of
        # them the previous page's last again, and its count line runs past N ("291 - 296 of
        # 295"): counted from "X", every row of it stands one place too far.
        last_page = Selector(text=_get(f"{rep.base_url}/search?items_per_page={per_page}&page={pages - 1}"))
        first, last, total = map(int, re.findall(r"\d+", last_page.css("p.results-count::text").get() or ""))
        assert total == documents and last > total and last - first + 1 == (documents - 1) % per_page + 2
        result = await crawl(
            rep.base_url, out=tmp_path / "on.jsonl", settings={"HARVESTER_PAGE_SIZE": per_page}
        )
    assert result.verdict == "ok", result.reasons
    items = read_jsonl(tmp_path / "on.jsonl")
    urls = [i["url"] for i in items]
    assert len(urls) == len(set(urls)) == documents
    # Every page after the first repeats the previous page's last row: one drop each, counted.
    assert result.stat("harvester/duplicates/dropped") == pages - 1
    truth = {r["url"]: r for r in read_jsonl(truth_path)}
    assert [i["url"] for i in items if i["position"] != truth[i["url"]]["position"]] == []
    assert [i["url"] for i in items if i["listing_url"] != truth[i["url"]]["listing_url"]] == []


@deferred_f_from_coro_f
async def test_an_empty_search_fails_the_run(tmp_path: Path) -> None:
    with running_replica(documents=40) as rep:
        result = await crawl(rep.base_url, "query=zzzxqv nothing matches")
    assert result.verdict == "failed"
    assert result.reasons == ["nothing harvested: the search found no documents"]


@deferred_f_from_coro_f
async def test_max_pages_stops_early_and_passes(tmp_path: Path) -> None:
    with running_replica(documents=100) as rep:
        out = tmp_path / "x.jsonl"
        result = await crawl(rep.base_url, "max_pages=3", out=out)
    assert result.verdict == "ok", result.reasons
    assert [i["position"] for i in read_jsonl(out)] == list(range(1, 31))
    assert result.stat("harvester/stopped_by") == "max_pages"


def test_the_replica_carries_the_seed_as_it_is() -> None:
    seed = shared_data("seed-search.json")
    facts = json.loads((ROOT / "replica" / "facts.json").read_text(encoding="utf-8"))
    assert facts["query"] == seed["query"] == SEED_QUERY
    assert [r["title"] for r in facts["seed"]] == [r["title"] for r in seed["results"]]
    assert [r["date_raw"] for r in facts["seed"]] == [r["date_raw"] for r in seed["results"]]


@deferred_f_from_coro_f
async def test_pages_of_100_and_a_site_that_ignores_the_size(tmp_path: Path) -> None:
    for faults, pages in (("", 3), ("ignoreperpage", 30)):
        truth_path = tmp_path / f"truth-{pages}.jsonl"
        with running_replica(documents=300, faults=faults, dump_truth=truth_path, truth_page_size=100) as rep:
            result = await crawl(rep.base_url, settings={"HARVESTER_PAGE_SIZE": 100})
        truth = {r["url"]: r for r in read_jsonl(truth_path)}
        assert result.verdict == "ok", result.reasons
        assert result.stat("harvester/pages/search") == pages
        assert len(result.items) == 300
        wrong = [
            (i["url"], f)
            for i in result.items
            for f in (*COMPARED, "position", "listing_url")
            if i[f] != truth[i["url"]][f]
        ]
        assert wrong == []


@deferred_f_from_coro_f
async def test_uploads_mid_walk_with_pages_of_100(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    spec = "shift:count=30@/search?items_per_page=100&page=3"
    with running_replica(documents=800, faults=spec, dump_truth=truth_path, truth_page_size=100) as rep:
        result = await crawl(
            rep.base_url, "details=true", out=tmp_path / "x.jsonl", settings={"HARVESTER_PAGE_SIZE": 100}
        )
    truth = {r["url"]: r for r in read_jsonl(truth_path)}
    assert result.verdict == "ok", result.reasons
    assert result.stat("harvester/shifts") == 1
    items = read_jsonl(tmp_path / "x.jsonl")
    assert sorted(i["url"] for i in items) == sorted(truth)
    assert [
        (i["url"], f) for i in items for f in ("position", "listing_url") if i[f] != truth[i["url"]][f]
    ] == []


@deferred_f_from_coro_f
async def test_the_plan_is_logged_and_holds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with running_replica(documents=250) as rep:
        result = await crawl(rep.base_url, "details=true", settings={"HARVESTER_PAGE_SIZE": 100})
    assert result.verdict == "ok", result.reasons
    # 3 results pages of 100, 250 document pages, robots.txt: what was planned was done.
    assert result.stat("harvester/plan/requests") == 254 == result.stat("downloader/request_count")
    assert "Plan: the site reports 250 documents on 3 pages of 100; this run: ~254 requests" in caplog.text


@deferred_f_from_coro_f
async def test_a_plan_run_reads_one_page_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    with running_replica(documents=250) as rep:
        result = await crawl(
            rep.base_url, "plan=true", "details=true", out=out, settings={"HARVESTER_PAGE_SIZE": 100}
        )
    assert result.verdict == "ok", result.reasons
    assert result.stat("downloader/request_count") == 2  # robots.txt and the first results page
    assert result.items == []
    assert list(tmp_path.iterdir()) == []
