"""Tests of ``replica.html``: the replica's pages must look like the real site's.

The documents built here are invented (names and places like real ones). The last tests run
the same selectors on the saved real pages (``shared/fixtures/real/document/``) and on replica
pages, and require both to show the same landmarks.
"""

from __future__ import annotations

import html
import json
from dataclasses import replace
from pathlib import Path

import pytest
from parsel import Selector

from replica.html import (
    has_pane_challenge_script,
    page_shell,
    render_document_main,
    render_document_page,
    render_result_row,
)
from replica.model import ReplicaDoc, Term
from tests.shared import require_shared

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real" / "document"
# Without ../shared, one stand-in that require_shared() skips (or fails in CI).
REAL_PAGES = sorted(REAL_DIR.glob("*.html")) if REAL_DIR.is_dir() else [REAL_DIR / "missing.html"]
CHALLENGE = "/cdn-cgi/challenge-platform/"

RIGHTS = [
    "The program welcomes reuse of these materials for research and teaching. Some "
    "documents may be subject to copyright held by third parties.",
    "To ask about this document's rights status, please contact the program at HAPP@wilsoncenter.org.",
]

_SENTENCES = (
    "The delegation arrived in the capital on the morning of the fourth and was received by "
    "the deputy minister, who stressed the importance of the forthcoming negotiations.",
    "In the course of the conversation the ambassador raised the question of the border "
    "incidents and asked for a written account of the measures taken by the local authorities.",
    "The minister replied that the government would study the proposal carefully, but that "
    "no decision could be taken before the plenum of the Central Committee had met.",
    "Both sides agreed that the exchange of views had been useful and that contacts at the "
    "working level should continue through the usual diplomatic channels.",
)


def _term(name: str, tid: int) -> Term:
    return Term(name=name, tid=tid, slug=name.lower().replace(", ", "-").replace(" ", "-"))


def _paragraphs(count: int) -> list[str]:
    """Invented text paragraphs of realistic length (two or three sentences each)."""
    out = []
    for i in range(count):
        a, b, c = (_SENTENCES[(i + k) % len(_SENTENCES)] for k in range(3))
        out.append(f"{a} {b}" if i % 2 else f"{a} {b} {c}")
    return out


def make_doc(**changes: object) -> ReplicaDoc:
    """A typical translated document with every optional section filled."""
    text = _paragraphs(15)
    text[2] += " [1]"
    text[9] += " [2]"
    text += [
        "[1] The report of 4 March has not been found in the embassy files.",
        "[2] The plenum met in October; see the party's record of that session.",
    ]
    doc = ReplicaDoc(
        nid=92561,
        record_id=116658,
        slug="report-embassy-talks-deputy-minister",
        title="Report on the Embassy&#039;s Talks with the Deputy Minister",
        date_raw="March 4, 1962",
        summary=[
            "The embassy reports on talks about border incidents and the coming plenum.",
            "The ambassador asks for a written account of the measures taken.",
        ],
        created=5000,
        uploaded_date="2013-04-02",
        credits="This document was made possible with support from Example Foundation",
        authors=[_term("Horvath, Lajos", 501), _term("Kim, Il Sung", 502)],
        people=[_term("Wang, Ming", 503)],
        places=[_term("China", 601), _term("North Korea", 602), _term("Soviet Union", 603)],
        topics=[_term("China-North Korea Relations", 701)],
        subjects=["Korea (North)--Foreign relations--China", "Border security--China"],
        source="Archive of the Ministry, fond 12, file 3. Translated by an archive fellow.",
        original_archive=[_term("Hungarian National Archives (MOL)", 801)],
        classification="Secret",
        type="Report",
        languages=[_term("Hungarian", 3960)],
        rights=list(RIGHTS),
        contributors=["Kovacs, Anna"],
        donors=["Example Foundation", "Another Trust"],
        pane="translation",
        text_language="English",
        text=text,
    )
    return replace(doc, **changes)  # type: ignore[arg-type]


def make_related(n: int = 2) -> list[ReplicaDoc]:
    """Short documents for the "Related Documents" table."""
    return [
        make_doc(
            nid=87000 + i,
            record_id=110000 + i,
            slug=f"cable-foreign-ministry-plan-talks-{i}",
            title=f"Cable from the Foreign Ministry, &#039;Plan for the Talks&#039; ({i})",
            date_raw="July 18, 1955",
            summary=[f"The ministry sends instructions for the talks ({i})."],
        )
        for i in range(n)
    ]


