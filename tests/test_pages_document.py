"""Tests of ``harvester.pages.document``: the five real pages, then small synthetic ones.

Expected values of the real pages were read from their HTML (and ``PROVENANCE.md``), not
from the parser. The archive's prose (summaries, document text, rights, source lines) is
not copied here: for those fields the tests check structure against an independent lxml
reading of the whole fixture, made at test time.
"""

from __future__ import annotations

import re
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from parsel import Selector

from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged
from harvester.items import DocumentItem
from harvester.pages.document import FIELD_NAMES, DocumentPage

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real" / "document"
real = pytest.mark.skipif(
    not REAL_DIR.is_dir(),
    reason="../shared/fixtures/real/document not found: real pages are not shipped with the project",
)

SITE = "https://digitalarchive.wilsoncenter.org"
PROSE_FIELDS = ("summary", "text", "rights", "source")

DPRK = "50th-anniversary-october-revolution-dprk"
MAO = "minutes-maos-conversation-yugoslavian-communist-union-delegation-beijing-undated"
GENEVA = "additional-instructions-regarding-sino-american-ambassadorial-talks-geneva"
SHUMAYS = "abd-al-munim-shumays-ghana-liberated-african-state-excerpts"
CHEKIST = "about-embassy-folder-78-chekist-anthology"
RIGHTS_HOLDER_MAIL = "HAPP@wilsoncenter.org"

#: Every field but the prose ones, as read from the HTML of each page.
EXPECTED: dict[str, dict[str, Any]] = {
    DPRK: {
        "title": "50th Anniversary of the October Revolution in the DPRK",
        "date_raw": "November 13, 1967",
        "record_id": "116659",
        "node_id": "92562",
        "credits": None,
        "authors": [
            "Brie, Horst",
            "Kim, Il Sung",
            "Pak, Song-chol (Pak Seong-cheol)",
            "Jarck, Dietrich",
        ],
        "people": [],
        "places": ["China", "North Korea", "Soviet Union"],
        "topics": [
            "China-North Korea Relations",
            'The "Second" Korean War, 1967-1969',
            "Soviet Union-North Korea Relations",
        ],
        "subjects": [
            "Korea (North)--Foreign relations--Soviet Union",
            "China--Foreign relations--Korea (North)",
            "Korean Demilitarized Zone (Korea)",
            "Border security--China",
            "Border security--Korea (North)",
        ],
        "original_archive": ["Political Archive of the German Ministry of Foreign Affairs (PA AA MfAA)"],
        "classification": None,
        "type": None,
        "languages": ["German"],
        "uploaded_date": "2013-04-02",
        "contributors": [],
        "donors": [],
        "pdf_urls": [],
        "download_url": f"{SITE}/document/92562/download",
        "related": [],
    },
    MAO: {
        "title": (
            "Minutes, Mao\u2019s Conversation with a Yugoslavian Communist Union "
            "Delegation, Beijing, [undated]"
        ),
        "date_raw": "September 1956",
        "record_id": "117035",
        "node_id": "92908",
        "credits": "This document was made possible with support from Leon Levy Foundation",
        "authors": ["Mao, Zedong"],
        "people": ["Wang, Ming"],
        "places": ["China", "Yugoslavia"],
        "topics": [
            "Sino-Soviet Relations",
            "Conversations with Mao Zedong",
            "Sino-Soviet Alliance, 1950-1959",
        ],
        "subjects": ["China--Foreign relations--Yugoslavia"],
        "original_archive": [],
        "classification": None,
        "type": None,
        "languages": ["Chinese"],
        "uploaded_date": "2013-06-10",
        "contributors": [],
        "donors": ["Leon Levy Foundation"],
        "pdf_urls": [],
        "download_url": f"{SITE}/document/92908/download",
        "related": [],
    },
    GENEVA: {
        "title": "Additional Instructions Regarding the Sino-American Ambassadorial Talks at Geneva",
        "date_raw": "July 26, 1955",
        "record_id": "114722",
        "node_id": "90714",
        "credits": "This document was made possible with support from MacArthur Foundation",
        "authors": ["China. Foreign Ministry"],
        "people": [],
        "places": ["China", "United States"],
        "topics": ["Sino-US Ambassadorial Talks, 1955-1970"],
        "subjects": ["China--Foreign relations--United States"],
        "original_archive": ["Chinese Foreign Ministry Archives (PRC FMA)"],
        "classification": None,
        "type": "Message",
        "languages": ["Chinese"],
        "uploaded_date": "2012-07-24",
        "contributors": [],
        "donors": ["MacArthur Foundation"],
        "pdf_urls": [],
        "download_url": f"{SITE}/document/90714/download",
        "related": [
            f"{SITE}/document/cable-chinese-foreign-ministry-sending-plan-sino-american-talks",
            f"{SITE}/document/plan-sino-us-ambassadorial-talks-geneva",
        ],
    },
    SHUMAYS: {
        "title": "\u2018Abd al-Mun\u2018im Shumays, 'Ghana: A Liberated African State' (Excerpts)",
        "date_raw": "1958",
        "record_id": "291037",
        "node_id": "105485",
        "credits": None,
        "authors": ["Shumays, 'Abd al-Mun'im"],
        "people": ["Nkrumah, Kwame"],
        "places": ["Ghana", "Egypt"],
        "topics": ["International Dimensions of Decolonization in the Middle East and North Africa"],
        "subjects": ["Egypt--Foreign relations--Ghana", "Ghana--Politics and government"],
        "original_archive": [],
        "classification": None,
        "type": None,
        "languages": ["Arabic"],
        "uploaded_date": "2022-10-27",
        "contributors": [],
        "donors": [],
        "pdf_urls": [],
        "download_url": f"{SITE}/document/105485/download",
        "related": [
            f"{SITE}/document/cairo-radios-external-broadcasts-broadcasts-swahili",
            f"{SITE}/document/ahmed-said-returning-cuba-excerpts",
        ],
    },
    CHEKIST: {
        "title": "About an Embassy. Folder 78. The Chekist Anthology",
        "date_raw": "June 2007",
        "record_id": "112849",
        "node_id": "89149",
        "credits": None,
        "authors": ["Mitrokhin, Vasili"],
        "people": [],
        "places": ["Soviet Union", "Egypt", "Israel", "Syria"],
        "topics": ["Mitrokhin Archive"],
        "subjects": [
            "Soviet Union. Committee for State Security (KGB)",
            "Soviet Union. Committee for State Security (KGB)--Middle East",
            "Soviet Union--Foreign relations--Syria",
            "Espionage, Soviet",
            "Spies--Soviet Union",
        ],
        "original_archive": [],
        "classification": None,
        "type": "Summary",
        "languages": ["Russian"],
        "uploaded_date": "2011-11-20",
        "contributors": [],
        "donors": [],
        "pdf_urls": [
            f"{SITE}/sites/default/files/shared-media/imported_document_transcript/"
            "Volume%2078-%20About%20an%20Embassy.pdf"
        ],
        "download_url": f"{SITE}/document/89149/download",
        "related": [],
    },
}

