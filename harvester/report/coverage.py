"""Field coverage of a dataset, and how it changed since the previous run: pure functions.

A selector that silently breaks does not fail a page: its field just goes empty. Coverage
(the share of records that have each field) shows it, and comparing it with the previous
run's shows it at once: a field whose share drops by more than ``HARVESTER_COVERAGE_DROP``
(10 points) is a warning, and fails the run with ``HARVESTER_COVERAGE_DROP_FAILS=True``.

The previous run's coverage is read from its summary (``summary.json`` of a job, the
summary beside a single run's output) before this run replaces it: its
``published_coverage``, the coverage of the dataset that run left published (its own when
it was ok, else the one it compared against), so a failed run never becomes the baseline
that hides a drop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def coverage_of(present: Mapping[str, int], documents: int, fields: Iterable[str]) -> dict[str, Any]:
    """Records that have each field, as counts and shares of ``documents``.

    >>> coverage_of({"title": 3, "date": 1}, 4, ["title", "date", "text"])["fields"]["date"]
    {'count': 1, 'share': 0.25}
    >>> coverage_of({}, 0, ["title"])["fields"]["title"]
    {'count': 0, 'share': 0.0}
    """
    return {
        "documents": documents,
        "fields": {
            name: {
                "count": present.get(name, 0),
                "share": round(present.get(name, 0) / documents, 6) if documents else 0.0,
            }
            for name in fields
        },
    }


def has_value(value: Any) -> bool:
    """What coverage counts: a field that is not null, not empty text, not an empty list.

    >>> [has_value(v) for v in (None, "", [], "x", ["a"], 0)]
    [False, False, False, True, True, True]
    """
    return value not in (None, "", [])


def count_present(records: Iterable[Mapping[str, Any]], fields: Iterable[str]) -> tuple[dict[str, int], int]:
    """Count, over ``records``, those that have each field; and the records. Streams."""
    names = list(fields)
    present = dict.fromkeys(names, 0)
    documents = 0
    for record in records:
        documents += 1
        for name in names:
            if has_value(record.get(name)):
                present[name] += 1
    return present, documents


def compare(
    previous: Mapping[str, Any] | None, now: Mapping[str, Any], threshold: float
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The change from ``previous`` coverage to ``now``, and the fields that dropped by more
    than ``threshold`` (a share: 0.10 is 10 points). Fields only one side has are not compared
    (a listing run after a details run compares the listing fields).

    >>> before = {"documents": 100, "fields": {"date": {"count": 97, "share": 0.97},
    ...                                        "title": {"count": 100, "share": 1.0}}}
    >>> after = {"documents": 100, "fields": {"date": {"count": 48, "share": 0.48},
    ...                                       "title": {"count": 95, "share": 0.95}}}
    >>> change, drops = compare(before, after, 0.10)
    >>> change["documents"], change["fields"]["title"]
    ({'previous': 100, 'now': 100, 'change': 0}, {'previous': 1.0, 'now': 0.95, 'change': -0.05})
    >>> drops
    [{'field': 'date', 'previous': 0.97, 'now': 0.48, 'change': -0.49}]
    >>> compare(None, after, 0.10)
    (None, [])
    """
    if not previous or not isinstance(previous.get("fields"), dict):
        return None, []
    fields: dict[str, Any] = {}
    drops: list[dict[str, Any]] = []
    for name, entry in now["fields"].items():
        before = previous["fields"].get(name)
        if not isinstance(before, dict) or not isinstance(before.get("share"), int | float):
            continue
        step = {
            "previous": before["share"],
            "now": entry["share"],
            "change": round(entry["share"] - before["share"], 6),
        }
        fields[name] = step
        # Rounded so that a drop of exactly the threshold (0.97 -> 0.87) is not one.
        if round(before["share"] - entry["share"], 6) > threshold:
            drops.append({"field": name, **step})
    documents = previous.get("documents")
    change = {
        "documents": {
            "previous": documents,
            "now": now["documents"],
            "change": now["documents"] - documents if isinstance(documents, int) else None,
        },
        "fields": fields,
    }
    return change, drops


def describe(drop: Mapping[str, Any]) -> str:
    """One drop for a log line or a verdict reason.

    >>> describe({"field": "date", "previous": 0.97, "now": 0.48, "change": -0.49})
    'date 97.0% -> 48.0% (-49.0 points)'
    """
    return (
        f"{drop['field']} {100 * drop['previous']:.1f}% -> {100 * drop['now']:.1f}% "
        f"({100 * drop['change']:+.1f} points)"
    )


def previous_summary(path: Path | None) -> dict[str, Any] | None:
    """The summary a previous run left at ``path``, or None (none, or unreadable: said once)."""
    if path is None or not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        logger.warning(
            "Could not read the previous run summary %s (%s): coverage is not compared this run; "
            "remove or repair the file",
            path, exc,
        )  # fmt: skip
        return None
    return summary if isinstance(summary, dict) else None


def baseline(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The coverage a previous summary left published (see the module's docstring)."""
    if not summary:
        return None
    published = summary.get("published_coverage")
    return published if isinstance(published, dict) else None
