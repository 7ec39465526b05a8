"""The replica's own record of a document: what it renders, and what a harvest must read back."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Term:
    """A taxonomy term shown as a pill (person, place, topic, language, archive)."""

    name: str
    """The text the pill shows."""
    tid: int
    """The Drupal term id, used in facet links (``f[0]=places:<tid>``)."""
    slug: str
    """The term page path segment (``/places/<slug>``)."""


@dataclass
class ReplicaDoc:
    """One document of the replica. Strings are the values *as displayed* on the site."""

    nid: int
    """Drupal node id (``/node/<nid>``, ``/document/<nid>/download``)."""
    record_id: int
    """Record ID (legacy ``/document/<record_id>`` address)."""
    slug: str
    """Pathauto slug: canonical address ``/document/<slug>``."""
    title: str
    """Title exactly as the markup carries it (may hold entities, odd white space)."""
    date_raw: str
    """Date as shown (``November 13, 1967``, ``September 1956``, ``1958``, or ``""``)."""
    summary: list[str]
    """Summary paragraphs (may be empty)."""
    created: int
    """Upload order: larger is newer (``sort_bef_combine=created_DESC``)."""
    uploaded_date: str
    """Original Uploaded Date, ``YYYY-MM-DD``."""
    revised: str | None = None
    """Date (``YYYY-MM-DD``) of the last edit (``--changes``, or a churn night's), or None: its
    page's ``Last-Modified`` is this date, else the upload date."""
    credits: str | None = None
    """Full credits sentence ("This document was made possible with support from X"), or None."""
    authors: list[Term] = field(default_factory=list)
    people: list[Term] = field(default_factory=list)
    places: list[Term] = field(default_factory=list)
    topics: list[Term] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    source: str | None = None
    original_archive: list[Term] = field(default_factory=list)
    classification: str | None = None
    type: str | None = None
    languages: list[Term] = field(default_factory=list)
    rights: list[str] = field(default_factory=list)
    """Rights paragraphs."""
    contributors: list[str] = field(default_factory=list)
    donors: list[str] = field(default_factory=list)
    pdf_paths: list[str] = field(default_factory=list)
    """Site-relative paths of embedded PDFs (``/sites/default/files/shared-media/...pdf``)."""
    pane: str = "translation"
    """Which document pane the page shows: ``translation``, ``transcript`` or ``original``."""
    text_language: str = "English"
    """Language tab of the translation pane."""
    text: list[str] = field(default_factory=list)
    """Paragraphs of the translation / transcript (plain text; rendered with Word-like markup)."""
    text_version: int = 0
    """Which generated text the translation pane shows: 0 the document's first, N after its
    N-th rewrite (a churn night's deep edit, see ``replica/churn.py``)."""
    related: list[str] = field(default_factory=list)
    """Slugs of the Related Documents, in order."""
    clean_title: str = ""
    """The title a harvest must publish (what ``title`` shows, normalised)."""
    date: str | None = None
    """ISO form of ``date_raw`` at its precision (truth; derived independently of the harvester)."""
    date_precision: str | None = None
    """``day``, ``month``, ``year`` or None."""