#: Paragraph counts, checked by hand in the HTML: ``<p>`` of ``div.text-block``; non-blank
#: ``<p>``/``<li>`` of the pane (``None``: the pane holds only a PDF).
SUMMARY_PARAGRAPHS = {DPRK: 1, MAO: 1, GENEVA: 1, SHUMAYS: 3, CHEKIST: 3}
TEXT_PARAGRAPHS = {DPRK: 20, MAO: 51, GENEVA: 6, SHUMAYS: 24, CHEKIST: None}


# --- helpers ------------------------------------------------------------------------------


def _real_body(slug: str) -> bytes:
    return (REAL_DIR / f"{slug}.html").read_bytes()


_pages: dict[str, DocumentPage] = {}
_trees: dict[str, Any] = {}


def real_page(slug: str) -> DocumentPage:
    """The parsed real page (as Scrapy would hand it: bytes, requested at its canonical URL)."""
    if slug not in _pages:
        _pages[slug] = DocumentPage(f"{SITE}/document/{slug}", _real_body(slug))
    return _pages[slug]


def real_tree(slug: str) -> Any:
    """An independent reading of the whole fixture: lxml.html over the full page."""
    if slug not in _trees:
        _trees[slug] = lxml.html.document_fromstring(_real_body(slug).decode("utf-8"))
    return _trees[slug]


def squash(text: str) -> str:
    """White space (no-break spaces too) to single spaces, stripped."""
    return re.sub(r"[\s\u00a0]+", " ", text).strip()


def assert_plain(text: str) -> None:
    """No markup, script, style or odd white space left in a plain-text field."""
    assert "<" not in text and ">" not in text
    assert "cdn-cgi" not in text and "__CF$cv$params" not in text
    assert "{" not in text and "font-family" not in text
    assert not re.search(r"\bcs[0-9A-F]{8}\b", text), "a Word-export CSS class leaked"
    assert "\u00a0" not in text and "  " not in text
    for para in text.split("\n\n"):
        assert para and para == para.strip() and "\n" not in para


# --- the real pages -----------------------------------------------------------------------

ALL_REAL = [DPRK, MAO, GENEVA, SHUMAYS, CHEKIST]


@real
@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_page_fields(slug: str) -> None:
    got = real_page(slug).fields()
    assert tuple(got) == FIELD_NAMES
    assert {k: v for k, v in got.items() if k not in PROSE_FIELDS} == EXPECTED[slug]


@real
@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_page_identity(slug: str) -> None:
    page = real_page(slug)
    assert page.canonical_url == f"{SITE}/document/{slug}"
    assert page.slug == slug
    # Requested at the legacy Record ID address, the canonical link still wins.
    record_id = EXPECTED[slug]["record_id"]
    legacy = DocumentPage(f"{SITE}/document/{record_id}", _real_body(slug))
    assert legacy.canonical_url == f"{SITE}/document/{slug}"
    assert legacy.slug == slug