def minimal_doc(**changes: object) -> ReplicaDoc:
    """A document with every optional part empty."""
    doc = ReplicaDoc(
        nid=90001,
        record_id=120001,
        slug="undated-note",
        title="Undated Note",
        date_raw="",
        summary=[],
        created=1,
        uploaded_date="2014-01-01",
        text=["Only one paragraph."],
    )
    return replace(doc, **changes)  # type: ignore[arg-type]


def page_of(doc: ReplicaDoc, related: list[ReplicaDoc] | None = None, **kw: str) -> Selector:
    return Selector(text=render_document_page(doc, related or [], **kw))


def _clean(texts: list[str]) -> list[str]:
    return [" ".join(t.split()) for t in texts if t.strip()]


def info_labels(sel: Selector) -> list[str]:
    return _clean(sel.css("section.document-information div.information-block > h3.sub-title::text").getall())


def info_value(sel: Selector, label: str) -> Selector:
    blocks = sel.xpath(
        "//section[contains(@class,'document-information')]"
        "//div[contains(@class,'information-block')]"
        f"[normalize-space(h3[contains(@class,'sub-title')])='{label}']/div[@class='text']"
    )
    assert len(blocks) == 1, label
    return blocks[0]


def pill_headings(sel: Selector) -> list[str]:
    return _clean(sel.css("div.pill-block > h3.title::text").getall())


# -----------------------------------------------------------------------------------------
# Structure of a replica document page
# -----------------------------------------------------------------------------------------


def test_header_and_tabs() -> None:
    doc = make_doc()
    sel = page_of(doc)
    assert sel.css("main#main h1.title > span::text").get() == (
        "Report on the Embassy's Talks with the Deputy Minister"
    )
    assert sel.css("div.content-block h2.date::text").get() == "March 4, 1962"
    assert sel.css("div.content-block p.donated::text").get() == doc.credits
    assert sel.css("#documentTabs .tab-pane.active::attr(id)").getall() == [
        "translation",
        "translation-English",
    ]
    assert sel.css("#translation > .tab-content.tab-content-languages").get() is not None
    assert sel.css("div.document-options a::attr(href)").getall() == ["/document/92561/download"]
    assert _clean(sel.css("div.document-options .changing-text::text").getall()) == [
        "Translation",
        "English",
    ]
    assert sel.css("div.text-block > p::text").getall() == doc.summary


def test_head_and_settings() -> None:
    doc = make_doc()
    sel = page_of(doc)
    assert sel.css("html::attr(lang)").get() == "en"
    assert sel.css("link[rel=canonical]::attr(href)").get() == f"/document/{doc.slug}"
    assert sel.css("link[rel=shortlink]::attr(href)").get() == "/node/92561"
    assert sel.css("head > title::text").get() == (
        "Report on the Embassy's Talks with the Deputy Minister | Wilson Center Digital Archive"
    )
    settings = json.loads(sel.css("script[data-drupal-selector=drupal-settings-json]::text").get() or "")
    assert settings["path"]["currentPath"] == "node/92561"
    assert settings["statistics"]["data"]["nid"] == "92561"
    assert sel.css("body::attr(class)").get() == "path-node page-node-type-document"
    assert render_document_page(doc, []).rstrip().endswith("</html>")


def test_pills_and_blocks() -> None:
    doc = make_doc()
    sel = page_of(doc)
    authors = sel.xpath("//h2[@class='title'][normalize-space()='Author(s):']/following-sibling::ul[1]")
    assert authors.css(
        "li.pill-item > a.pill.pill-people > span.pill-interior > span.name > span::text"
    ).getall() == ["Horvath, Lajos", "Kim, Il Sung"]
    assert authors.css("a.pill::attr(href)").getall() == [
        "/people/horvath-lajos",
        "/people/kim-il-sung",
    ]
    assert authors.css("span.pill-interior > i").get() is not None
    assert pill_headings(sel) == [
        "Associated People & Organizations",
        "Associated Places",
        "Associated Topics",
        "Subjects Discussed",
    ]
    assert sel.css("a.pill.pill-places span.name > span::text").getall() == [
        "China",
        "North Korea",
        "Soviet Union",
    ]
    assert sel.css("a.pill.pill-topics::attr(href)").get() == "/topics/china-north-korea-relations"
    # Subjects: the name is the direct text of span.name, after a newline.
    assert sel.css("a.pill.pill-subject > span.pill-interior > span.name::text").getall() == [
        "\n" + s for s in doc.subjects
    ]
    assert sel.css("a.pill.pill-subject::attr(href)").getall() == [
        "/search?search_api_fulltext=" + s for s in doc.subjects
    ]


