"""A failed or interrupted run changes no published file; outputs that are not regular files.

Each case first shows the damage with the gate off (Scrapy's own file storage writes where
consumers read), then that the gate keeps the last good files byte for byte, with their
mode, and keeps the failed run's records aside.
"""

from __future__ import annotations

import asyncio
import csv
import errno
import json
import os
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from harvester import config, streams
from harvester.exceptions import ArgumentError
from harvester.items import FIELD_ORDER, LISTING_FIELDS
from harvester.publish import aside_path
from replica.process import running_replica
from tests.conftest import read_jsonl
from tests.crawling import crawl

if TYPE_CHECKING:
    from typing_extensions import Buffer

PLAIN_STORAGE = {
    "": "scrapy.extensions.feedexport.FileFeedStorage",
    "file": "scrapy.extensions.feedexport.FileFeedStorage",
}
FAILURES = [
    ("500@1.0", {}),
    ("500@0.3", {"RETRY_TIMES": 0}),
    ("challenge@0.3", {"HARVESTER_BLOCK_BACKOFF": 0.01, "HARVESTER_BLOCK_RETRIES": 0}),
    ("layout:search", {}),
]


async def good_files(base_url: str, folder: Path) -> dict[Path, bytes]:
    outs = [folder / "out.jsonl", folder / "out.csv"]
    result = await crawl(base_url, out=outs)
    assert result.verdict == "ok", result.reasons
    for path in outs:
        path.chmod(0o640)
    return {path: path.read_bytes() for path in outs}


@pytest.mark.parametrize(("faults", "settings"), FAILURES, ids=[f for f, _ in FAILURES])
@deferred_f_from_coro_f
async def test_a_failed_run_changes_no_published_file(
    faults: str, settings: dict[str, object], tmp_path: Path
) -> None:
    with running_replica(documents=60) as rep:
        before = await good_files(rep.base_url, tmp_path)
    with running_replica(documents=60, faults=faults) as rep:
        # The gate off: the failed run's few records replace the good files.
        plain_dir = tmp_path / "plain"
        plain_dir.mkdir()
        plain = plain_dir / "out.jsonl"
        plain.write_bytes(before[tmp_path / "out.jsonl"])
        off = await crawl(rep.base_url, out=plain, settings={**settings, "FEED_STORAGES": PLAIN_STORAGE})
        assert off.verdict == "failed"
        assert len(read_jsonl(plain)) < 60
        # The gate on: byte for byte, mode kept, the run's records (if it had any) aside.
        on = await crawl(rep.base_url, out=list(before), settings=settings)
    assert on.verdict == "failed"
    harvested = on.stat("item_scraped_count") > 0
    for path, content in before.items():
        assert path.read_bytes() == content, path
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        assert aside_path(path).exists() == harvested
    assert on.stat("harvester/output/kept_aside") == [str(aside_path(p)) for p in before if harvested]
    assert not list(tmp_path.glob(".*.partial"))


@deferred_f_from_coro_f
async def test_a_site_that_is_down_changes_no_published_file(tmp_path: Path) -> None:
    with running_replica(documents=60) as rep:
        before = await good_files(rep.base_url, tmp_path)
    down = await crawl("http://127.0.0.1:9", out=list(before), settings={"RETRY_TIMES": 0})
    assert down.verdict == "failed"
    for path, content in before.items():
        assert path.read_bytes() == content


@deferred_f_from_coro_f
async def test_append_only_on_an_ok_verdict_and_one_csv_header(tmp_path: Path) -> None:
    outs = [tmp_path / "out.jsonl", tmp_path / "out.csv"]
    with running_replica(documents=30) as rep:
        first = await crawl(rep.base_url, out=outs, append=True)
        second = await crawl(rep.base_url, out=outs, append=True)
    assert first.verdict == second.verdict == "ok"
    assert len(read_jsonl(outs[0])) == 60
    with outs[1].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows.count(rows[0]) == 1 and len(rows) == 61
    before = {p: p.read_bytes() for p in outs}
    with running_replica(documents=30, faults="500@0.5") as rep:
        failed = await crawl(rep.base_url, out=outs, append=True, settings={"RETRY_TIMES": 0})
    assert failed.verdict == "failed"
    assert {p: p.read_bytes() for p in outs} == before


@deferred_f_from_coro_f
async def test_partial_files_of_a_killed_run_are_removed_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    stale = tmp_path / ".out.jsonl.abc123.partial"
    stale.write_text('{"half": ')
    other = tmp_path / ".other.jsonl.abc123.partial"
    other.write_text("not ours")
    with running_replica(documents=20) as rep:
        result = await crawl(rep.base_url, out=out)
    assert result.verdict == "ok"
    assert not stale.exists() and other.exists()


@deferred_f_from_coro_f
async def test_a_symlink_is_written_through_to_its_target(tmp_path: Path) -> None:
    target_dir = tmp_path / "data"
    target_dir.mkdir()
    target = target_dir / "real.jsonl"
    target.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with running_replica(documents=20) as rep:
        result = await crawl(rep.base_url, out=link)
    assert result.verdict == "ok"
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(read_jsonl(target)) == 20


