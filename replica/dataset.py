"""The replica's content: deterministic, the size of the real archive, real where we can be.

Built in this order, then given an upload order by a seeded shuffle:

1. the seed search (``facts.json`` ``seed``): the 11 results of ``Korean Workers' Party``;
2. the real records of ``../shared/data/real-records.json`` (facts only: titles, dates,
   names, identifiers; see ``tools/build_replica_facts.py``);
3. generated documents up to ``size`` (16,153 by default, the real archive's count), that
   look like real ones: every date form the site shows, titles with quotes, brackets and
   non-ASCII letters, shared titles (so slugs get ``-0``/``-1`` suffixes), missing parts.

Every generated value comes from ``random.Random`` seeded by the build seed and the
document's position, so the same arguments always give the same archive. The *truth*
(what a harvest must produce) is kept beside the display values and never computed by
the harvester's own code: dates are formatted from a known (year, month, day), titles are
perturbed from a known clean title.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date as date_type
from importlib import resources
from typing import Any

from replica.model import ReplicaDoc, Term

DEFAULT_SIZE = 16_153
DEFAULT_SEED = 1962
PAGE_SIZE = 10

MONTHS = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)  # fmt: skip

# Pathauto's default words to drop ("and" is kept), see ARCHIVE.md "Slugs".
_STOP_WORDS = frozenset(
    "a an as at before but by for from is in into like of off on onto per since than the "
    "this that to up via with".split()
)
_SLUG_MAX = 90

RIGHTS = [
    "Materials in the replica are generated for testing; the real archive states its own "
    "terms of reuse for research and education.",
    "For questions about the rights status of a real document, write to HAPP@wilsoncenter.org.",
]

# People as (list form "Surname, Given", running-text form).
PEOPLE = [
    ("Kim, Il Sung", "Kim Il Sung"), ("Mao, Zedong", "Mao Zedong"),
    ("Zhou, Enlai", "Zhou Enlai"), ("Khrushchev, Nikita Sergeevich", "N. S. Khrushchev"),
    ("Gomułka, Władysław", "Władysław Gomułka"), ("Dubček, Alexander", "Alexander Dubček"),
    ("Ulbricht, Walter", "Walter Ulbricht"), ("Ceaușescu, Nicolae", "Nicolae Ceaușescu"),
    ("Tito, Josip Broz", "Josip Broz Tito"), ("Castro, Fidel", "Fidel Castro"),
    ("Kádár, János", "János Kádár"), ("Honecker, Erich", "Erich Honecker"),
    ("Brezhnev, Leonid Ilich", "L. I. Brezhnev"), ("Gromyko, Andrei Andreevich", "A. A. Gromyko"),
    ("Nehru, Jawaharlal", "Jawaharlal Nehru"), ("Hồ, Chí Minh", "Hồ Chí Minh"),
    ("Phạm, Văn Đồng", "Phạm Văn Đồng"), ("Mikoyan, Anastas Ivanovich", "A. Mikoyan"),
    ("Puzanov, Aleksandr Mikhailovich", "A.M. Puzanov"), ("Pak, Chang-ok", "Pak Chang-ok"),
    ("Nasser, Gamal Abdel", "Gamal Abdel Nasser"), ("Nkrumah, Kwame", "Kwame Nkrumah"),
    ("Sihanouk, Norodom", "Norodom Sihanouk"), ("Rákosi, Mátyás", "Mátyás Rákosi"),
    ("Novotný, Antonín", "Antonín Novotný"), ("Zhivkov, Todor", "Todor Zhivkov"),
    ("Gheorghiu-Dej, Gheorghe", "Gheorghe Gheorghiu-Dej"), ("Hoxha, Enver", "Enver Hoxha"),
    ("Tsedenbal, Yumjaagiin", "Yumjaagiin Tsedenbal"), ("Deng, Xiaoping", "Deng Xiaoping"),
    ("Liu, Shaoqi", "Liu Shaoqi"), ("Peng, Dehuai", "Peng Dehuai"),
    ("Shtykov, Terentii Fomich", "T. F. Shtykov"), ("Molotov, Vyacheslav Mikhailovich", "V. M. Molotov"),
    ("Satō, Eisaku", "Satō Eisaku"), ("Ōhira, Masayoshi", "Ōhira Masayoshi"),
    ("Kissinger, Henry", "Henry Kissinger"), ("Nam, Il", "Nam Il"),
    ("Choe, Yong-geon", "Choe Yong-geon"), ("Jaruzelski, Wojciech", "Wojciech Jaruzelski"),
    ("Husák, Gustáv", "Gustáv Husák"), ("Sukarno", "Sukarno"),
    ("Ben Bella, Ahmed", "Ahmed Ben Bella"), ("Filatov, S. N.", "S. N. Filatov"),
]  # fmt: skip
COUNTRIES = [
    ("North Korea", "the DPRK", "Korean"), ("South Korea", "the Republic of Korea", "South Korean"),
    ("China", "the PRC", "Chinese"), ("Soviet Union", "the USSR", "Soviet"),
    ("Poland", "Poland", "Polish"), ("Hungary", "Hungary", "Hungarian"),
    ("Romania", "Romania", "Romanian"), ("Czechoslovakia", "Czechoslovakia", "Czechoslovak"),
    ("Bulgaria", "Bulgaria", "Bulgarian"), ("German Democratic Republic", "the GDR", "East German"),
    ("Germany", "the Federal Republic", "West German"), ("Yugoslavia", "Yugoslavia", "Yugoslav"),
    ("Cuba", "Cuba", "Cuban"), ("Vietnam", "Vietnam", "Vietnamese"), ("Japan", "Japan", "Japanese"),
    ("India", "India", "Indian"), ("Egypt", "Egypt", "Egyptian"), ("Mongolia", "Mongolia", "Mongolian"),
    ("Albania", "Albania", "Albanian"), ("United States", "the United States", "American"),
    ("Ghana", "Ghana", "Ghanaian"), ("Indonesia", "Indonesia", "Indonesian"),
]  # fmt: skip
CITIES = [
    "Pyongyang", "Beijing", "Moscow", "Warsaw", "Budapest", "Bucharest", "Prague", "Sofia",
    "Berlin", "Belgrade", "Havana", "Hanoi", "Tokyo", "New Delhi", "Cairo", "Ulaanbaatar",
    "Tirana", "Geneva", "Kraków", "Brno", "Zürich", "Phnom Penh",
]  # fmt: skip
TOPICS = [
    "Korean War, 1950-1953", "Cuban Missile Crisis", "Sino-Soviet Split", "Nuclear History",
    "Cold War in Asia", "Warsaw Pact", "Vietnam War", "1956 Polish and Hungarian Crises",
    "Inter-Korean Relations", "China-North Korea Relations", "Soviet Union-North Korea Relations",
    "Non-Aligned Movement", "Détente", "The \"Second\" Korean War, 1967-1969",
    "Sino-US Ambassadorial Talks, 1955-1970", "Mitrokhin Archive",
]  # fmt: skip
ARCHIVES = [
    "Archive of Foreign Policy of the Russian Federation (AVP RF)",
    "Chinese Foreign Ministry Archives (PRC FMA)",
    "Political Archive of the Federal Foreign Office, Berlin (PA AA)",
    "Archive of the Romanian Ministry of Foreign Affairs (AMAE)",
    "Hungarian National Archives (MNL OL)", "German Federal Archives (BArch)",
    "Nehru Memorial Museum and Library (NMML)", "Polish Foreign Ministry Archive (AMSZ)",
    "National Archives of the Czech Republic (NA)", "Central State Archive, Sofia (TsDA)",
]  # fmt: skip
LANGUAGES = [
    "Russian", "Chinese", "German", "Romanian", "Hungarian", "Korean", "Japanese", "Polish",
    "Czech", "English", "Arabic", "Vietnamese", "Bulgarian", "Mongolian", "Serbo-Croatian",
]  # fmt: skip
DONORS = [
    "Leon Levy Foundation", "MacArthur Foundation", "ROK Ministry of Unification",
    "Carnegie Corporation of New York (CCNY)", "Chun & Jane Chiu Family Foundation",
    "Blavatnik Family Foundation", "Korea Foundation", "Henry Luce Foundation",
]  # fmt: skip
TYPES = ["Telegram", "Memorandum", "Report", "Letter", "Minutes", "Cable", "Message",
         "Summary", "Diary Entry", "Speech", "Transcript"]  # fmt: skip
CLASSIFICATIONS = ["Secret", "Top Secret", "Confidential", "Strictly Secret"]
ORGANS = [
    "the CPSU Central Committee", "the KWP CC Presidium", "the Ministry of Foreign Affairs",
    "the Politburo", "the State Council", "the Council of Ministers", "the Central Committee",
]  # fmt: skip
THEMES = [
    "the armistice negotiations", "economic aid for the coming year", "the border question",
    "the exchange of students", "the situation in the party", "nuclear cooperation",
    "the repatriation of citizens", "trade and payments", "the visit of a delegation",
    "the preparations for the congress", "the reunification question", "grain deliveries",
]  # fmt: skip

_WS = re.compile(r"[^a-z0-9\s-]")


def slugify(title: str) -> str:
    """Pathauto-style slug: ASCII, lower case, punctuation dropped, stop words dropped.

    >>> slugify("Minutes, Mao’s Conversation with a Yugoslavian Communist Union Delegation, Beijing, [undated]")
    'minutes-maos-conversation-yugoslavian-communist-union-delegation-beijing-undated'
    >>> slugify("About an Embassy. Folder 78. The Chekist Anthology")
    'about-embassy-folder-78-chekist-anthology'
    """
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    words = [w for w in _WS.sub("", ascii_text).replace("-", " ").split() if w not in _STOP_WORDS]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > _SLUG_MAX:
            break
        slug = candidate
    return slug or "document"


def format_date(year: int | None, month: int | None, day: int | None) -> str:
    """The site's display form of a known date (day not zero-padded)."""
    if year is None:
        return ""
    if month is None:
        return str(year)
    if day is None:
        return f"{MONTHS[month - 1]} {year}"
    return f"{MONTHS[month - 1]} {day}, {year}"


