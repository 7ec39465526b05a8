"""The replica night after night (``--night K``, ``--churn SPEC``, ``--dump-events``): the same
night is the same archive, the next night differs by exactly its events, removals answer 404
or 410 and leave the results, a reappearance comes back where it was, validators follow the
content across nights and restarts.

Judged by rules of these tests' own over what the replica writes and serves: sets and orders
of ids, field-by-field comparisons, the rows and pages served. The replica's code is only
called to time it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from parsel import Selector

from replica.process import ROOT, Replica, running_replica
from tests.conftest import read_jsonl
from tests.test_replica_faults import count_line, fetch, rows

DOCS = 300
NIGHT = 30
LISTING = ("title", "date", "date_precision", "date_raw", "summary")
"""What a results row shows, as the truth names it."""
WHERE = ("position", "listing_url")


def dump(tmp_path: Path, name: str, *args: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The truth and the events of ``python -m replica --dump-only`` with ``args``."""
    truth, events = tmp_path / f"{name}.truth.jsonl", tmp_path / f"{name}.events.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "replica", "--port", "0", "--documents", str(DOCS), *args,
         "--dump-truth", str(truth), "--dump-events", str(events), "--dump-only"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return read_jsonl(truth), read_jsonl(events)


def content(record: dict[str, Any]) -> dict[str, Any]:
    """A truth record without where it is listed (uploads move every document down)."""
    return {k: v for k, v in record.items() if k not in WHERE}


def changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {k for k in content(before) if before[k] != after[k]}


def night_noon(night: int) -> str:
    """Noon UTC of night ``night``'s day (the contract: 2025-06-30 is night 0), as HTTP says it."""
    day = date(2025, 6, 30) + timedelta(days=night)
    return f"{day:%a, %d %b %Y} 12:00:00 GMT"