@deferred_f_from_coro_f
async def test_a_fifo_is_streamed_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with fifo.open("rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read)
    reader.start()
    with running_replica(documents=20) as rep:
        result = await crawl(rep.base_url, out=fifo, settings={"HARVESTER_SUMMARY_FILE": ""})
    reader.join(timeout=30)
    assert result.verdict == "ok"
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert len(received[0].splitlines()) == 20


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to stage a full disk")
@deferred_f_from_coro_f
async def test_a_full_disk_fails_the_run(tmp_path: Path) -> None:
    with running_replica(documents=20) as rep:
        result = await crawl(
            rep.base_url, out=Path("/dev/full"), settings={"HARVESTER_SUMMARY_FILE": str(tmp_path / "s.json")}
        )
    assert result.verdict == "failed"
    assert "an output could not be written in full (see the errors above)" in result.reasons
    assert result.stat("harvester/output/errors") == 1
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def fill_disk_after(limit: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Writes to a feed's ``.partial`` file fail with ENOSPC once ``limit`` bytes are in it."""
    written: dict[int, int] = {}
    failed: list[str] = []
    real_write = streams._os_write

    def write(fd: int, data: Buffer) -> int:
        target = os.readlink(f"/proc/self/fd/{fd}")
        size = len(memoryview(data))
        if target.endswith(".partial") and written.get(fd, 0) + size > limit:
            failed.append(target)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written[fd] = written.get(fd, 0) + size
        return real_write(fd, data)

    monkeypatch.setattr(streams, "_os_write", write)
    return failed


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs /proc to tell the feed's files apart")
@deferred_f_from_coro_f
async def test_a_full_disk_leaves_no_partial_and_says_the_records_are_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    with running_replica(documents=300) as rep:
        good = await crawl(rep.base_url, out=out, settings={"HARVESTER_SUMMARY_FILE": ""})
        assert good.verdict == "ok", good.reasons
        before = out.read_bytes()
        files_before = sorted(p.name for p in tmp_path.iterdir())
        failed = fill_disk_after(64 * 1024, monkeypatch)
        full = await crawl(rep.base_url, out=out, settings={"HARVESTER_PAGE_SIZE": 100})
    assert failed, "the full disk was not staged"
    assert full.verdict == "failed"
    assert "an output could not be written in full (see the errors above)" in full.reasons
    assert full.stat("harvester/output/errors") == 1
    assert out.read_bytes() == before
    # Nothing left on the full disk, and nothing claimed to be kept.
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before
    assert full.stat("harvester/output/kept_aside") == []
    assert full.stat("harvester/output/lost") == [f"{out} (No space left on device)"]


@deferred_f_from_coro_f
async def test_scrapys_uri_parameters_name_the_output(tmp_path: Path) -> None:
    with running_replica(documents=20) as rep:
        result = await crawl(rep.base_url, out=tmp_path / "out-%(time)s.jsonl")
    assert result.verdict == "ok", result.reasons
    written = sorted(p.name for p in tmp_path.iterdir())
    stem = written[0].split(".")[0]
    assert stem.startswith("out-20") and "%(" not in stem
    assert written == [f"{stem}.jsonl", f"{stem}.report.html", f"{stem}.summary.json"]


@deferred_f_from_coro_f
async def test_summaries_and_reports_are_named_after_the_whole_file_name(tmp_path: Path) -> None:
    days = ("2026-12-01", "2026-12-02")
    with running_replica(documents=20) as rep:
        for day in days:
            result = await crawl(rep.base_url, out=tmp_path / f"wilson.{day}.jsonl")
            assert result.verdict == "ok", result.reasons
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        f"wilson.{day}{suffix}" for day in days for suffix in (".jsonl", ".report.html", ".summary.json")
    )
    for day in days:
        summary = json.loads((tmp_path / f"wilson.{day}.summary.json").read_text(encoding="utf-8"))
        assert summary["files"] == {"jsonl": str(tmp_path / f"wilson.{day}.jsonl")}


@deferred_f_from_coro_f
async def test_a_run_that_writes_no_file_writes_a_summary_only_where_told(tmp_path: Path) -> None:
    with running_replica(documents=20) as rep:
        quiet = await crawl(rep.base_url, out=Path("/dev/null"))
        told = await crawl(
            rep.base_url,
            out=Path("/dev/null"),
            settings={"HARVESTER_SUMMARY_FILE": str(tmp_path / "null.summary.json")},
        )
    assert quiet.verdict == told.verdict == "ok"
    # Not output/archive.summary.json beside another dataset: nowhere.
    assert quiet.stat("harvester/output/summary", None) is None
    assert quiet.stat("harvester/output/report", None) is None
    assert told.stat("harvester/output/summary") == str(tmp_path / "null.summary.json")
    assert told.stat("harvester/output/report") == str(tmp_path / "null.report.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null.report.html", "null.summary.json"]


@deferred_f_from_coro_f
async def test_appending_csv_rows_of_other_columns_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.csv"
    with running_replica(documents=20) as rep:
        listing = await crawl(rep.base_url, out=out, append=True)
        assert listing.verdict == "ok"
        before = out.read_bytes()
        # The check off: a details run appends rows of 31 columns under the 11 of the header.
        monkeypatch.setattr(config, "_check_csv_columns", lambda path, columns: None)
        await crawl(rep.base_url, "details=true", out=out, append=True)
        with out.open(encoding="utf-8", newline="") as handle:
            widths = {len(row) for row in csv.reader(handle)}
        assert len(widths) == 2
        monkeypatch.undo()
        out.write_bytes(before)
        with pytest.raises(ArgumentError) as refused:
            await crawl(rep.base_url, "details=true", out=out, append=True)
        same = await crawl(rep.base_url, out=out, append=True)
    listing, details = len(LISTING_FIELDS), len(FIELD_ORDER) - 1  # CSV leaves out `text`
    assert (
        f"has {listing} columns (listing fields), and this run would append rows of {details} (details fields)"
        in str(refused.value)
    )
    assert "write another file (-O)" in str(refused.value)
    assert same.verdict == "ok"
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows.count(rows[0]) == 1 and {len(row) for row in rows} == {len(rows[0])} and len(rows) == 41


@deferred_f_from_coro_f
async def test_appending_to_json_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.json"
    with running_replica(documents=20) as rep:
        # The check off: two appends make two JSON arrays in one file.
        monkeypatch.setattr(config, "NOT_APPENDABLE", ())
        for _ in range(2):
            assert (await crawl(rep.base_url, out=out, append=True)).verdict == "ok"
        with pytest.raises(json.JSONDecodeError):
            json.loads(out.read_text(encoding="utf-8"))
        monkeypatch.undo()
        out.unlink()
        with pytest.raises(ArgumentError, match=r"use -O to replace the file, or JSON Lines \(\.jsonl\)"):
            await crawl(rep.base_url, out=out, append=True)
        replaced = await crawl(rep.base_url, out=out)
    assert replaced.verdict == "ok" and not out.with_name(".out.json.partial").exists()
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 20


@deferred_f_from_coro_f
async def test_asides_never_replace_one_another_and_leave_with_the_next_ok_run(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with running_replica(documents=60, faults="500@/search?page=3") as rep:
        first = await crawl(rep.base_url, out=out, settings={"RETRY_TIMES": 0})
        second = await crawl(rep.base_url, out=out, settings={"RETRY_TIMES": 0})
    with running_replica(documents=60, faults="500@/search") as rep:
        empty = await crawl(rep.base_url, out=out, settings={"RETRY_TIMES": 0})
    assert first.verdict == second.verdict == empty.verdict == "failed"
    asides = [tmp_path / "out.failed.jsonl", tmp_path / "out.failed-2.jsonl"]
    assert first.stat("harvester/output/kept_aside") == [str(asides[0])]
    assert second.stat("harvester/output/kept_aside") == [str(asides[1])]
    assert empty.stat("harvester/output/kept_aside") == []  # nothing harvested, nothing kept
    assert [len(read_jsonl(p)) for p in asides] == [30, 30]
    with running_replica(documents=60) as rep:
        ok = await crawl(rep.base_url, out=out)
    assert ok.verdict == "ok"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out.")) == [
        "out.jsonl",
        "out.report.html",
        "out.summary.json",
    ]
    assert len(read_jsonl(out)) == 60


@deferred_f_from_coro_f
async def test_a_second_run_to_the_same_output_is_refused_while_the_first_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    slow = {"HARVESTER_LOCAL_FAST": False, "DOWNLOAD_DELAY": 0.02, "AUTOTHROTTLE_ENABLED": False}

    async def overlapping(rep_url: str) -> tuple[Any, Any]:
        first = asyncio.ensure_future(crawl(rep_url, "details=true", out=out, settings=slow))
        partial = None
        while partial is None:  # the first run is writing
            await asyncio.sleep(0.05)
            partial = next(iter(tmp_path.glob(".out.jsonl.*.partial")), None)
        try:
            second: Any = await crawl(rep_url, out=out)
        except ArgumentError as exc:
            second = exc
        return await first, second

    with running_replica(documents=120) as rep:
        # The lock off: the second run takes the first one's .partial for a killed run's.
        monkeypatch.setattr(config, "lock_output", lambda final, run: None)
        first, second = await overlapping(rep.base_url)
        assert first.verdict == "failed" and second.verdict == "ok"
        assert "record_id" not in read_jsonl(out)[0] and not list(tmp_path.glob("out.failed*"))
        monkeypatch.undo()
        out.unlink()
        first, second = await overlapping(rep.base_url)
    assert isinstance(second, ArgumentError)
    assert f"another run (pid {os.getpid()}) is writing {out}" in str(second)
    assert first.verdict == "ok", first.reasons
    assert len(read_jsonl(out)) == 120 and all(r["record_id"] for r in read_jsonl(out))
