"""The progress line (harvester/report/progress.py) and the plan line (harvester/plan.py): every
number of four digits or more has its thousands separators, so two numbers of one line read
alike ("2,580 of ~16,316 requests ... 2,488 documents of 16,153")."""

from __future__ import annotations

import re

import pytest

from harvester.plan import Plan, plan_for
from harvester.report.progress import progress_line

#: A run of digits of 4 or more with no separator: a number written the other way.
BARE = re.compile(r"(?<![\d.,])\d{4,}(?![\d.,])")


def numbers(line: str) -> list[str]:
    """Every number of the line as written (digits with their separators)."""
    return re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", line)


@pytest.mark.parametrize(
    ("requests", "planned", "pages", "expected", "items", "reported"),
    [
        (2_580, 16_316, 26, 162, 2_488, 16_153),
        (12_345, None, 1_234, 1_616, 12_000, 16_153),
        (3, 2, 1, 1, 11, 11),
    ],
)
def test_the_progress_line_writes_every_number_one_way(
    requests: int, planned: int | None, pages: int, expected: int, items: int, reported: int
) -> None:
    line = progress_line(requests=requests, planned=planned, pages=pages, expected=expected,
                         items=items, reported=reported, elapsed=600.0)  # fmt: skip
    assert BARE.findall(line) == []
    for value in (requests, planned, pages, expected, items, reported):
        if value is not None:
            assert f"{value:,}" in numbers(line), (value, line)


def test_the_plan_line_writes_every_number_one_way() -> None:
    for plan in (
        plan_for(16_153, 100, details=True, delay=3.0),
        plan_for(16_153, 10, details=False, delay=0.5),
        Plan(161_530, 1_000, 162, 161_530, 3.0),
    ):
        line = plan.line()
        assert BARE.findall(line) == [], line
        for value in (plan.reported, plan.page_size, plan.pages, plan.documents, plan.requests):
            if value:  # a listing run has no document pages to name
                assert f"{value:,}" in numbers(line), (value, line)