def test_document_information() -> None:
    doc = make_doc()
    sel = page_of(doc)
    assert info_labels(sel) == [
        "Source",
        "Original Archive",
        "Rights",
        "Original Uploaded Date",
        "Original Classification",
        "Type",
        "Language",
        "Record ID",
        "Document Contributor(s)",
        "Donors",
    ]
    assert info_value(sel, "Source").xpath("normalize-space()").get() == doc.source
    archive = info_value(sel, "Original Archive")
    assert archive.css("a.pill.pill-light-blue::attr(href)").get() == (
        "/search?search_api_fulltext=Hungarian National Archives (MOL)"
    )
    language = info_value(sel, "Language")
    assert language.css("a.pill.pill-light-blue::attr(href)").get() == (
        "/search?f[0]=languages:3960&fo[0]=3960"
    )
    assert language.css("span.name::text").get() == "\nHungarian"
    rights = info_value(sel, "Rights")
    assert _clean(rights.css("p").xpath("string()").getall()) == RIGHTS
    assert rights.css("p")[-1].css("a::attr(href)").get() == "mailto:HAPP@wilsoncenter.org"
    assert info_value(sel, "Record ID").xpath("normalize-space()").get() == "116658"
    uploaded = info_value(sel, "Original Uploaded Date")
    assert uploaded.xpath("normalize-space()").get() == "2013-04-02"
    donors = info_value(sel, "Donors")
    assert _clean(donors.xpath("text()").getall()) == doc.donors
    assert len(donors.css("br")) == 1
    assert sel.css("#citation a#citation-url::text").get() == (
        "https://digitalarchive.wilsoncenter.org/document/116658"
    )
    citation = " ".join(sel.css("#citation-text::text").get("").split())
    assert citation == (
        '"Report on the Embassy\'s Talks with the Deputy Minister", March 4, 1962, '
        f"Wilson Center Digital Archive, {doc.source}"
    )


def test_related_rows_are_search_rows() -> None:
    related = make_related(2)
    related.append(replace(related[0], nid=87999, slug="no-date-no-summary", date_raw="", summary=[]))
    sel = page_of(make_doc(), related)
    heading = sel.xpath("//h3[@class='title'][normalize-space()='Related Documents']")
    assert len(heading) == 1
    rows = heading.xpath("following-sibling::div[@class='documents'][1]").css(
        "div.card.table-responsive > table.table.table-hover.table-striped > tbody > tr"
    )
    assert len(rows) == 3
    first = rows[0]
    assert first.css("td.date > p::text").get() == "July 18, 1955"
    cell = first.css("td[data-history-node-id].document.contextual-region")
    assert cell.attrib["data-history-node-id"] == "87000"
    link = cell.css("a")
    assert link.attrib["href"] == "/document/cable-foreign-ministry-plan-talks-0"
    assert link.css("h3.sub-title > span::text").get() == (
        "Cable from the Foreign Ministry, 'Plan for the Talks' (0)"
    )
    assert [p.xpath("string()").get() for p in link.css("div.text > p")] == [
        "",
        "The ministry sends instructions for the talks (0).",
        "",
    ]
    last = rows[2]
    assert last.css("td.date *").getall() == []
    assert last.css("div.text > p::text").getall() == []
    # The row helper is the same markup (the search page reuses it).
    assert render_result_row(related[1]) in render_document_main(make_doc(), related)


def test_optional_sections_vanish_when_empty() -> None:
    sel = page_of(minimal_doc())
    assert sel.css("h2.date").get() is None
    assert sel.css("p.donated").get() is None
    assert sel.css("div.text-block").get() is not None
    assert sel.css("div.text-block p").get() is None
    assert sel.xpath("//main//h2[normalize-space()='Author(s):']").get() is None
    assert sel.css("a.pill").get() is None
    assert sel.css("div.pill-block").get() is None
    assert sel.xpath("//main//h3[normalize-space()='Related Documents']").get() is None
    assert sel.css("main td.document").get() is None
    assert info_labels(sel) == ["Original Uploaded Date", "Record ID"]
    assert info_labels(page_of(minimal_doc(uploaded_date=""))) == ["Record ID"]
    citation = " ".join(sel.css("#citation-text::text").get("").split())
    assert citation == '"Undated Note", Wilson Center Digital Archive'


