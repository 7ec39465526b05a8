"""Tests of ``harvester.pages.document``: the five real pages, then small synthetic ones.

The real pages' expected values are in ``tests/expected/<slug>.json``, read from their HTML
(and ``PROVENANCE.md``), not from the parser: facts only (titles, dates, names, identifiers,
URLs). The archive's prose (summary, text, rights, source) is not copied there: each is
pinned by its length, paragraph count, first three words and SHA-256, computed from an
independent lxml reading of the whole page, and the tests below also compare its structure
with such a reading made at test time.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from parsel import Selector

from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged, PageTooDeep
from harvester.items import DocumentItem
from harvester.pages import raw as raw_module
from harvester.pages.document import DocumentPage
from harvester.pages.fields import Field
from harvester.titles import normalize_title
from tests.shared import REAL_DOCUMENTS, require_shared

EXPECTED_DIR = Path(__file__).resolve().parent / "expected"
SITE = "https://digitalarchive.wilsoncenter.org"
PROSE_FIELDS = ("summary", "text", "rights", "source")

DPRK = "50th-anniversary-october-revolution-dprk"
MAO = "minutes-maos-conversation-yugoslavian-communist-union-delegation-beijing-undated"
GENEVA = "additional-instructions-regarding-sino-american-ambassadorial-talks-geneva"
SHUMAYS = "abd-al-munim-shumays-ghana-liberated-african-state-excerpts"
CHEKIST = "about-embassy-folder-78-chekist-anthology"
ALL_REAL = [DPRK, MAO, GENEVA, SHUMAYS, CHEKIST]
RIGHTS_HOLDER_MAIL = "HAPP@wilsoncenter.org"

#: ``DocumentItem`` fields that a document page does not give: the identity (from the
#: canonical URL, set by ``to_item``), the listing's context and what the pipelines derive.
NOT_FROM_THE_PAGE = {
    "id",
    "url",
    "date",
    "date_precision",
    "query",
    "listing_url",
    "position",
    "harvested_at",
    "capture_id",
    "captured_at",
}


# --- helpers ------------------------------------------------------------------------------


def expected(slug: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXPECTED_DIR / f"{slug}.json").read_text(encoding="utf-8"))
    return data


def _real_body(slug: str) -> bytes:
    return require_shared(REAL_DOCUMENTS / f"{slug}.html").read_bytes()


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


def prose_facts(value: str | None) -> dict[str, Any] | None:
    """What ``tests/expected`` keeps of a prose field instead of its words."""
    if value is None:
        return None
    return {
        "chars": len(value),
        "paragraphs": len(value.split("\n\n")),
        "first_words": " ".join(value.split()[:3]),
        "sha256": hashlib.sha256(value.encode("utf-8")).hexdigest(),
    }


def page_facts(page: DocumentPage) -> dict[str, Any]:
    """A page as ``tests/expected`` describes it: identity, facts, prose as facts."""
    values = page.fields()
    for name in PROSE_FIELDS:
        values[name] = prose_facts(values[name])
    return {"url": page.url, "canonical_url": page.canonical_url, "id": page.slug, **values}


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


def with_canonical(body: bytes, href: str) -> bytes:
    """The real page with its canonical link's ``href`` replaced (attribute-escaped)."""
    new, count = re.subn(
        rb'(<link rel="canonical" href=")[^"]*(")',
        lambda m: m.group(1) + html.escape(href, quote=True).encode() + m.group(2),
        body,
        count=1,
    )
    assert count == 1
    return new


def wrap_pane(page: str, pane_id: str, levels: int) -> str:
    """The page with the ``<div>`` of id *pane_id* wrapped in *levels* nested ``<div>``s."""
    start = page.index(f'id="{pane_id}"')
    start = page.rindex("<div", 0, start)
    depth, at = 0, start
    for tag in re.finditer(r"<div\b|</div\s*>", page[start:]):
        depth += 1 if tag.group().startswith("<div") else -1
        if depth == 0:
            at = start + tag.end()
            break
    assert at > start
    return page[:start] + "<div>" * levels + page[start:at] + "</div>" * levels + page[at:]


