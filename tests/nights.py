"""Simulated nights for scheduled jobs: a job's history moved a day into the past per night."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SHIFT = "strftime('%Y-%m-%dT%H:%M:%SZ', {0}, '-1 day')"


def a_day_passes(jobs: Path, name: str = "nightly") -> None:
    """Move every time a job keeps a day into the past, as if its runs had been a night apart:
    when its runs started and ended, and when its failing documents failed and are due again."""
    with sqlite3.connect(jobs / name / "state.sqlite") as db:
        db.execute(f"UPDATE runs SET started={SHIFT.format('started')}, ended={SHIFT.format('ended')}")
        columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
        if "next_try" in columns:
            db.execute(
                f"UPDATE documents SET next_try={SHIFT.format('next_try')}, "
                f"failed_since={SHIFT.format('failed_since')} WHERE next_try IS NOT NULL"
            )
