"""The ``dates`` suite: ``harvester.dates.normalize_date`` throughput and correctness on
date strings in the site's forms, against ``datetime.strptime``."""

from __future__ import annotations

import calendar
import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from benchmarks.common import fmt, median, table, verdict

TARGET_DATES_PER_S = 100_000  # issue #6


# --- in-process measurements: dates ----------------------------------------------------------

DATE_FORMS = (
    # (form, share): the archive's forms, then the old layout's.
    ("day", 0.50),  # January 3, 1962
    ("month", 0.15),  # September 1956
    ("year", 0.10),  # 1958
    ("absent", 0.10),  # ""
    ("old day", 0.10),  # April 05, 1956
    ("old month", 0.05),  # September, 1956
)


def date_strings(count: int, seed: int = 1962) -> list[tuple[str, str | None, str | None, str]]:
    """``(text, expected iso, expected precision, form)`` in the site's forms, deterministic."""
    rng = random.Random(seed)
    forms = [form for form, _ in DATE_FORMS]
    weights = [share for _, share in DATE_FORMS]
    out: list[tuple[str, str | None, str | None, str]] = []
    for form in rng.choices(forms, weights, k=count):
        year, month = rng.randint(1917, 1991), rng.randint(1, 12)
        day = rng.randint(1, calendar.monthrange(year, month)[1])
        name = calendar.month_name[month]
        if form == "day":
            out.append((f"{name} {day}, {year}", f"{year}-{month:02d}-{day:02d}", "day", form))
        elif form == "old day":
            out.append((f"{name} {day:02d}, {year}", f"{year}-{month:02d}-{day:02d}", "day", form))
        elif form == "month":
            out.append((f"{name} {year}", f"{year}-{month:02d}", "month", form))
        elif form == "old month":
            out.append((f"{name}, {year}", f"{year}-{month:02d}", "month", form))
        elif form == "year":
            out.append((str(year), str(year), "year", form))
        else:
            out.append(("", None, None, form))
    return out


@dataclass
class DatesResult:
    count: int
    day_count: int
    per_s: dict[str, list[float]]
    wrong: int
    """Results whose ISO text or precision differ from what the string states."""
    invented: int
    """Results more precise than the string (a year that became a month or a day)."""


def bench_dates(count: int, repeat: int) -> DatesResult:
    from harvester.dates import normalize_date

    data = date_strings(count)
    texts = [d[0] for d in data]
    day_texts = [d[0] for d in data if d[3] in ("day", "old day")]
    wrong = invented = 0
    rank = {"year": 1, "month": 2, "day": 3}
    for text, iso, precision, _ in data:
        got = normalize_date(text)
        if (got.iso if got else None, got.precision if got else None) != (iso, precision):
            wrong += 1
        if got is not None and (
            precision is None
            or rank[got.precision] > rank[precision]
            or got.iso.count("-") > rank[precision] - 1
        ):
            invented += 1

    def run_normalize(strings: list[str]) -> None:
        fn = normalize_date
        for s in strings:
            fn(s)

    def run_strptime(strings: list[str]) -> None:
        parse = datetime.strptime
        for s in strings:
            parse(s, "%B %d, %Y")

    runs: dict[str, tuple[Callable[[list[str]], None], list[str]]] = {
        "normalize_date, all forms": (run_normalize, texts),
        "normalize_date, day forms only": (run_normalize, day_texts),
        "datetime.strptime('%B %d, %Y'), day forms": (run_strptime, day_texts),
    }
    per_s: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else names[::-1]:
            fn, strings = runs[name]
            gc.collect()
            started = time.process_time()
            fn(strings)
            per_s[name].append(len(strings) / max(time.process_time() - started, 1e-9))
    return DatesResult(len(texts), len(day_texts), per_s, wrong, invented)


def dates_report(dates: DatesResult, repeat: int) -> str:
    rows = [[name, fmt(median(v), 0)] for name, v in dates.per_s.items()]
    best = median(dates.per_s["normalize_date, all forms"])
    return (
        f"Date normalisation, in process: {dates.count:,} strings in the site's forms "
        f"({', '.join(f'{f} {int(100 * s)}%' for f, s in DATE_FORMS)}; {dates.day_count:,} with a day), "
        f"dates per CPU second, medians of {repeat}\n"
        + table(["how", "dates/s"], rows)
        + f"\nWrong results: {dates.wrong}; invented parts (a year or month given more precision): "
        f"{dates.invented}\nTarget >= {TARGET_DATES_PER_S:,} dates/s: "
        + verdict(best >= TARGET_DATES_PER_S, f"{best:,.0f}/s")
    )
