"""The data contract: dataclass, committed JSON Schema and README stay in step."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, fields

import jsonschema
import pytest

from harvester.items import FIELD_ORDER, DocumentItem
from harvester.schema import SCHEMA_PATH, render_schema
from tests.conftest import ROOT, DetailsExport, read_jsonl


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    checker = jsonschema.FormatChecker()
    # Without rfc3986-validator / rfc3339-validator (the test extra) jsonschema skips these
    # formats silently, and a record with a broken URL or time would pass.
    assert {"uri", "date", "date-time"} <= set(checker.checkers), sorted(checker.checkers)
    return jsonschema.Draft202012Validator(schema, format_checker=checker)


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


def _good_record() -> dict[str, object]:
    return asdict(
        DocumentItem(
            id="x", url="https://digitalarchive.wilsoncenter.org/document/x", title="X",
            date="1956-09-03", date_precision="day", date_raw="September 3, 1956",
            listing_url="https://digitalarchive.wilsoncenter.org/search?page=2", position=3,
            harvested_at="2026-11-30T12:00:00Z", uploaded_date="2013-04-02",
            pdf_urls=["https://digitalarchive.wilsoncenter.org/sites/default/files/x.pdf"],
            download_url="https://digitalarchive.wilsoncenter.org/document/1/download",
            related=["https://digitalarchive.wilsoncenter.org/document/y"],
        )
    )  # fmt: skip


#: Records a consumer must never be handed: each differs from a valid record by these fields.
HOSTILE: list[tuple[str, dict[str, object]]] = [
    ("month 13, day 45", {"date": "1956-13-45"}),
    ("no February 30th", {"date": "1956-02-30"}),
    ("no February 29th in 1955", {"date": "1955-02-29"}),
    ("a year at day precision", {"date": "1956"}),
    ("a month at day precision", {"date": "1956-09"}),
    ("a day at month precision", {"date": "1956-09-03", "date_precision": "month"}),
    ("a day at year precision", {"date": "1956-09-03", "date_precision": "year"}),
    ("month 13", {"date": "1956-13", "date_precision": "month"}),
    ("month 00", {"date": "1956-00", "date_precision": "month"}),
    ("a null date at day precision", {"date": None}),
    ("a date with a null precision", {"date": "1956", "date_precision": None}),
    ("a two-digit year", {"date": "56", "date_precision": "year"}),
    ("url: a script", {"url": "javascript:alert(1)"}),
    ("url: ftp", {"url": "ftp://digitalarchive.wilsoncenter.org/document/x"}),
    ("url: white space", {"url": "https://digitalarchive.wilsoncenter.org/document/x y"}),
    ("listing_url: relative", {"listing_url": "/search?page=2"}),
    ("listing_url: a script", {"listing_url": "javascript:alert(1)"}),
    ("listing_url: no host", {"listing_url": "https:///search"}),
    ("listing_url: a space in the host", {"listing_url": "https://digital archive.org/search"}),
    ("pdf_urls: a local file", {"pdf_urls": ["file:///etc/passwd"]}),
    ("pdf_urls: relative", {"pdf_urls": ["files/x.pdf"]}),
    ("pdf_urls: not a list", {"pdf_urls": "https://digitalarchive.wilsoncenter.org/x.pdf"}),
    ("download_url: data", {"download_url": "data:text/html,<script>alert(1)</script>"}),
    ("download_url: scheme-relative", {"download_url": "//digitalarchive.wilsoncenter.org/x"}),
    ("related: a mail address", {"related": ["mailto:x@example.org"]}),
    ("related: not a string", {"related": [42]}),
    ("uploaded_date: April 31st", {"uploaded_date": "2013-04-31"}),
    ("uploaded_date: not padded", {"uploaded_date": "2013-4-2"}),
    ("uploaded_date: a month", {"uploaded_date": "2013-04"}),
    ("harvested_at: November 31st", {"harvested_at": "2026-11-31T12:00:00Z"}),
    ("harvested_at: hour 25", {"harvested_at": "2026-11-30T25:00:00Z"}),
]


def test_the_template_of_the_hostile_records_is_valid() -> None:
    validator().validate(_good_record())


@pytest.mark.parametrize(("why", "change"), HOSTILE, ids=[why for why, _ in HOSTILE])
def test_schema_rejects_hostile_records(why: str, change: dict[str, object]) -> None:
    record = {**_good_record(), **change}
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(record)


@pytest.mark.parametrize(
    ("date", "precision"),
    [("1956", "year"), ("1956-09", "month"), ("1956-02-29", "day"), ("2000-12-31", "day"), (None, None)],
)
def test_schema_accepts_every_precision(date: str | None, precision: str | None) -> None:
    validator().validate({**_good_record(), "date": date, "date_precision": precision})


def test_every_record_of_a_details_crawl_validates(details_300: DetailsExport) -> None:
    records = read_jsonl(details_300.jsonl)
    assert len(records) == 300
    check = validator()
    errors = [f"{r['url']}: {e.message}" for r in records for e in check.iter_errors(r)]
    assert errors == []
    # The crawl has what the strict rules are about: every precision, undated records, URLs.
    assert {r["date_precision"] for r in records} == {"day", "month", "year", None}
    assert all(r["download_url"] and r["uploaded_date"] for r in records)
    assert any(r["pdf_urls"] for r in records) and any(r["related"] for r in records)
