"""The data contract: dataclass, committed JSON Schema and README stay in step."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, fields

import jsonschema
import pytest

from harvester.items import FIELD_ORDER, DocumentItem
from harvester.schema import SCHEMA_PATH, render_schema
from tests.conftest import ROOT


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_committed_schema_matches_the_dataclass() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "harvester/schema/document.schema.json is stale: run python -m harvester.schema"
    )


def test_every_field_is_documented_in_the_schema_and_readme() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for f in fields(DocumentItem):
        assert schema["properties"][f.name].get("description"), f.name
        assert re.search(rf"^\| `{f.name}` \|", readme, re.M), f"README output table lacks {f.name}"


def test_a_full_record_validates() -> None:
    item = DocumentItem(
        id="50th-anniversary-october-revolution-dprk",
        url="https://digitalarchive.wilsoncenter.org/document/50th-anniversary-october-revolution-dprk",
        title="50th Anniversary of the October Revolution in the DPRK",
        date="1967-11-13", date_precision="day", date_raw="November 13, 1967",
        listing_url="https://digitalarchive.wilsoncenter.org/search", position=1,
        harvested_at="2026-11-30T12:00:00Z", record_id="116659", node_id="92562",
        places=["China", "North Korea", "Soviet Union"], uploaded_date="2013-04-02",
    )  # fmt: skip
    validator().validate(asdict(item))


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("date", "1958-01-01T00:00:00"),
        ("date", "Jan 1958"),
        ("date_precision", "season"),
        ("harvested_at", "2026-11-30 12:00"),
        ("url", "https://digitalarchive.wilsoncenter.org/search?page=2"),
        ("position", 0),
        ("places", "China"),
    ],
)
def test_schema_rejects_wrong_values(name: str, bad: object) -> None:
    record = {f: None for f in FIELD_ORDER[:11]}
    record.update(id="x", url="http://127.0.0.1:8000/document/x")
    record[name] = bad
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(record)
