"""What a dataset holds, in one pass over its records and in memory that does not grow
with their size: documents per year and date precision, field coverage, the most frequent
facet values, and the distribution of text length.

Fed one record at a time, during a run (``item_scraped``) or from a JSON Lines file
(:func:`profile_jsonl`), so the whole-archive dataset (230 MB with texts) is never held.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harvester.items import DETAIL_FIELDS, FIELD_ORDER, LISTING_FIELDS

#: Date precisions, finest first (``date_precision``), and the bucket of records without a date.
PRECISIONS = ("day", "month", "year")
UNDATED = "undated"
#: List fields whose most frequent values the report shows (details runs).
FACETS = ("languages", "places", "topics", "authors", "original_archive")
#: About this many bins in the text-length histogram.
TEXT_BINS = 16


def _nice_step(raw: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten at least ``raw`` (at least 1).

    >>> [_nice_step(x) for x in (0.3, 7, 12, 480, 2600)]
    [1, 10, 20, 500, 5000]
    """
    power = 1
    while True:
        for mult in (1, 2, 5):
            if mult * power >= raw:
                return mult * power
        power *= 10


def histogram(lengths: Iterable[int], bins: int = TEXT_BINS) -> list[tuple[int, int, int]]:
    """``(low, high, count)`` over equal bins with round edges; ``low <= length < high``.

    >>> histogram([120, 480, 1290, 1800], bins=4)
    [(0, 500, 2), (500, 1000, 0), (1000, 1500, 1), (1500, 2000, 1)]
    >>> histogram([])
    []
    """
    values = sorted(lengths)
    if not values:
        return []
    step = _nice_step((values[-1] - values[0] + 1) / bins)
    low = values[0] - values[0] % step
    counts = [0] * ((values[-1] - low) // step + 1)
    for value in values:
        counts[(value - low) // step] += 1
    return [(low + i * step, low + (i + 1) * step, count) for i, count in enumerate(counts)]


@dataclass
class DatasetProfile:
    """Aggregates of a dataset's records. Memory: the distinct years and facet values, and
    one 4-byte integer per text (for its median)."""

    records: int = 0
    #: Field names seen as keys of any record (a listing run's records lack the details).
    keys: set[str] = field(default_factory=set)
    present: Counter[str] = field(default_factory=Counter)
    #: (year, precision) -> records.
    dates: Counter[tuple[int, str]] = field(default_factory=Counter)
    undated: int = 0
    facets: dict[str, Counter[str]] = field(default_factory=lambda: {name: Counter() for name in FACETS})
    #: Records that have a ``text`` field but no text in it.
    no_text: int = 0
    text_lengths: array[int] = field(default_factory=lambda: array("I"))

    def add(self, record: Mapping[str, Any]) -> None:
        self.records += 1
        if len(self.keys) < len(record):
            self.keys.update(record)
        present = self.present
        for name, value in record.items():
            if value is not None and value != "" and value != []:
                present[name] += 1
        date = record.get("date")
        if isinstance(date, str) and date[:4].isdigit():
            precision = record.get("date_precision") or ("day", "month", "year")[2 - date.count("-")]
            self.dates[(int(date[:4]), str(precision))] += 1
        else:
            self.undated += 1
        for name in FACETS:
            values = record.get(name)
            if values:
                self.facets[name].update(values)
        if "text" in record:
            text = record["text"]
            if isinstance(text, str) and text:
                self.text_lengths.append(len(text))
            else:
                self.no_text += 1

    def extend(self, records: Iterable[Mapping[str, Any]]) -> DatasetProfile:
        for record in records:
            self.add(record)
        return self

    # --- what the report reads --------------------------------------------------------------

    @property
    def details(self) -> bool:
        """True when the records carry the document pages' fields (a details run)."""
        return any(name in self.keys for name in DETAIL_FIELDS)

    def fields(self) -> list[tuple[str, str]]:
        """``(field, "listing" | "details")`` in the contract's order, those the records have."""
        shown = FIELD_ORDER if self.details else LISTING_FIELDS
        extra = sorted(self.keys - set(FIELD_ORDER))
        return [(name, "listing" if name in LISTING_FIELDS else "details") for name in shown] + [
            (name, "other") for name in extra
        ]

    def coverage(self) -> list[tuple[str, str, int, float]]:
        """``(field, kind, records with it, share)`` for every field shown."""
        n = self.records or 1
        return [(name, kind, self.present[name], self.present[name] / n) for name, kind in self.fields()]

    def years(self) -> list[tuple[int, dict[str, int]]]:
        """Every year from the first to the last dated one, with its records by precision."""
        if not self.dates:
            return []
        found = {year for year, _ in self.dates}
        return [
            (year, {p: self.dates.get((year, p), 0) for p in PRECISIONS})
            for year in range(min(found), max(found) + 1)
        ]

    def top(self, facet: str, n: int = 10) -> list[tuple[str, int]]:
        return self.facets[facet].most_common(n)

    def text_summary(self) -> dict[str, int] | None:
        """Median, shortest and longest text (characters); None without texts."""
        lengths = sorted(self.text_lengths)
        if not lengths:
            return None
        return {
            "texts": len(lengths),
            "median": lengths[len(lengths) // 2],
            "shortest": lengths[0],
            "longest": lengths[-1],
        }


def profile_jsonl(path: Path, profile: DatasetProfile | None = None) -> DatasetProfile:
    """Stream a JSON Lines dataset into a profile, one record at a time."""
    profile = profile or DatasetProfile()
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                profile.add(json.loads(line))
    return profile


#: At most this share of the dated documents, at either end, is drawn apart from the year axis.
APART_SHARE = 0.005


def year_axis(years: list[tuple[int, dict[str, int]]]) -> tuple[int, int] | None:
    """The first and last year on the chart's year axis: every dated year, but for the few
    documents at either end that would stretch it (one document of 2007 in an archive of
    1945-1991 leaves 1992-2006 an empty plain). At each end, the outermost years holding at
    most :data:`APART_SHARE` of the dated documents (at least one document) are left off the
    axis when that shortens it by at least 3 years and a fifth; the chart draws them apart.
    ``None`` without dated years.

    >>> def ys(counts): return [(y, {"year": n}) for y, n in counts.items()]
    >>> year_axis(ys({1945: 50, 1946: 0, 1950: 30, 1991: 20} | {y: 0 for y in range(1992, 2007)} | {2007: 1}))
    (1945, 1991)
    >>> year_axis(ys({1900: 1, 1950: 40, 1960: 40}))
    (1950, 1960)
    >>> year_axis(ys({1950: 1, 1951: 5, 1952: 9})), year_axis([])
    ((1950, 1952), None)
    """
    dated = [(year, sum(counts.values())) for year, counts in years if sum(counts.values())]
    if not dated:
        return None
    budget = max(1, int(sum(n for _, n in dated) * APART_SHARE))
    first, last = dated[0][0], dated[-1][0]
    span = last - first

    def inner(ordered: list[tuple[int, int]]) -> int:
        """The outermost year kept at the end *ordered* starts from."""
        spent, keep = 0, ordered[0][0]
        for i, (_year, n) in enumerate(ordered[:-1]):
            spent += n
            if spent > budget:
                break
            keep = ordered[i + 1][0]
        return keep

    low, high = inner(dated), inner(dated[::-1])
    if low > high:  # both ends reached for the same few documents: keep the axis whole
        return first, last
    low = low if low - first >= max(3, span / 5) else first
    high = high if last - high >= max(3, span / 5) else last
    return low, high