# --- the page's fields and DocumentItem --------------------------------------------------


def test_page_fields_are_the_document_item_fields() -> None:
    # Both sides derived independently: the @field members of the class, the dataclass fields.
    page_side = {name for name, member in vars(DocumentPage).items() if isinstance(member, Field)}
    item_side = {f.name for f in dataclass_fields(DocumentItem)} - NOT_FROM_THE_PAGE
    assert page_side == item_side
    assert set(DocumentPage.field_names()) == page_side
    assert len(DocumentPage.field_names()) == len(page_side) == 24


# --- the real pages -----------------------------------------------------------------------


@pytest.mark.parametrize("slug", ALL_REAL)
def test_expected_values_are_kept_for_every_real_page(slug: str) -> None:
    assert (EXPECTED_DIR / f"{slug}.json").is_file()


@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_page_fields(slug: str) -> None:
    page = real_page(slug)
    assert page_facts(page) == expected(slug)
    assert page.canonical_rejected is None
    assert page.invalid_utf8 is False


@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_page_identity(slug: str) -> None:
    page = real_page(slug)
    assert page.canonical_url == f"{SITE}/document/{slug}"
    assert page.slug == slug
    # Requested at the legacy Record ID address, the canonical link still wins.
    record_id = expected(slug)["record_id"]
    legacy = DocumentPage(f"{SITE}/document/{record_id}", _real_body(slug))
    assert legacy.canonical_url == f"{SITE}/document/{slug}"
    assert legacy.slug == slug
    assert legacy.canonical_rejected is None


@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_page_fills_a_document_item(slug: str) -> None:
    facts = expected(slug)
    listing = DocumentItem(
        id=facts["record_id"],
        url=f"{SITE}/document/{facts['record_id']}",
        title="The listing's title",
        date_raw="The listing's date",
        summary="The listing's summary.",
        query="Korean Workers' Party",
        listing_url=f"{SITE}/search?page=2",
        position=21,
        authors=["Listing, Stale"],
    )
    item = real_page(slug).to_item(listing)
    assert item is not listing and listing.title == "The listing's title"  # the listing is left as it was
    assert (item.id, item.url) == (slug, f"{SITE}/document/{slug}")
    assert (item.query, item.listing_url, item.position) == (listing.query, listing.listing_url, 21)
    assert item.date is None and item.harvested_at is None
    for name in DocumentPage.field_names():
        got = getattr(item, name)
        want = facts[name]
        assert (prose_facts(got) if name in PROSE_FIELDS else got) == want, name


def test_to_item_keeps_the_listing_title_date_and_summary_when_the_page_has_none() -> None:
    body = document_page(drop=("date", "summary"))
    page = DocumentPage(
        URL, re.sub(r'<h1 class="title">.*?</h1>', '<h1 class="title"> </h1>', body, flags=re.S)
    )
    assert (page.title, page.date_raw, page.summary) == (None, None, None)
    listing = DocumentItem(id="x", url=URL, title="Listed", date_raw="1961", summary="Listed summary.")
    item = page.to_item(listing)
    assert (item.title, item.date_raw, item.summary) == ("Listed", "1961", "Listed summary.")
    # Every other field is set as read, empty or not.
    assert item.authors == FULL_EXPECTED["authors"] and item.record_id == "123456"


def test_to_item_sets_every_page_field() -> None:
    page = DocumentPage(URL, document_page())
    sentinel = object()
    listing = DocumentItem(id="listing-id", url="http://127.0.0.1:8000/document/4242")
    for name in DocumentPage.field_names():
        setattr(listing, name, sentinel)
    item = page.to_item(listing)
    for name in DocumentPage.field_names():
        assert getattr(item, name) == FULL_EXPECTED[name], name
    assert (item.id, item.url) == ("telegram-widgets-ruritania", URL)


