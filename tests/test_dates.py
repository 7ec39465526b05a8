"""Date rules: every form ARCHIVE.md lists, from the real data first."""

from __future__ import annotations

import re

import pytest

from harvester.dates import NormalizedDate, UnreadableDate, clean_date_text, normalize_date
from tests.conftest import shared_data

# Real date strings as the archive shows them (seed, real records, fixture pages, ARCHIVE.md),
# with the ISO form written by hand.
REAL_CASES = [
    ("January 3, 1962", "1962-01-03", "day"),  # seed, position 1
    ("February 21, 1956", "1956-02-21", "day"),  # seed
    ("June 10, 1971", "1971-06-10", "day"),  # seed
    ("November 13, 1967", "1967-11-13", "day"),  # fixture: 50th anniversary
    ("September 1956", "1956-09", "month"),  # fixture: Mao's conversation
    ("June 2007", "2007-06", "month"),  # fixture: Chekist anthology
    ("November 1967", "1967-11", "month"),  # real record (Nakajima)
    ("1958", "1958", "year"),  # fixture: Shumays
    ("1945", "1945", "year"),  # real record
    ("April 05, 1956", "1956-04-05", "day"),  # old layout (ARCHIVE.md)
    ("April 02, 1946", "1946-04-02", "day"),  # real record, old listing
    ("January 03, 1947", "1947-01-03", "day"),  # real record, old listing
    ("September, 1956", "1956-09", "month"),  # old layout of the Mao document
    ("February, 1942", "1942-02", "month"),  # real record, staging listing
]


@pytest.mark.parametrize(("raw", "iso", "precision"), REAL_CASES)
def test_real_forms(raw: str, iso: str, precision: str) -> None:
    assert normalize_date(raw) == NormalizedDate(iso, precision)


@pytest.mark.parametrize("raw", [None, "", "   ", "\u00a0"])
def test_no_date_is_none_not_an_error(raw: str | None) -> None:
    assert normalize_date(raw) is None


def test_never_invents_a_day_or_month() -> None:
    # A year alone stays a year: no January 1st, no today's month.
    assert normalize_date("1958") == NormalizedDate("1958", "year")
    assert normalize_date("September 1956") == NormalizedDate("1956-09", "month")


@pytest.mark.parametrize(
    "raw",
    [
        "February 30, 1956",  # no such day
        "February 29, 1957",  # not a leap year
        "Smarch 3, 1956",  # no such month
        "undated [1955]",  # title-style forms are not document dates
        "12 September 1996",
        "24.III.50",
        "c. 1956",
        "Spring 1956",
        "1955-1956",
        "0999",
    ],
)
def test_unreadable_dates_raise_with_the_text(raw: str) -> None:
    with pytest.raises(UnreadableDate) as caught:
        normalize_date(raw)
    assert caught.value.raw == raw


def test_leap_day_is_read() -> None:
    assert normalize_date("February 29, 1956") == NormalizedDate("1956-02-29", "day")


def test_white_space_is_collapsed_before_reading() -> None:
    assert clean_date_text("  November\n  13,\u00a01967 ") == "November 13, 1967"
    assert normalize_date("  November\n  13,\u00a01967 ") == NormalizedDate("1967-11-13", "day")


def test_every_real_date_string_is_read_at_its_own_precision() -> None:
    seed = shared_data("seed-search.json")
    records = shared_data("real-records.json")
    raws = [r["date_raw"] for r in seed["results"]] + [r["date_raw"] for r in records]
    assert len(raws) > 60
    for raw in raws:
        parsed = normalize_date(raw)
        if not raw.strip():
            assert parsed is None
            continue
        assert parsed is not None, raw
        # Independent of the parser: the shape of the shown text says the precision.
        if re.fullmatch(r"\d{4}", raw.strip()):
            expected = "year"
        elif re.search(r"\d{1,2},", raw):
            expected = "day"
        else:
            expected = "month"
        assert parsed.precision == expected, raw
        numbers = re.findall(r"\d+", raw)
        assert parsed.iso.startswith(numbers[-1]), raw