def iso_date(year: int | None, month: int | None, day: int | None) -> tuple[str | None, str | None]:
    if year is None:
        return None, None
    if month is None:
        return f"{year:04d}", "year"
    if day is None:
        return f"{year:04d}-{month:02d}", "month"
    return f"{year:04d}-{month:02d}-{day:02d}", "day"


class _Terms:
    """Term registry: one id per (vocabulary, name), stable for a given build."""

    def __init__(self) -> None:
        self._terms: dict[tuple[str, str], Term] = {}
        self._next = 3000

    def get(self, vocabulary: str, name: str) -> Term:
        key = (vocabulary, name)
        term = self._terms.get(key)
        if term is None:
            self._next += 1
            term = Term(name=name, tid=self._next, slug=slugify(name))
            self._terms[key] = term
        return term

    def by_tid(self) -> dict[int, tuple[str, Term]]:
        return {t.tid: (vocab, t) for (vocab, _), t in self._terms.items()}

    def vocabulary(self, vocabulary: str) -> list[Term]:
        """The terms of ``vocabulary`` registered so far, oldest first."""
        return [t for (vocab, _), t in self._terms.items() if vocab == vocabulary]


@dataclass
class Archive:
    """The replica's whole content, with the look-ups the server needs."""

    docs: list[ReplicaDoc]
    """All documents, newest upload first (the default order of ``/search``)."""
    seed_query: str
    seed_slugs: list[str]
    seed: int
    by_slug: dict[str, ReplicaDoc] = field(default_factory=dict)
    by_record: dict[int, ReplicaDoc] = field(default_factory=dict)
    by_nid: dict[int, ReplicaDoc] = field(default_factory=dict)
    night: int = 0
    """The churn night this archive stands at (``--night``; 0: the base archive)."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """That night's events (``--dump-events``), in the order they happened."""
    gone: dict[str, int] = field(default_factory=dict)
    """Removed documents (slug -> 404 or 410, what their addresses answer)."""
    gone_records: dict[int, int] = field(default_factory=dict)
    """The same by record id (the legacy ``/document/<record id>``)."""
    gone_nids: dict[int, int] = field(default_factory=dict)
    """The same by node id (``/node/<nid>``, ``/document/<nid>/download``)."""

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self.docs.sort(key=lambda d: d.created, reverse=True)
        self.by_slug = {d.slug: d for d in self.docs}
        self.by_record = {d.record_id: d for d in self.docs}
        self.by_nid = {d.nid: d for d in self.docs}

    def full(self, doc: ReplicaDoc) -> ReplicaDoc:
        """The document with its generated text filled in (kept out of memory until asked)."""
        if doc.text or doc.pane != "translation":
            return doc
        return replace(doc, text=_text_for(doc, self.seed))

    def truth(
        self, base_url: str, per_page: int = PAGE_SIZE, served: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """What a whole-archive harvest of this replica must produce, document by document.

        ``per_page``: the ``items_per_page`` the harvest asks for (its listing URLs carry it
        unless it is the site's default, 10); ``served``: the rows a page really holds when
        the site ignores the parameter (the ``ignoreperpage`` fault).
        """
        base = base_url.rstrip("/")
        size = served or per_page
        for index, doc in enumerate(self.docs):
            full = self.full(doc)
            page = index // size
            if per_page == PAGE_SIZE:
                listing_url = f"{base}/search" + (f"?page={page}" if page else "")
            else:
                listing_url = f"{base}/search?items_per_page={per_page}" + (f"&page={page}" if page else "")
            yield {
                "id": doc.slug,
                "url": f"{base}/document/{doc.slug}",
                "title": doc.clean_title or None,
                "date": doc.date,
                "date_precision": doc.date_precision,
                "date_raw": doc.date_raw or None,
                "summary": "\n\n".join(doc.summary) or None,
                "listing_url": listing_url,
                "position": index + 1,
                "record_id": str(doc.record_id),
                "node_id": str(doc.nid),
                "credits": doc.credits,
                "authors": [t.name for t in doc.authors],
                "people": [t.name for t in doc.people],
                "places": [t.name for t in doc.places],
                "topics": [t.name for t in doc.topics],
                "subjects": list(doc.subjects),
                "source": doc.source,
                "original_archive": [t.name for t in doc.original_archive],
                "classification": doc.classification,
                "type": doc.type,
                "languages": [t.name for t in doc.languages],
                "uploaded_date": doc.uploaded_date,
                "rights": "\n\n".join(doc.rights) or None,
                "contributors": list(doc.contributors),
                "donors": list(doc.donors),
                "pdf_urls": [f"{base}{p}" for p in doc.pdf_paths],
                "download_url": f"{base}/document/{doc.nid}/download",
                "related": [f"{base}/document/{s}" for s in doc.related],
                "text": "\n\n".join(full.text) or None,
            }


def _text_for(doc: ReplicaDoc, seed: int) -> list[str]:
    if doc.text_version:
        digest = hashlib.sha256(f"text|{seed}|{doc.nid}|{doc.text_version}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
    else:
        rng = random.Random(seed * 1_000_003 + doc.nid)
    count = rng.randint(8, 16)
    return [_paragraph(rng, i + 1 if rng.random() < 0.15 else None) for i in range(count)]


def _paragraph(rng: random.Random, footnote: int | None) -> str:
    sentences = []
    for _ in range(rng.randint(6, 10)):
        a = rng.choice(PEOPLE)[1]
        b = rng.choice(PEOPLE)[1]
        country = rng.choice(COUNTRIES)
        sentences.append(
            rng.choice(
                (
                    f"{a} said that {rng.choice(THEMES)} had to be settled before the end of the year.",
                    f"Comrade {a} informed {b} about {rng.choice(THEMES)} and the position of {country[1]}.",
                    f"The delegation of {country[1]} raised {rng.choice(THEMES)}, and {b} promised an answer within a week.",
                    f"According to {a}, {rng.choice(ORGANS)} had discussed {rng.choice(THEMES)} twice.",
                    f"{b} noted that the {country[2]} side was “not yet ready” to discuss {rng.choice(THEMES)}.",
                    f"In {rng.choice(CITIES)} the talks lasted {rng.randint(2, 9)} hours; {a} thanked {b} for the reception.",
                )
            )
        )
    text = " ".join(sentences)
    return f"{text}[{footnote}]" if footnote else text


def _summary(rng: random.Random, title_people: list[str]) -> list[str]:
    roll = rng.random()
    if roll < 0.05:
        return []
    a = title_people[0] if title_people else rng.choice(PEOPLE)[1]
    b = rng.choice(PEOPLE)[1]
    first = rng.choice(
        (
            f"{a} and {b} discuss {rng.choice(THEMES)}.",
            f"{a} reports to {rng.choice(ORGANS)} on {rng.choice(THEMES)}.",
            f"{a} describes {rng.choice(THEMES)} & the reaction of {rng.choice(COUNTRIES)[1]}.",
            f"A record of {rng.choice(THEMES)}, with remarks by {a} <in brackets>.",
        )
    )
    paras = [first + " " + f"{b} asks about {rng.choice(THEMES)}."]
    if roll > 0.9:
        paras.append(f"The second part concerns {rng.choice(THEMES)}.")
    return paras


def _title(rng: random.Random) -> tuple[str, list[str]]:
    p1 = rng.choice(PEOPLE)[1]
    p2 = rng.choice(PEOPLE)[1]
    c1 = rng.choice(COUNTRIES)
    c2 = rng.choice(COUNTRIES)
    year = rng.randint(1945, 1991)
    day_text = f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {year}"
    templates = (
        (f"Telegram from {p1} to {rng.choice(ORGANS).removeprefix('the ')}", [p1]),
        (f"Record of a Conversation between {p1} and {p2}", [p1, p2]),
        (f"Memorandum of Conversation with {p1}, {day_text}", [p1]),
        (f"Journal of Soviet Ambassador to the DPRK {p1} for {day_text}", [p1]),
        (f"Report, Embassy of {c1[0]} in {c2[0]} to the {c1[2]} Foreign Ministry", []),
        (f"Letter from {p1} to {p2}", [p1, p2]),
        (f"Minutes of Conversation between {p1} and {p2}, {rng.choice(CITIES)}, [undated]", [p1, p2]),
        (f"Cable from the {c1[2]} Foreign Ministry, ‘On {rng.choice(THEMES).removeprefix('the ')}’", []),
        (f"{p1}, 'Notes on {rng.choice(THEMES).removeprefix('the ')}' (Excerpts)", [p1]),
        (f"Information on the Attitude of {c1[1]} to {rng.choice(THEMES)} [{c1[2]} Embassy Report]", []),
        (
            f"Telegram No. {rng.randint(10, 999)}.{rng.randint(100, 999)} from {rng.choice(CITIES)} to {rng.choice(CITIES)}, “Urgent”",
            [],
        ),
    )
    title, people = rng.choice(templates)
    if rng.random() < 0.85 and str(year) not in title:
        title = f"{title}, {day_text}"
    return title, people


def markup(text: str) -> str:
    """``text`` as the markup carries it: ``&``, ``<`` and ``>`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _display_title(rng: random.Random, clean: str) -> str:
    """The title as the markup carries it: escaped, and now and then untidy.

    Each untidiness is one the title pipeline must undo: an apostrophe as a numeric entity
    (``&#039;``, Drupal's escaping), runs and odd kinds of white space, a zero-width space,
    a decomposed accent. (A reader of the real site never sees a double-escaped title: see
    ``../shared/data``; the ``titles:doubleescaped`` fault stages one, shown as it reads.)
    """
    shown = markup(clean)
    roll = rng.random()
    if roll < 0.01 and "'" in shown:
        shown = shown.replace("'", "&#039;")
    elif roll < 0.02:
        shown = shown.replace(" ", "  ", 1) + " "
    elif roll < 0.025:
        shown = "\n  " + shown.replace(" ", "\u00a0", 1)
    elif roll < 0.03:
        shown = shown.replace(" ", " \u200b", 1)
    elif roll < 0.035:
        shown = unicodedata.normalize("NFD", shown)
    return shown


def _pick_terms(
    rng: random.Random, terms: _Terms, vocab: str, names: list[str], lo: int, hi: int
) -> list[Term]:
    count = rng.randint(lo, hi)
    chosen = rng.sample(names, min(count, len(names)))
    return [terms.get(vocab, n) for n in chosen]


def _random_date(rng: random.Random) -> tuple[int | None, int | None, int | None]:
    roll = rng.random()
    year = rng.randint(1945, 1991)
    month = rng.randint(1, 12)
    if roll < 0.04:
        return None, None, None
    if roll < 0.11:
        return year, None, None
    if roll < 0.20:
        return year, month, None
    # Any real day of that month, including the 29th of February in a leap year.
    days = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30,
            31, 31, 30, 31, 30, 31][month - 1]  # fmt: skip
    return year, month, rng.randint(1, days)


def _load_facts() -> dict[str, Any]:
    text = resources.files("replica").joinpath("facts.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class Changes:
    """Edits to the archive since a harvest: ``--changes ADDED,EDITED,REMOVED``."""

    added: int = 0
    edited: int = 0
    removed: int = 0

    @classmethod
    def parse(cls, text: str) -> Changes:
        parts = text.split(",")
        if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"{text!r}: give three whole numbers ADDED,EDITED,REMOVED, e.g. 25,10,5")
        return cls(*(int(p) for p in parts))


class ArchiveBuilder:
    """Makes the documents of one seed in a fixed sequence, each from its own seeded draw.

    Document ``i`` of the sequence is the seed search's ``i``-th result, then a real record,
    then a generated document. The first ``size`` are the base archive, given an upload order
    by a seeded shuffle; documents made later (:meth:`upload`: ``--changes``, churn nights,
    ``shift``) are newer than all of them, so the base is the same with or without them.
    Slugs, node ids and record ids are never given twice, even after a removal.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.seed = seed
        self.facts = _load_facts()
        if size < len(self.facts["seed"]):
            raise ValueError(f"size {size} is smaller than the seed search ({len(self.facts['seed'])})")
        self.terms = _Terms()
        self.docs: list[ReplicaDoc] = []
        """Every document made, in the order made (removals do not take them out)."""
        self.seed_slugs: list[str] = []
        self.base_size = size
        self._people_names = [p[0] for p in PEOPLE]
        self._place_names = [c[0] for c in COUNTRIES] + CITIES
        self._titles: list[str] = []
        self._used_slugs: set[str] = set()
        self._used_nids: set[int] = set()
        self._used_records: set[int] = set()
        for real in self.facts["real"]:
            if real.get("node_id"):
                self._used_nids.add(int(real["node_id"]))
            if real.get("record_id"):
                self._used_records.add(int(real["record_id"]))
        self._next_nid = 60_000
        self._next_record = 120_000
        self.docs = [self._make(index) for index in range(size)]
        # Upload order: a seeded shuffle, so seed and real documents sit among generated ones.
        order = list(range(size))
        random.Random(seed).shuffle(order)
        for created, doc_index in enumerate(order, start=1):
            self._uploaded(self.docs[doc_index], created, None)
        self.created = size
        """The ``created`` of the newest document made."""
        # Related documents: up to three others of the base archive, chosen by seeded draw.
        for doc in self.docs:
            doc_rng = random.Random(seed * 31 + doc.nid)
            if doc_rng.random() < 0.3:
                doc.related = [self.docs[doc_rng.randrange(size)].slug for _ in range(doc_rng.randint(1, 3))]
                doc.related = [s for s in dict.fromkeys(doc.related) if s != doc.slug]

    def upload(self, count: int, on: str | None = None) -> list[ReplicaDoc]:
        """Make the next ``count`` documents of the sequence, newest last, uploaded ``on``
        (``YYYY-MM-DD``; None: after the base's uploads, spread as theirs are)."""
        new = [self._make(len(self.docs) + n) for n in range(count)]
        for doc in new:
            self.created += 1
            self._uploaded(doc, self.created, on)
        self.docs.extend(new)
        return new

    def archive(self, docs: list[ReplicaDoc] | None = None) -> Archive:
        """The archive of ``docs`` (default: every document made)."""
        return Archive(
            docs=list(self.docs if docs is None else docs),
            seed_query=self.facts["query"],
            seed_slugs=self.seed_slugs,
            seed=self.seed,
        )

    def _uploaded(self, doc: ReplicaDoc, created: int, on: str | None) -> None:
        doc.created = created
        if on is not None:
            doc.uploaded_date = on
        elif not doc.uploaded_date:
            # Uploads spread over 2011-2025 in upload order.
            day_number = 734_138 + created * 5_000 // self.base_size  # 2011-01-01 + ...
            doc.uploaded_date = date_type.fromordinal(day_number).isoformat()

    def _take_slug(self, preferred: str | None, title: str) -> str:
        base = preferred or slugify(title)
        if base not in self._used_slugs:
            self._used_slugs.add(base)
            return base
        n = 0
        while f"{base}-{n}" in self._used_slugs:
            n += 1
        self._used_slugs.add(f"{base}-{n}")
        return f"{base}-{n}"

    def _new_nid(self) -> int:
        while self._next_nid in self._used_nids:
            self._next_nid += 1
        self._used_nids.add(self._next_nid)
        return self._next_nid

    def _new_record(self) -> int:
        while self._next_record in self._used_records:
            self._next_record += 1
        self._used_records.add(self._next_record)
        return self._next_record

    def _make(self, index: int) -> ReplicaDoc:
        """Document ``index`` of the sequence (made once, in order: it takes slugs and ids)."""
        seed, facts = self.seed, self.facts
        if index < len(facts["seed"]):
            row = facts["seed"][index]
            doc_rng = random.Random(seed * 7919 + index)
            slug = self._take_slug(None, row["title"])
            self.seed_slugs.append(slug)
            return ReplicaDoc(
                nid=self._new_nid(), record_id=self._new_record(), slug=slug,
                title=row["title"].replace("&", "&amp;"), clean_title=row["title"],
                date_raw=row["date_raw"], date=row["date"], date_precision=row["date_precision"],
                summary=[row["summary"]], created=0, uploaded_date="",
                **self._details(doc_rng, []),
            )  # fmt: skip
        real_index = index - len(facts["seed"])
        if real_index < len(facts["real"]):
            real = facts["real"][real_index]
            doc_rng = random.Random(seed * 7919 + 1000 + real_index)
            generated = self._details(doc_rng, [])
            terms = self.terms
            for key, vocab in (("authors", "people"), ("people", "people"), ("places", "places"),
                               ("topics", "topics"), ("original_archive", "original_repositories"),
                               ("languages", "languages")):  # fmt: skip
                if real.get(key):
                    generated[key] = [terms.get(vocab, n) for n in real[key]]
            for key in ("subjects", "contributors", "donors"):
                if real.get(key):
                    generated[key] = list(real[key])
            for key in ("credits", "type", "classification"):
                if real.get(key):
                    generated[key] = real[key]
            return ReplicaDoc(
                nid=int(real["node_id"]) if real.get("node_id") else self._new_nid(),
                record_id=int(real["record_id"]) if real.get("record_id") else self._new_record(),
                slug=self._take_slug(real.get("slug"), real["title"]),
                title=real["title"].replace("&", "&amp;"), clean_title=real["title"],
                date_raw=real["date_raw"], date=real["date"], date_precision=real["date_precision"],
                summary=_summary(doc_rng, []), created=0,
                uploaded_date=real.get("uploaded_date") or "",
                **generated,
            )  # fmt: skip
        doc_rng = random.Random(seed * 7919 + 100_000 + index)
        people: list[str]
        if self._titles and doc_rng.random() < 0.02:
            clean, people = doc_rng.choice(self._titles), []
        else:
            clean, people = _title(doc_rng)
            self._titles.append(clean)
        year, month, day = _random_date(doc_rng)
        date, precision = iso_date(year, month, day)
        return ReplicaDoc(
            nid=self._new_nid(), record_id=self._new_record(), slug=self._take_slug(None, clean),
            title=_display_title(doc_rng, clean), clean_title=clean,
            date_raw=format_date(year, month, day), date=date, date_precision=precision,
            summary=_summary(doc_rng, people), created=0, uploaded_date="",
            **self._details(doc_rng, people),
        )  # fmt: skip

    def _details(self, doc_rng: random.Random, title_people: list[str]) -> dict[str, Any]:
        terms = self.terms
        lang = doc_rng.choice(LANGUAGES)
        donor = doc_rng.choice(DONORS) if doc_rng.random() < 0.35 else None
        pane = doc_rng.choices(("translation", "transcript", "original"), (80, 12, 8))[0]
        nid_hint = doc_rng.randint(1000, 9999)
        pdfs = []
        if pane != "translation" or doc_rng.random() < 0.5:
            pdfs.append(f"/sites/default/files/shared-media/document_scan/{lang}-{nid_hint}-scan.pdf")
        if pane == "transcript":
            # In page order: the scans (original pane) come before the transcript.
            pdfs.append(
                f"/sites/default/files/shared-media/imported_document_transcript/Volume%20{nid_hint}.pdf"
            )
        authors = [p for p in PEOPLE if p[1] in title_people][:1]
        return {
            "credits": f"This document was made possible with support from {donor}" if donor else None,
            "authors": [terms.get("people", a[0]) for a in authors]
            + _pick_terms(doc_rng, terms, "people", self._people_names, 0, 1),
            "people": _pick_terms(doc_rng, terms, "people", self._people_names, 0, 3),
            "places": _pick_terms(doc_rng, terms, "places", self._place_names, 1, 4),
            "topics": _pick_terms(doc_rng, terms, "topics", TOPICS, 0, 2),
            "subjects": [
                f"{a}--Foreign relations--{b}"
                for a, b in (
                    doc_rng.sample([c[0] for c in COUNTRIES], 2) for _ in range(doc_rng.randint(0, 4))
                )
            ],
            "source": f"{doc_rng.choice(ARCHIVES).rsplit('(', 1)[-1].rstrip(')')}, fond {doc_rng.randint(1, 999)}, "
            f"opis {doc_rng.randint(1, 99)}, delo {doc_rng.randint(1, 999)}. Translated for the replica.",
            "original_archive": _pick_terms(doc_rng, terms, "original_repositories", ARCHIVES, 0, 1),
            "classification": doc_rng.choice(CLASSIFICATIONS) if doc_rng.random() < 0.12 else None,
            "type": doc_rng.choice(TYPES) if doc_rng.random() < 0.7 else None,
            "languages": [terms.get("languages", lang)],
            "rights": list(RIGHTS),
            "contributors": [doc_rng.choice(PEOPLE)[0]] if doc_rng.random() < 0.05 else [],
            "donors": [donor] if donor and doc_rng.random() < 0.7 else [],
            "pdf_paths": pdfs,
            "pane": pane,
            "text_language": "English",
        }


def build_archive(
    size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED, changes: Changes | None = None
) -> Archive:
    """Build the replica's archive of ``size`` documents (at least the 11 of the seed).

    With ``changes``, the same archive after new uploads (at the top of the upload order),
    edits (summary, and title or date) and removals, each chosen by a seeded draw.
    """
    changes = changes or Changes()
    if changes.edited + changes.removed > size - 11:
        raise ValueError("more edits and removals than documents outside the seed search")
    builder = ArchiveBuilder(size, seed)
    builder.upload(changes.added)
    _apply_edits(builder.docs, size, changes, seed, skip=set(builder.seed_slugs))
    return builder.archive()


EDIT_DATE = "2025-06-30"
"""When ``--changes`` edits happened: after every upload of the base archive (the last is in 2024)."""


def _apply_edits(docs: list[ReplicaDoc], base_size: int, changes: Changes, seed: int, skip: set[str]) -> None:
    """Edit and remove documents of the base archive in place (removed ones are dropped).

    Removals are drawn among documents no other lists as related, so that exactly the
    edited documents change.
    """
    if not (changes.edited or changes.removed):
        return
    rng = random.Random(seed * 104_729 + 1)
    referenced = {s for d in docs for s in d.related}
    candidates = [
        i for i, d in enumerate(docs[:base_size]) if d.slug not in skip and d.slug not in referenced
    ]
    chosen = rng.sample(candidates, changes.edited + changes.removed)
    for n, index in enumerate(chosen[: changes.edited]):
        doc = docs[index]
        doc.revised = EDIT_DATE
        doc.summary = [
            f"Revised description {n + 1}: the record was re-catalogued after review.",
            *doc.summary[:1],
        ]
        if n % 3 == 0:
            doc.clean_title = f"{doc.clean_title} (Revised)"
            doc.title = f"{doc.title} (Revised)"
        elif n % 3 == 1 and doc.date_precision == "day":
            year, month = int(doc.date[:4]), int(doc.date[5:7])  # type: ignore[index]
            doc.date_raw = format_date(year, month, None)
            doc.date, doc.date_precision = iso_date(year, month, None)
    removed = {docs[i].slug for i in chosen[changes.edited :]}
    docs[:] = [d for d in docs if d.slug not in removed]


# --- archive faults (``--faults baddates@RATE,badtitles@RATE``, see faults.py) -------------

BAD_DATE_FORMS = ("Spring {y}", "{y}{d}", "February 30, {y}", "c. {y}", "April 31, {y}")
"""Malformed dates a spoiled document shows (``{y}``: its year, or 1956; ``{d}``: a digit)."""
BAD_TITLES = ("", "   ", "\n\t  \n", "&nbsp;", "\u200b ")
"""Titles with nothing visible (markup as carried: ``&nbsp;`` is an entity)."""


def _spoil_draws(
    archive: Archive, rate: float, seed: int, kind: str, salt: str, only: str | None = None
) -> list[tuple[ReplicaDoc, random.Random]]:
    """The documents a seeded draw picks at ``rate`` (never the seed search's), with their draw;
    with ``only`` (a slug), that one document whatever the rate."""
    if only is not None and only not in archive.by_slug:
        raise ValueError(f"no document /document/{only} in this archive")
    skip = set(archive.seed_slugs)
    chosen = []
    for doc in archive.docs:
        excluded = doc.slug != only if only is not None else doc.slug in skip
        if excluded:
            continue
        digest = hashlib.sha256(f"{kind}|{seed}|{salt}|{doc.nid}".encode()).digest()
        draw = random.Random(int.from_bytes(digest[:8], "big"))
        if draw.random() < rate or only is not None:
            chosen.append((doc, draw))
    return chosen


def spoil_dates(
    archive: Archive, rate: float, seed: int, salt: str = "", only: str | None = None
) -> list[ReplicaDoc]:
    """Give a seeded share of the documents a malformed displayed date, in place.

    The truth follows: ``date_raw`` is the malformed text, ``date`` and ``date_precision``
    are None (a correct harvest reads nothing from it). Returns the spoiled documents.
    """
    spoiled = []
    for doc, draw in _spoil_draws(archive, rate, seed, "baddates", salt, only):
        year = int(doc.date[:4]) if doc.date else 1956
        doc.date_raw = draw.choice(BAD_DATE_FORMS).format(y=year, d=year % 10)
        doc.date = doc.date_precision = None
        spoiled.append(doc)
    return spoiled


def spoil_titles(
    archive: Archive, rate: float, seed: int, salt: str = "", only: str | None = None
) -> list[ReplicaDoc]:
    """Give a seeded share of the documents an empty or white-space-only title, in place.

    The truth follows: ``clean_title`` is empty, so the truth's ``title`` is None. The slug
    stays the one the original title gave. Returns the spoiled documents.
    """
    spoiled = []
    for doc, draw in _spoil_draws(archive, rate, seed, "badtitles", salt, only):
        doc.title = draw.choice(BAD_TITLES)
        doc.clean_title = ""
        spoiled.append(doc)
    return spoiled


SCRIPT_IN_TITLE = '<script>var note = "<b>not a title</b>";</script>'
"""What ``titles:kind=script`` puts in a title's markup, after its first word."""
INVISIBLE_TITLE = "\u2063\u3164\u2063\u3164\u2063"
"""A title of invisible characters only (INVISIBLE SEPARATOR, HANGUL FILLER)."""


def hostile_title(kind: str, clean: str) -> tuple[str, str]:
    """A hostile form of the title ``clean``: (the markup, what a reader sees).

    >>> hostile_title("doubleescaped", "Talks & Notes")
    ('Talks &amp; Notes &amp;amp; Enclosures', 'Talks & Notes &amp; Enclosures')
    >>> hostile_title("script", "Talks on <Aid>")[0]
    'Talks<script>var note = "<b>not a title</b>";</script> on &lt;Aid&gt;'
    >>> hostile_title("invisible", "Talks")[1]
    ''
    """
    shown = markup(clean)
    if kind == "doubleescaped":
        return shown + " &amp;amp; Enclosures", clean + " &amp; Enclosures"
    if kind == "script":
        head, space, tail = shown.partition(" ")
        return head + SCRIPT_IN_TITLE + space + tail, clean
    if kind == "invisible":
        return INVISIBLE_TITLE, ""
    raise ValueError(f"unknown hostile title kind {kind!r}")


def spoil_titles_hostile(
    archive: Archive, kind: str, rate: float, seed: int, salt: str = "", only: str | None = None
) -> list[ReplicaDoc]:
    """Give a seeded share of the documents (or the one ``only``) a hostile title, in place.

    The truth follows: ``clean_title`` is what a reader sees (empty for ``invisible``, so
    the truth's ``title`` is None). The slug stays. Returns the spoiled documents.
    """
    spoiled = []
    for doc, _ in _spoil_draws(archive, rate, seed, f"titles:{kind}", salt, only):
        doc.title, doc.clean_title = hostile_title(kind, doc.clean_title or "Untitled")
        spoiled.append(doc)
    return spoiled
