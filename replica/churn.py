"""The archive night after night: ``--night K`` with ``--churn SPEC``, a deterministic churn.

Night 0 is the base archive (exactly :func:`replica.dataset.build_archive`'s). Night ``n``
(from 1) is night ``n - 1`` plus that night's events, drawn from a random generator seeded
by the build seed and ``n`` alone: the same ``--seed``, ``--documents``, ``--churn`` and ``K``
always give the same archive, and night ``K + 1`` is night ``K`` plus the events that
``--dump-events`` lists for ``K + 1``. Night ``n`` is dated 2025-06-30 plus ``n`` days (the
Original Uploaded Date of its uploads, the ``Last-Modified`` of its edits).

Grammar
-------

::

    SPEC  = "none"  /  ITEM *( "," ITEM )        white space around items is ignored
    ITEM  = NAME "=" COUNT
    NAME  = "uploads" / "edits" / "deepedits" / "removals" / "reappearances"
    COUNT = N  /  N "-" M       events a night: N, or drawn from N to M (inclusive) each night

A name left out is 0 a night (``uploads=5`` is a night of five uploads and nothing else);
``none`` is no churn at all. N and M are whole numbers up to 100000. Default:
``uploads=3,edits=4,deepedits=2,removals=2,reappearances=1``: the archive grows by about two
documents a night, and removed documents pile up (about one a night), so a reappearance may
bring back one removed long before. ``--night`` goes up to 100000.

Events
------

Each night's events happen in this order, each to a different document:

- ``removals`` (event ``remove``): a present document leaves the archive. Its row is gone from
  every results page and from the "of N" count; its addresses (``/document/<slug>``, the legacy
  ``/document/<record id>``, ``/node/<nid>``, ``/document/<nid>/download``) answer 404, or 410
  for about 3 removals in 10 (drawn per removal; both occur on real Drupal sites).
- ``reappearances`` (``reappear``): a document removed on an earlier night comes back with its
  slug, its ids and its place in the upload order (deep in the results); one in two comes
  back with an edit (as below).
- ``edits`` (``edit``): what the results row shows changes: a new summary, and a new title
  (the slug stays) or a new date.
- ``deepedits`` (``deepedit``): only the document page changes: its Associated Places, its
  Subjects Discussed, or (translation pane only) its text. The row stays as it was.
- ``uploads`` (``upload``): new documents at the top of the upload order (the default sort,
  newest first): the next documents of the build's sequence.

Removals, edits and deep edits draw uniformly among the documents that may change: anywhere
in the results, so mostly deep. Never the seed search's 11 (the pinned query stays exact),
nor a document another one lists among its Related Documents (its row is printed on that
page too, which would then change without an event of its own). When too few may change, a
night has fewer events.

Content is derived, not stored: a document's ``v``-th edit, and its ``v``-th deep edit, are
drawn from (seed, slug, v) and applied on top of the one before, so night K is the base
archive plus K nights of draws, built in one pass (no archive per night).

Validators
----------

A document page's ``ETag`` is of the page itself, and its ``Last-Modified`` is noon UTC of the
night of its last edit or deep edit (else of its upload): a document unchanged since night j
keeps both on every later night and across restarts; an edited one gets new ones. A
reappearance without an edit serves the page it had, with the validators it had.

Events file
-----------

``--dump-events FILE`` writes night K's events as JSON lines, in the order they happened::

    {"night": K, "event": "remove", "slug": S, "position": P, "status": 404}
    {"night": K, "event": "reappear", "slug": S, "position": P, "edited": true, "fields": ["summary", "title"]}
    {"night": K, "event": "edit", "slug": S, "position": P, "fields": ["summary", "date"]}
    {"night": K, "event": "deepedit", "slug": S, "position": P, "fields": ["places"]}
    {"night": K, "event": "upload", "slug": S, "position": P}

``position`` is the document's 1-based place in the default sort on night K (for a removal:
on night K - 1, where it was), counting no staged ``shift`` upload. ``fields`` names the
harvested fields the event changed (``summary``, ``title``, ``date``; ``places``,
``subjects``, ``text``); a reappearance without an edit has ``"edited": false, "fields": []``.
Night 0 has no events.
"""

from __future__ import annotations

import hashlib
import random
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from replica.dataset import (
    COUNTRIES,
    ORGANS,
    PEOPLE,
    THEMES,
    Archive,
    ArchiveBuilder,
    format_date,
    iso_date,
    markup,
)
from replica.model import ReplicaDoc, Term

