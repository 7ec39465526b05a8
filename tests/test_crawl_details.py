"""Details crawls (``-a details=true``) of the replica, in the test process over loopback,
and the hostile pages a details crawl meets (each shown first as served)."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from parsel import Selector
from scrapy.utils.defer import deferred_f_from_coro_f

from harvester.items import FIELD_ORDER
from replica.faults import HOSTILE_LINKS
from replica.process import Replica, running_replica
from tests.conftest import read_jsonl
from tests.crawling import crawl
from tests.test_items import validator

SEED_QUERY = "Korean Workers' Party"
TRUTH_FIELDS = [f for f in FIELD_ORDER if f not in ("query", "harvested_at", "capture_id", "captured_at")]
Caplog = pytest.LogCaptureFixture


def _diff(
    items: list[dict[str, Any]], truth: dict[str, dict[str, Any]], fields: list[str]
) -> list[tuple[str, str]]:
    return [(i["url"], f) for i in items for f in fields if i.get(f) != truth[i["url"]][f]]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url) as response:
        return str(response.read().decode("utf-8"))


def truth_at(path: Path) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in read_jsonl(path)}


@deferred_f_from_coro_f
async def test_seed_search_gives_eleven_full_records(
    replica: Replica, truth: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "seed.jsonl"
    result = await crawl(replica.base_url, f"query={SEED_QUERY}", "details=true", out=out)
    assert result.verdict == "ok", result.reasons
    items = read_jsonl(out)
    assert len(items) == len({i["url"] for i in items}) == 11
    # Every field, including the document page's, equals the replica's truth; positions
    # are the seed's ranks.
    fields = [f for f in TRUTH_FIELDS if f not in ("position", "listing_url")]
    assert _diff(items, truth, fields) == []
    assert sorted(i["position"] for i in items) == list(range(1, 12))
    for item in items:
        assert list(item) == list(FIELD_ORDER)
        validator().validate(item)
        assert item["record_id"] and item["uploaded_date"] and item["download_url"]


@pytest.mark.slow
@deferred_f_from_coro_f
async def test_whole_archive_details_equal_the_truth(
    replica: Replica, truth: dict[str, dict[str, Any]], tmp_path: Path, caplog: Caplog
) -> None:
    out = tmp_path / "all.jsonl"
    result = await crawl(replica.base_url, "details=true", out=out, settings={"HARVESTER_PAGE_SIZE": 100})
    assert result.verdict == "ok", result.reasons
    assert result.stat("downloader/request_count") == 16_153 + 162 + 1
    items = read_jsonl(out)
    assert len(items) == len({i["url"] for i in items}) == len(truth) == 16_153
    assert _diff(items, truth, TRUTH_FIELDS) == []
    # The coverage the run reports is the truth's coverage, field by field.
    line = next(line for line in caplog.text.splitlines() if "Field coverage:" in line)
    reported = dict(part.rsplit(" ", 1) for part in line.split("Field coverage: ", 1)[1].split(", "))
    for name in TRUTH_FIELDS:
        share = sum(1 for rec in truth.values() if rec[name] not in (None, "", [])) / len(truth)
        assert reported[name] == f"{100 * share:.1f}%", name
    assert float(reported["credits"].rstrip("%")) < 100  # sections really are missing at times


@pytest.mark.parametrize("details", [False, True])
@deferred_f_from_coro_f
async def test_other_addresses_of_a_document_are_one_record(details: bool, tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    with running_replica(documents=60, faults="aliases", dump_truth=truth_path) as rep:
        truth = truth_at(truth_path)
        # The damage: rows link by /node/<nid> and the legacy /document/<record id>; read
        # as they are, a number or a whole URL would stand where the slug belongs.
        listed = Selector(text=fetch(f"{rep.base_url}/search")).css("td.document a::attr(href)").getall()
        assert any(re.fullmatch(r"/node/\d+", h) for h in listed) and any(
            re.fullmatch(r"/document/\d+", h) for h in listed
        )
        args = ("details=true",) if details else ()
        result = await crawl(rep.base_url, *args, out=tmp_path / "on.jsonl")
    assert result.verdict == "ok", result.reasons
    items = read_jsonl(tmp_path / "on.jsonl")
    # Listing runs too: each alias row resolved to its canonical page (counted requests).
    assert sorted(i["url"] for i in items) == sorted(truth)
    assert not any(i["id"].isdigit() or "/" in i["id"] for i in items)
    assert [i["id"] for i in items] == [truth[i["url"]]["id"] for i in items]
    aliases = result.stat("harvester/identity/alias_links")
    assert aliases > 20 and result.stat("harvester/pages/document") == (60 if details else aliases)


@deferred_f_from_coro_f
async def test_one_document_under_two_addresses_is_exported_once_where_it_stands(tmp_path: Path) -> None:
    truth_path, log = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    faults = "dupaddr:every=4"
    with running_replica(
        documents=300, faults=faults, dump_truth=truth_path, fault_log=log, truth_page_size=100
    ) as rep:
        # The damage: a results page lists rows after the ones its count line counts,
        # documents of the page before by their legacy address. Taken as rows of the page, each
        # is a second record of its document, placed after the page's last position.
        page = Selector(text=fetch(f"{rep.base_url}/search?items_per_page=100&page=1"))
        first, last = map(int, re.findall(r"\d+", page.css("p.results-count::text").get() or "")[:2])
        hrefs = page.css("td.document a::attr(href)").getall()
        extra = hrefs[last - first + 1 :]
        assert extra and all(re.fullmatch(r"/document/\d+", h) for h in extra)
        result = await crawl(
            rep.base_url, "details=true", out=tmp_path / "on.jsonl", settings={"HARVESTER_PAGE_SIZE": 100}
        )
        truth = truth_at(truth_path)
    assert result.verdict == "ok", result.reasons
    items = read_jsonl(tmp_path / "on.jsonl")
    assert sorted(i["url"] for i in items) == sorted(truth)
    # Every field, position and listing_url too: each record is the row of its own page.
    assert _diff(items, truth, TRUTH_FIELDS) == []
    listed_again = {e["path"]: len(e["detail"]["rows"]) for e in read_jsonl(log) if e["fault"] == "dupaddr"}
    assert result.stat("harvester/duplicates/dropped") == sum(listed_again.values())


@deferred_f_from_coro_f
async def test_a_changed_layout_fails_the_run_naming_page_and_landmark(
    tmp_path: Path, caplog: Caplog
) -> None:
    with running_replica(documents=40, faults="layout") as rep:
        listing = await crawl(rep.base_url, f"query={SEED_QUERY}")
        # The damage without protection: a naive reader finds no title on the redesigned
        # page and would export an empty record without a word.
        page = fetch(listing.items[0]["url"])
        assert Selector(text=page).css("h1.title span::text").get() is None
        out = tmp_path / "x.jsonl"
        result = await crawl(rep.base_url, f"query={SEED_QUERY}", "details=true", out=out)
    assert result.verdict == "failed"
    errors = [line for line in caplog.text.splitlines() if "Structure error" in line]
    assert len(errors) == 11
    assert f"{rep.base_url}/document/" in errors[0]
    assert "layout changed: missing landmark h1.title" in errors[0]
    assert result.reasons[0] == "layout changed: 11 page(s) lacked their landmarks (see the errors above)"
    assert not out.exists()


@pytest.mark.parametrize("to", ["offsite", "javascript", "search"])
@deferred_f_from_coro_f
async def test_a_hostile_canonical_link_never_becomes_data(to: str, tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    with running_replica(
        documents=30, faults=f"canonical:to={to}@0.3/document/", dump_truth=truth_path
    ) as rep:
        truth = truth_at(truth_path)
        result = await crawl(rep.base_url, "details=true")
    assert result.verdict == "ok", result.reasons
    rejected = result.stat("harvester/identity/canonical_rejected")
    assert rejected > 3
    assert sorted(i["url"] for i in result.items) == sorted(truth)
    assert not any(
        "evil.example" in str(i) or "javascript:" in str(i) or "/search" in i["url"] for i in result.items
    )


@deferred_f_from_coro_f
async def test_hostile_links_never_become_data(tmp_path: Path, caplog: Caplog) -> None:
    truth_path, log_path = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    with running_replica(
        documents=30, faults="links@0.4/document/", dump_truth=truth_path, fault_log=log_path
    ) as rep:
        # As served, a faulted page gives the hostile links beside its own.
        truth = truth_at(truth_path)
        result = await crawl(rep.base_url, "details=true")
        faulted = [e["path"] for e in read_jsonl(log_path) if e["fault"] == "links"]
    assert len(faulted) > 5
    served = sum(len(hrefs) for hrefs in HOSTILE_LINKS.values())
    assert result.verdict == "ok", result.reasons
    assert result.stat("harvester/links/dropped") == served * len(faulted)
    # Every record's links are the truth's: the page's own kept, the hostile ones gone.
    links = ["pdf_urls", "download_url", "related"]
    assert len(result.items) == len(truth) and _diff(result.items, truth, links) == []
    assert any(truth[i["url"]]["related"] for i in result.items)
    said = [r.getMessage() for r in caplog.records if "dropped from the record" in r.getMessage()]
    assert len(said) == len(faulted)
    assert all(any(m.startswith(f"{rep.base_url}{path} ") for m in said) for path in faulted)


@deferred_f_from_coro_f
async def test_a_deeply_nested_page_is_read_whole(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    with running_replica(
        documents=12, faults="deepnest:depth=3000@1.0/document/", dump_truth=truth_path
    ) as rep:
        truth = truth_at(truth_path)
        result = await crawl(rep.base_url, "details=true")
    assert result.verdict == "ok", result.reasons
    assert len(result.items) == 12
    assert _diff(result.items, truth, [f for f in TRUTH_FIELDS if f not in ("position", "listing_url")]) == []


@pytest.mark.parametrize("kind", ["doubleescaped", "script", "invisible"])
@deferred_f_from_coro_f
async def test_titles_are_what_a_reader_sees(kind: str, tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    with running_replica(documents=40, faults=f"titles:kind={kind}@0.3", dump_truth=truth_path) as rep:
        truth = truth_at(truth_path)
        listing = await crawl(rep.base_url)
        details = await crawl(rep.base_url, "details=true")
    for result in (listing, details):
        assert _diff(result.items, truth, ["title"]) == []
    assert not any("<script" in (i["title"] or "") or "PWNED" in (i["title"] or "") for i in details.items)
    if kind == "invisible":
        empty = sum(1 for r in truth.values() if r["title"] is None)
        assert empty and listing.stat("harvester/title/empty") == empty
