"""The record a harvest produces: one per document.

Every field has a docstring: ``ItemAdapter.get_json_schema()`` reads them into the
committed JSON Schema (``harvester/schema/document.schema.json``), and the README's
output contract is written from the same list. ``tests/test_items.py`` fails when the
three drift apart.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any

#: Separator used to join list fields into one CSV cell. Chosen because it never
#: occurs in the archive's names, places or subjects (which do contain ``,`` and ``;``
#: and ``--``).
LIST_SEPARATOR = " | "


@dataclass
class DocumentItem:
    """One document of the archive, as the search listing and its page show it."""

    # --- identity -----------------------------------------------------------------
    id: str
    """The document's slug: the last path segment of its canonical URL."""
    url: str
    """Absolute canonical URL of the document page (``https://<host>/document/<slug>``)."""

    # --- listing fields (every run) ----------------------------------------------
    title: str | None = None
    """Title, normalised: entities decoded, Unicode NFC, white space collapsed, invisible
    and control characters removed. Letters, case and punctuation as the archive has them.
    Null only when the archive shows no title (counted as ``harvester/title/empty``)."""
    date: str | None = None
    """Document date in ISO 8601 at the precision the archive gives: ``YYYY-MM-DD``,
    ``YYYY-MM`` or ``YYYY``. Null when the archive shows no date or one that cannot be read."""
    date_precision: str | None = None
    """``day``, ``month`` or ``year``: how much of ``date`` the archive states. Null with ``date``."""
    date_raw: str | None = None
    """The date exactly as the archive shows it (white space collapsed); null when absent."""
    summary: str | None = None
    """The listing's one-paragraph summary, white space collapsed; paragraphs joined by a
    blank line. Null when the row has none."""
    query: str | None = None
    """The search keywords the run was given; null for a ``start_url`` or whole-archive run."""
    listing_url: str | None = None
    """Absolute URL of the results page the document was found on."""
    position: int | None = None
    """1-based rank of the document in the results (page offset plus row number)."""
    harvested_at: str | None = None
    """When the record was harvested, UTC ISO 8601 with seconds (``2026-11-30T13:06:08Z``)."""
    capture_id: str | None = None
    """The ``WARC-Record-ID`` (``<urn:uuid:...>``) of the archived response the record was
    read from, in the run's web archive (``HARVESTER_WACZ``): the document page in a details
    run, the results page otherwise. Null when the run kept no web archive."""
    captured_at: str | None = None
    """When that response was received: its ``WARC-Date``, UTC ISO 8601 with microseconds
    (``2026-11-30T13:06:08.123456Z``). Null with ``capture_id``."""

    # --- document page fields (``-a details=true``) -------------------------------
    record_id: str | None = None
    """The archive's Record ID (numeric string, the pre-2023 id)."""
    node_id: str | None = None
    """The Drupal node id (numeric string; ``/node/<nid>`` is the shortlink)."""
    credits: str | None = None
    """The "This document was made possible with support from ..." line, as shown."""
    authors: list[str] = field(default_factory=list)
    """Author(s), as shown ("Surname, Given")."""
    people: list[str] = field(default_factory=list)
    """Associated People & Organizations."""
    places: list[str] = field(default_factory=list)
    """Associated Places."""
    topics: list[str] = field(default_factory=list)
    """Associated Topics."""
    subjects: list[str] = field(default_factory=list)
    """Subjects Discussed (Library of Congress style, ``A--B--C``)."""
    source: str | None = None
    """Source: where the original is held and who obtained or translated it."""
    original_archive: list[str] = field(default_factory=list)
    """Original Archive(s)."""
    classification: str | None = None
    """Original Classification, when shown."""
    type: str | None = None
    """Document type (``Memorandum``, ``Telegram``, ...), when shown."""
    languages: list[str] = field(default_factory=list)
    """Language(s) of the original."""
    uploaded_date: str | None = None
    """Original Uploaded Date, ISO ``YYYY-MM-DD``."""
    rights: str | None = None
    """Rights statement, paragraphs joined by a blank line."""
    contributors: list[str] = field(default_factory=list)
    """Document Contributor(s)."""
    donors: list[str] = field(default_factory=list)
    """Donor(s)."""
    pdf_urls: list[str] = field(default_factory=list)
    """Absolute URLs of the scans and transcripts embedded in the page (PDF), on the archive's
    site (``http(s)``, the host of ``HARVESTER_BASE_URL``, where its files live too); any
    other link is dropped and counted (``harvester/links/dropped``)."""
    download_url: str | None = None
    """Absolute URL of the page's Download link (the first on the archive's site; null when
    it has none there)."""
    related: list[str] = field(default_factory=list)
    """Absolute canonical URLs (``<HARVESTER_BASE_URL>/document/<slug>``) of the Related
    Documents; a row linking anything else (another host, ``/node/<nid>``, a script) is dropped
    and counted."""
    text: str | None = None
    """The translation or transcript as plain text: paragraphs separated by a blank line,
    markup, styles and scripts dropped. In CSV only with ``HARVESTER_CSV_TEXT=True``."""


#: Field order of every export (JSON Lines keys and CSV columns).
FIELD_ORDER: tuple[str, ...] = tuple(f.name for f in fields(DocumentItem))

#: Fields read from the search listing (every run).
LISTING_FIELDS: tuple[str, ...] = FIELD_ORDER[: FIELD_ORDER.index("captured_at") + 1]

#: Fields read from the document page (``details`` runs only).
DETAIL_FIELDS: tuple[str, ...] = FIELD_ORDER[len(LISTING_FIELDS) :]

#: Fields holding lists.
LIST_FIELDS: frozenset[str] = frozenset(
    f.name for f in fields(DocumentItem) if str(f.type).startswith("list")
)


def fields_of(item: Any) -> MutableMapping[str, Any]:
    """A read-write mapping of an item's fields.

    For our own :class:`DocumentItem` it is the instance's ``__dict__`` (a dataclass keeps
    its fields there): the same reads and writes as ``ItemAdapter`` at a third of the cost,
    which counts at 10 items a page and 4 components an item (see BENCHMARKS.md). Any other
    item goes through ``ItemAdapter``.
    """
    if type(item) is DocumentItem:
        return item.__dict__
    from itemadapter import ItemAdapter  # it imports Scrapy: not in the page worker (issue 17)

    return ItemAdapter(item)