@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_summary(slug: str) -> None:
    summary = real_page(slug).summary
    assert summary is not None
    assert_plain(summary)
    block = real_tree(slug).xpath("//div[@class='text-block']")[0]
    paras = [squash(p.text_content()) for p in block.xpath("./p")]
    paras = [p for p in paras if p]
    assert len(paras) == expected(slug)["summary"]["paragraphs"]
    assert summary.split("\n\n") == paras


@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_text(slug: str) -> None:
    text = real_page(slug).text
    if expected(slug)["text"] is None:
        assert text is None  # the pane holds only a PDF
        return
    assert text is not None
    assert_plain(text)
    pane = real_tree(slug).xpath("//*[@id='translation-English']")[0]
    blocks = [squash(b.text_content()) for b in pane.xpath(".//p | .//li")]
    blocks = [b for b in blocks if b]
    paras = text.split("\n\n")
    assert len(paras) == len(blocks) == expected(slug)["text"]["paragraphs"]
    assert paras == blocks


def test_real_text_keeps_footnote_markers_in_place() -> None:
    text = real_page(MAO).text
    assert text is not None
    for n in range(1, 19):  # 18 footnotes: a marker in the text and one before the note
        assert text.count(f"[{n}]") == 2, n
    assert "[19]" not in text
    first = text.split("\n\n")[0]
    assert first.endswith("[1]")  # the marker sticks to the word it follows
    assert text.split("\n\n")[-1].startswith("[18]")


@pytest.mark.parametrize("slug", [DPRK, GENEVA])
def test_real_text_drops_the_cloudflare_script_and_the_embedded_head(slug: str) -> None:
    raw = _real_body(slug).decode("utf-8")
    pane_at = raw.index('id="translation-English"')
    assert raw.index("__CF$cv$params") > pane_at  # the script really is in the pane
    assert raw.index("<title></title>", pane_at) > pane_at
    text = real_page(slug).text
    assert text is not None
    assert "window." not in text and "text-align" not in text


def test_real_rights_is_the_same_two_paragraphs_everywhere() -> None:
    values = {slug: real_page(slug).rights for slug in ALL_REAL}
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


@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_source(slug: str) -> None:
    source = real_page(slug).source
    assert source is not None
    assert_plain(source)
    assert "\n" not in source
    value = real_tree(slug).xpath(
        "//div[@class='information-block'][h3[@class='sub-title']='Source']/div[@class='text']"
    )[0]
    assert source == squash(value.text_content())


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


def test_real_explore_related_resources_is_not_related_documents() -> None:
    tree = real_tree(SHUMAYS)
    assert tree.xpath("//h2[normalize-space()='Explore Related Resources']")
    related = real_page(SHUMAYS).related
    assert all(url.startswith(f"{SITE}/document/") for url in related)
    assert not any("wilsoncenter.org/blog-post" in url for url in related)


def test_real_page_parses_only_the_main_region() -> None:
    page = real_page(SHUMAYS)  # the page whose DOM closes </main></div> early
    sel = page.selector
    assert sel.xpath("//main[@id='main']")
    assert not sel.xpath("//footer") and not sel.xpath("//link[@rel='canonical']")
    assert len(sel.xpath("//style")) == 0  # none of the ~615 KB of inlined CSS
    assert page.record_id == "291037"  # the last block of main is read


def test_real_page_same_from_str_and_bytes() -> None:
    raw = _real_body(MAO)
    url = f"{SITE}/document/{MAO}"
    assert DocumentPage(url, raw).fields() == DocumentPage(url, raw.decode("utf-8")).fields()


@pytest.mark.parametrize("cut", [1000, 30_000, 60_000, -100, -8])
def test_real_page_truncated(cut: int) -> None:
    raw = _real_body(DPRK)
    with pytest.raises(IncompleteResponse):
        DocumentPage(f"{SITE}/document/{DPRK}", raw[:cut])