@real
@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_page_fills_a_document_item(slug: str) -> None:
    page = real_page(slug)
    item = DocumentItem(id=page.slug, url=page.canonical_url, **page.fields())
    assert item.id == slug
    assert set(FIELD_NAMES) <= {f.name for f in dataclass_fields(DocumentItem)}


@real
@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_summary(slug: str) -> None:
    summary = real_page(slug).fields()["summary"]
    assert summary is not None
    assert_plain(summary)
    block = real_tree(slug).xpath("//div[@class='text-block']")[0]
    expected = [squash(p.text_content()) for p in block.xpath("./p")]
    expected = [p for p in expected if p]
    assert len(expected) == SUMMARY_PARAGRAPHS[slug]
    assert summary.split("\n\n") == expected


@real
@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_text(slug: str) -> None:
    text = real_page(slug).fields()["text"]
    if TEXT_PARAGRAPHS[slug] is None:
        assert text is None
        return
    assert text is not None
    assert_plain(text)
    pane = real_tree(slug).xpath("//*[@id='translation-English']")[0]
    blocks = [squash(b.text_content()) for b in pane.xpath(".//p | .//li")]
    blocks = [b for b in blocks if b]
    paras = text.split("\n\n")
    assert len(paras) == len(blocks) == TEXT_PARAGRAPHS[slug]
    assert paras[0] == blocks[0]
    assert paras[-1] == blocks[-1]
    assert paras == blocks


@real
def test_real_text_keeps_footnote_markers_in_place() -> None:
    text = real_page(MAO).fields()["text"]
    assert text is not None
    for n in range(1, 19):  # 18 footnotes: a marker in the text and one before the note
        assert text.count(f"[{n}]") == 2, n
    assert "[19]" not in text
    first = text.split("\n\n")[0]
    assert first.endswith("[1]")  # the marker sticks to the word it follows
    assert text.split("\n\n")[-1].startswith("[18]")


@real
@pytest.mark.parametrize("slug", [DPRK, GENEVA])
def test_real_text_drops_the_cloudflare_script_and_the_embedded_head(slug: str) -> None:
    raw = _real_body(slug).decode("utf-8")
    pane_at = raw.index('id="translation-English"')
    assert raw.index("__CF$cv$params") > pane_at  # the script really is in the pane
    assert raw.index("<title></title>", pane_at) > pane_at
    text = real_page(slug).fields()["text"]
    assert text is not None
    assert "window." not in text and "text-align" not in text


@real
def test_real_rights_is_the_same_two_paragraphs_everywhere() -> None:
    values = {slug: real_page(slug).fields()["rights"] for slug in ALL_REAL}
    assert len(set(values.values())) == 1
    rights = values[DPRK]
    assert rights is not None
    assert_plain(rights)
    paras = rights.split("\n\n")
    assert len(paras) == 2
    assert RIGHTS_HOLDER_MAIL in paras[1]
    label = real_tree(DPRK).xpath(
        "//div[@class='information-block'][h3[@class='sub-title']='Rights']/div[@class='text']/p"
    )
    first_words = squash(label[0].text_content()).split()[:6]
    assert paras[0].split()[:6] == first_words


@real
@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_source(slug: str) -> None:
    source = real_page(slug).fields()["source"]
    assert source is not None
    assert_plain(source)
    assert "\n" not in source
    value = real_tree(slug).xpath(
        "//div[@class='information-block'][h3[@class='sub-title']='Source']/div[@class='text']"
    )[0]
    assert source == squash(value.text_content())


@real
@pytest.mark.parametrize("slug", [GENEVA, SHUMAYS])
def test_real_related_rows_appear_only_in_related(slug: str) -> None:
    got = real_page(slug).fields()
    related_slugs = [url.rsplit("/", 1)[-1] for url in got["related"]]
    assert len(related_slugs) == 2
    rows = real_tree(slug).xpath("//td[contains(@class, 'document')]")
    row_node_ids = [td.get("data-history-node-id") for td in rows]
    assert got["node_id"] not in row_node_ids
    for key, value in got.items():
        if key == "related":
            continue
        flat = " ".join(value) if isinstance(value, list) else str(value)
        for row_slug in related_slugs:
            assert row_slug not in flat, (key, row_slug)
        for nid in row_node_ids:
            assert nid not in re.findall(r"\d+", flat), (key, nid)


@real
def test_real_explore_related_resources_is_not_related_documents() -> None:
    tree = real_tree(SHUMAYS)
    assert tree.xpath("//h2[normalize-space()='Explore Related Resources']")
    related = real_page(SHUMAYS).fields()["related"]
    assert all(url.startswith(f"{SITE}/document/") for url in related)
    assert not any("wilsoncenter.org/blog-post" in url for url in related)


@real
def test_real_page_parses_only_the_main_region() -> None:
    page = real_page(SHUMAYS)  # the page whose DOM closes </main></div> early
    sel = page.selector
    assert sel.xpath("//main[@id='main']")
    assert not sel.xpath("//footer") and not sel.xpath("//link[@rel='canonical']")
    assert len(sel.xpath("//style")) == 0  # none of the ~615 KB of inlined CSS
    assert page.fields()["record_id"] == "291037"  # the last block of main is read


