"""The README's analysis recipes (Output contract), run as they are written on a details
crawl's JSON Lines and Parquet: each gives the file's records, with precision kept."""

from __future__ import annotations

import math
import re
import warnings
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import polars as pl
import pytest

from tests.conftest import ROOT, DetailsExport, read_jsonl

RECIPE = re.compile(r"```python\n# recipe: (\w+)\n(.*?)```", re.S)


def recipes() -> dict[str, str]:
    return dict(RECIPE.findall((ROOT / "README.md").read_text(encoding="utf-8")))


def run(name: str, export: DetailsExport) -> dict[str, Any]:
    code = recipes()[name]
    assert "output/archive.jsonl" in code or "output/archive.parquet" in code
    code = code.replace("output/archive.jsonl", str(export.jsonl)).replace(
        "output/archive.parquet", str(export.parquet)
    )
    namespace: dict[str, Any] = {}
    exec(compile(code, f"README recipe {name}", "exec"), namespace)
    return namespace


def plain(value: Any) -> Any:
    """A value as JSON Lines has it: NA/NaN as None, arrays as lists, dates as ISO text."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def records_of(frame: Any) -> list[dict[str, Any]]:
    if isinstance(frame, pd.DataFrame):
        rows = frame.to_dict("records")
    elif isinstance(frame, pl.DataFrame):
        rows = frame.to_dicts()
    else:  # a DuckDB relation
        rows = [dict(zip(frame.columns, row, strict=True)) for row in frame.fetchall()]
    return [{k: plain(v) for k, v in row.items()} for row in rows]


def test_the_readme_has_every_recipe() -> None:
    assert set(recipes()) == {"pandas", "polars", "duckdb", "parquet"}


@pytest.mark.parametrize("name", ["pandas", "polars", "duckdb"])
def test_a_json_lines_recipe_gives_the_records_with_precision_kept(
    name: str, details_300: DetailsExport
) -> None:
    expected = read_jsonl(details_300.jsonl)
    assert {r["date_precision"] for r in expected} >= {"year", "month"}  # "1958" must stay "1958"
    assert all(r["query"] is None for r in expected)  # a column null in every record
    frame = run(name, details_300)["df"]
    assert records_of(frame) == expected
    if name == "pandas":
        types = {c: str(t) for c, t in frame.dtypes.items()}
        assert types["date"] == types["record_id"] == types["query"] == "string"
        assert types["position"] == "Int32"
    elif name == "polars":
        assert frame.schema["date"] == frame.schema["query"] == frame.schema["record_id"] == pl.String
        assert frame.schema["position"] == pl.Int32
    else:
        types = dict(zip(frame.columns, (str(t) for t in frame.types), strict=True))
        assert types["date"] == types["query"] == types["record_id"] == "VARCHAR"
        assert types["position"] == "INTEGER" and types["places"] == "VARCHAR[]"


def test_the_parquet_recipes_give_the_records(details_300: DetailsExport) -> None:
    expected = read_jsonl(details_300.jsonl)
    frames = run("parquet", details_300)["frames"]
    assert set(frames) == {"pandas", "polars", "duckdb"}
    for name, frame in frames.items():
        assert records_of(frame) == expected, name


def test_guessing_loses_precision(details_300: DetailsExport) -> None:
    """Why the recipes give types: left to guess, pandas turns a year into January 1st."""
    guessed = pd.read_json(details_300.jsonl, lines=True)
    year = next(r for r in read_jsonl(details_300.jsonl) if r["date_precision"] == "year")
    row = guessed[guessed["id"] == year["id"]].iloc[0]
    assert isinstance(row["date"], pd.Timestamp) and (row["date"].month, row["date"].day) == (1, 1)


def test_the_older_pandas_form_in_the_readme_keeps_precision_too(details_300: DetailsExport) -> None:
    code = recipes()["pandas"]
    assert "pd.read_json(path, lines=True, dtype=dtypes, convert_dates=False)" in code
    namespace = run("pandas", details_300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)  # pandas 3.1 deprecates convert_dates
        older = pd.read_json(details_300.jsonl, lines=True, dtype=namespace["dtypes"], convert_dates=False)
    assert records_of(older) == read_jsonl(details_300.jsonl)