def test_real_page_with_bytes_that_are_not_utf8() -> None:
    raw = _real_body(DPRK).replace(b"<span>50th Anniversary", b"<span>50th \xff\xfeAnniversary", 1)
    page = DocumentPage(f"{SITE}/document/{DPRK}", raw)
    assert page.invalid_utf8 is True
    assert page.title == "50th \ufffd\ufffdAnniversary of the October Revolution in the DPRK"
    assert page.record_id == "116659"  # the rest of the page is read as ever


# --- hostile pages: deep nesting ------------------------------------------------------------


def test_deeply_nested_real_page_is_read_whole() -> None:
    # 3,000 <div>s around the text pane: past libxml2's depth limit (2,048 with huge_tree),
    # where it stops building the tree and drops everything after that point.
    deep = wrap_pane(_real_body(DPRK).decode("utf-8"), "translation-English", 3000)
    region = deep[deep.index('<main id="main"') : deep.index("</main>") + 7]
    # The damage without protection: a plain parse loses the rest of the page.
    plain = Selector(text=region)
    assert plain.xpath("//*[@id='translation-English']") == []
    assert plain.xpath("//section[contains(@class, 'document-information')]") == []
    page = DocumentPage(f"{SITE}/document/{DPRK}", deep.encode("utf-8"))
    assert page_facts(page) == expected(DPRK)
    assert page.summary and page.record_id == "116659" and len(page.subjects) == 5 and page.text


def test_a_page_too_deep_to_read_whole_is_a_named_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Were flattening to fail, the page is refused by name, never read with empty fields.
    monkeypatch.setattr(raw_module, "flatten_deep_nesting", lambda text: (text, 0))
    deep = wrap_pane(document_page(), "translation-English", 3000)
    with pytest.raises(PageTooDeep) as err:
        DocumentPage(URL, deep)
    assert isinstance(err.value, LayoutChanged) and err.value.url == URL
    assert "2048" in str(err.value)


def test_deeply_nested_synthetic_page_is_read_whole() -> None:
    deep = wrap_pane(document_page(), "translation-English", 5000)
    assert DocumentPage(URL, deep).fields() == FULL_EXPECTED


# --- hostile pages: the canonical link is input too -----------------------------------------

#: Canonical links a document page must not be taken at its word for.
REFUSED_CANONICALS = [
    "https://evil.example/document/50th-anniversary-october-revolution-dprk",
    "//evil.example/document/x",
    "https://digitalarchive.wilsoncenter.org.evil.example/document/x",
    "javascript:alert(document.cookie)",
    "JavaScript:void(0)//document/x",
    "data:text/html,<b>x</b>",
    "/search?search_api_fulltext=x",
    "https://digitalarchive.wilsoncenter.org/search?x",
    "https://digitalarchive.wilsoncenter.org/node/92562",
    "https://digitalarchive.wilsoncenter.org/document/",
    "https://digitalarchive.wilsoncenter.org/document/a/b",
    "https://digitalarchive.wilsoncenter.org/document/%2E%2E",
    "http://digitalarchive.wilsoncenter.org/document/x",  # another scheme
    "https://digitalarchive.wilsoncenter.org:8443/document/x",  # another port
    "https://digitalarchive.wilsoncenter.org:99999/document/x",  # no port at all
    "https://user@evil.example/document/x",
]


@pytest.mark.parametrize("href", REFUSED_CANONICALS)
def test_real_page_with_a_foreign_canonical_keeps_its_own_url(href: str) -> None:
    own = f"{SITE}/document/{DPRK}"
    page = DocumentPage(own, with_canonical(_real_body(DPRK), href))
    assert page.canonical_url == own
    assert page.canonical_rejected == href
    item = page.to_item(DocumentItem(id=DPRK, url=own))
    assert (item.url, item.id) == (own, DPRK)
    assert item.record_id == "116659"  # the rest of the page is read as ever