@real
def test_real_page_same_from_str_and_bytes() -> None:
    raw = _real_body(MAO)
    url = f"{SITE}/document/{MAO}"
    assert DocumentPage(url, raw).fields() == DocumentPage(url, raw.decode("utf-8")).fields()


@real
@pytest.mark.parametrize("cut", [1000, 30_000, 60_000, -100, -8])
def test_real_page_truncated(cut: int) -> None:
    raw = _real_body(DPRK)
    with pytest.raises(IncompleteResponse):
        DocumentPage(f"{SITE}/document/{DPRK}", raw[:cut])


# --- synthetic pages ----------------------------------------------------------------------

URL = "http://127.0.0.1:8000/document/telegram-widgets-ruritania"

HEAD = """<!DOCTYPE html><html lang="en" dir="ltr"><head>
<meta charset="utf-8">
<link rel="canonical" href="http://127.0.0.1:8000/document/telegram-widgets-ruritania">
<link rel="shortlink" href="http://127.0.0.1:8000/node/4242">
<title>Telegram about Widgets | Wilson Center Digital Archive</title>
</head><body><header>menu <main class="menu">not this</main></header>"""

HEADER = """<section class="jumbotron jumbotron-document"><div class="container"><div class="row">
<div class="col-12"><div class="content-block">
{date}
<h1 class="title"><span>Telegram from   Jane Doe
 to the Ruritanian Ministry about Widgets</span>
</h1>
{credits}
</div></div></div></div></section>"""
DATE = '<h2 class="date">March 3, 1961</h2>'
CREDITS = '<p class="donated">This document was made possible with support from Acme Fund</p>'

TABS = """<div class="tab-content tab-content-types" id="documentTabs">
<div class="tab-pane fade" id="original" role="tabpanel">
  <object class="pdf-preview" data="/sites/default/files/shared-media/scan%201.pdf"></object>
</div>
<div class="tab-pane fade active show" id="translation" role="tabpanel">
  <div class="tab-content tab-content-languages h-100">
    <div class="tab-pane fade" id="translation-French"><p>Bonjour le monde.</p></div>
    <div class="tab-pane fade show active" id="translation-English">
      <meta http-equiv="Content-Type" content="text/html"><title></title>
      <style type="text/css">.cs1{font-family:Times}</style>
      <span><p class="cs1"><span>First&nbsp;paragraph,   with
      space.</span><a href="#_ftn1"><sup><span>[1]</span></sup></a></p>
      <p><span>&nbsp;</span></p>
      <ol><li>An item</li></ol>
      <p>Line one<br>Line two</p>
      <div>In a div</div>
      <table><tr><td>cell a</td><td>cell b</td></tr></table>
      <p><a href="#_ftnref1">[1]</a> A note.</p></span>
      <script>window.__CF$cv$params={r:'x'};var a='/cdn-cgi/challenge-platform/scripts/jsd/main.js';</script>
      <noscript>enable javascript</noscript>
    </div>
  </div>
</div>
</div>"""
TEXT = (
    "First paragraph, with space.[1]\n\nAn item\n\nLine one\n\nLine two\n\nIn a div"
    "\n\ncell a cell b\n\n[1] A note."
)

OPTIONS = """<div class="document-options"><div class="options-buttons">
<a class="btn" href="/document/4242/download" target="_blank"><span>dl</span></a>
</div></div>"""

SUMMARY = """<div class="row"><div class="col-lg-8"><div class="text-block">
<p></p><p>Jane Doe asks   about widgets.</p>
<p>A second <em>summary</em> paragraph.</p><p> </p>
</div></div>"""

AUTHORS = """<div class="col-lg-4"><h2 class="title">Author(s):</h2>
<ul class="pill-list">
<li class="pill-item"><a class="pill pill-people" href="/people/doe-jane"><span class="pill-interior">
<i class="fa-solid fa-user"></i><span class="name"><span>Doe, Jane</span></span></span></a></li>
</ul>
<ul class="pill-list">
<li class="pill-item"><a class="pill pill-people" href="/people/roe-richard"><span class="pill-interior">
<span class="name"><span>Roe,
  Richard</span></span></span></a></li>
</ul></div></div>"""


def pill_block(heading: str, names: list[str], pill_class: str, inner_span: bool = True) -> str:
    items = "".join(
        f'<li class="pill-item"><a class="pill {pill_class}" href="/x"><span class="pill-interior">'
        f'<i class="fa-solid"></i><span class="name">'
        + (f"<span>{n}</span>" if inner_span else f"\n{n}")
        + "</span></span></a></li>"
        for n in names
    )
    return (
        f'<div class="pill-block mb-4"><h3 class="title">{heading}</h3>'
        f'<ul class="pill-list">{items}</ul></div>'
    )


PEOPLE = pill_block("Associated People &amp; Organizations", ["Roe, Richard"], "pill-people")
PLACES = pill_block("Associated Places", ["Ruritania", "Grand Fenwick"], "pill-places")
TOPICS = pill_block("Associated Topics", ["Widget Diplomacy"], "pill-topics")
SUBJECTS = pill_block(
    "Subjects Discussed",
    ["Widgets--Ruritania", "Ruritania--Foreign relations"],
    "pill-subject",
    inner_span=False,
)

