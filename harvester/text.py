"""Small text and time helpers shared by the page classes and the run's components."""

from __future__ import annotations

from datetime import UTC, datetime


def collapse(text: str | None) -> str:
    """Collapse runs of white space (U+00A0 included) to one space, and strip.

    >>> collapse("  a\\n\\t b\\u00a0 c ")
    'a b c'
    >>> collapse(None)
    ''
    """
    return " ".join(text.split()) if text else ""


def collapse_or_none(text: str | None) -> str | None:
    """:func:`collapse`, with ``None`` for nothing left.

    >>> collapse_or_none(" \\u00a0 ") is None
    True
    """
    return collapse(text) or None


def utc_now() -> str:
    """The current time, UTC ISO 8601 with seconds: ``2026-11-30T13:06:08Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