def test_refused_canonical_at_a_legacy_address_keeps_the_listing_id() -> None:
    legacy = f"{SITE}/node/92562"
    page = DocumentPage(legacy, with_canonical(_real_body(DPRK), "https://evil.example/document/x"))
    assert page.canonical_url == legacy
    item = page.to_item(DocumentItem(id=DPRK, url=f"{SITE}/document/{DPRK}"))
    assert (item.url, item.id) == (legacy, DPRK)


@pytest.mark.parametrize(
    "href",
    [
        f"/document/{DPRK}",
        f"HTTPS://DigitalArchive.WilsonCenter.org/document/{DPRK}",
        f"https://digitalarchive.wilsoncenter.org:443/document/{DPRK}",
        f"https://digitalarchive.wilsoncenter.org/document/{DPRK}/",
        f"https://digitalarchive.wilsoncenter.org/document/{DPRK}?utm=1#top",
    ],
)
def test_real_page_with_a_same_site_canonical_takes_it(href: str) -> None:
    page = DocumentPage(f"{SITE}/document/116659", with_canonical(_real_body(DPRK), href))
    assert page.canonical_rejected is None
    item = page.to_item(DocumentItem(id="116659", url=f"{SITE}/document/116659"))
    assert (item.url, item.id) == (f"{SITE}/document/{DPRK}", DPRK)


def test_links_that_are_no_urls_are_skipped_not_a_crash() -> None:
    # urljoin() raises ValueError on a malformed host: one bad link must not lose the page.
    bad = "http://[::1"
    head = HEAD.replace("http://127.0.0.1:8000/node/4242", bad)
    tabs = TABS.replace(
        "</object>", f'</object><a href="{bad}/x.pdf">pdf</a><iframe src="{bad}.pdf"></iframe>'
    )
    options = OPTIONS.replace("</a>", f'</a><a href="{bad}/download">dl</a>')
    related = RELATED.replace('<a href="/document/later-reply-widgets">', f'<a href="{bad}">')
    got = DocumentPage(URL, document_page(head=head, tabs=tabs, options=options, related=related)).fields()
    assert got == {
        **FULL_EXPECTED,
        "related": FULL_EXPECTED["related"][:1],
    }  # node id: from the download link


# --- hostile links: only addresses on the archive's own site become data -----------------

#: Links no record may hold, each with where the page gives it. Built here, not read from output.
HOSTILE_RELATED = [
    "javascript:alert(document.domain)",
    "data:text/html,<script>alert(1)</script>",
    "http://evil.example/document/pwned",
    "//evil.example/document/pwned-too",
    "/node/1",
    "/document/90714",
    "/search?search_api_fulltext=x",
    "https://digitalarchive.wilsoncenter.org:8443/document/other-port",
]
HOSTILE_PDFS = [
    "data:application/pdf;base64,JVBERi0xLjQK",
    "javascript:alert(1)//x.pdf",
    "https://files.evil.example/sites/default/files/x.pdf",
]
HOSTILE_DOWNLOAD = "http://evil.example/document/90714/download"


def with_hostile_links(body: bytes) -> bytes:
    """The real page with :data:`HOSTILE_RELATED` rows in (or as) its Related Documents table,
    :data:`HOSTILE_PDFS` as scans, and :data:`HOSTILE_DOWNLOAD` before its own Download link."""
    page = body.decode("utf-8")
    rows = "".join(
        f'<tr><td class="date"><p>1955</p></td><td class="document"><a href="{html.escape(h)}">'
        f'<h3 class="sub-title"><span>Hostile</span></h3></a></td></tr>'
        for h in HOSTILE_RELATED
    )
    heading = '<h3 class="title">Related Documents</h3>'
    if heading in page:
        at = page.index("<tbody>", page.index(heading)) + len("<tbody>")
        page = page[:at] + rows + page[at:]
    else:
        block = (
            f'<div class="row"><div class="col-12">{heading}<table><tbody>{rows}</tbody></table></div></div>'
        )
        page = page.replace("</main>", block + "</main>", 1)
    objects = "".join(f'<object class="pdf-preview" data="{html.escape(h)}"></object>' for h in HOSTILE_PDFS)
    at = page.rindex("<div", 0, page.index('id="documentTabs"'))
    page = page[:at] + objects + page[at:]
    options = '<div class="document-options">'
    at = page.index(options) + len(options)
    page = page[:at] + f'<a href="{HOSTILE_DOWNLOAD}">Download</a>' + page[at:]
    return page.encode("utf-8")