RELATED = """<div class="row"><div class="col-12">
<h3 class="title">Related Documents</h3>
<div class="documents"><div class="card table-responsive">
<table class="table table-hover table-striped"><tbody>
<tr><td class="date"><p>March 1, 1961</p></td><td data-history-node-id="777" class="document contextual-region">
<a href="/document/earlier-telegram-widgets"><h3 class="sub-title"><span>Earlier Telegram</span></h3>
<div class="text"><p></p><p>An earlier one.</p><p></p></div></a></td></tr>
<tr><td class="date"></td><td data-history-node-id="778" class="document contextual-region">
<a href="/document/later-reply-widgets"><h3 class="sub-title"><span>Later Reply</span></h3></a></td></tr>
</tbody></table></div></div></div></div>"""

EXPLORE = """<section class="related-articles"><div class="container"><div class="row"><div class="col-12">
<h2 class="title">Explore Related Resources</h2></div></div>
<div class="card card-article contextual-region"><h3 class="carousel-title"><span>A blog post</span></h3>
<a class="btn btn-article" href="https://www.wilsoncenter.org/blog-post/widgets">Go</a></div></section>"""


def info_block(label: str, value: str) -> str:
    return (
        f'<div class="information-block"><h3 class="sub-title">{label}</h3>'
        f'<div class="text">{value}</div></div>'
    )


def info_pills(names: list[str]) -> str:
    items = "".join(
        f'<li class="pill-item"><a class="pill pill-light-blue" href="/search?x">'
        f'<span class="pill-interior"><span class="name">\n{n}</span></span></a></li>'
        for n in names
    )
    return f'<p>\n</p><ul class="pill-list">{items}</ul><p></p>'


INFO = {
    "source": info_block("Source", "\n  Ruritanian State Archive, fond 1.\n  Translated by X.\n"),
    "original_archive": info_block("Original Archive", info_pills(["Ruritanian State Archive"])),
    "rights": info_block(
        "Rights",
        "<p>Reuse is welcome.</p>\n<p>Write to <a href='mailto:HAPP@wilsoncenter.org'>"
        "HAPP@wilsoncenter.org</a>.\n</p>",
    ),
    "uploaded_date": info_block("Original Uploaded Date", "\n   2020-01-31\n  "),
    "type": info_block("Type", "\nTelegram\n"),
    "languages": info_block("Languages", info_pills(["Ruritanian", "French"])),
    "record_id": info_block("Record ID", "\n123456\n"),
    "classification": info_block("Original Classification", "\nTop Secret\n"),
    "contributors": info_block("Document Contributor(s)", info_pills(["Smith, Ann"])),
    "donors": info_block("Donor(s)", "\n\nAcme Fund<br>Widget Trust\nThird Donor\n"),
}


def document_page(drop: tuple[str, ...] = (), **replace: str) -> str:
    """A synthetic document page in the real markup; *drop* removes named sections."""
    parts: dict[str, str] = {
        "head": HEAD,
        "date": DATE,
        "credits": CREDITS,
        "tabs": TABS,
        "options": OPTIONS,
        "summary": SUMMARY,
        "authors": AUTHORS,
        "people": PEOPLE,
        "places": PLACES,
        "topics": TOPICS,
        "subjects": SUBJECTS,
        "related": RELATED,
        "explore": EXPLORE,
        **{f"info_{k}": v for k, v in INFO.items()},
    }
    parts.update(replace)
    for name in drop:
        parts[name] = ""
    info = "".join(parts[f"info_{k}"] for k in INFO)
    return f"""{parts["head"]}
<main id="main"><div id="block-digitalarchive-content">
{HEADER.format(date=parts["date"], credits=parts["credits"])}
<section class="document-container"><div class="container"><div class="row pull-up"><div class="col-12">
<div class="card card-document"><div class="document-frame">{parts["tabs"]}</div>{parts["options"]}</div>
</div></div>
{parts["summary"]}{parts["authors"]}
<div class="row"><div class="col-md-6">{parts["people"]}{parts["places"]}{parts["topics"]}</div>
<div class="col-md-6">{parts["subjects"]}</div></div>
{parts["related"]}
</div></section>
<section class="document-information"><div class="container"><div class="row">
<div class="col-12"><h2 class="title">Document Information</h2></div></div>
<div class="row"><div class="col-lg-7">{info}</div></div></div></section>
{parts["explore"]}
<div class="modal fade" id="citation"><h6 class="title">Telegram</h6>
<a id="citation-url">http://127.0.0.1:8000/document/123456</a></div>
</div></main>
<footer><a href="/document/9999/download">not in main</a></footer>
</body></html>
"""


