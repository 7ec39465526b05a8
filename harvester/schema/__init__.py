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

# Constraints the type hints cannot say.
_REFINEMENTS: dict[str, dict[str, Any]] = {
    "id": {"minLength": 1},
    "url": {"format": "uri", "pattern": "^https?://[^/]+/document/[^/?#]+$"},
    "date": {"pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$"},
    "date_precision": {"enum": ["day", "month", "year", None]},
    "listing_url": {"format": "uri"},
    "position": {"minimum": 1},
    "harvested_at": {"format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"},
    "capture_id": {"pattern": r"^<urn:uuid:[0-9a-f-]{36}>$"},
    "captured_at": {"format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"},
    "record_id": {"pattern": r"^\d+$"},
    "node_id": {"pattern": r"^\d+$"},
    "uploaded_date": {"pattern": r"^\d{4}-\d{2}-\d{2}$"},
    "download_url": {"format": "uri"},
}


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
        schema["properties"][name]["items"] = {"type": "string", "format": "uri"}
    schema["required"] = list(LISTING_FIELDS)
    return schema


def render_schema() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    SCHEMA_PATH.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
