"""Parquet: the records with typed columns, for analysis tools (``-O x.parquet``).

A Scrapy item exporter (``FEED_EXPORTERS["parquet"]``), so a Parquet feed is staged,
published or kept aside by the publish gate like every other format
(:mod:`harvester.feedstorage`). Columns, in the export's field order:

- ``date`` and ``date_precision`` stay strings (``1956``, ``1956-09``, ``1956-09-03``: a year
  alone is not January 1st), as in JSON Lines;
- ``uploaded_date`` a ``date32``, ``harvested_at`` a ``timestamp[ms, tz=UTC]`` (Parquet has no seconds unit);
- ``position`` an ``int32``; every list field a ``list<string>``; everything else, the ids
  included, a ``string``.

Each record is checked and converted as it is exported (a value of another form fails
there, naming it) and its row kept in a spool file beside the output (or in the temporary
folder). When the feed ends, a child process (:mod:`harvester.parquetwriter`) writes the
file from the spool with pyarrow, a row group at a time (``row_group_size``, 1,000, or fewer
when their text reaches 2,000,000 characters). The crawl itself never imports pyarrow: its
~50 MB (and pandas', which pyarrow imports when it is installed) would stay in the crawl's
memory to its end. pyarrow is the optional ``parquet`` extra.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import shutil
import tempfile
from collections.abc import Mapping
from datetime import date, datetime
from typing import IO, Any

from scrapy.exporters import BaseItemExporter

from harvester.child import run_module
from harvester.items import FIELD_ORDER, LIST_FIELDS

#: Records a row group holds at most: a flat memory in the writer.
ROW_GROUP_SIZE = 1_000
INSTALL_HINT = "Parquet output needs pyarrow: pip install -e '.[parquet]' (or pip install pyarrow)"


def pyarrow_missing() -> str | None:
    """Why Parquet cannot be written here (pyarrow is not installed), or None. Looked up,
    not imported: the crawl never imports pyarrow (the writer is a child process)."""
    try:
        found = importlib.util.find_spec("pyarrow") is not None
    except (ImportError, ValueError) as exc:
        return f"{INSTALL_HINT} ({exc})"
    return None if found else f"{INSTALL_HINT} (No module named 'pyarrow')"


def column_kind(name: str) -> str:
    """The column's type, as :mod:`harvester.parquetwriter` names it."""
    if name in LIST_FIELDS:
        return "list"
    if name == "position":
        return "int32"
    if name == "uploaded_date":
        return "date32"
    if name == "harvested_at":
        return "timestamp"
    return "string"


def arrow_value(name: str, value: Any) -> Any:
    """A record's value as its column holds it; a value of another form fails, naming it.

    >>> arrow_value("uploaded_date", "2013-04-02"), arrow_value("position", None)
    (datetime.date(2013, 4, 2), None)
    >>> arrow_value("harvested_at", "2026-11-30T13:06:08Z")
    datetime.datetime(2026, 11, 30, 13, 6, 8, tzinfo=datetime.timezone.utc)
    >>> arrow_value("uploaded_date", "April 2013")
    Traceback (most recent call last):
    ...
    ValueError: uploaded_date='April 2013' cannot be written to Parquet: expected an ISO date (YYYY-MM-DD)
    """
    if value is None:
        return None
    try:
        if name == "uploaded_date":
            return date.fromisoformat(value)
        if name == "harvested_at":
            return datetime.fromisoformat(value)
        if name == "position":
            return int(value)
    except (TypeError, ValueError) as exc:
        what = {"uploaded_date": "an ISO date (YYYY-MM-DD)", "harvested_at": "a UTC ISO time"}.get(
            name, "a whole number"
        )
        raise ValueError(f"{name}={value!r} cannot be written to Parquet: expected {what}") from exc
    if name in LIST_FIELDS:
        return [str(v) for v in value]
    return value if isinstance(value, str) else str(value)


class ParquetItemExporter(BaseItemExporter):
    """Scrapy's exporter interface: rows checked here, the file written by a child process."""

    def __init__(self, file: Any, *, row_group_size: int = ROW_GROUP_SIZE, **kwargs: Any) -> None:
        super().__init__(dont_fail=False, **kwargs)  # an unknown option is refused by name
        missing = pyarrow_missing()
        if missing:
            raise RuntimeError(missing)
        if row_group_size < 1:
            raise ValueError(f"row_group_size={row_group_size!r}: give a whole number from 1")
        self.file = file
        self.row_group_size = row_group_size
        fields = self.fields_to_export
        self.names = list(fields.values() if isinstance(fields, Mapping) else fields or FIELD_ORDER)
        self.keys = list(fields.keys() if isinstance(fields, Mapping) else self.names)
        self.rows = 0
        self.spool: IO[bytes] | None = None

    def _folder(self) -> str | None:
        """Where the spool goes: beside the output when it is a file (the disk the user chose
        for the dataset, not a small temporary folder), else the temporary folder."""
        name = getattr(self.file, "name", None)
        folder = os.path.dirname(os.path.abspath(name)) if isinstance(name, str) else None
        return folder if folder and os.path.isdir(folder) else None

    def start_exporting(self) -> None:
        self.spool = tempfile.TemporaryFile(dir=self._folder(), prefix=".parquet-rows-")
        header = {
            "fields": self.names,
            "kinds": [column_kind(n) for n in self.names],
            "row_group_size": self.row_group_size,
        }
        pickle.dump(header, self.spool, protocol=pickle.HIGHEST_PROTOCOL)

    def export_item(self, item: Any) -> None:
        from itemadapter import ItemAdapter

        if self.spool is None:
            self.start_exporting()
        assert self.spool is not None
        values = ItemAdapter(item)
        # The whole row first: a value that fails writes nothing.
        row = [arrow_value(name, values.get(key)) for key, name in zip(self.keys, self.names, strict=True)]
        self.spool.write(pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL))
        self.rows += 1

    def finish_exporting(self) -> None:
        if self.spool is None:
            self.start_exporting()
        assert self.spool is not None
        spool, self.spool = self.spool, None
        with spool, tempfile.TemporaryFile(dir=self._folder(), prefix=".parquet-out-") as written:
            spool.seek(0)
            run_module("harvester.parquetwriter", [], stdin=spool, stdout=written, what="writing Parquet")
            written.seek(0)
            shutil.copyfileobj(written, self.file, 1 << 20)  # the feed storage closes the file