FULL_EXPECTED: dict[str, Any] = {
    "title": "Telegram from Jane Doe to the Ruritanian Ministry about Widgets",
    "date_raw": "March 3, 1961",
    "summary": "Jane Doe asks about widgets.\n\nA second summary paragraph.",
    "record_id": "123456",
    "node_id": "4242",
    "credits": "This document was made possible with support from Acme Fund",
    "authors": ["Doe, Jane", "Roe, Richard"],
    "people": ["Roe, Richard"],
    "places": ["Ruritania", "Grand Fenwick"],
    "topics": ["Widget Diplomacy"],
    "subjects": ["Widgets--Ruritania", "Ruritania--Foreign relations"],
    "source": "Ruritanian State Archive, fond 1. Translated by X.",
    "original_archive": ["Ruritanian State Archive"],
    "classification": "Top Secret",
    "type": "Telegram",
    "languages": ["Ruritanian", "French"],
    "uploaded_date": "2020-01-31",
    "rights": "Reuse is welcome.\n\nWrite to HAPP@wilsoncenter.org.",
    "contributors": ["Smith, Ann"],
    "donors": ["Acme Fund", "Widget Trust", "Third Donor"],
    "pdf_urls": ["http://127.0.0.1:8000/sites/default/files/shared-media/scan%201.pdf"],
    "download_url": "http://127.0.0.1:8000/document/4242/download",
    "related": [
        "http://127.0.0.1:8000/document/earlier-telegram-widgets",
        "http://127.0.0.1:8000/document/later-reply-widgets",
    ],
    "text": TEXT,
}


def test_synthetic_full_page() -> None:
    page = DocumentPage(URL, document_page().encode("utf-8"))
    assert page.fields() == FULL_EXPECTED
    assert page.canonical_url == URL
    assert page.slug == "telegram-widgets-ruritania"


def test_related_rows_are_only_related() -> None:
    body = document_page()
    # The trap is armed: a search-results row selector finds the two related rows.
    assert len(Selector(text=body).css("td.document a::attr(href)").getall()) == 2
    got = DocumentPage(URL, body).fields()
    assert got["related"] == FULL_EXPECTED["related"]
    others = " ".join(
        " ".join(v) if isinstance(v, list) else str(v) for k, v in got.items() if k != "related"
    )
    for leaked in (
        "earlier-telegram-widgets",
        "later-reply-widgets",
        "Earlier Telegram",
        "Later Reply",
        "An earlier one",
        "March 1, 1961",
        "777",
        "778",
    ):
        assert leaked not in others


def test_related_rows_do_not_give_a_node_id() -> None:
    head = HEAD.replace('<link rel="shortlink" href="http://127.0.0.1:8000/node/4242">', "")
    got = DocumentPage(URL, document_page(drop=("options",), head=head)).fields()
    assert got["node_id"] is None  # not data-history-node-id="777" of a related row
    assert got["download_url"] is None  # nor the footer's link, outside main
    assert got["related"] == FULL_EXPECTED["related"]


def test_node_id_from_download_link_without_shortlink() -> None:
    head = HEAD.replace('<link rel="shortlink" href="http://127.0.0.1:8000/node/4242">', "")
    options = OPTIONS.replace("/document/4242/download", "/document/5151/download")
    got = DocumentPage(URL, document_page(head=head, options=options)).fields()
    assert got["node_id"] == "5151"
    assert got["download_url"] == "http://127.0.0.1:8000/document/5151/download"


def test_result_like_table_without_related_heading_is_ignored() -> None:
    explore = EXPLORE + RELATED.replace("Related Documents", "Search Results")
    got = DocumentPage(URL, document_page(drop=("related",), explore=explore)).fields()
    assert got["related"] == []


#: Section dropped -> the fields that must then be empty.
OPTIONAL_SECTIONS: dict[str, dict[str, Any]] = {
    "date": {"date_raw": None},
    "credits": {"credits": None},
    "options": {"download_url": None},
    "summary": {"summary": None},
    "authors": {"authors": []},
    "people": {"people": []},
    "places": {"places": []},
    "topics": {"topics": []},
    "subjects": {"subjects": []},
    "related": {"related": []},
    "explore": {},
    "info_source": {"source": None},
    "info_original_archive": {"original_archive": []},
    "info_rights": {"rights": None},
    "info_uploaded_date": {"uploaded_date": None},
    "info_type": {"type": None},
    "info_languages": {"languages": []},
    "info_record_id": {"record_id": None},
    "info_classification": {"classification": None},
    "info_contributors": {"contributors": []},
    "info_donors": {"donors": []},
}


@pytest.mark.parametrize("section", sorted(OPTIONAL_SECTIONS))
def test_optional_section_absent(section: str) -> None:
    got = DocumentPage(URL, document_page(drop=(section,))).fields()
    expected = {**FULL_EXPECTED, **OPTIONAL_SECTIONS[section]}
    if section == "options":  # the shortlink still gives the node id
        assert got["node_id"] == "4242"
    assert got == expected


def test_minimal_page_has_only_a_title() -> None:
    body = (
        '<html><head></head><body><main id="main"><h1 class="title">Only a title</h1>'
        '<div id="documentTabs"></div></main></body></html>'
    )
    page = DocumentPage(URL, body)
    got = page.fields()
    assert got["title"] == "Only a title"
    assert all(got[k] in (None, []) for k in FIELD_NAMES if k != "title")
    assert page.canonical_url == URL  # no canonical link: the request URL