NIGHT_ZERO = date(2025, 6, 30)
"""The base archive's day (night 0); night ``n`` is ``n`` days later."""
DEFAULT_CHURN = "uploads=3,edits=4,deepedits=2,removals=2,reappearances=1"
KINDS = ("removals", "reappearances", "edits", "deepedits", "uploads")
"""The churn's names, in the order a night's events happen."""
MAX_COUNT = 100_000
MAX_NIGHT = 100_000
GONE_SHARE = 0.3
"""About this share of removed documents answer 410 Gone, the others 404."""
REAPPEAR_EDITED = 0.5
"""About this share of reappearances come back with an edit."""
TITLE_EDITS = (" (Excerpts)", " (Draft)", " (Abridged)", ", with Attachments", " [Second Copy]",
               " [Translation Corrected]")  # fmt: skip
"""What an edit appends to a document's first title."""
_COUNT = re.compile(r"^(\d+)(?:-(\d+))?$")


class ChurnSpecError(ValueError):
    """The ``--churn`` text cannot be read; the message names the item and the fix."""


@dataclass(frozen=True)
class Churn:
    """Events a night, each a (least, most) range: ``--churn SPEC`` read."""

    uploads: tuple[int, int] = (0, 0)
    edits: tuple[int, int] = (0, 0)
    deepedits: tuple[int, int] = (0, 0)
    removals: tuple[int, int] = (0, 0)
    reappearances: tuple[int, int] = (0, 0)

    @classmethod
    def parse(cls, text: str) -> Churn:
        """Read a ``--churn`` SPEC (see the module docstring); raise :class:`ChurnSpecError`.

        >>> Churn.parse("uploads=3, edits=0-5")
        Churn(uploads=(3, 3), edits=(0, 5), deepedits=(0, 0), removals=(0, 0), reappearances=(0, 0))
        >>> Churn.parse("none") == Churn()
        True
        >>> Churn.parse("upload=3")
        Traceback (most recent call last):
        ...
        replica.churn.ChurnSpecError: churn item 'upload=3': unknown name 'upload'; known: uploads, edits, deepedits, removals, reappearances
        """
        if text.strip() == "none":
            return cls()
        counts: dict[str, tuple[int, int]] = {}
        known = ", ".join(f.name for f in cls.__dataclass_fields__.values())
        for item in (i.strip() for i in text.split(",")):
            if not item:
                continue
            name, eq, value = (p.strip() for p in item.partition("="))
            if not eq:
                raise ChurnSpecError(
                    f"churn item {item!r}: write NAME=COUNT, e.g. uploads=3 ('none': no churn)"
                )
            if name not in cls.__dataclass_fields__:
                raise ChurnSpecError(f"churn item {item!r}: unknown name {name!r}; known: {known}")
            if name in counts:
                raise ChurnSpecError(f"churn item {item!r}: {name!r} is given twice")
            match = _COUNT.match(value)
            least = int(match[1]) if match else -1
            most = int(match[2]) if match and match[2] is not None else least
            if not match or most < least or most > MAX_COUNT:
                raise ChurnSpecError(
                    f"churn item {item!r}: the count must be N or N-M, whole numbers with N <= M <= {MAX_COUNT}"
                )
            counts[name] = (least, most)
        return cls(**counts)

    def __str__(self) -> str:
        parts = []
        for name in ("uploads", "edits", "deepedits", "removals", "reappearances"):
            least, most = getattr(self, name)
            if most:
                parts.append(f"{name}={least}" + (f"-{most}" if most != least else ""))
        return ",".join(parts) or "none"

    def draw(self, rng: random.Random) -> dict[str, int]:
        """A night's counts (a range draws from ``rng``; a fixed count does not)."""
        counts = {}
        for name in KINDS:
            least, most = getattr(self, name)
            counts[name] = least if least == most else rng.randint(least, most)
        return counts


def night_date(night: int) -> str:
    """The day of night ``night``, ``YYYY-MM-DD``.

    >>> night_date(0), night_date(1), night_date(365)
    ('2025-06-30', '2025-07-01', '2026-06-30')
    """
    return (NIGHT_ZERO + timedelta(days=night)).isoformat()


