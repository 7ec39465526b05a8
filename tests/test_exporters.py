"""CSV: column order, list joining, formula neutralising, text opt-in; read back with csv."""

from __future__ import annotations

import csv
import io

import pytest

from harvester.exporters import HarvesterCsvItemExporter, csv_cell, neutralize_formula
from harvester.items import FIELD_ORDER, LIST_SEPARATOR, LISTING_FIELDS, DocumentItem


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_starts_are_neutralised(start: str) -> None:
    value = f'{start}HYPERLINK("http://evil","x")'
    assert neutralize_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["1956-09", "Telegram from A. Mikoyan", "‘Abd al-Mun‘im", "", "1958"])
def test_ordinary_values_are_untouched(value: str) -> None:
    assert neutralize_formula(value) == value


def test_lists_join_with_the_documented_separator() -> None:
    # Real subject headings hold "--" and "," so neither can separate list items.
    subjects = ["Korea (North)--Foreign relations--Soviet Union", "China--Foreign relations--Korea (North)"]
    cell = csv_cell("subjects", subjects)
    assert cell.split(LIST_SEPARATOR) == subjects
    assert csv_cell("places", []) == ""
    assert csv_cell("date", None) == ""


def _export(items: list[DocumentItem], fields: list[str], *, include_text: bool = False) -> list[list[str]]:
    buffer = io.BytesIO()
    exporter = HarvesterCsvItemExporter(buffer, fields_to_export=fields, include_text=include_text)
    exporter.start_exporting()
    for item in items:
        exporter.export_item(item)
    exporter.finish_exporting()
    return list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8"), newline="")))


def test_csv_round_trip_with_hostile_cells() -> None:
    item = DocumentItem(
        id="x", url="http://127.0.0.1/document/x",
        title="=1+1, “quoted”, multi\nline",
        date="1956-09", date_precision="month", date_raw="September 1956",
        summary="-starts with minus; has \"quotes\" and a, comma",
        position=3, places=["Korea, North", "Soviet Union"], text="long text",
    )  # fmt: skip
    rows = _export([item], list(FIELD_ORDER))
    header, row = rows
    assert header == [f for f in FIELD_ORDER if f != "text"]  # text only when asked
    record = dict(zip(header, row, strict=True))
    assert record["title"] == "'=1+1, “quoted”, multi\nline"
    assert record["summary"] == '\'-starts with minus; has "quotes" and a, comma'
    assert record["position"] == "3"
    assert record["places"] == "Korea, North | Soviet Union"
    assert record["query"] == ""


def test_text_column_when_asked() -> None:
    item = DocumentItem(id="x", url="http://127.0.0.1/document/x", text="para one\n\npara two")
    header, row = _export([item], list(FIELD_ORDER), include_text=True)
    assert header[-1] == "text" and row[-1] == "para one\n\npara two"


def test_listing_columns_keep_their_order() -> None:
    header, _ = _export([DocumentItem(id="x", url="http://h/document/x")], list(LISTING_FIELDS))
    assert header == list(LISTING_FIELDS)