def test_empty_info_values_are_none() -> None:
    body = document_page(
        info_type=info_block("Type", "  \n "),
        info_donors=info_block("Donors", "\n"),
        date='<h2 class="date"> </h2>',
    )
    got = DocumentPage(URL, body).fields()
    assert got["type"] is None and got["donors"] == [] and got["date_raw"] is None


def test_subjects_found_by_heading_not_pill_class() -> None:
    subjects = SUBJECTS.replace("pill-subject", "pill-keyword")
    places = PLACES.replace("Associated Places", "Associated Places:")
    got = DocumentPage(URL, document_page(subjects=subjects, places=places)).fields()
    assert got["subjects"] == FULL_EXPECTED["subjects"]
    assert got["places"] == FULL_EXPECTED["places"]


def test_contributors_and_donors_as_lines_or_pills() -> None:
    body = document_page(
        info_contributors=info_block("Document Contributor(s)", "Ann Smith<br/>\nBo  Lee"),
        info_donors=info_block("Donors", info_pills(["Acme Fund", "Widget Trust"])),
        info_languages=info_block("Language", info_pills(["Ruritanian"])),
    )
    got = DocumentPage(URL, body).fields()
    assert got["contributors"] == ["Ann Smith", "Bo Lee"]
    assert got["donors"] == ["Acme Fund", "Widget Trust"]
    assert got["languages"] == ["Ruritanian"]


def test_pdf_urls_from_object_iframe_and_links_deduplicated() -> None:
    tabs = TABS.replace(
        "</object>",
        '</object><iframe src="/files/t.PDF?v=2"></iframe>'
        '<a href="/sites/default/files/shared-media/scan%201.pdf">again</a>'
        '<a href="/files/page.html">not a pdf</a>',
    )
    got = DocumentPage(URL, document_page(tabs=tabs)).fields()
    assert got["pdf_urls"] == [
        "http://127.0.0.1:8000/sites/default/files/shared-media/scan%201.pdf",
        "http://127.0.0.1:8000/files/t.PDF?v=2",
    ]


def test_text_falls_back_to_first_pane_with_text() -> None:
    tabs = """<div id="documentTabs">
<div class="tab-pane fade active show" id="original">
  <object class="pdf-preview" data="/files/scan.pdf"></object></div>
<div class="tab-pane fade" id="transcript"><p>Transcribed line.</p></div>
</div>"""
    got = DocumentPage(URL, document_page(tabs=tabs)).fields()
    assert got["text"] == "Transcribed line."
    assert got["pdf_urls"] == ["http://127.0.0.1:8000/files/scan.pdf"]


def test_text_none_when_only_a_pdf() -> None:
    tabs = """<div id="documentTabs"><div class="tab-pane fade active show" id="transcript">
<object class="pdf-preview" data="/files/t.pdf">fallback words</object></div></div>"""
    assert DocumentPage(URL, document_page(tabs=tabs)).fields()["text"] is None


def test_text_takes_the_innermost_active_pane() -> None:
    tabs = """<div id="documentTabs">
<div class="tab-pane fade" id="original"><p>Not active.</p></div>
<div class="tab-pane fade active show" id="translation"><div class="tab-content">
<div class="tab-pane fade" id="translation-English"><p>English words.</p></div>
<div class="tab-pane fade show active" id="translation-French"><p>Bonjour le monde.</p></div>
</div></div></div>"""
    assert DocumentPage(URL, document_page(tabs=tabs)).fields()["text"] == "Bonjour le monde."


def test_title_keeps_what_parsel_gives() -> None:
    body = document_page().replace(
        "<span>Telegram from   Jane Doe\n to the Ruritanian Ministry about Widgets</span>",
        "<span>Widgets &amp; Gadgets, \u2018Part\u00a0One\u2019</span> <span>[undated]</span>",
    )
    assert DocumentPage(URL, body).fields()["title"] == ("Widgets & Gadgets, \u2018Part One\u2019 [undated]")


# --- canonical links ----------------------------------------------------------------------


def test_relative_canonical_link_is_resolved() -> None:
    head = HEAD.replace(
        'href="http://127.0.0.1:8000/document/telegram-widgets-ruritania"',
        'href="/document/telegram-widgets-ruritania-0"',
    )
    page = DocumentPage("http://127.0.0.1:8000/document/123456", document_page(head=head))
    assert page.canonical_url == "http://127.0.0.1:8000/document/telegram-widgets-ruritania-0"
    assert page.slug == "telegram-widgets-ruritania-0"


def test_canonical_link_attributes_in_any_order_and_quoting() -> None:
    head = (
        "<!DOCTYPE html><html><head>"
        "<link href='/document/a-b?x=1&amp;y=2' data-x=1 rel='canonical'>"
        "<link rel=shortlink href=/node/77>"
        "</head><body>"
    )
    page = DocumentPage("http://127.0.0.1:8000/document/1", document_page(head=head))
    assert page.canonical_url == "http://127.0.0.1:8000/document/a-b?x=1&y=2"
    assert page.slug == "a-b"
    assert page.fields()["node_id"] == "77"


