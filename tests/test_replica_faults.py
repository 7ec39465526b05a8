"""The replica's fault plan (``--faults``): each fault fires where and when the spec says,
is logged, and has the promised shape on the wire; archive faults reach the truth file.

Small archives, real replica processes, plain ``http.client`` over loopback.
"""

from __future__ import annotations

import gzip
import html
import http.client
import json
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import brotli
import pytest
from parsel import Selector

from replica.dataset import BAD_DATE_FORMS
from replica.faults import (
    HOSTILE_LINKS,
    FaultLog,
    FaultPlan,
    FaultSpecError,
    build_faulty_archive,
    request_key,
)
from replica.process import Replica, running_replica
from tests.conftest import read_jsonl

DOCS = 60
SEED = 1962
BLOCK_TITLE = "Attention Required! | Cloudflare"


@dataclass
class Got:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def fetch(rep: Replica, path: str, timeout: float = 10, headers: dict[str, str] | None = None) -> Got:
    """GET ``path`` on a fresh connection; exceptions (timeouts, partial bodies) propagate."""
    host, port = urlsplit(rep.base_url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return Got(response.status, response.headers, response.read())
    finally:
        conn.close()


def fault_lines(rep: Replica) -> list[dict[str, Any]]:
    assert rep.fault_log is not None
    return read_jsonl(rep.fault_log)


def counts(rep: Replica) -> dict[str, int]:
    return json.loads(fetch(rep, "/_replica/faults").body)["counts"]


def rows(got: Got) -> list[str]:
    """The document links of a results page's rows."""
    return (
        Selector(text=got.body.decode("utf-8", "replace"))
        .css("td[data-history-node-id] > a::attr(href)")
        .getall()
    )


def count_line(got: Got) -> str:
    return Selector(text=got.text).css("p.results-count::text").get() or ""


def next_href(got: Got) -> str | None:
    return Selector(text=got.body.decode("utf-8", "replace")).css('a[rel="next"]::attr(href)').get()


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "faults.jsonl"


# --- the grammar -------------------------------------------------------------------------------


def test_spec_reads_entries_params_and_where() -> None:
    plan = FaultPlan.parse(
        "layout:search, repeat, 503@/search?page=3#1-2, 500@0.05, 429:retry-after=date:2@0.1/document/#1,"
        "challenge:200@/x#3-, shift:5@/search?page=2, baddates@0.02, slow:1.5@/search"
    )
    assert plan.layout == {"search"} and plan.repeat and not plan.aliases
    got = [(e.name, e.params, e.rate, e.prefix, e.path, e.first, e.last) for e in plan.requests]
    assert got == [
        ("503", {"retry-after": "none"}, None, None, "/search?page=3", 1, 2),
        ("500", {}, 0.05, None, None, 1, None),
        ("429", {"retry-after": "date:2"}, 0.1, "/document/", None, 1, 1),
        ("challenge", {"status": "200"}, None, None, "/x", 3, None),
        ("slow", {"seconds": 1.5}, None, None, "/search", 1, None),
    ]
    assert plan.shift_total == 5 and plan.shifts[0].path == "/search?page=2"
    assert [(e.name, e.rate) for e in plan.documents] == [("baddates", 0.02)]
    # Query order and percent-encoding do not matter; page=0 is not the bare path.
    assert request_key("/search", "page=1&search_api_fulltext=a%20b") == request_key(
        "/search", "search_api_fulltext=a+b&page=1"
    )
    assert request_key("/search", "page=0") != request_key("/search", "")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("503", "say where it applies"),
        ("nope@0.1", "unknown fault 'nope'"),
        ("500@1.5", "not in [0, 1]"),
        ("500@often", "neither a rate"),
        ("503:colour=red@0.1", "no parameter 'colour'"),
        ("challenge:404@0.1", "not one of 403, 200"),
        ("429:retry-after=soon@0.1", "retry-after"),
        ("503@/search#2-1", "attempts '2-1'"),
        ("shift:3@0.1", "needs a path"),
        ("baddates@/search", "at a rate"),
        ("repeat@0.1", "plan-wide switch"),
        ("empty:3@0.1", "takes no parameters"),
        ("slow:@0.1", "nothing after ':'"),
    ],
)
def test_bad_specs_are_refused_naming_the_entry(spec: str, words: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        FaultPlan.parse(f"repeat,{spec}")
    assert f"fault entry {spec!r}" in str(info.value) and words in str(info.value)


def test_cli_refuses_a_bad_spec_and_prints_the_grammar() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "replica", "--faults", "500@2", "--documents", "20"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "fault entry '500@2'" in bad.stderr
    grammar = subprocess.run(
        [sys.executable, "-m", "replica", "--faults-help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert grammar.returncode == 0 and "ATTEMPTS" in grammar.stdout and "retry-after" in grammar.stdout


# --- where and when ----------------------------------------------------------------------------


def test_path_entries_fire_exactly_on_their_attempts_and_first_wins(log_path: Path) -> None:
    spec = (
        "500@/search?page=1#1,503:retry-after=1@/search?page=3#1-2,503@/search?page=1,"
        "500@/search?items_per_page=20&page=5#1,loop@/robots.txt,empty@/robots.txt"
    )
    with running_replica(documents=DOCS, faults=spec, fault_log=log_path) as rep:
        assert [fetch(rep, "/search?page=3").status for _ in range(4)] == [503, 503, 200, 200]
        # Query parameters in another order are the same path; other parameters are another.
        assert fetch(rep, "/search?page=5&items_per_page=20").status == 500
        assert fetch(rep, "/search?page=3&items_per_page=10").status == 200
        assert [fetch(rep, "/search?page=1").status for _ in range(3)] == [500, 503, 503]
        assert fetch(rep, "/search?page=2").status == 200
        # ``loop`` cannot change robots.txt: the next entry answers.
        robots = fetch(rep, "/robots.txt")
        assert robots.status == 200 and robots.body == b""
        assert counts(rep) == {"500": 2, "503": 4, "empty": 1}
        report = json.loads(fetch(rep, "/_replica/faults").body)
        assert report["total"] == 7 and report["requests"] == 11
        lines = fault_lines(rep)
    assert [(x["fault"], x["path"], x["attempt"]) for x in lines] == [
        ("503", "/search?page=3", 1),
        ("503", "/search?page=3", 2),
        ("500", "/search?items_per_page=20&page=5", 1),
        ("500", "/search?page=1", 1),
        ("503", "/search?page=1", 2),
        ("503", "/search?page=1", 3),
        ("empty", "/robots.txt", 1),
    ]
    assert lines[0]["params"] == {"retry-after": "1"} and lines[0]["detail"] == {
        "status": 503,
        "retry_after": "1",
    }
    assert lines[0]["entry"] == "503:retry-after=1@/search?page=3#1-2" and lines[0]["time"].endswith("Z")


def _statuses(seed: int, spec: str, paths: list[str]) -> list[int]:
    with running_replica(documents=DOCS, faults=spec, seed=seed) as rep:
        return [fetch(rep, p).status for p in paths]


def test_rate_entries_fire_at_their_rate_the_same_for_the_same_seed() -> None:
    spec = "500@0.1,503@0.05#1"
    paths = [f"/search?page={n}" for n in range(200)] * 2  # attempts 1 and 2 of 200 pages
    first = _statuses(SEED, spec, paths)
    assert 25 <= first.count(500) <= 60  # 10 % of 400
    assert 3 <= first.count(503) <= 20  # 5 % of the 180 first attempts 500 left
    assert all(s != 503 for s in first[200:])  # only first attempts
    assert _statuses(SEED, spec, paths) == first
    assert _statuses(SEED + 1, spec, paths) != first


def test_rates_cover_pages_only_unless_a_prefix_says_otherwise(log_path: Path) -> None:
    with running_replica(documents=DOCS, faults="500@1", fault_log=log_path) as rep:
        assert fetch(rep, "/robots.txt").status == 200
        assert fetch(rep, "/search").status == 500
        assert fetch(rep, "/node/1").status == 500
        assert fetch(rep, "/_replica/faults").status == 200
    with running_replica(documents=DOCS, faults="503@1/") as rep:
        assert fetch(rep, "/robots.txt").status == 503
        assert fetch(rep, "/_replica/faults").status == 200


# --- the shape of each fault -----------------------------------------------------------------


def test_status_faults_and_retry_after(log_path: Path) -> None:
    spec = (
        "429:retry-after=2@/search?page=1,429:retry-after=date:2@/search?page=2,"
        "503:retry-after=date:3@/search?page=3,500@/search?page=4,429@/search?page=5"
    )
    with running_replica(documents=DOCS, faults=spec, fault_log=log_path) as rep:
        seconds = fetch(rep, "/search?page=1")
        before = time.time()
        dated = fetch(rep, "/search?page=2")
        dated_503 = fetch(rep, "/search?page=3")
        plain = fetch(rep, "/search?page=4")
        default = fetch(rep, "/search?page=5")
    assert seconds.status == 429 and seconds.header("Retry-After") == "2"
    assert (
        b"Too Many Requests" in seconds.body and seconds.header("Content-Type") == "text/html; charset=UTF-8"
    )
    for got, ahead in ((dated, 2), (dated_503, 3)):
        value = got.header("Retry-After")
        assert value is not None and value.endswith(" GMT") and "," in value
        moment = parsedate_to_datetime(value).timestamp()
        assert moment - parsedate_to_datetime(got.header("Date") or "").timestamp() in (ahead, ahead + 1)
        assert moment >= before + ahead - 0.01
    assert dated_503.status == 503 and b"Service Unavailable" in dated_503.body
    assert plain.status == 500 and plain.header("Retry-After") is None
    assert default.header("Retry-After") == "1"
    logged = {x["path"]: x["detail"] for x in read_jsonl(log_path)}
    assert logged["/search?page=2"]["retry_after"] == dated.header("Retry-After")


def test_slow_answers_late(log_path: Path) -> None:
    with running_replica(
        documents=DOCS, faults="slow:seconds=1@/search?page=1#1,slow:0.3@/search?page=2", fault_log=log_path
    ) as rep:
        with pytest.raises(TimeoutError):
            fetch(rep, "/search?page=1", timeout=0.3)
        assert fetch(rep, "/search?page=1").status == 200  # attempt 2: no fault (the log below says so)
        start = time.monotonic()
        late = fetch(rep, "/search?page=2")
        assert late.status == 200 and late.body.rstrip().endswith(b"</html>")
        assert time.monotonic() - start >= 0.3
    assert [(x["fault"], x["attempt"], x["detail"]["seconds"]) for x in read_jsonl(log_path)] == [
        ("slow", 1, 1.0),
        ("slow", 1, 0.3),
    ]


def test_drop_closes_mid_body(log_path: Path) -> None:
    with running_replica(documents=DOCS, faults="drop@/search?page=1#1", fault_log=log_path) as rep:
        with pytest.raises(http.client.IncompleteRead) as info:
            fetch(rep, "/search?page=1")
        whole = fetch(rep, "/search?page=1")
    assert whole.status == 200
    assert len(info.value.partial) == len(whole.body) // 2
    detail = read_jsonl(log_path)[0]["detail"]
    assert detail == {"status": 200, "length": len(whole.body), "sent": len(whole.body) // 2}


GZIP = {"Accept-Encoding": "gzip, deflate, br"}  # what Scrapy sends


def test_bodies_go_out_gzipped_to_a_client_that_asks_and_cut_bodies_plain() -> None:
    spec = "truncate@/search?page=1,oversize@/search?page=3"
    with running_replica(documents=DOCS, faults=spec) as rep:
        first = fetch(rep, "/search")
        doc = fetch(rep, rows(first)[0])
        plain, packed = fetch(rep, "/search?page=2"), fetch(rep, "/search?page=2", headers=GZIP)
        refused = fetch(rep, "/search?page=2", headers={"Accept-Encoding": "br, gzip;q=0"})
        robots = fetch(rep, "/robots.txt", headers=GZIP)
        page = fetch(rep, rows(first)[0], headers=GZIP)
        etag = page.header("ETag")
        not_modified = fetch(rep, rows(first)[0], headers={**GZIP, "If-None-Match": etag or ""})
        cut = fetch(rep, "/search?page=1", headers=GZIP)
        big = fetch(rep, "/search?page=3", headers=GZIP)
    with running_replica(documents=DOCS, extra_args=["--identity"]) as rep:
        identity = fetch(rep, "/search?page=2", headers=GZIP)
    with running_replica(documents=DOCS, extra_args=["--brotli"]) as rep:
        brotli_page = fetch(rep, "/search?page=2", headers=GZIP)
        gzip_only = fetch(rep, "/search?page=2", headers={"Accept-Encoding": "gzip"})
    # Asked for: a gzip member of the very page, its length on the wire, and a Vary.
    assert plain.header("Content-Encoding") is None and b"</html>" in plain.body
    assert packed.header("Content-Encoding") == "gzip" and packed.header("Vary") == "Accept-Encoding"
    assert packed.body[:2] == b"\x1f\x8b" and int(packed.header("Content-Length") or 0) == len(packed.body)
    assert gzip.decompress(packed.body) == plain.body and len(packed.body) < len(plain.body) / 3
    assert gzip.decompress(robots.body).startswith(b"User-agent: *")
    assert gzip.decompress(page.body) == doc.body and etag == doc.header("ETag")  # one ETag for both
    assert not_modified.status == 304 and not_modified.body == b""
    # Refused (q=0), or the replica started with --identity: as it is.
    assert refused.header("Content-Encoding") is None and refused.body == plain.body
    assert identity.header("Content-Encoding") is None and identity.body.rstrip().endswith(b"</html>")
    # --brotli: br to a client that takes it (Scrapy does), gzip to one that takes gzip alone.
    assert (
        brotli_page.header("Content-Encoding") == "br" and brotli.decompress(brotli_page.body) == plain.body
    )
    assert gzip_only.header("Content-Encoding") == "gzip" and gzip.decompress(gzip_only.body) == plain.body
    # A body cut short goes out plain; an oversize page whole, compressed (to a few KB).
    assert cut.header("Content-Encoding") is None and b"</html>" not in cut.body
    assert big.header("Content-Encoding") == "gzip" and len(gzip.decompress(big.body)) > 5 * 1024 * 1024


def test_truncate_empty_and_oversize(log_path: Path) -> None:
    spec = "truncate@/search?page=1,truncate:0.9@/document/x,empty@/search?page=2,oversize@/search?page=3"
    with running_replica(documents=DOCS, faults=spec, fault_log=log_path) as rep:
        cut = fetch(rep, "/search?page=1")
        normal = fetch(rep, "/search?page=4")
        empty = fetch(rep, "/search?page=2")
        big = fetch(rep, "/search?page=3")
        missing = fetch(rep, "/document/x")
    assert cut.status == 200 and int(cut.header("Content-Length") or 0) == len(cut.body)
    assert b"<main" in cut.body and b"</main>" not in cut.body and b"</html>" not in cut.body
    assert 0 < len(cut.body) < len(normal.body)
    cut.body.decode("utf-8")  # cut at a character boundary
    # ``truncate`` needs a 200: a 404 page is served whole (and the fault is not logged).
    assert missing.status == 404 and missing.body.rstrip().endswith(b"</html>")
    assert empty.status == 200 and empty.body == b"" and empty.header("Content-Length") == "0"
    assert big.status == 200 and len(big.body) > 6 * 1024 * 1024
    assert int(big.header("Content-Length") or 0) == len(big.body)
    assert big.body.rstrip().endswith(b"</html>") and b"<!-- replica padding" in big.body
    assert rows(big) and count_line(big).endswith(f"of {DOCS}")
    assert [x["fault"] for x in read_jsonl(log_path)] == ["truncate", "empty", "oversize"]


@pytest.mark.parametrize("status", [403, 200])
def test_challenge_page(status: int, log_path: Path) -> None:
    with running_replica(documents=DOCS, faults=f"challenge:{status}@/search", fault_log=log_path) as rep:
        got = fetch(rep, "/search")
    assert got.status == status and got.header("Server") == "cloudflare" and got.header("CF-RAY")
    page = Selector(text=got.text)
    assert page.css("title::text").get() == BLOCK_TITLE
    assert "Sorry, you have been blocked" in got.text
    assert page.css("div#cf-error-details")
    assert page.css("script::attr(src)").get().startswith("/cdn-cgi/challenge-platform/h/")
    assert not page.css("td[data-history-node-id]")
    assert read_jsonl(log_path)[0]["detail"]["status"] == status


def test_badutf8_on_results_and_document_pages(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    with running_replica(documents=DOCS, faults="badutf8@1", dump_truth=truth) as rep:
        slug = read_jsonl(truth)[0]["id"]
        pages = [fetch(rep, "/search"), fetch(rep, f"/document/{slug}")]
        assert counts(rep) == {"badutf8": 2}
    for got in pages:
        assert got.status == 200 and got.header("Content-Type") == "text/html; charset=UTF-8"
        assert b"\xff\xfe Caf\xe9 " in got.body
        with pytest.raises(UnicodeDecodeError):
            got.body.decode("utf-8")
    # In the first row's summary (or its title), and the page is otherwise whole.
    row = Selector(text=pages[0].body.decode("utf-8", "replace")).css("td.document")[0]
    assert "\ufffd" in "".join(row.css("::text").getall())
    assert pages[1].body.rstrip().endswith(b"</html>")


def test_offsite_and_loop_links(log_path: Path) -> None:
    spec = "offsite:both@/search?page=1,offsite@/search?page=2,loop@/search?page=3,loop:to=1@/search?page=4"
    with running_replica(documents=DOCS, faults=spec, fault_log=log_path) as rep:
        both, row, loop0, loop1 = (fetch(rep, f"/search?page={n}") for n in (1, 2, 3, 4))
        last = fetch(rep, "/search?page=5")
    assert rows(both)[0].startswith("http://203.0.113.9/document/") and not rows(both)[1].startswith("http")
    assert next_href(both) == "http://203.0.113.9/search?page=2"
    assert rows(row)[0].startswith("http://203.0.113.9/") and next_href(row) == "?page=3"
    assert next_href(loop0) == "?" and next_href(loop1) == "?page=1"
    assert next_href(last) is None  # page 5 is the last of 60 documents
    assert [x["fault"] for x in read_jsonl(log_path)] == ["offsite", "offsite", "loop", "loop"]


# --- archive faults ----------------------------------------------------------------------------


def test_shift_reveals_new_uploads_at_the_top(tmp_path: Path) -> None:
    truth_path, log_path = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    spec = "shift:3@/search?page=2,shift:2@/search?page=4"
    with running_replica(documents=DOCS, faults=spec, dump_truth=truth_path, fault_log=log_path) as rep:
        truth = read_jsonl(truth_path)
        urls = ["/document/" + t["id"] for t in truth]
        assert len(truth) == DOCS + 5 and [t["position"] for t in truth] == list(range(1, DOCS + 6))
        page0 = fetch(rep, "/search")
        assert count_line(page0) == f"1 - 10 of {DOCS}" and rows(page0) == urls[5:15]
        assert fetch(rep, urls[0]).status == 404  # not uploaded yet
        assert rows(fetch(rep, "/search?page=1")) == urls[15:25]
        # The later stage fires first: it shows the older two of the five.
        page4 = fetch(rep, "/search?page=4")
        assert count_line(page4) == f"41 - 50 of {DOCS + 2}" and rows(page4) == urls[43:53]
        assert rows(fetch(rep, "/search"))[:3] == urls[3:6]
        page2 = fetch(rep, "/search?page=2")
        assert count_line(page2) == f"21 - 30 of {DOCS + 5}" and rows(page2) == urls[20:30]
        assert rows(fetch(rep, "/search")) == urls[:10]
        assert fetch(rep, urls[0]).status == 200
        fetch(rep, "/search?page=2")  # fires once
        assert counts(rep) == {"shift": 2}
    logged = read_jsonl(log_path)
    assert [(x["path"], x["detail"]["slugs"]) for x in logged] == [
        ("/search?page=4", [t["id"] for t in truth[3:5]]),
        ("/search?page=2", [t["id"] for t in truth[:3]]),
    ]


def test_shift_on_top_of_changes_keeps_the_archive_before_the_trigger() -> None:
    plain = build_faulty_archive(FaultPlan.parse(""), DOCS, SEED)
    shifted = build_faulty_archive(FaultPlan.parse("shift:4@/search?page=1"), DOCS, SEED)
    assert [d.slug for d in shifted.docs[4:]] == [d.slug for d in plain.docs]


def test_bad_dates_and_titles_in_rows_pages_and_truth(tmp_path: Path) -> None:
    truth_path, log_path = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    spec = "baddates@0.25,badtitles@0.15"
    with running_replica(documents=DOCS, faults=spec, dump_truth=truth_path, fault_log=log_path) as rep:
        truth = read_jsonl(truth_path)
        logged = read_jsonl(log_path)
        bad_dates = {
            x["path"].removeprefix("/document/"): x["detail"]["date_raw"]
            for x in logged
            if x["fault"] == "baddates"
        }
        bad_titles = {x["path"].removeprefix("/document/") for x in logged if x["fault"] == "badtitles"}
        assert 5 <= len(bad_dates) <= 25 and 2 <= len(bad_titles) <= 18
        assert counts(rep) == {"baddates": len(bad_dates), "badtitles": len(bad_titles)}
        assert all(x["attempt"] is None for x in logged)
        shown_rows = {}
        for page in range(DOCS // 10):
            listing = Selector(text=fetch(rep, f"/search?page={page}").text)
            for row in listing.css("tbody > tr"):
                slug = row.css("a::attr(href)").get().removeprefix("/document/")
                shown_rows[slug] = (
                    "".join(row.css("td.date ::text").getall()),
                    row.css("h3 span::text").get(),
                )
        for slug in list(bad_dates)[:3] + list(bad_titles)[:3]:
            page = Selector(text=fetch(rep, f"/document/{slug}").text)
            assert (page.css("h2.date::text").get() or "") == shown_rows[slug][0]
            assert _visible(page.css("h1.title span::text").get()) == _visible(shown_rows[slug][1])
    forms = {f.format(y=year, d=year % 10) for f in BAD_DATE_FORMS for year in range(1940, 2000)}
    for record in truth:
        slug = record["id"]
        if slug in bad_dates:
            raw = bad_dates[slug]
            assert record["date"] is None and record["date_precision"] is None and record["date_raw"] == raw
            assert shown_rows[slug][0] == raw
            assert raw in forms
        if slug in bad_titles:
            assert record["title"] is None and _visible(shown_rows[slug][1]) == ""
        else:
            assert record["title"]
    # The seed search's documents are never spoiled; the same seed spoils the same ones.
    again = tmp_path / "again.jsonl"
    log = FaultLog(again)
    archive = build_faulty_archive(FaultPlan.parse(spec), DOCS, SEED, log=log)
    log.close()
    assert not (set(bad_dates) | bad_titles) & set(archive.seed_slugs)
    assert [(x["fault"], x["path"], x["detail"]) for x in read_jsonl(again)] == [
        (x["fault"], x["path"], x["detail"]) for x in logged
    ]


# --- the faults added for the second round of hardening -------------------------------------
#
# Each is judged by what the replica serves, with expectations computed here from the truth
# file (the documents in listing order) and plain HTML reading, not from the replica's plan.

MIB = 1024 * 1024


def truth_of(rep: Replica) -> list[dict[str, Any]]:
    assert rep.truth_path is not None
    return read_jsonl(rep.truth_path)


def canonical_path(record: dict[str, Any]) -> str:
    return "/document/" + record["id"]


def log_of(path: Path, fault: str) -> list[dict[str, Any]]:
    return [x for x in read_jsonl(path) if x["fault"] == fault]


def test_new_specs_are_read_and_bad_ones_refused() -> None:
    plan = FaultPlan.parse(
        "dupaddr:every=5, endless, ignoreperpage, robots, robots:/private, stalecount:alternate@/search?page=2,"
        "canonical:search@0.1, deepnest:10@/document/x#1, titles:script@/document/some-slug, titles@0.1"
    )
    assert [(e.name, e.params) for e in plan.switches] == [
        ("dupaddr", {"every": 5}),
        ("endless", {}),
        ("ignoreperpage", {}),
        ("robots", {"disallow": "/search"}),
        ("robots", {"disallow": "/private"}),
    ]
    assert [(e.name, e.params, e.path, e.rate) for e in plan.requests] == [
        ("stalecount", {"mode": "alternate"}, "/search?page=2", None),
        ("canonical", {"to": "search"}, None, 0.1),
        ("deepnest", {"depth": 10}, "/document/x", None),
    ]
    assert [(e.name, e.params, e.path, e.rate) for e in plan.documents] == [
        ("titles", {"kind": "script"}, "/document/some-slug", None),
        ("titles", {"kind": "doubleescaped"}, None, 0.1),
    ]
    for spec, words in (
        ("dupaddr@0.1", "plan-wide switch"),
        ("dupaddr:every=0", "at least 1"),
        ("endless:3", "takes no parameters"),
        ("robots:disallow=search", "not a path"),
        ("ignoreperpage,ignoreperpage", "already on"),
        ("stalecount:mode=old@/search", "not one of stale, alternate"),
        ("canonical:to=ftp@0.1", "not one of offsite, javascript, search"),
        ("deepnest:0@0.1", "at least 1"),
        ("deepnest:200000@0.1", "more than 100000"),
        ("titles:kind=bold@0.1", "not one of doubleescaped, script, invisible"),
        ("titles@/search", "/document/<slug>"),
        ("titles@/document/some-slug#1", "without '#'"),
        ("titles@/document/123", "/document/<slug>"),
    ):
        with pytest.raises(FaultSpecError) as info:
            FaultPlan.parse(spec)
        assert words in str(info.value), (spec, str(info.value))
    unknown = subprocess.run(
        [sys.executable, "-m", "replica", "--documents", "20", "--faults", "titles@/document/no-such-slug"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and "no document /document/no-such-slug" in unknown.stderr


def test_dupaddr_lists_some_documents_again_by_their_legacy_address(tmp_path: Path) -> None:
    truth_path, log_path = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    with running_replica(
        documents=DOCS, faults="dupaddr:every=4", dump_truth=truth_path, fault_log=log_path
    ) as rep:
        truth = truth_of(rep)
        pages = [fetch(rep, "/search" + (f"?page={p}" if p else "")) for p in range(DOCS // 10)]
        redirects = {}
        for got in pages:
            for href in rows(got):
                if href.removeprefix("/document/").isdigit():
                    moved = fetch(rep, href)
                    redirects[href] = (moved.status, moved.header("Location"))
    slugs = [canonical_path(r) for r in truth]
    legacy = {canonical_path(r): f"/document/{r['record_id']}" for r in truth}
    assert len(truth) == DOCS and len(set(slugs)) == DOCS  # the truth lists each document once
    walked: list[str] = []
    for page, got in enumerate(pages):
        own = slugs[page * 10 : page * 10 + 10]
        # The previous page's documents at positions 4, 8, 12... (1-based) come back, by record id.
        again = [legacy[slugs[i]] for i in range(page * 10 - 10, page * 10) if page and (i + 1) % 4 == 0]
        assert rows(got) == own + again
        assert count_line(got) == f"{page * 10 + 1} - {page * 10 + 10} of {DOCS}"
        walked += rows(got)
    for href, (status, location) in redirects.items():
        slug = next(s for s, old in legacy.items() if old == href)
        assert status == 301 and location == slug
    # Every fourth document of pages 0-4 is listed twice (slug, then legacy); the last page's never.
    twice = [s for s in slugs if legacy[s] in walked]
    assert twice == [slugs[i] for i in range(DOCS - 10) if (i + 1) % 4 == 0] and len(twice) == 12
    assert all(walked.count(s) == 1 and walked.count(legacy[s]) == (s in twice) for s in slugs)
    logged = log_of(log_path, "dupaddr")
    assert [(x["path"], x["detail"]["rows"]) for x in logged] == [
        (f"/search?page={p}", [legacy[slugs[i]] for i in range(p * 10 - 10, p * 10) if (i + 1) % 4 == 0])
        for p in range(1, DOCS // 10)
    ]


def test_stalecount_one_page_behind_or_alternating(log_path: Path) -> None:
    spec = "stalecount@/search?page=2,stalecount@/search?page=4,stalecount:alternate@/search?page=3"
    with running_replica(documents=DOCS) as plain:
        real = {p: rows(fetch(plain, f"/search?page={p}")) for p in range(DOCS // 10)}
    with running_replica(documents=DOCS, faults=spec, fault_log=log_path) as rep:
        totals = {}
        for page in range(DOCS // 10):
            got = fetch(rep, f"/search?page={page}")
            assert rows(got) == real[page]
            totals[page] = count_line(got).rsplit(" of ", 1)[1]
        alternating = [fetch(rep, "/search?page=3") for _ in range(4)]
        assert counts(rep) == {"stalecount": 4}
    assert totals == {0: "60", 1: "60", 2: "59", 3: "60", 4: "59", 5: "60"}
    # Attempt 1 was the walk above; attempts 2-5 alternate N+1, N, N+1, N.
    assert [count_line(g) for g in alternating] == [f"31 - 40 of {n}" for n in (61, 60, 61, 60)]
    assert all(rows(g) == real[3] for g in alternating)
    assert [(x["path"], x["attempt"], x["detail"]["shown"]) for x in read_jsonl(log_path)] == [
        ("/search?page=2", 1, 59),
        ("/search?page=4", 1, 59),
        ("/search?page=3", 2, 61),
        ("/search?page=3", 4, 61),
    ]


def test_endless_pager_never_ends_and_invents_rows_outside_the_truth(tmp_path: Path) -> None:
    truth_path, log_path = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    with running_replica(documents=DOCS, faults="endless", dump_truth=truth_path, fault_log=log_path) as rep:
        truth = truth_of(rep)
        walked, totals, path = [], [], "/search"
        for _ in range(12):  # twice the real number of pages
            got = fetch(rep, path)
            walked.append(rows(got))
            totals.append(int(count_line(got).rsplit(" of ", 1)[1]))
            href = next_href(got)
            assert href is not None  # always a next page
            path = "/search" + html.unescape(href)
        invented = fetch(rep, walked[-1][0])
        assert counts(rep) == {"endless": 7}
    slugs = [canonical_path(r) for r in truth]
    assert len(truth) == DOCS and [r for page in walked[:6] for r in page][:DOCS] == slugs
    assert totals == [60, 60, 60, 60, 60, 70, 80, 90, 100, 110, 120, 130]
    extra = [r for page in walked for r in page][DOCS:]
    assert len(extra) == 6 * 10 and not set(extra) & set(slugs) and len(set(extra)) == len(extra)
    assert invented.status == 404
    assert [x["detail"]["total"] for x in log_of(log_path, "endless")] == [70, 80, 90, 100, 110, 120, 130]


def test_canonical_points_offsite_to_javascript_or_to_search(tmp_path: Path) -> None:
    truth_path, log_path = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    with running_replica(documents=DOCS, dump_truth=truth_path) as plain:
        docs = truth_of(plain)[:4]
    a, b, c, d = (canonical_path(r) for r in docs)
    node = "/node/" + docs[1]["node_id"]
    spec = f"canonical@{a},canonical:to=javascript@{node},canonical:search@{c},canonical@/search"
    with running_replica(documents=DOCS, faults=spec, fault_log=log_path) as rep:
        got = {p: fetch(rep, p) for p in (a, node, b, c, d, "/search")}
    link = "link[rel=canonical]::attr(href)"
    found = {p: Selector(text=g.text).css(link).getall() for p, g in got.items()}
    assert found == {
        a: ["http://evil.example/document/pwned"],
        node: ["javascript:alert(document.domain)"],
        b: [b],
        c: ["/search"],
        d: [d],
        "/search": [],
    }
    for page in got.values():
        assert page.status == 200 and page.body.rstrip().endswith(b"</html>")
    assert Selector(text=got[a].text).css("main h1 span::text").get() == docs[0]["title"]
    assert [x["path"] for x in read_jsonl(log_path)] == [a, node, c]  # not the results page


def test_links_adds_hostile_links_beside_the_pages_own(tmp_path: Path) -> None:
    with running_replica(documents=DOCS, dump_truth=tmp_path / "truth.jsonl") as plain:
        docs = truth_of(plain)
        with_related = next(r for r in docs if r["related"])
        without = next(r for r in docs if not r["related"])
        paths = [canonical_path(with_related), canonical_path(without)]
        plain_pages = {p: fetch(plain, p) for p in paths}
    spec = ",".join(f"links@{p}" for p in paths)
    with running_replica(documents=DOCS, faults=spec) as rep:
        got = {p: fetch(rep, p) for p in paths}
    for path, record in zip(paths, (with_related, without), strict=True):
        page, before = Selector(text=got[path].text), Selector(text=plain_pages[path].text)
        table = (
            "(//h3[text()='Related Documents']/following-sibling::*/descendant-or-self::table)[1]//td/a/@href"
        )
        related, own = page.xpath(table).getall(), before.xpath(table).getall()
        assert related == [*HOSTILE_LINKS["related"], *own]
        assert len(own) == len(record["related"])
        scans = page.css("object.pdf-preview::attr(data)").getall()
        assert scans == [*HOSTILE_LINKS["scans"], *before.css("object.pdf-preview::attr(data)").getall()]
        options = page.css("div.document-options a::attr(href)").getall()
        assert options[: len(HOSTILE_LINKS["download"])] == list(HOSTILE_LINKS["download"])
        assert (
            options[len(HOSTILE_LINKS["download"]) :]
            == before.css("div.document-options a::attr(href)").getall()
        )
        assert got[path].status == 200 and got[path].body.rstrip().endswith(b"</html>")


def visible_text_of(node: Selector) -> str:
    """What a reader sees of an element: its text without the text of scripts."""
    return "".join(node.xpath(".//text()[not(ancestor::script)]").getall())


class _DivDepth(HTMLParser):
    """The deepest ``<div>`` nesting of a page (the standard library's parser has no limit)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = self.deepest = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div":
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self.depth -= 1


def div_depth(text: str) -> int:
    parser = _DivDepth()
    parser.feed(text)
    return parser.deepest


def test_deepnest_wraps_the_text_pane_in_thousands_of_divs(tmp_path: Path) -> None:
    truth_path, log_path = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    with running_replica(documents=DOCS, dump_truth=truth_path) as plain:
        docs = truth_of(plain)
    texted = next(r for r in docs if r["text"])
    scans = next(r for r in docs if not r["text"])  # an original: its scans are wrapped
    a, b = canonical_path(texted), canonical_path(scans)
    spec = f"deepnest@{a}#1,deepnest:depth=40@{b}#1"
    with running_replica(documents=DOCS, faults=spec, fault_log=log_path) as rep:
        deep, normal = fetch(rep, a), fetch(rep, a)
        shallow, shallow_normal = fetch(rep, b), fetch(rep, b)
    # Exactly the page, with 3000 <div>s around the pane's content.
    assert deep.text.count("<div>" * 3000) == 1 and deep.text.count("</div>" * 3000) == 1
    assert deep.text.replace("<div>" * 3000, "").replace("</div>" * 3000, "") == normal.text
    assert div_depth(deep.text) >= 3000 > div_depth(normal.text)
    pane = deep.text.split("<div>" * 3000, 1)[1].split("</div>" * 3000, 1)[0]
    assert texted["text"][:80] in visible_text_of(Selector(text=pane))  # the text, inside
    assert shallow.text.replace("<div>" * 40, "").replace("</div>" * 40, "") == shallow_normal.text
    assert 'class="pdf-preview"' in shallow.text.split("<div>" * 40, 1)[1].split("</div>" * 40, 1)[0]
    assert [x["detail"]["depth"] for x in read_jsonl(log_path)] == [3000, 40]


def test_hostile_titles_on_rows_pages_and_truth(tmp_path: Path) -> None:
    truth_path, log_path = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    with running_replica(documents=DOCS, dump_truth=truth_path) as plain:
        before = {r["id"]: r for r in truth_of(plain)}
    one, two, three = list(before)[:3]
    spec = (
        f"titles:doubleescaped@/document/{one},titles:kind=script@/document/{two},"
        f"titles:invisible@/document/{three},titles:script@0.2"
    )
    with running_replica(documents=DOCS, faults=spec, dump_truth=truth_path, fault_log=log_path) as rep:
        truth = {r["id"]: r for r in truth_of(rep)}
        listing = fetch(rep, "/search")
        pages = {slug: fetch(rep, f"/document/{slug}") for slug in (one, two, three)}
        assert counts(rep)["titles"] == len(read_jsonl(log_path))
    cells = {
        row.css("a::attr(href)").get().removeprefix("/document/"): row.css("h3.sub-title > span")[0]
        for row in Selector(text=listing.text).css("tbody > tr")
    }
    raw_cells = {slug: cells[slug].get() for slug in (one, two, three)}
    # Double-escaped: the source says &amp;amp;, a reader (and the truth) sees &amp;.
    assert "&amp;amp; Enclosures</span>" in raw_cells[one]
    assert visible_text_of(cells[one]) == before[one]["title"] + " &amp; Enclosures" == truth[one]["title"]
    # A script inside the title cell: not seen, and not in the truth.
    assert "<script>" in raw_cells[two] and "not a title" in raw_cells[two]
    assert visible_text_of(cells[two]) == before[two]["title"] == truth[two]["title"]
    # Invisible characters only: the truth has no title.
    shown = visible_text_of(cells[three])
    assert shown and set(shown) <= {"\u2063", "\u3164"} and truth[three]["title"] is None
    for slug, page in pages.items():
        sel = Selector(text=page.text)
        h1 = sel.css("main h1.title > span")[0]
        assert visible_text_of(h1) == visible_text_of(cells[slug])
        assert "<script" not in (sel.css("head > title::text").get() or "")
    # The rate entry's scripts leave the other titles as a reader sees them.
    for slug, record in truth.items():
        if slug in (one, two, three):
            continue
        assert record["title"] == before[slug]["title"]
    logged = {x["path"].removeprefix("/document/"): x["entry"] for x in read_jsonl(log_path)}
    assert logged[one].startswith("titles:doubleescaped") and logged[three].startswith("titles:invisible")
    assert len(logged) >= 3 + 5  # about 20 % of 49 more


def test_robots_disallows_search_for_every_agent() -> None:
    with running_replica(documents=DOCS, faults="robots:disallow=/search") as rep:
        robots = fetch(rep, "/robots.txt")
        assert counts(rep) == {"robots": 1}
    with running_replica(documents=DOCS) as plain:
        usual = fetch(plain, "/robots.txt")
    for got, allowed in ((robots, False), (usual, True)):
        parser = RobotFileParser()
        parser.parse(got.text.splitlines())
        for agent in ("harvester", "*", "Scrapy/2.13"):
            assert parser.can_fetch(agent, "http://127.0.0.1/search?page=3") is allowed
            assert parser.can_fetch(agent, "http://127.0.0.1/document/some-slug")
            assert not parser.can_fetch(agent, "http://127.0.0.1/admin/x")


def test_ignoreperpage_serves_ten_rows_whatever_is_asked(tmp_path: Path) -> None:
    truth_path, log_path = tmp_path / "truth.jsonl", tmp_path / "faults.jsonl"
    with running_replica(
        documents=DOCS, faults="ignoreperpage", dump_truth=truth_path, fault_log=log_path
    ) as rep:
        slugs = [canonical_path(r) for r in truth_of(rep)]
        asked_50 = fetch(rep, "/search?items_per_page=50")
        asked_20 = fetch(rep, "/search?items_per_page=20&page=2")
        asked_10 = fetch(rep, "/search?items_per_page=10&page=5")
    assert rows(asked_50) == slugs[:10] and count_line(asked_50) == f"1 - 10 of {DOCS}"
    assert rows(asked_20) == slugs[20:30] and count_line(asked_20) == f"21 - 30 of {DOCS}"
    assert next_href(asked_20) == "?items_per_page=20&page=3"
    assert rows(asked_10) == slugs[50:60] and next_href(asked_10) is None
    assert [(x["path"], x["detail"]) for x in read_jsonl(log_path)] == [
        ("/search?items_per_page=50", {"items_per_page": "50", "served": 10}),
        ("/search?items_per_page=20&page=2", {"items_per_page": "20", "served": 10}),
    ]


def test_oversize_one_document_over_5_mib_and_another_of_8_mib(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    with running_replica(documents=DOCS, dump_truth=truth_path) as plain:
        a, b, c = (canonical_path(r) for r in truth_of(plain)[:3])
    with running_replica(documents=DOCS, faults=f"oversize@{a},oversize:mib=8@{b}") as rep:
        big, bigger, usual = fetch(rep, a), fetch(rep, b), fetch(rep, c)
    assert 5 * MIB < len(big.body) < 6.2 * MIB
    assert 8 * MIB < len(bigger.body) < 8.2 * MIB
    assert len(usual.body) < 0.2 * MIB
    for got in (big, bigger):
        assert got.status == 200 and int(got.header("Content-Length") or 0) == len(got.body)
        page = Selector(text=got.text)
        assert page.css("main h1.title > span") and got.body.rstrip().endswith(b"</html>")


def test_validators_and_conditional_requests(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    with running_replica(documents=DOCS, dump_truth=truth_path) as rep:
        record = truth_of(rep)[5]
        path, node = canonical_path(record), "/node/" + record["node_id"]
        first = fetch(rep, path)
        etag, modified = first.header("ETag"), first.header("Last-Modified")
        assert etag and etag.startswith('"') and modified and modified.endswith(" GMT")
        assert fetch(rep, node).header("ETag") == etag  # the same page under its shortlink
        assert parsedate_to_datetime(modified).date().isoformat() == record["uploaded_date"]
        earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
        cases = [
            ({"If-None-Match": etag}, 304),
            ({"If-None-Match": f'"nope", W/{etag}'}, 304),
            ({"If-None-Match": "*"}, 304),
            ({"If-None-Match": '"nope"'}, 200),
            ({"If-Modified-Since": modified}, 304),
            ({"If-Modified-Since": "Tue, 01 Dec 2099 00:00:00 GMT"}, 304),
            ({"If-Modified-Since": earlier}, 200),
            ({"If-Modified-Since": "not a date"}, 200),
            ({"If-None-Match": '"nope"', "If-Modified-Since": modified}, 200),  # the ETag decides
        ]
        for headers, status in cases:
            got = fetch(rep, path, headers=headers)
            assert got.status == status, headers
            assert got.header("ETag") == etag and got.header("Last-Modified") == modified
            if status == 304:
                assert got.body == b"" and got.header("Content-Length") is None
            else:
                assert got.body == first.body
        assert fetch(rep, node, headers={"If-None-Match": etag}).status == 304
        results = fetch(rep, "/search", headers={"If-None-Match": "*"})
        assert results.status == 200 and results.header("ETag") is None
    with running_replica(documents=DOCS, extra_args=["--no-validators"]) as bare:
        got = fetch(bare, path, headers={"If-None-Match": etag, "If-Modified-Since": modified})
        assert got.status == 200 and got.header("ETag") is None and got.header("Last-Modified") is None
        assert got.body == first.body


def test_lie304_answers_304_whatever_the_request_says(tmp_path: Path, log_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    with running_replica(documents=DOCS, dump_truth=truth_path) as plain:
        a, b = (canonical_path(r) for r in truth_of(plain)[3:5])
        real_a, real_b = fetch(plain, a), fetch(plain, b)
    assert real_a.status == real_b.status == 200  # no fault: whole pages
    spec = f"lie304@{a}#1,lie304@{a}#3,lie304:current@{b},lie304:none@/search?page=1"
    with running_replica(documents=DOCS, faults=spec, fault_log=log_path) as rep:
        bare = fetch(rep, a)  # no validators sent at all
        assert bare.status == 304 and bare.body == b"" and bare.header("Content-Length") is None
        assert bare.header("ETag") is None and bare.header("Last-Modified") is None
        assert fetch(rep, a).body == real_a.body  # attempt 2: the page
        sent = {
            "If-None-Match": '"stale-copy", W/"other"',
            "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT",
        }
        echoed = fetch(rep, a, headers=sent)  # validators that match nothing: still 304
        assert echoed.status == 304 and echoed.body == b""
        assert (
            echoed.header("ETag") == '"stale-copy"'
            and echoed.header("Last-Modified") == sent["If-Modified-Since"]
        )
        current = fetch(rep, b, headers={"If-None-Match": '"nope"'})
        assert current.status == 304 and current.body == b""
        assert current.header("ETag") == real_b.header("ETag") != '"nope"'
        assert current.header("Last-Modified") == real_b.header("Last-Modified")
        results = fetch(rep, "/search?page=1")
        assert results.status == 304 and results.body == b"" and results.header("ETag") is None
        assert fetch(rep, "/search?page=2").status == 200
        assert counts(rep) == {"lie304": 4}
        lines = fault_lines(rep)
    assert [(x["path"], x["attempt"], x["detail"]["page_status"]) for x in lines] == [
        (a, 1, 200), (a, 3, 200), (b, 1, 200), ("/search?page=1", 1, 200),
    ]  # fmt: skip
    assert lines[0]["params"] == {"validators": "echo"} and lines[0]["detail"]["if_none_match"] is None
    assert lines[1]["detail"]["etag"] == '"stale-copy"' and lines[1]["detail"]["status"] == 304
    assert lines[2]["detail"]["etag"] == real_b.header("ETag")


def test_lie304_at_a_rate_over_document_pages_first_attempts() -> None:
    with running_replica(documents=DOCS, faults="lie304@0.5/document/#1") as rep:
        paths = rows(fetch(rep, "/search?items_per_page=50"))
        assert len(paths) == 50
        first = [fetch(rep, p).status for p in paths]
        assert 10 <= first.count(304) <= 40 and set(first) == {200, 304}
        assert {fetch(rep, p).status for p in paths} == {200}  # attempt 2
        assert fetch(rep, "/search").status == 200  # the prefix: document pages only


def content(record: dict[str, Any]) -> dict[str, Any]:
    """A truth record without where it is listed (new uploads move every document along) and
    without its URLs (two replicas, two ports)."""
    where = ("position", "listing_url", "url", "pdf_urls", "download_url", "related")
    return {k: v for k, v in record.items() if k not in where}


def test_edits_change_validators_and_nothing_else_does(tmp_path: Path) -> None:
    base_truth, edited_truth = tmp_path / "base.jsonl", tmp_path / "edited.jsonl"
    with running_replica(documents=DOCS, dump_truth=base_truth) as base:
        before = {r["id"]: content(r) for r in truth_of(base)}
        old = {}
        for slug in before:
            got = fetch(base, f"/document/{slug}")
            old[slug] = (got.header("ETag"), got.header("Last-Modified"))
    with running_replica(documents=DOCS, changes="2,3,1", dump_truth=edited_truth) as rep:
        after = {r["id"]: content(r) for r in truth_of(rep)}
        edited = [s for s in before if s in after and before[s] != after[s]]
        kept = [s for s in before if s in after and before[s] == after[s]]
        assert len(edited) == 3 and len(kept) == DOCS - 3 - 1
        for slug in before:
            if slug not in after:
                continue
            etag, modified = old[slug]
            by_tag = fetch(rep, f"/document/{slug}", headers={"If-None-Match": etag or ""})
            by_date = fetch(rep, f"/document/{slug}", headers={"If-Modified-Since": modified or ""})
            if slug in edited:
                assert by_tag.status == by_date.status == 200
                assert by_tag.header("ETag") != etag
                assert parsedate_to_datetime(by_tag.header("Last-Modified") or "") > parsedate_to_datetime(
                    modified or ""
                )
            else:
                assert by_tag.status == by_date.status == 304


def _visible(text: str | None) -> str:
    """What a reader sees of a title, by a rule of this test's own: characters that are
    neither white space nor invisible format characters, white space collapsed."""
    kept = "".join(c for c in text or "" if unicodedata.category(c) not in ("Cf", "Cc") and c != "\u3164")
    return " ".join(kept.split())