def test_title_class_simulates_layout_change() -> None:
    sel = page_of(make_doc(), title_class="heading")
    assert sel.css("h1.title").get() is None
    assert sel.css("h1.heading > span::text").get() is not None


def test_escaping_round_trips() -> None:
    doc = make_doc(
        title="Talks on A &amp; B &lt;draft&gt;",
        summary=["Prices < costs & <b>not bold</b> \"quoted\" 'single'"],
        subjects=["Arms & <control>"],
        source="Fond 5 & 6 <copy>",
        text=["x < y & z > w", "Plain [3] marker & more"],
        donors=["A & B Trust"],
    )
    raw = render_document_page(doc, [])
    sel = Selector(text=raw)
    assert "<b>not bold</b>" not in raw
    assert sel.css("div.text-block > p::text").getall() == doc.summary
    assert sel.css("h1.title > span::text").get() == "Talks on A & B <draft>"
    assert "<span>Talks on A &amp; B &lt;draft&gt;</span>" in raw  # verbatim, not re-escaped
    assert sel.css("head > title::text").get() == ("Talks on A & B <draft> | Wilson Center Digital Archive")
    assert sel.css("a.pill.pill-subject span.name::text").get() == "\nArms & <control>"
    assert sel.css("a.pill.pill-subject::attr(href)").get() == (
        "/search?search_api_fulltext=Arms & <control>"
    )
    assert info_value(sel, "Source").xpath("normalize-space()").get() == "Fond 5 & 6 <copy>"
    assert _clean(info_value(sel, "Donors").xpath("text()").getall()) == ["A & B Trust"]


def pane_paragraphs(sel: Selector) -> list[str]:
    """Text paragraphs of the active pane, without the empty ``&nbsp;`` spacers."""
    texts = [p.xpath("string()").get() for p in sel.css("#documentTabs .tab-pane.active p")]
    return [t for t in texts if t.strip("\xa0 ")]


@pytest.mark.parametrize("nid", [92561, 92562], ids=["bare-runs", "wrapped"])
def test_text_pane_word_markup_and_footnotes(nid: int) -> None:
    doc = make_doc(nid=nid)
    sel = page_of(doc)
    pane = sel.css("#translation-English")
    assert pane.css("style").get() is not None
    assert pane.css("title").get() is not None
    assert pane.css("meta[http-equiv]").get() is not None
    paragraphs = pane.css("p")
    assert len(paragraphs) == 2 * len(doc.text) - 1
    assert all(p.attrib["class"].startswith("cs") for p in paragraphs)
    assert paragraphs[1].xpath("string()").get() == "\xa0"
    assert pane_paragraphs(sel) == doc.text
    assert pane.css("a[name=_ftnref1]::attr(href)").get() == "#_ftn1"
    assert pane.css("a[name=_ftn1]::attr(href)").get() == "#_ftnref1"
    assert pane.css("a[name=_ftnref2]").get() is not None
    if nid % 2 == 0:  # all paragraphs in one span, p > span.cs
        assert pane.xpath("./span/p/span[starts-with(@class,'cs')]")
    else:  # no wrapper, p > span > span.cs
        assert pane.xpath("./p/span/span[starts-with(@class,'cs')]")


@pytest.mark.parametrize("nid", [92561, 92562, 92563])
def test_challenge_script_in_pane_or_at_end(nid: int) -> None:
    raw = render_document_page(make_doc(nid=nid), [])
    sel = Selector(text=raw)
    assert raw.count(CHALLENGE) == 1  # each page carries it exactly once
    in_pane = sel.css("#translation-English script").get()
    if has_pane_challenge_script(nid):
        assert in_pane is not None and CHALLENGE in in_pane
    else:
        assert in_pane is None
        assert CHALLENGE in (sel.xpath("//body/script[last()]").get() or "")
    # The script is not text of the document.
    assert pane_paragraphs(sel) == make_doc().text
    assert sum(has_pane_challenge_script(n) for n in range(90000, 90300)) == 100


