"""Build ``replica/facts.json`` from ``../shared/data`` (run by hand, output committed).

Keeps only facts: titles, dates as shown, names, places, subjects, archives, languages,
identifiers, and the seed's summaries (the seed is ours to reuse). Summaries, sources,
rights and document text of the other records are the archive's sentences and are left
out; the replica writes its own.

The ISO form of each date is derived here with ``datetime.strptime`` on an explicit list
of formats, independently of ``harvester.dates``, so that the replica's truth does not
come from the code it is used to test.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "replica" / "facts.json"

_FORMATS = (
    ("%B %d, %Y", "day"),
    ("%B %Y", "month"),
    ("%B, %Y", "month"),
    ("%Y", "year"),
)
_ISO = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def iso_date(raw: str) -> tuple[str | None, str | None]:
    if not raw.strip():
        return None, None
    for fmt, precision in _FORMATS:
        try:
            parsed = datetime.strptime(raw.strip(), fmt)
        except ValueError:
            continue
        return parsed.strftime(_ISO[precision]), precision
    raise SystemExit(f"date {raw!r} matches no known format; add it to _FORMATS")


def slug_of(url: str | None) -> str | None:
    if not url:
        return None
    path = urlsplit(url).path
    if not path.startswith("/document/"):
        return None
    slug = path.removeprefix("/document/").strip("/")
    if not slug or slug.isdigit() or "." in slug:
        return None
    return slug


def numeric_id(url: str | None) -> str | None:
    if not url:
        return None
    last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1].split(".")[0]
    return last if last.isdigit() else None


def main() -> int:
    seed = json.loads((SHARED / "seed-search.json").read_text(encoding="utf-8"))
    records = json.loads((SHARED / "real-records.json").read_text(encoding="utf-8"))
    seed_out = []
    for row in seed["results"]:
        date, precision = iso_date(row["date_raw"])
        seed_out.append(
            {
                "title": row["title"],
                "date_raw": row["date_raw"],
                "date": date,
                "date_precision": precision,
                "summary": row["summary"],
            }
        )
    seen_titles = {row["title"] for row in seed_out}
    real_out = []
    for rec in records:
        title = rec.get("title")
        if not title or title in seen_titles:
            continue
        seen_titles.add(title)
        meta = rec.get("meta", {})
        date, precision = iso_date(rec["date_raw"])
        url = rec.get("url")
        node_id = meta.get("node_id")
        if not node_id and url and "/node/" in url:
            node_id = numeric_id(url)
        record_id = meta.get("Record ID")
        if not record_id and url and "/document/" in url and slug_of(url) is None:
            record_id = numeric_id(url)
        real_out.append(
            {
                "title": title,
                "date_raw": rec["date_raw"],
                "date": date,
                "date_precision": precision,
                "slug": slug_of(url),
                "record_id": record_id,
                "node_id": node_id,
                "credits": meta.get("credits"),
                "authors": meta.get("Author(s)", []),
                "people": meta.get("Associated People & Organizations", []),
                "places": meta.get("Associated Places", []),
                "topics": meta.get("Associated Topics", []),
                "subjects": meta.get("Subjects Discussed", []),
                "original_archive": meta.get("Original Archive", []),
                "languages": meta.get("Language", []),
                "type": meta.get("Type"),
                "classification": meta.get("Original Classification"),
                "uploaded_date": meta.get("Original Uploaded Date"),
                "contributors": meta.get("Document Contributor(s)", []),
                "donors": meta.get("Donor(s)", meta.get("Donors", [])),
            }
        )
    OUT.write_text(
        json.dumps(
            {
                "query": seed["query"],
                "reported_total": seed["reported_total"],
                "seed": seed_out,
                "real": real_out,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {OUT}: {len(seed_out)} seed results, {len(real_out)} real records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