def listing(rep: Replica) -> tuple[list[str], str]:
    """Every row's link, over every results page of 100, and the first page's count line."""
    first = fetch(rep, "/search?items_per_page=100")
    total = int(count_line(first).rsplit(" ", 1)[-1])
    links = rows(first)
    for page in range(1, (total + 99) // 100):
        links += rows(fetch(rep, f"/search?items_per_page=100&page={page}"))
    return links, count_line(first)


def row_text(rep: Replica, slug: str, position: int) -> str:
    """What the results row of ``slug`` (at ``position``) shows: date, title, summary."""
    page = Selector(text=fetch(rep, f"/search?items_per_page=100&page={(position - 1) // 100}").text)
    for row in page.css("tbody > tr"):
        if row.css("a::attr(href)").get() == f"/document/{slug}":
            return " | ".join(" ".join(t.split()) for t in row.css("::text").getall() if t.strip())
    raise AssertionError(f"{slug} is not on the page of position {position}")


def test_the_same_night_is_the_same_archive(tmp_path: Path) -> None:
    truth, events = dump(tmp_path, "a", "--night", str(NIGHT))
    assert (truth, events) == dump(tmp_path, "b", "--night", str(NIGHT))
    assert len(events) == 3 + 4 + 2 + 2 + 1  # the default churn, every kind possible by now
    assert {e["night"] for e in events} == {NIGHT}
    other_truth, other_events = dump(tmp_path, "c", "--night", str(NIGHT), "--seed", "7")
    assert other_events != events and [r["id"] for r in other_truth] != [r["id"] for r in truth]
    # Night 0 is the base archive, whatever the churn, and has no events.
    base, none = dump(tmp_path, "base")
    assert dump(tmp_path, "zero", "--night", "0", "--churn", "uploads=9") == (base, none) and none == []
    assert [r["position"] for r in truth] == list(range(1, len(truth) + 1))


BUSY = "edits=12,deepedits=12,removals=3,reappearances=2,uploads=2"
"""A busy churn: a night of it has every kind of edit and deep edit."""


@pytest.mark.parametrize(("night", "churn"), [(NIGHT, None), (5, BUSY)])
def test_the_next_night_is_this_night_plus_its_events(tmp_path: Path, night: int, churn: str | None) -> None:
    spec = ["--churn", churn] if churn else []
    base, _ = dump(tmp_path, "base")
    before, _ = dump(tmp_path, "k", "--night", str(night), *spec)
    after, events = dump(tmp_path, "k1", "--night", str(night + 1), *spec)
    was = {r["id"]: r for r in before}
    now = {r["id"]: r for r in after}
    kind = {e["slug"]: e for e in events}
    assert len(kind) == len(events)  # one event a document
    of = {k: {e["slug"] for e in events if e["event"] == k} for k in ("remove", "reappear", "upload")}
    assert of["remove"] <= was.keys() and not (of["reappear"] | of["upload"]) & was.keys()
    assert not of["upload"] & {r["id"] for r in base}  # new documents, not old ones back
    assert now.keys() == (was.keys() - of["remove"]) | of["reappear"] | of["upload"]
    # Positions: the events say where; new uploads are the top rows; the rest keep their order.
    for event in events:
        record = (was if event["event"] == "remove" else now)[event["slug"]]
        assert event["position"] == record["position"], event
    assert sorted(now[s]["position"] for s in of["upload"]) == list(range(1, len(of["upload"]) + 1))
    kept = [r["id"] for r in after if r["id"] in was]
    assert kept == [r["id"] for r in before if r["id"] in now]
    # Content: only the events' documents changed, and only what each event says.
    for slug in was.keys() & now.keys():
        diff = changed(was[slug], now[slug])
        event = kind.get(slug)
        if event is None:
            assert not diff, (slug, diff)
        elif event["event"] == "edit":
            assert "summary" in diff and diff <= set(LISTING), (slug, diff)
            assert ("title" in diff) == ("title" in event["fields"])
            assert ("date_raw" in diff) == ("date" in event["fields"])
        else:
            assert event["event"] == "deepedit"
            assert diff and diff == set(event["fields"]) and diff <= {"places", "subjects", "text"}, diff
    assert {e["event"] for e in events} == {"remove", "reappear", "edit", "deepedit", "upload"}
    if churn == BUSY:
        fields = {(e["event"], f) for e in events for f in e.get("fields", ())}
        assert fields >= {("edit", "title"), ("edit", "date"), ("deepedit", "places"),
                          ("deepedit", "subjects"), ("deepedit", "text")}  # fmt: skip


def test_removals_answer_404_or_410_and_leave_the_results(tmp_path: Path) -> None:
    truth0 = tmp_path / "night0.jsonl"
    with running_replica(documents=DOCS, dump_truth=truth0):
        pass
    was = {r["id"]: r for r in read_jsonl(truth0)}
    events_path = tmp_path / "events.jsonl"
    with running_replica(
        documents=DOCS, night=1, churn="removals=12,uploads=2", dump_events=events_path
    ) as rep:
        events = read_jsonl(events_path)
        removed = {e["slug"]: e for e in events if e["event"] == "remove"}
        assert len(removed) == 12 and {e["status"] for e in removed.values()} == {404, 410}
        assert max(e["position"] for e in removed.values()) > 200  # deep in the results
        links, count = listing(rep)
        assert count == f"1 - 100 of {DOCS - 12 + 2}" and len(links) == DOCS - 12 + 2
        assert not {f"/document/{s}" for s in removed} & set(links)
        for slug, event in removed.items():
            record = was[slug]
            for path in (f"/document/{slug}", f"/document/{record['record_id']}", f"/node/{record['node_id']}",
                         f"/document/{record['node_id']}/download"):  # fmt: skip
                assert fetch(rep, path).status == event["status"], path
        # Another search finds none of them either.
        hits = rows(fetch(rep, "/search?search_api_fulltext=the&items_per_page=100"))
        assert hits and not {f"/document/{s}" for s in removed} & set(hits)


def test_a_reappearance_comes_back_at_its_old_place(tmp_path: Path) -> None:
    spec = "removals=4,reappearances=2"
    base, _ = dump(tmp_path, "base")
    order = [r["id"] for r in base]
    nights = [dump(tmp_path, f"n{n}", "--night", str(n), "--churn", spec) for n in (1, 2, 3)]
    removed_by_now: set[str] = set()
    seen = {True: 0, False: 0}
    for n, (truth, events) in enumerate(nights, start=1):
        now = {r["id"]: r for r in truth}
        previous = {r["id"] for r in nights[n - 2][0]} if n > 1 else set(order)
        for event in events:
            if event["event"] != "reappear":
                continue
            slug = event["slug"]
            assert slug in removed_by_now and slug not in previous  # gone the night before
            record, first = now[slug], base[order.index(slug)]
            # Its old place: after exactly the documents of the base archive that were before
            # it then and are still there (this churn uploads nothing).
            assert record["position"] == 1 + sum(1 for s in order[: order.index(slug)] if s in now)
            assert record["position"] > 10  # deep, not at the top
            diff = changed(first, record)
            assert diff <= set(LISTING), diff
            assert bool(diff) == event["edited"] and ("summary" in diff) == event["edited"]
            seen[event["edited"]] += 1
        removed_by_now |= {e["slug"] for e in events if e["event"] == "remove"}
    assert seen[True] and seen[False]  # this seed brings back some with an edit, some without
    with running_replica(documents=DOCS, night=3, churn=spec) as rep:
        for event in nights[2][1]:
            status = fetch(rep, f"/document/{event['slug']}").status
            assert status == (200 if event["event"] == "reappear" else event["status"])


def _validators(rep: Replica, slugs: list[str]) -> dict[str, tuple[int, str | None, str | None]]:
    got = {}
    for slug in slugs:
        page = fetch(rep, f"/document/{slug}")
        got[slug] = (page.status, page.header("ETag"), page.header("Last-Modified"))
    return got


def test_validators_follow_the_content_across_nights_and_restarts(tmp_path: Path) -> None:
    events_path, truth_path = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    with running_replica(documents=DOCS, night=NIGHT, dump_truth=truth_path) as rep:
        truth = read_jsonl(truth_path)
        quiet = [r["id"] for r in truth[::15]]
        old_quiet = _validators(rep, quiet)
    with running_replica(documents=DOCS, night=NIGHT + 1, dump_events=events_path) as rep:
        events = {e["slug"]: e for e in read_jsonl(events_path)}
        changed_tonight = [s for s, e in events.items() if e["event"] in ("edit", "deepedit")]
        quiet = [s for s in quiet if s not in events]
        new_quiet, new_changed = _validators(rep, quiet), _validators(rep, changed_tonight)
        for slug in quiet:
            status, etag, modified = old_quiet[slug]
            assert status == 200 and etag and modified
            assert new_quiet[slug] == old_quiet[slug]
            assert fetch(rep, f"/document/{slug}", headers={"If-None-Match": etag}).status == 304
            assert fetch(rep, f"/document/{slug}", headers={"If-Modified-Since": modified}).status == 304
        for slug, (status, _etag, modified) in new_changed.items():
            assert status == 200 and modified == night_noon(NIGHT + 1), slug
        for event in events.values():
            if event["event"] == "upload":
                assert fetch(rep, f"/document/{event['slug']}").header("Last-Modified") == night_noon(
                    NIGHT + 1
                )
    with running_replica(documents=DOCS, night=NIGHT) as rep:
        assert _validators(rep, quiet) == {s: old_quiet[s] for s in quiet}  # a restart changes nothing
        old_changed = _validators(rep, changed_tonight)
    assert len(changed_tonight) == 6
    for slug in changed_tonight:
        _, old_tag, old_modified = old_changed[slug]
        _, new_tag, new_modified = new_changed[slug]
        assert old_tag != new_tag
        assert parsedate_to_datetime(old_modified or "") < parsedate_to_datetime(new_modified or "")
    with running_replica(documents=DOCS, night=NIGHT + 1) as rep:
        for slug in changed_tonight:
            _, old_tag, old_modified = old_changed[slug]
            assert fetch(rep, f"/document/{slug}", headers={"If-None-Match": old_tag or ""}).status == 200
            assert (
                fetch(rep, f"/document/{slug}", headers={"If-Modified-Since": old_modified or ""}).status
                == 200
            )


def test_a_deep_edit_changes_the_page_and_not_the_row(tmp_path: Path) -> None:
    events_path = tmp_path / "events.jsonl"
    with running_replica(documents=DOCS, night=NIGHT + 1, dump_events=events_path) as rep:
        events = read_jsonl(events_path)
        tonight = {e["slug"]: (e, row_text(rep, e["slug"], e["position"])) for e in events if "fields" in e}
        pages = {s: fetch(rep, f"/document/{s}").body for s in tonight}
    with running_replica(documents=DOCS, night=NIGHT) as rep:
        for slug, (event, row) in tonight.items():
            if event["event"] == "reappear":
                continue
            # The night before, the document sat one place lower for every upload above it.
            uploads = sum(1 for e in events if e["event"] == "upload")
            removed_above = sum(
                1 for e in events if e["event"] == "remove" and e["position"] < event["position"]
            )
            was = row_text(rep, slug, event["position"] - uploads + removed_above)
            assert (was == row) == (event["event"] == "deepedit"), (event, was, row)
            assert fetch(rep, f"/document/{slug}").body != pages[slug]


@pytest.mark.parametrize("size", [DOCS, 16_153])
def test_night_365_is_built_in_one_pass(size: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Timing figures, printed, not asserted (2 shared cores: any bound would be flaky)."""
    from replica.churn import DEFAULT_CHURN, Churn, build_night
    from replica.dataset import build_archive

    start = time.perf_counter()
    base = build_archive(size)
    base_s = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    night = build_night(size, 1962, 365, Churn.parse(DEFAULT_CHURN))
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    with capsys.disabled():
        print(
            f"\n[churn timing] {size} documents: base archive {base_s:.2f} s; night 365 "
            f"({len(night.docs)} documents, {len(night.gone)} removed) {wall_s:.2f} s wall, {cpu_s:.2f} s CPU"
        )
    assert len(night.docs) > len(base.docs)


def _past_429(rep: Replica, path: str, seen: list[str]) -> tuple[int, str | None, str]:
    """GET ``path``; a 429 (first attempts only) is noted and the path asked again."""
    got = fetch(rep, path)
    if got.status == 429:
        assert got.header("Retry-After") == "1"
        seen.append(path)
        got = fetch(rep, path)
    return got.status, got.header("Location"), got.text


def test_faults_combine_with_a_night(tmp_path: Path) -> None:
    truth, events = dump(tmp_path, "k", "--night", str(NIGHT))
    removed = {e["slug"]: e["status"] for e in events if e["event"] == "remove"}
    edited = next(e["slug"] for e in events if e["event"] == "edit")
    with running_replica(documents=DOCS, night=NIGHT - 1) as before:
        stale_tag = fetch(before, f"/document/{edited}").header("ETag")
        removed_ids: dict[str, list[str]] = {}  # their other addresses, read on their pages the night before
        for slug in removed:
            page = Selector(text=fetch(before, f"/document/{slug}").text)
            citation = page.css("a#citation-url::text").get() or ""
            shortlink = page.css("link[rel=shortlink]::attr(href)").get() or ""
            removed_ids[slug] = ["/document/" + citation.rsplit("/", 1)[-1], shortlink]
            assert all(p.rsplit("/", 1)[-1].isdigit() for p in removed_ids[slug]), removed_ids[slug]
    failing = truth[150]["id"]  # deep in the results
    # The first entry that fires answers: the path entries go before the rate.
    spec = f"500@/document/{failing},lie304@/document/{edited}#1,429:retry-after=1@0.5/document/#1,aliases"
    seen: list[str] = []
    with running_replica(documents=DOCS, night=NIGHT, faults=spec) as rep:
        assert [fetch(rep, f"/document/{failing}").status for _ in range(3)] == [500, 500, 500]
        # The stale copy of a page edited tonight: the lying front says it has not changed.
        lie = fetch(rep, f"/document/{edited}", headers={"If-None-Match": stale_tag or ""})
        assert lie.status == 304 and lie.header("ETag") == stale_tag
        truly = fetch(rep, f"/document/{edited}", headers={"If-None-Match": stale_tag or ""})
        assert truly.status == 200 and truly.header("ETag") != stale_tag
        links, count = listing(rep)
        assert count == f"1 - 100 of {len(truth)}" and len(links) == len(truth)
        by_record = {f"/document/{r['record_id']}": r["id"] for r in truth}
        by_node = {f"/node/{r['node_id']}": r["id"] for r in truth}
        legacy = [link for link in links if link in by_record]
        nodes = [link for link in links if link in by_node]
        assert len(legacy) > 50 and len(nodes) > 50  # one row in three each
        for link in legacy[::4]:
            status, location, _ = _past_429(rep, link, seen)
            assert (status, location) == (301, f"/document/{by_record[link]}")
        for link in nodes[::4]:
            status, _, text = _past_429(rep, link, seen)
            canonical = Selector(text=text).css("link[rel=canonical]::attr(href)").get() or ""
            assert status == 200 and canonical.endswith(f"/document/{by_node[link]}")
        for slug, status in removed.items():
            for path in (f"/document/{slug}", *removed_ids[slug]):
                assert _past_429(rep, path, seen)[0] == status, path
    assert seen  # the 429s fired too, on first attempts only


def test_shift_on_a_night_stages_uploads_above_that_nights_archive() -> None:
    from replica.churn import DEFAULT_CHURN, Churn
    from replica.faults import FaultPlan, build_faulty_archive

    night = build_faulty_archive(
        FaultPlan.parse(""), DOCS, 1962, night=NIGHT, churn=Churn.parse(DEFAULT_CHURN)
    )
    shifted = build_faulty_archive(
        FaultPlan.parse("shift:4@/search?page=1"), DOCS, 1962, night=NIGHT, churn=Churn.parse(DEFAULT_CHURN)
    )
    assert [d.slug for d in shifted.docs[4:]] == [d.slug for d in night.docs]
    assert {d.uploaded_date for d in shifted.docs[:4]} == {"2025-07-30"}  # night 30's day
    assert shifted.events == night.events
