"""A year of nights at a small scale: the job stays equal to a churning archive through
faults and lies (benchmarks/year.py runs the same simulation longer and larger)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scrapy.utils.defer import deferred_f_from_coro_f

from benchmarks.year import Night, schedule, simulate
from tests.crawling import crawl
from tests.test_jobs import free_port, summary

#: Four weeks (two of them quiet) in the suite; benchmarks/year.py runs a whole year.
NIGHTS = int(os.environ.get("HARVESTER_TEST_NIGHTS", "28"))


async def run_night(base_url: str, jobs: Path) -> dict[str, Any]:
    await crawl(
        base_url, "job=nightly", "details=true",
        settings={"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_PAGE_SIZE": 10, "LOG_LEVEL": "WARNING",
                  "HARVESTER_REPORT": False},
    )  # fmt: skip
    return summary(jobs)


def test_the_schedule_has_quiet_weeks_and_faults_only_on_churning_nights() -> None:
    plan = schedule(56, "/document/x", quiet_every=2)
    quiet = [n for n in plan if n.quiet]
    assert [n.number for n in quiet][:7] == list(range(8, 15))
    assert all(n.faults == "aliases" for n in quiet)
    assert {n.archive for n in quiet[:7]} == {7}  # the archive stands still in a quiet week
    assert any("lie304" in n.faults for n in plan) and any("429" in n.faults for n in plan)
    assert plan[-1] == Night(56, 28, "aliases", True)


@deferred_f_from_coro_f
async def test_a_churning_archive_night_after_night(tmp_path: Path) -> None:
    result = await simulate(
        run_night, tmp_path, nights=NIGHTS, documents=300, page_size=10, quiet_every=2, port=free_port()
    )
    print("\n".join(result.lines()))
    assert result.failed_nights == []
    assert result.weeks_checked == NIGHTS // 14
    assert result.weeks_unequal == []
    assert result.unexplained == []
    assert result.largest_lag <= 7
    assert result.over_quota == []
    assert result.stale_nights > 0  # the broken document was named
