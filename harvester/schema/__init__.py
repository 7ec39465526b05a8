"""The JSON Schema of a harvested record, built from ``DocumentItem`` and committed.

``python -m harvester.schema`` rewrites ``document.schema.json``; ``tests/test_items.py``
fails when the committed file and the dataclass drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter

from harvester.items import LISTING_FIELDS, DocumentItem

SCHEMA_PATH = Path(__file__).with_name("document.schema.json")

#: ``date`` at each ``date_precision``: a real month, and a real day (``format: date``, checked
#: by a format checker, refuses 1956-02-30 that the pattern lets through).
YEAR = r"^\d{4}$"
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
DAY = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
#: An absolute http(s) URL with a host and no white space (``format: uri`` says the rest).
HTTP_URL = r"^https?://[^\s/?#]+([/?#]\S*)?$"
_HTTP_URL = {"format": "uri", "pattern": HTTP_URL}

# Constraints the type hints cannot say.
_REFINEMENTS: dict[str, dict[str, Any]] = {
    "id": {"minLength": 1},
    "url": {"format": "uri", "pattern": r"^https?://[^\s/?#]+/document/[^\s/?#]+$"},
    "date": {"pattern": rf"{YEAR}|{MONTH}|{DAY}"},
    "date_precision": {"enum": ["day", "month", "year", None]},
    "listing_url": _HTTP_URL,
    "position": {"minimum": 1},
    "harvested_at": {"format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"},
    "capture_id": {"pattern": r"^<urn:uuid:[0-9a-f-]{36}>$"},
    "captured_at": {"format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"},
    "record_id": {"pattern": r"^\d+$"},
    "node_id": {"pattern": r"^\d+$"},
    "uploaded_date": {"format": "date", "pattern": DAY},
    "download_url": _HTTP_URL,
}


def _date_matches_precision() -> list[dict[str, Any]]:
    """``date`` as ``date_precision`` says, and null exactly when the precision is null."""
    rules: list[dict[str, Any]] = []
    for precision, pattern in (("year", YEAR), ("month", MONTH), ("day", DAY)):
        date: dict[str, Any] = {"type": "string", "pattern": pattern}
        if precision == "day":
            date["format"] = "date"
        rules.append(
            {
                "if": {
                    "properties": {"date_precision": {"const": precision}},
                    "required": ["date_precision"],
                },
                "then": {"properties": {"date": date}, "required": ["date"]},
            }
        )
    rules.append(
        {
            "if": {"properties": {"date_precision": {"const": None}}, "required": ["date_precision"]},
            "then": {"properties": {"date": {"const": None}}},
        }
    )
    return rules


def build_schema() -> dict[str, Any]:
    schema = ItemAdapter.get_json_schema(DocumentItem)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/harvester/harvester/schema/document.schema.json"
    schema["title"] = "harvester document record"
    schema["description"] = (
        "One document of the archive, as a line of the JSON Lines export. Listing fields are "
        "always present (null when the archive shows nothing); document page fields only in "
        "runs with -a details=true."
    )
    for name, extra in _REFINEMENTS.items():
        schema["properties"][name].update(extra)
    for name in ("pdf_urls", "related"):
        schema["properties"][name]["items"] = {"type": "string", **_HTTP_URL}
    schema["required"] = list(LISTING_FIELDS)
    schema["allOf"] = _date_matches_precision()
    return schema


def render_schema() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    SCHEMA_PATH.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