@pytest.mark.parametrize("slug", ALL_REAL)
def test_real_page_keeps_every_real_link_and_drops_every_hostile_one(slug: str) -> None:
    page = DocumentPage(f"{SITE}/document/{slug}", with_hostile_links(_real_body(slug)))
    facts = expected(slug)
    got = page.fields()
    assert (got["pdf_urls"], got["download_url"], got["related"], got["node_id"]) == (
        facts["pdf_urls"],
        facts["download_url"],
        facts["related"],
        facts["node_id"],
    )
    assert sorted(page.links_dropped) == sorted([*HOSTILE_RELATED, *HOSTILE_PDFS, HOSTILE_DOWNLOAD])
    assert real_page(slug).links_dropped == []


def test_hostile_links_reach_the_record_without_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # The damage, shown first: with every link taken as written (the rule off), the hostile
    # links are data. The test above then proves the rule is what keeps them out.
    from harvester.pages import absolute_url
    from harvester.pages import document as document_module

    monkeypatch.setattr(document_module, "site_link", absolute_url)
    monkeypatch.setattr(document_module, "related_document", absolute_url)
    page = DocumentPage(f"{SITE}/document/{GENEVA}", with_hostile_links(_real_body(GENEVA)))
    got = page.fields()
    assert "javascript:alert(document.domain)" in got["related"]
    assert f"{SITE}/node/1" in got["related"]
    assert "data:application/pdf;base64,JVBERi0xLjQK" in got["pdf_urls"]
    assert got["download_url"] == HOSTILE_DOWNLOAD
    assert page.links_dropped == []


def test_a_page_on_another_port_or_scheme_judges_links_by_its_own_site() -> None:
    # The replica serves on http://127.0.0.1:<port>: its own links are kept, the same host on
    # another port is another site; http and https of one host are one site.
    related = RELATED.replace(
        '<a href="/document/later-reply-widgets">',
        '<a href="http://127.0.0.1:9999/document/later-reply-widgets">',
    )
    page = DocumentPage(URL, document_page(related=related))
    assert page.fields()["related"] == FULL_EXPECTED["related"][:1]
    assert page.links_dropped == ["http://127.0.0.1:9999/document/later-reply-widgets"]
    related = RELATED.replace(
        '<a href="/document/later-reply-widgets">',
        '<a href="https://127.0.0.1:8000/document/later-reply-widgets">',
    )
    page = DocumentPage(URL, document_page(related=related))
    assert page.fields()["related"] == [
        FULL_EXPECTED["related"][0],
        "https://127.0.0.1:8000/document/later-reply-widgets",
    ]
    assert page.links_dropped == []


# --- hostile pages: titles and text as a reader sees them -----------------------------------


