"""Parquet: the records with typed columns, for analysis tools (``-O x.parquet``).

A Scrapy item exporter (``FEED_EXPORTERS["parquet"]``), so a Parquet feed is staged,
published or kept aside by the publish gate like every other format
(:mod:`harvester.feedstorage`). Columns, in the export's field order:

- ``date`` and ``date_precision`` stay strings (``1956``, ``1956-09``, ``1956-09-03``: a year
  alone is not January 1st), as in JSON Lines;
- ``uploaded_date`` a ``date32``, ``harvested_at`` a ``timestamp[ms, tz=UTC]`` (Parquet has no seconds unit);
- ``position`` an ``int32``; every list field a ``list<string>``; everything else, the ids
  included, a ``string``.

Records are buffered and written a row group at a time (``row_group_size``, 1,000, or fewer
when their text reaches :data:`ROW_GROUP_CHARS`), so memory stays flat and small whatever the
run's length. pyarrow is the optional ``parquet`` extra, imported
only when a Parquet feed is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from scrapy.exporters import BaseItemExporter

from harvester.items import FIELD_ORDER, LIST_FIELDS

if TYPE_CHECKING:
    import pyarrow as pa

#: Records a row group holds at most: a flat memory...
ROW_GROUP_SIZE = 1_000
#: ... and the characters of text its records may hold before it is written. Converting and
#: encoding a group costs about 10x its text in RSS (Python strings, their UTF-8 copies,
#: Arrow's buffers, zstd): 1,000 document pages (~8 MB of text) took a whole-replica details
#: crawl's peak RSS up by ~90 MB; groups of ~2 MB of text take ~30 MB, the file 6% larger.
ROW_GROUP_CHARS = 2_000_000
INSTALL_HINT = "Parquet output needs pyarrow: pip install -e '.[parquet]' (or pip install pyarrow)"


def pyarrow_missing() -> str | None:
    """Why Parquet cannot be written here (pyarrow is not installed), or None."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        return f"{INSTALL_HINT} ({exc})"
    return None


def arrow_type(name: str) -> pa.DataType:
    import pyarrow as pa

    if name in LIST_FIELDS:
        return pa.list_(pa.string())
    if name == "position":
        return pa.int32()
    if name == "uploaded_date":
        return pa.date32()
    if name == "harvested_at":
        return pa.timestamp("ms", tz="UTC")
    return pa.string()


def arrow_schema(fields: Iterable[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(name, arrow_type(name)) for name in fields])


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
    """Scrapy's exporter interface over ``pyarrow.parquet.ParquetWriter``."""

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
        names = list(fields.values() if isinstance(fields, Mapping) else fields or FIELD_ORDER)
        self.keys = list(fields.keys() if isinstance(fields, Mapping) else names)
        self.schema = arrow_schema(names)
        self.columns: list[list[Any]] = [[] for _ in names]
        self.chars = 0
        """Characters of the strings buffered (:data:`ROW_GROUP_CHARS`)."""
        self.writer: Any = None
        self.row_groups = 0

    def start_exporting(self) -> None:
        import pyarrow.parquet as pq

        self.writer = pq.ParquetWriter(self.file, self.schema, compression="zstd")

    def export_item(self, item: Any) -> None:
        from itemadapter import ItemAdapter

        values = ItemAdapter(item)
        # The whole row first: a value that fails leaves the columns as they were.
        row = [
            arrow_value(name, values.get(key)) for key, name in zip(self.keys, self.schema.names, strict=True)
        ]
        for column, value in zip(self.columns, row, strict=True):
            column.append(value)
            if isinstance(value, str):
                self.chars += len(value)
        if len(self.columns[0]) >= self.row_group_size or self.chars >= ROW_GROUP_CHARS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if not self.columns or not self.columns[0]:
            return
        table = pa.Table.from_arrays(
            [
                pa.array(column, type=field.type)
                for column, field in zip(self.columns, self.schema, strict=True)
            ],
            schema=self.schema,
        )
        self.writer.write_table(table, row_group_size=self.row_group_size)
        self.row_groups += 1
        for column in self.columns:
            column.clear()
        self.chars = 0

    def finish_exporting(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()  # writes the footer; the feed storage closes the file
