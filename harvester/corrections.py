"""Where moved documents stand: ``position`` and ``listing_url`` of a record, corrected.

When results move during a walk (new uploads at the top), rows read before the move were
exported with their old place; the walk reads those pages again and keeps where each row
stands now (:class:`harvester.walk.Walk`). One rule, for records of every kind: the publish
gate writes a single run's files again from its records with it (any format:
:mod:`harvester.outputs`), and a job's state takes it (:meth:`harvester.jobs.store.JobStore.apply_corrections`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from itemadapter import ItemAdapter

#: ``url`` -> (position, listing_url) where the document stands at the end of the walk.
Corrections = Mapping[str, tuple[int, str]]
T = TypeVar("T")


def correct(record: Any, corrections: Corrections) -> bool:
    """Set a moved record's ``position`` and ``listing_url`` (an item or a dict); True if it moved.

    >>> record = {"url": "https://h/document/a", "position": 3, "listing_url": "https://h/search?page=0"}
    >>> correct(record, {"https://h/document/a": (13, "https://h/search?page=1")}), record["position"]
    (True, 13)
    >>> correct(record, {}), record["listing_url"]
    (False, 'https://h/search?page=1')
    """
    values = ItemAdapter(record)
    moved = corrections.get(str(values.get("url")))
    if moved is None:
        return False
    values["position"], values["listing_url"] = moved
    return True


def corrected(records: Iterable[T], corrections: Corrections) -> Iterator[T]:
    """The records, each moved one corrected on the way."""
    for record in records:
        correct(record, corrections)
        yield record