def _rng(*parts: object) -> random.Random:
    """A generator seeded by ``parts`` alone (SHA-256 of their text)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class _Pool:
    """A set of document indices with O(1) add, and removal of a random member."""

    def __init__(self, items: Iterable[int] = ()) -> None:
        self.items: list[int] = list(items)
        self._where = {item: n for n, item in enumerate(self.items)}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: int) -> None:
        self._where[item] = len(self.items)
        self.items.append(item)

    def pop_random(self, rng: random.Random) -> int:
        item = self.items[rng.randrange(len(self.items))]
        at, last = self._where.pop(item), self.items.pop()
        if last != item:
            self.items[at] = last
            self._where[last] = at
        return item

    def sample(self, rng: random.Random, count: int) -> list[int]:
        return [self.items[n] for n in rng.sample(range(len(self.items)), count)]


# --- what an edit does -----------------------------------------------------------------------


def _edit_draw(seed: int, slug: str, version: int) -> tuple[random.Random, str]:
    """The draw of a document's ``version``-th edit, and what it changes besides the summary."""
    rng = _rng("edit", seed, slug, version)
    return rng, "title" if rng.random() < 0.5 else "date"


def edit_fields(seed: int, slug: str, version: int) -> list[str]:
    return ["summary", _edit_draw(seed, slug, version)[1]]


def apply_edit(doc: ReplicaDoc, seed: int, version: int, first_title: str) -> None:
    """The ``version``-th edit of ``doc``, in place: a new summary, and a new title (its first
    title and an addition) or a new date; each differs from what ``doc`` showed before."""
    rng, kind = _edit_draw(seed, doc.slug, version)
    summary = doc.summary
    while summary == doc.summary:
        a, b = rng.choice(PEOPLE)[1], rng.choice(PEOPLE)[1]
        theme, other = rng.sample(THEMES, 2)
        first = rng.choice(
            (
                f"{a} and {b} take up {theme} again, and {b} asks for {other} to be settled first.",
                f"A fuller description: {a} reports on {theme} to {rng.choice(ORGANS)}.",
                f"{a} writes to {b} about {theme}; the letter also touches on {other}.",
                f"Notes by {a} on {theme}, corrected against the original by the archive's staff.",
            )
        )
        summary = [first] if rng.random() < 0.8 else [first, f"An appendix concerns {other}."]
    doc.summary = summary
    if kind == "title":
        clean = doc.clean_title
        while clean == doc.clean_title:
            clean = first_title + rng.choice(TITLE_EDITS)
        doc.clean_title, doc.title = clean, markup(clean)
        return
    while True:
        year, month, day = rng.randint(1945, 1991), rng.randint(1, 12), rng.randint(1, 28)
        roll = rng.random()
        shown = (
            (year, None, None) if roll < 0.1 else (year, month, None) if roll < 0.25 else (year, month, day)
        )
        if format_date(*shown) != doc.date_raw:
            break
    doc.date_raw = format_date(*shown)
    doc.date, doc.date_precision = iso_date(*shown)


def _deep_draw(seed: int, slug: str, version: int, pane: str, places: int) -> tuple[random.Random, str]:
    rng = _rng("deepedit", seed, slug, version)
    kinds = ["subjects"]
    if places > 4:
        kinds.append("places")
    if pane == "translation":
        kinds.append("text")
    return rng, rng.choice(kinds)


def deep_edit_fields(seed: int, doc: ReplicaDoc, version: int, places: list[Term]) -> list[str]:
    return [_deep_draw(seed, doc.slug, version, doc.pane, len(places))[1]]


def apply_deep_edit(doc: ReplicaDoc, seed: int, version: int, places: list[Term]) -> None:
    """The ``version``-th deep edit of ``doc``, in place: one more (or another) place, one more
    (or another) subject, or a new text; the row's fields stay."""
    rng, kind = _deep_draw(seed, doc.slug, version, doc.pane, len(places))
    if kind == "text":
        doc.text_version = version
        return
    if kind == "places":
        shown = {t.tid for t in doc.places}
        new = rng.choice([t for t in places if t.tid not in shown])
        at = rng.randrange(len(doc.places)) if len(doc.places) >= 4 else len(doc.places)
        doc.places = [*doc.places[:at], new, *doc.places[at + 1 :]]
        return
    subject = ""
    while not subject or subject in doc.subjects:
        a, b = rng.sample(COUNTRIES, 2)
        subject = f"{a[0]}--Foreign relations--{b[0]}"
    at = rng.randrange(len(doc.subjects)) if len(doc.subjects) >= 4 else len(doc.subjects)
    doc.subjects = [*doc.subjects[:at], subject, *doc.subjects[at + 1 :]]


# --- the night -------------------------------------------------------------------------------