def test_transcript_and_original_panes() -> None:
    pdf = "/sites/default/files/shared-media/imported_document_transcript/Volume%2078.pdf"
    doc = make_doc(pane="transcript", pdf_paths=[pdf], text=[])
    sel = page_of(doc)
    assert sel.css("#documentTabs .tab-pane.active::attr(id)").getall() == ["transcript"]
    assert sel.css("#transcript > object.pdf-preview::attr(data)").get() == pdf
    assert sel.css("#translation").get() is None
    assert sel.css(".dropdown-document-language").get() is None
    kinds = _clean(sel.css(".dropdown-document-type .changing-text::text").getall())
    assert kinds == ["Transcript"]

    with_text = page_of(make_doc(pane="transcript", pdf_paths=[pdf], text=["Line one."]))
    assert pane_paragraphs(with_text) == ["Line one."]

    original = page_of(make_doc(pane="original", pdf_paths=[pdf, "/x.pdf"]))
    assert original.css("#documentTabs .tab-pane.active::attr(id)").getall() == ["original"]
    # Every scan is embedded once, in the original pane.
    assert original.css("#original object.pdf-preview::attr(data)").getall() == [pdf, "/x.pdf"]
    assert pane_paragraphs(original) == []

    # A translation's scans sit in an inactive #original pane before it.
    translated = page_of(make_doc(pane="translation", pdf_paths=[pdf], text=["Para."]))
    assert translated.css("#documentTabs .tab-pane.active::attr(id)").getall() == [
        "translation",
        "translation-English",
    ]
    assert translated.css("#original:not(.active) object.pdf-preview::attr(data)").getall() == [pdf]

    with pytest.raises(ValueError, match="unknown pane 'scan'"):
        render_document_main(make_doc(pane="scan"), [])


def test_chrome_has_menus_form_footer_but_no_document_links() -> None:
    raw = page_shell(title="Search", main_html="<p>x</p>", canonical="/search")
    sel = Selector(text=raw)
    assert len(sel.css("header .megamenu ul li a")) >= 40
    assert sel.css("header form[action='/search'] input[name=search_api_fulltext]").get()
    assert len(sel.css("footer a")) >= 30
    assert sel.css("main#main > p::text").get() == "x"
    assert sel.css("link[rel=shortlink]").get() is None
    assert sel.xpath("//a[contains(@href,'/document/')]").get() is None
    assert raw.count(CHALLENGE) == 1


def test_page_sizes() -> None:
    chrome = len(page_shell(title="", main_html="").encode())
    assert 45_000 <= chrome <= 65_000, chrome
    main = len(render_document_main(make_doc(), make_related(2)).encode())
    assert 15_000 <= main <= 25_000, main
    page = len(render_document_page(make_doc(), make_related(2)).encode())
    assert 60_000 <= page <= 90_000, page


# -----------------------------------------------------------------------------------------
# Real pages and replica pages answer the same selectors
# -----------------------------------------------------------------------------------------

#: Landmarks every document page has (checked on each real page and on the replica).
CORE_LANDMARKS: dict[str, str] = {
    "main": "main#main",
    "title": "main h1.title > span",
    "date": "main div.content-block > h2.date",
    "tabs": "main #documentTabs",
    "active pane": "#documentTabs .tab-pane.active",
    "download": "div.document-options a[href$='/download']",
    "summary": "div.text-block > p",
    "authors": "h2.title + ul.pill-list a.pill.pill-people > span.pill-interior > span.name > span",
    "pill blocks": "div.pill-block > h3.title + ul.pill-list > li.pill-item",
    "places": "a.pill.pill-places > span.pill-interior > span.name > span",
    "topics": "a.pill.pill-topics > span.pill-interior > span.name > span",
    "subjects": "a.pill.pill-subject > span.pill-interior > span.name",
    "info labels": "section.document-information div.information-block > h3.sub-title",
    "info values": "section.document-information div.information-block > h3.sub-title + div.text",
    "language pill": "div.information-block a.pill.pill-light-blue[href^='/search?f[0]=languages:']",
    "citation": "#citation #citation-text",
    "citation url": "#citation a#citation-url",
    "canonical": "head link[rel=canonical]",
    "shortlink": "head link[rel=shortlink]",
    "settings": "script[type='application/json'][data-drupal-selector=drupal-settings-json]",
    "head title": "head > title",
    "footer titles": "footer h2.title",
}
#: Landmarks only some pages have.
OPTIONAL_LANDMARKS: dict[str, str] = {
    "credits": "div.content-block > p.donated",
    "translation": "#translation.tab-pane.active > .tab-content-languages > .tab-pane.active",
    "word markup": ".tab-pane.active p[class^=cs] span[class^=cs]",
    "pdf": "#documentTabs .tab-pane.active object.pdf-preview[data$='.pdf']",
    "language dropdown": ".dropdown-document-language",
    "archive pill": "div.information-block a.pill.pill-light-blue[href^='/search?search_api_fulltext=']",
    "related rows": "div.documents > div.card.table-responsive > table.table.table-hover"
    ".table-striped > tbody > tr > td[data-history-node-id].document.contextual-region"
    " > a[href^='/document/'] > h3.sub-title > span",
    "related dates": "table.table > tbody > tr > td.date > p",
    "related summaries": "td.document > a > div.text > p",
}
ALL_LANDMARKS = {**CORE_LANDMARKS, **OPTIONAL_LANDMARKS}


