"""The raw-page layer (``harvester.pages.raw``): one set of rules for every kind of page."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged
from harvester.pages.document import DocumentPage
from harvester.pages.raw import flatten_deep_nesting, parse_region, read_raw
from harvester.pages.search import SearchPage

URL = "https://digitalarchive.wilsoncenter.org/x"

#: Both page classes, built the way the spider builds them.
PAGES: list[Callable[[str, bytes | str], object]] = [SearchPage, DocumentPage]

#: What Cloudflare's bot-detection script looks like on every real page (PROVENANCE.md).
JSD = "<script>(function(){var a=document.createElement('script');a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';})();</script>"
CHALLENGE = '<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8f"></script>'


def page_without_main(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>Digital Archive</title></head><body>{body}</body></html>"


@pytest.mark.parametrize("page_class", PAGES)
@pytest.mark.parametrize(
    "body",
    [
        page_without_main(CHALLENGE),
        page_without_main("<div id='cf-error-details'>Sorry, you have been blocked</div>"),
        "<html><head><title>Just a moment...</title></head><body>" + JSD + "</body></html>",
        "<html><head><title>Attention Required! | Cloudflare</title></head><body></body></html>",
        page_without_main("<script>window._cf_chl_opt={cvId:'3'};</script>"),
    ],
)
def test_block_and_challenge_pages_are_blocked_for_every_page_kind(
    page_class: Callable[[str, bytes | str], object], body: str
) -> None:
    with pytest.raises(BlockedPage):
        page_class(URL, body.encode())


@pytest.mark.parametrize("page_class", PAGES)
def test_the_jsd_script_alone_is_never_a_block(page_class: Callable[[str, bytes | str], object]) -> None:
    # Without main#main and with only the detection script: a changed layout, not a block.
    with pytest.raises(LayoutChanged) as err:
        page_class(URL, page_without_main(JSD * 3))
    assert err.value.landmark == "main#main"


@pytest.mark.parametrize("page_class", PAGES)
def test_block_markers_are_not_looked_for_in_a_page_with_main(
    page_class: Callable[[str, bytes | str], object],
) -> None:
    # A page with main#main that quotes every marker is a page: its own layout checks decide.
    body = (
        "<html><head><title>Just a moment...</title></head><body><main id='main'>"
        f"<p>you have been blocked cf-error-details cf-chl- cf_chl_</p>{CHALLENGE}{JSD}"
        "</main></body></html>"
    )
    with pytest.raises(LayoutChanged) as err:
        page_class(URL, body)
    assert err.value.landmark != "main#main"


@pytest.mark.parametrize("page_class", PAGES)
@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "empty body"),
        (b" \r\n\t", "empty body"),
        (b"<html><body><main id='main'><p>cut", "truncated body: no </html> at the end"),
        (b"<html><body><main id='main'><p>x</p></body></html>", "truncated body: <main> is never closed"),
        (b"<html><head><title>x</title></head><body><div>", "truncated body: no </html> at the end"),
        (b"<html><body><main class='x'><p>x</p></body></html>", "truncated body: <main> is never closed"),
    ],
)
def test_empty_and_truncated_bodies_are_incomplete_for_every_page_kind(
    page_class: Callable[[str, bytes | str], object], body: bytes, detail: str
) -> None:
    with pytest.raises(IncompleteResponse) as err:
        page_class(URL, body)
    assert err.value.detail == detail


def test_read_raw_cuts_head_and_main_and_decodes_strictly() -> None:
    body = (
        b"<html><head><link rel=canonical href='/document/a'></head><body><nav>menu</nav>"
        b"<main class='m' id=\"main\"><p>caf\xc3\xa9</p></main><footer>f</footer></body></html>\n"
    )
    raw = read_raw(URL, body)
    assert raw.head == "<html><head><link rel=canonical href='/document/a'>"
    assert raw.main == "<main class='m' id=\"main\"><p>caf\u00e9</p></main>"
    assert raw.invalid_utf8 is False
    # Invalid bytes in what is read: replaced and flagged; the same body as text: no flag.
    bad = read_raw(URL, body.replace(b"caf\xc3\xa9", b"caf\xe9"))
    assert bad.main == "<main class='m' id=\"main\"><p>caf\ufffd</p></main>"
    assert bad.invalid_utf8 is True
    assert read_raw(URL, body.decode("utf-8")).invalid_utf8 is False


def test_parse_region_reads_past_the_parsers_depth_limit() -> None:
    region = (
        '<main id="main">'
        + "<div>" * 3000
        + "<p>deep</p>"
        + "</div>" * 3000
        + '<p class="after">after</p></main>'
    )
    sel = parse_region(URL, region)
    assert sel.css("p::text").getall() == ["deep", "after"]


def test_flattening_keeps_every_text_and_the_elements_near_text_and_top() -> None:
    region = (
        '<main id="main"><section class="top">'
        + '<div class="w">x' * 1000
        + '<div class="pane"><p>one</p><p>two</p></div>'
        + "</div>" * 1000
        + "<p>tail</p></section></main>"
    )
    flat, dropped = flatten_deep_nesting(region)
    # The wrapper at depth d (main 0, section 1, wrappers 2-1001) has 1003 - d levels below it:
    # dropped when d > 256 and 1003 - d > 256, wrappers 257-746.
    assert dropped == 490
    sel = parse_region(URL, flat)
    assert sel.css("div.pane p::text").getall() == ["one", "two"]
    assert sel.css("section.top > p::text").get() == "tail"
    assert "".join(sel.xpath("//text()").getall()) == "x" * 1000 + "onetwotail"