def build_night(size: int, seed: int, night: int, churn: Churn, staged: int = 0) -> Archive:
    """The archive of ``size`` base documents as it stands on ``night`` (``--night``), with
    that night's events in ``events``, the removed documents in ``gone``; then ``staged``
    more uploads at the top (``shift``'s, dated that night)."""
    if not 0 <= night <= MAX_NIGHT:
        raise ValueError(f"night {night}: give a whole number from 0 to {MAX_NIGHT}")
    builder = ArchiveBuilder(size, seed)
    docs = builder.docs
    fixed = set(builder.seed_slugs) | {s for d in docs for s in d.related}
    places = builder.terms.vocabulary("places")
    changeable = _Pool(i for i, d in enumerate(docs) if d.slug not in fixed)
    away = _Pool()  # removed on an earlier night: may reappear
    gone: dict[int, int] = {}
    edits: Counter[int] = Counter()
    deep: Counter[int] = Counter()
    changed_on: dict[int, int] = {}
    tonight: list[tuple[str, int, dict[str, Any]]] = []
    for n in range(1, night + 1):
        rng = _rng("night", seed, n)
        want = churn.draw(rng)
        happened: list[tuple[str, int, dict[str, Any]]] = []
        removed = [changeable.pop_random(rng) for _ in range(min(want["removals"], len(changeable)))]
        for i in removed:
            gone[i] = 410 if rng.random() < GONE_SHARE else 404
            happened.append(("remove", i, {"status": gone[i]}))
        back = [away.pop_random(rng) for _ in range(min(want["reappearances"], len(away)))]
        for i in back:
            del gone[i]
            edited = rng.random() < REAPPEAR_EDITED
            if edited:
                edits[i] += 1
                changed_on[i] = n
            fields = edit_fields(seed, docs[i].slug, edits[i]) if edited else []
            happened.append(("reappear", i, {"edited": edited, "fields": fields}))
        n_edits = min(want["edits"], len(changeable))
        n_deep = min(want["deepedits"], len(changeable) - n_edits)
        picked = changeable.sample(rng, n_edits + n_deep)
        for i in picked[:n_edits]:
            edits[i] += 1
            changed_on[i] = n
            happened.append(("edit", i, {"fields": edit_fields(seed, docs[i].slug, edits[i])}))
        for i in picked[n_edits:]:
            deep[i] += 1
            changed_on[i] = n
            happened.append(("deepedit", i, {"fields": deep_edit_fields(seed, docs[i], deep[i], places)}))
        for i in back:
            changeable.add(i)
        for i in removed:
            away.add(i)
        first = len(docs)
        builder.upload(want["uploads"], on=night_date(n))  # appended to ``docs``
        for i in range(first, len(docs)):
            changeable.add(i)
            happened.append(("upload", i, {}))
        if n == night:
            tonight = happened
    for i, count in edits.items():
        if i not in gone:
            first_title = docs[i].clean_title
            for version in range(1, count + 1):
                apply_edit(docs[i], seed, version, first_title)
    for i, count in deep.items():
        if i not in gone:
            for version in range(1, count + 1):
                apply_deep_edit(docs[i], seed, version, places)
    for i, n in changed_on.items():
        docs[i].revised = night_date(n)
    present = [d for i, d in enumerate(docs) if i not in gone]
    archive = builder.archive(present + builder.upload(staged, on=night_date(night)))
    archive.night = night
    archive.events = _events(night, tonight, docs, archive.docs[staged:])
    for i, status in gone.items():
        archive.gone[docs[i].slug] = status
        archive.gone_records[docs[i].record_id] = status
        archive.gone_nids[docs[i].nid] = status
    return archive


def _events(
    night: int,
    happened: list[tuple[str, int, dict[str, Any]]],
    docs: list[ReplicaDoc],
    listed: list[ReplicaDoc],
) -> list[dict[str, Any]]:
    """Night ``night``'s events as ``--dump-events`` writes them; ``listed``: that night's
    documents in the default sort (no staged upload)."""
    position = {d.slug: n for n, d in enumerate(listed, start=1)}
    # The night before: tonight's documents but tonight's uploads and reappearances, with
    # tonight's removals (their positions are where they were).
    new = {docs[i].slug for kind, i, _ in happened if kind in ("upload", "reappear")}
    before = sorted(
        [d.created for d in listed if d.slug not in new]
        + [docs[i].created for kind, i, _ in happened if kind == "remove"]
    )
    events = []
    for kind, i, extra in happened:
        doc = docs[i]
        if kind == "remove":
            place = len(before) - bisect_right(before, doc.created) + 1
        else:
            place = position[doc.slug]
        events.append({"night": night, "event": kind, "slug": doc.slug, "position": place, **extra})
    return events