def found(sel: Selector, landmarks: dict[str, str]) -> set[str]:
    return {name for name, css in landmarks.items() if sel.css(css)}


def real_page(name: str) -> Selector:
    return Selector(text=require_shared(REAL_DIR / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", REAL_PAGES, ids=lambda p: p.stem[:40])
def test_core_landmarks_on_real_and_replica(path: Path) -> None:
    real = Selector(text=require_shared(path).read_text(encoding="utf-8"))
    replica = page_of(make_doc(), make_related(2))
    assert found(real, CORE_LANDMARKS) == set(CORE_LANDMARKS)
    assert found(replica, CORE_LANDMARKS) == set(CORE_LANDMARKS)
    # Neither page links to a document outside <main> (the chrome holds no result-like links).
    outside = "//a[contains(@href,'/document/')][not(ancestor::main)]"
    assert real.xpath(outside).get() is None
    assert replica.xpath(outside).get() is None


#: Replica documents with the same features as each real page.
MIRRORS: dict[str, tuple[ReplicaDoc, int]] = {
    "additional-instructions-regarding-sino-american-ambassadorial-talks-geneva.html": (
        make_doc(people=[], classification=None, contributors=[], donors=["MacArthur Foundation"]),
        2,
    ),
    "minutes-maos-conversation-yugoslavian-communist-union-delegation-beijing-undated.html": (
        make_doc(
            original_archive=[],
            classification=None,
            type=None,
            contributors=[],
            donors=["Leon Levy Foundation"],
        ),
        0,
    ),
    "50th-anniversary-october-revolution-dprk.html": (
        make_doc(credits=None, people=[], classification=None, type=None, contributors=[], donors=[]),
        0,
    ),
    "about-embassy-folder-78-chekist-anthology.html": (
        make_doc(
            credits=None,
            people=[],
            original_archive=[],
            classification=None,
            contributors=[],
            donors=[],
            pane="transcript",
            text=[],
            pdf_paths=[
                "/sites/default/files/shared-media/imported_document_transcript/"
                "Volume%2078-%20About%20an%20Embassy.pdf"
            ],
        ),
        0,
    ),
}


@pytest.mark.parametrize("name", sorted(MIRRORS), ids=lambda n: n[:40])
def test_replica_mirrors_real_page(name: str) -> None:
    real = real_page(name)
    doc, n_related = MIRRORS[name]
    replica = page_of(doc, make_related(n_related))
    assert found(replica, ALL_LANDMARKS) == found(real, ALL_LANDMARKS)
    assert info_labels(replica) == info_labels(real)
    assert pill_headings(replica) == pill_headings(real)
    row = "td[data-history-node-id].document.contextual-region"
    assert len(replica.css(row)) == len(real.css(row)) == n_related
    assert replica.css("#documentTabs .tab-pane.active::attr(id)").getall() == (
        real.css("#documentTabs .tab-pane.active::attr(id)").getall()
    )
    # The author pills sit in the same place relative to their heading.
    authors = "//h2[@class='title'][normalize-space()='Author(s):']/following-sibling::ul[1]//a"
    assert replica.xpath(authors) and real.xpath(authors)


def test_real_title_entities_survive_like_replica() -> None:
    """A title carrying an entity reads the same through parsel on both sides."""
    real = real_page("abd-al-munim-shumays-ghana-liberated-african-state-excerpts.html")
    title = real.css("h1.title > span::text").get() or ""
    replica = page_of(make_doc(title=html.escape(title)))
    assert replica.css("h1.title > span::text").get() == title
