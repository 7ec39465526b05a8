"""Document dates: from the archive's display forms to ISO 8601 at the precision shown.

The archive shows ``January 3, 1962`` (day), ``September 1956`` (month), ``1958`` (year)
or nothing; its pre-2023 layout showed ``April 05, 1956`` and ``September, 1956``. A part
the archive does not state is never invented: ``1958`` is the year 1958, not 1958-01-01.

>>> normalize_date("January 3, 1962")
NormalizedDate(iso='1962-01-03', precision='day')
>>> normalize_date("September, 1956")
NormalizedDate(iso='1956-09', precision='month')
>>> normalize_date("1958")
NormalizedDate(iso='1958', precision='year')
>>> normalize_date("  ") is None
True
"""

from __future__ import annotations

import re
from calendar import monthrange
from typing import NamedTuple

from harvester.exceptions import HarvesterError

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}

# One pattern for every form the site has shown; named groups say which parts are present.
# "Month D, YYYY" / "Month DD, YYYY" / "Month YYYY" / "Month, YYYY" / "YYYY".
_DATE = re.compile(r"^(?:(?P<month>[A-Za-z]+)\.?(?:\s+(?P<day>\d{1,2}))?,?\s+)?(?P<year>\d{4})$")
_SPACE = re.compile(r"\s+")

# Years outside this window are not document dates of this archive: a typo or a wrong field.
MIN_YEAR = 1000
MAX_YEAR = 2100


class NormalizedDate(NamedTuple):
    iso: str
    precision: str  # "day" | "month" | "year"


class UnreadableDate(HarvesterError, ValueError):
    """The archive showed a date in a form we do not read. Carries the raw text."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        super().__init__(f"unreadable date {raw!r}: {reason}")


def clean_date_text(raw: str | None) -> str | None:
    """Collapse white space (including no-break spaces); ``None`` for nothing.

    >>> clean_date_text("  September\\u00a01956 ")
    'September 1956'
    >>> clean_date_text("") is None
    True
    """
    if raw is None:
        return None
    text = _SPACE.sub(" ", raw.replace("\u00a0", " ")).strip()
    return text or None


def normalize_date(raw: str | None) -> NormalizedDate | None:
    """Return the ISO form and precision of a displayed date, ``None`` when there is none.

    Raises :class:`UnreadableDate` for text that is present but not a date we can read
    (never guesses):

    >>> normalize_date("February 30, 1956")
    Traceback (most recent call last):
    ...
    harvester.dates.UnreadableDate: unreadable date 'February 30, 1956': day 30 is not in February 1956
    """
    text = clean_date_text(raw)
    if text is None:
        return None
    match = _DATE.match(text)
    if match is None:
        raise UnreadableDate(text, "not one of the forms 'Month D, YYYY', 'Month YYYY', 'YYYY'")
    year = int(match["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise UnreadableDate(text, f"year {year} is out of range")
    month_name = match["month"]
    if month_name is None:
        return NormalizedDate(f"{year:04d}", "year")
    month = _MONTHS.get(month_name.lower())
    if month is None:
        raise UnreadableDate(text, f"{month_name!r} is not a month")
    day_text = match["day"]
    if day_text is None:
        return NormalizedDate(f"{year:04d}-{month:02d}", "month")
    day = int(day_text)
    if not 1 <= day <= monthrange(year, month)[1]:
        raise UnreadableDate(text, f"day {day} is not in {month_name.capitalize()} {year}")
    return NormalizedDate(f"{year:04d}-{month:02d}-{day:02d}", "day")