def test_no_canonical_link_falls_back_to_request_url() -> None:
    head = "<!DOCTYPE html><html><head><title>x</title></head><body>"
    page = DocumentPage("http://127.0.0.1:8000/document/plain-slug/", document_page(head=head))
    assert page.canonical_url == "http://127.0.0.1:8000/document/plain-slug/"
    assert page.slug == "plain-slug"


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", "", b"  \n\t ", "\n"])
def test_empty_body_is_incomplete(body: bytes | str) -> None:
    with pytest.raises(IncompleteResponse) as err:
        DocumentPage(URL, body)
    assert err.value.detail == "empty body"
    assert err.value.url == URL


@pytest.mark.parametrize(
    "marker", ["<main", "Bonjour", "Document Information", "</main>", "</body>", "</html"]
)
def test_truncated_body_is_incomplete(marker: str) -> None:
    full = document_page()
    with pytest.raises(IncompleteResponse):
        DocumentPage(URL, full[: full.index(marker)].encode())


def test_body_without_main_close_is_incomplete_even_with_html_end() -> None:
    body = document_page().replace("</div></main>", "</div>")
    with pytest.raises(IncompleteResponse):
        DocumentPage(URL, body)


def test_trailing_whitespace_and_comment_after_html_end_are_fine() -> None:
    body = document_page() + "\n<!-- served by cache -->\n\n"
    assert DocumentPage(URL, body).fields()["record_id"] == "123456"


def test_h1_class_renamed_is_layout_changed() -> None:
    body = document_page().replace('<h1 class="title">', '<h1 class="heading">')
    with pytest.raises(LayoutChanged) as err:
        DocumentPage(URL, body)
    assert err.value.landmark == "h1.title"


def test_empty_h1_title_is_an_empty_title_not_a_layout_change() -> None:
    # The landmark is there; the archive shows no title (issue #5: kept, counted, logged).
    body = re.sub(
        r'<h1 class="title">.*?</h1>', '<h1 class="title"><span> </span></h1>', document_page(), flags=re.S
    )
    assert DocumentPage(URL, body).fields()["title"] is None


def test_missing_document_tabs_is_layout_changed() -> None:
    body = document_page().replace('id="documentTabs"', 'id="documentPanes"')
    with pytest.raises(LayoutChanged) as err:
        DocumentPage(URL, body)
    assert err.value.landmark == "#documentTabs"


def test_missing_main_is_layout_changed() -> None:
    body = document_page().replace('<main id="main">', '<main id="content">')
    with pytest.raises(LayoutChanged) as err:
        DocumentPage(URL, body)
    assert err.value.landmark == "main#main"
    no_main = document_page().replace('<main id="main">', "<div>").replace("</div></main>", "</div></div>")
    with pytest.raises(LayoutChanged) as err:
        DocumentPage(URL, no_main)
    assert err.value.landmark == "main#main"


BLOCK_PAGE = """<!DOCTYPE html><html lang="en-US"><head><title>Attention Required! | Cloudflare</title>
</head><body><div id="cf-wrapper"><div id="cf-error-details" class="cf-error-details-wrapper">
<h1>Sorry, you have been blocked</h1><p>You are unable to access wilsoncenter.org</p>
</div></div></body></html>"""

CHALLENGE_PAGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>
<body><div class="main-wrapper" role="main"><noscript>Enable JavaScript and cookies to continue</noscript>
</div><script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script></body></html>"""


CHALLENGE_SCRIPT_ONLY = """<!DOCTYPE html><html><head></head><body>
<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray=1"></script></body></html>"""


@pytest.mark.parametrize("body", [BLOCK_PAGE, CHALLENGE_PAGE, CHALLENGE_SCRIPT_ONLY])
def test_cloudflare_pages_are_blocked(body: str) -> None:
    with pytest.raises(BlockedPage) as err:
        DocumentPage(URL, body.encode())
    assert err.value.url == URL


def test_challenge_script_inside_a_real_looking_page_is_not_a_block() -> None:
    # Real pages carry the challenge-platform script; with main#main they are documents.
    assert "challenge-platform" in document_page()
    DocumentPage(URL, document_page())


@real
def test_real_page_without_main_is_layout_changed_not_blocked() -> None:
    # The real page loads Cloudflare's challenge-platform detection script: not a block.
    raw = _real_body(DPRK).replace(b'<main id="main">', b'<main id="content">')
    with pytest.raises(LayoutChanged) as err:
        DocumentPage(f"{SITE}/document/{DPRK}", raw)
    assert err.value.landmark == "main#main"


def test_a_document_quoting_cloudflare_words_is_not_blocked() -> None:
    tabs = TABS.replace("An item", "Just a moment... you have been blocked")
    DocumentPage(URL, document_page(tabs=tabs))


def test_errors_are_page_errors_with_the_url() -> None:
    with pytest.raises(IncompleteResponse) as err:
        DocumentPage(URL, '<html><body><main id="main"><h1 class=')
    assert URL in str(err.value)
