"""CSV that spreadsheets and other programs can trust.

- a fixed column order (``FEED_EXPORT_FIELDS``, set by the spider from ``items.FIELD_ORDER``);
- list fields joined with :data:`harvester.items.LIST_SEPARATOR`;
- a cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
  ``@``, tab or carriage return) is prefixed with an apostrophe (OWASP's advice for CSV
  injection); the JSON Lines export keeps the value untouched;
- the long ``text`` field only when asked (``HARVESTER_CSV_TEXT=True``).
"""

from __future__ import annotations

from typing import Any

from scrapy.exporters import CsvItemExporter

from harvester.items import LIST_FIELDS, LIST_SEPARATOR

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(value: str) -> str:
    """Prefix a cell that a spreadsheet would evaluate.

    >>> neutralize_formula("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralize_formula("1956-09")
    '1956-09'
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in LIST_FIELDS or isinstance(value, list | tuple):
        value = LIST_SEPARATOR.join(str(v) for v in value)
    elif isinstance(value, bool):
        value = "true" if value else "false"
    return neutralize_formula(str(value))


class HarvesterCsvItemExporter(CsvItemExporter):
    """``CsvItemExporter`` with list joining, formula neutralising and ``text`` opt-in."""

    def __init__(self, file: Any, *, include_text: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("encoding", "utf-8")
        super().__init__(file, **kwargs)
        if not include_text and self.fields_to_export is not None:
            fields = self.fields_to_export
            if isinstance(fields, dict):
                self.fields_to_export = {k: v for k, v in fields.items() if k != "text"}
            else:
                self.fields_to_export = [f for f in fields if f != "text"]

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        return csv_cell(name, value)


def csv_export_kwargs(settings: Any) -> dict[str, Any]:
    """The CSV exporter's options from the settings: the one reader of ``HARVESTER_CSV_TEXT``."""
    return {"include_text": settings.getbool("HARVESTER_CSV_TEXT")}
