"""Field coverage against the previous run (harvester/report/coverage.py): the comparison as
pure functions, and crawls of the replica where a field goes empty between two runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from harvester import stats as keys
from harvester.report.coverage import compare, count_present, coverage_of
from harvester.report.verdict import judge
from replica.process import running_replica
from tests.conftest import read_jsonl
from tests.crawling import crawl


def cov(documents: int, **counts: int) -> dict[str, object]:
    return coverage_of(counts, documents, list(counts))


def test_a_drop_past_the_threshold_is_named_and_a_smaller_one_is_not() -> None:
    before = cov(200, title=200, date=190, summary=100, text=150)
    after = cov(200, title=199, date=100, summary=80, text=130)
    change, drops = compare(before, after, 0.10)
    assert [d["field"] for d in drops] == ["date"]  # 45 points; summary (10) and text (10) are not over 10
    assert change is not None
    assert change["fields"]["summary"]["change"] == pytest.approx(-0.10)
    assert change["documents"] == {"previous": 200, "now": 200, "change": 0}
    _, strict = compare(before, after, 0.05)
    assert [d["field"] for d in strict] == ["date", "summary", "text"]


def test_fields_one_side_lacks_are_not_compared() -> None:
    details = cov(10, title=10, text=10)
    listing = cov(20, title=10)
    change, drops = compare(details, listing, 0.10)
    assert change is not None and list(change["fields"]) == ["title"]
    assert [d["field"] for d in drops] == ["title"]
    assert change["documents"]["change"] == 10
    assert compare(None, listing, 0.10) == (None, [])


def test_count_present_counts_what_has_a_value() -> None:
    records = [{"a": "x", "b": []}, {"a": "", "b": ["y"]}, {"a": None}]
    assert count_present(records, ["a", "b"]) == ({"a": 1, "b": 1}, 3)


def test_a_coverage_drop_fails_the_verdict_only_when_asked() -> None:
    run = {keys.ITEM_SCRAPED: 30, keys.REPORTED_TOTAL: 30}
    drops = {keys.COVERAGE_DROPS: ["date 97.0% -> 48.0% (-49.0 points)"]}
    assert judge({**run, **drops}, "finished") == []
    assert judge({**run, **drops, keys.COVERAGE_DROPS_FAIL: True}, "finished") == [
        "field coverage dropped since the previous run: date 97.0% -> 48.0% (-49.0 points) "
        "(HARVESTER_COVERAGE_DROP_FAILS; see the warning above)"
    ]


def _summary(path: Path) -> dict[str, object]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


@deferred_f_from_coro_f
async def test_a_field_emptied_since_the_previous_run_warns_and_fails_when_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "wilson.jsonl"
    summary_file = tmp_path / "wilson.summary.json"
    settings = {"HARVESTER_PAGE_SIZE": 100}
    with running_replica(documents=300) as rep:
        first = await crawl(rep.base_url, out=out, settings=settings)
    assert first.verdict == "ok", first.reasons
    good = read_jsonl(out)
    first_summary = _summary(summary_file)
    dated = sum(1 for r in good if r["date"])
    assert first_summary["coverage"]["fields"]["date"] == {"count": dated, "share": round(dated / 300, 6)}  # type: ignore[index]
    assert first_summary["coverage_change"] is None and first_summary["coverage_drops"] == []
    assert first_summary["published_coverage"] == first_summary["coverage"]
    published = out.read_bytes()

    # Half the documents now show dates no rule reads: `date` goes empty, nothing else fails.
    with running_replica(documents=300, faults="baddates@0.5") as rep:
        caplog.clear()
        asked = await crawl(
            rep.base_url, out=out, settings={**settings, "HARVESTER_COVERAGE_DROP_FAILS": True}
        )
        assert asked.verdict == "failed"
        assert any("field coverage dropped since the previous run: date " in r for r in asked.reasons), (
            asked.reasons
        )
        assert "Field coverage dropped by more than 10 points" in caplog.text
        assert out.read_bytes() == published  # the good dataset stays
        failed_summary = _summary(summary_file)
        assert {d["field"] for d in failed_summary["coverage_drops"]} == {"date", "date_precision"}  # type: ignore[union-attr]
        assert failed_summary["published_coverage"] == first_summary["coverage"]

        # The failed run is not the baseline: the same drop fails the next run too.
        again = await crawl(
            rep.base_url, out=out, settings={**settings, "HARVESTER_COVERAGE_DROP_FAILS": True}
        )
        assert again.verdict == "failed", "a failed run's coverage became the baseline"
        assert out.read_bytes() == published

        # By default the drop is a warning: the run publishes, and says so in its summary.
        caplog.clear()
        warned = await crawl(rep.base_url, out=out, settings=settings)
    assert warned.verdict == "ok", warned.reasons
    assert "Field coverage dropped by more than 10 points" in caplog.text
    summary = _summary(summary_file)
    drop = next(d for d in summary["coverage_drops"] if d["field"] == "date")  # type: ignore[union-attr]
    now = sum(1 for r in read_jsonl(out) if r["date"]) / 300
    assert drop["previous"] == pytest.approx(dated / 300) and drop["now"] == pytest.approx(now)
    assert dated / 300 - now > 0.10
    change = summary["coverage_change"]
    assert change["documents"] == {"previous": 300, "now": 300, "change": 0}  # type: ignore[index]
    assert change["fields"]["title"]["change"] == 0  # type: ignore[index]
    assert summary["published_coverage"] == summary["coverage"]
    assert warned.stat(keys.COVERAGE_DROPS)


@deferred_f_from_coro_f
async def test_a_job_compares_its_whole_dataset_with_the_last_run(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    settings = {"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_PAGE_SIZE": 100}
    with running_replica(documents=300) as rep:
        first = await crawl(rep.base_url, "job=nightly", settings=settings)
        assert first.verdict == "ok", first.reasons
        before = _summary(jobs / "nightly" / "summary.json")
        # A quiet night: next to nothing is fetched, and the dataset is what is measured.
        second = await crawl(rep.base_url, "job=nightly", settings=settings)
    assert second.verdict == "ok", second.reasons
    assert second.stat(keys.ITEM_SCRAPED) < 300
    after = _summary(jobs / "nightly" / "summary.json")
    dataset = read_jsonl(jobs / "nightly" / "archive.jsonl")
    dated = sum(1 for r in dataset if r["date"])
    assert after["coverage"]["documents"] == len(dataset) == 300  # type: ignore[index]
    assert after["coverage"]["fields"]["date"]["count"] == dated  # type: ignore[index]
    assert before["coverage"] == after["coverage"]
    change = after["coverage_change"]
    assert change["documents"] == {"previous": 300, "now": 300, "change": 0}  # type: ignore[index]
    assert change["against"]["run"] == before["run"]  # type: ignore[index]
    assert after["coverage_drops"] == []