def test_real_page_title_with_script_and_style_in_the_title_cell() -> None:
    raw = _real_body(DPRK).replace(
        b"<span>50th Anniversary of the October Revolution in the DPRK</span>",
        b"<span>50th Anniversary<script>document.title='PWNED'</script> of the October "
        b"<style>.t{color:red}</style>Revolution in the DPRK</span>",
    )
    assert (
        DocumentPage(f"{SITE}/document/{DPRK}", raw).title
        == "50th Anniversary of the October Revolution in the DPRK"
    )


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("Fish &amp;amp; Chips", "Fish &amp; Chips"),
        ("&amp;lt;b&amp;gt;", "&lt;b&gt;"),
        ("&amp;para 3 &amp;copy 1962 &amp;not final", "&para 3 &copy 1962 &not final"),
        ("Sending the Plan &amp;#039;1&amp;#039;", "Sending the Plan &#039;1&#039;"),
        ("Fish &amp; Chips &lt;b&gt;", "Fish & Chips <b>"),
    ],
)
def test_title_is_what_a_reader_sees(source: str, shown: str) -> None:
    body = re.sub(
        r'<h1 class="title">.*?</h1>',
        f'<h1 class="title"><span>{source}</span></h1>',
        document_page(),
        flags=re.S,
    )
    title = DocumentPage(URL, body).title
    assert title == shown
    assert normalize_title(title) == shown


SCRIPT = "<script>EVIL('x')</script><style>.evil{color:red}</style>"


def test_no_field_holds_script_or_style() -> None:
    body = document_page()
    for anchor in (
        "Telegram from   Jane Doe",  # title
        "March 3, 1961",  # date
        "This document was made possible",  # credits
        "Jane Doe asks",  # summary
        "Doe, Jane",  # author pill
        "Ruritania</span>",  # place pill
        "Widgets--Ruritania",  # subject pill
        "Ruritanian State Archive, fond 1.",  # source
        "123456\n",  # record id
        "Telegram\n",  # type
        "Top Secret",  # classification
        "Reuse is welcome.",  # rights
        "Acme Fund<br>",  # donors as lines
    ):
        assert anchor in body, anchor
        body = body.replace(anchor, SCRIPT + anchor, 1)
    got = DocumentPage(URL, body).fields()
    for name, value in got.items():
        flat = " ".join(value) if isinstance(value, list) else str(value)
        assert "EVIL" not in flat and ".evil" not in flat and "color:red" not in flat, name
    assert got == FULL_EXPECTED


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
    assert all(got[k] in (None, []) for k in DocumentPage.field_names() if k != "title")
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
    assert DocumentPage(URL, body).title == "Widgets & Gadgets, \u2018Part One\u2019 [undated]"


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


@pytest.mark.parametrize(
    ("href", "word"),
    [
        ("/document/5151/download", "download"),
        ("/document/5151/down\nload", "download"),  # urlsplit drops line breaks and tabs
        ("/document/5151/down\tload/", "download"),
        ("?page=2", "download"),
        ("/sites/default/files/a.pdf", ".pdf"),
        ("/sites/default/files/A.P\rDF", ".pdf"),
        ("#top", ".pdf"),
        ("/search?f[0]=places:3035", ".pdf"),
        ("../download", "download"),
    ],
)
@pytest.mark.parametrize(
    "base", [URL, "http://127.0.0.1:8000/document/5151/download", "http://h/document/x.pdf"]
)
def test_links_skipped_before_urljoin_are_those_that_cannot_match(base: str, href: str, word: str) -> None:
    """The cheap test before ``urljoin`` (issue 17) says no only where the joined path cannot
    hold the word: it never changes which links are download or PDF links."""
    from harvester.pages.document import _may_name, _path

    path = _path(base.lower(), href.lower()) if word == ".pdf" else _path(base, href)
    if word in path:
        assert _may_name(
            base.lower() if word == ".pdf" else base, href.lower() if word == ".pdf" else href, word
        )


def test_download_link_with_a_line_break_is_still_found() -> None:
    head = HEAD.replace('<link rel="shortlink" href="http://127.0.0.1:8000/node/4242">', "")
    options = OPTIONS.replace("/document/4242/download", "/document/5151/down\nload")
    got = DocumentPage(URL, document_page(head=head, options=options)).fields()
    assert got["node_id"] == "5151"
    assert got["download_url"] == "http://127.0.0.1:8000/document/5151/download"
