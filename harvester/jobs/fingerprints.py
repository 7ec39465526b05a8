"""Fingerprints of a record's content and of its listing row: what tells a change."""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: Fields that describe the run, not the document: left out of fingerprints.
RUN_FIELDS = frozenset({"query", "listing_url", "position", "harvested_at", "capture_id", "captured_at"})


def _hash(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def content_of(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in RUN_FIELDS}


def fingerprint(record: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The content fingerprint of a record and one short hash per content field."""
    content = content_of(record)
    hashes = {k: _hash(v) for k, v in sorted(content.items())}
    return _hash(hashes), hashes


def listing_fingerprint(url: str, title: str | None, date_raw: str | None, summary: str | None) -> str:
    """Fingerprint of a result row as displayed: unchanged row, unchanged listing."""
    return _hash([url, title, date_raw, summary])
