"""The Parquet writer: a child process of the crawl (``python -m harvester.parquetwriter``).

:class:`harvester.parquet.ParquetItemExporter` checks and converts each record in the crawl
and keeps the rows in a spool file; at the end of the feed it runs this module, which reads
the rows from stdin and writes the Parquet file to stdout with pyarrow. pyarrow weighs
~50 MB of RSS once imported (and imports pandas, another ~50 MB, when pandas is installed):
in the crawl process that memory would stay to the end and add to its peak (issue 18: a
Parquet feed within 20 MB of the run without it). Here it lives as long as the writing.

Stdin: one pickled ``{"fields": [...], "kinds": [...], "row_group_size": N}``, then one
pickled row (a list of values in field order) per record. Kinds: ``string``, ``list``,
``int32``, ``date32``, ``timestamp``. This module imports no other harvester module and
nothing of Scrapy: only pyarrow.

Rows are written a row group at a time (``row_group_size`` records, or fewer once their
strings reach :data:`ROW_GROUP_CHARS` characters), so the writer's memory stays flat.
"""

from __future__ import annotations

import importlib.abc
import pickle
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

#: Characters of text a row group's records may hold before it is written. Converting and
#: encoding a group costs about 10x its text in RSS (Python strings, their UTF-8 copies,
#: Arrow's buffers, zstd); groups of ~2 MB of text take ~30 MB, the file 6% larger than
#: groups of 1,000 document pages.
ROW_GROUP_CHARS = 2_000_000


def arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "list": pa.list_(pa.string()),
        "int32": pa.int32(),
        "date32": pa.date32(),
        "timestamp": pa.timestamp("ms", tz="UTC"),
    }
    if kind not in types:
        raise ValueError(f"unknown column kind {kind!r}: one of {', '.join(types)}")
    return types[kind]


def write(rows: IO[bytes], out: IO[bytes]) -> int:
    """Read the header and the rows from ``rows``; write the Parquet file to ``out``.
    Return the number of row groups written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    header = pickle.load(rows)
    fields: list[str] = header["fields"]
    size: int = header["row_group_size"]
    schema = pa.schema(
        [pa.field(name, arrow_type(kind)) for name, kind in zip(fields, header["kinds"], strict=True)]
    )
    columns: list[list[Any]] = [[] for _ in fields]
    chars = 0
    groups = 0

    def flush() -> None:
        nonlocal chars, groups
        if not columns[0]:
            return
        arrays = [pa.array(column, type=f.type) for column, f in zip(columns, schema, strict=True)]
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=size)
        groups += 1
        for column in columns:
            column.clear()
        chars = 0

    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        while True:
            try:
                row = pickle.load(rows)
            except EOFError:
                break
            for column, value in zip(columns, row, strict=True):
                column.append(value)
                if isinstance(value, str):
                    chars += len(value)
            if len(columns[0]) >= size or chars >= ROW_GROUP_CHARS:
                flush()
        flush()
    return groups


class _NoPandas(importlib.abc.MetaPathFinder):
    """pyarrow imports pandas on its first array when pandas is installed (~50 MB of RSS);
    nothing here needs it, so in this process it is not found."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (not used by the Parquet writer)", name=name)


def main() -> int:
    sys.meta_path.insert(0, _NoPandas())
    groups = write(sys.stdin.buffer, sys.stdout.buffer)
    print(f"row groups: {groups}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
