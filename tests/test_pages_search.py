"""SearchPage on replica-rendered pages and on markup written from ARCHIVE.md."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged
from harvester.pages.search import SearchPage
from harvester.titles import normalize_title
from replica.dataset import Archive, build_archive
from replica.html import page_shell
from replica.model import ReplicaDoc
from replica.search_html import render_search_main

URL = "http://127.0.0.1:8000/search?search_api_fulltext=Korean+Workers%27+Party"


@pytest.fixture(scope="module")
def archive() -> Archive:
    return build_archive(200)


def render(
    archive: Archive,
    rows: Sequence[ReplicaDoc],
    total: int,
    page: int = 0,
    params: Sequence[tuple[str, str]] = (("search_api_fulltext", "Korean Workers' Party"),),
) -> str:
    main = render_search_main(rows, total=total, page=page, page_size=10, params=list(params))
    return page_shell(title="Search", main_html=main)


def test_seed_page_one(archive: Archive) -> None:
    seed = [archive.by_slug[s] for s in archive.seed_slugs]
    page = SearchPage(URL, render(archive, seed[:10], 11))
    assert page.count is not None and (page.count.first, page.count.last, page.count.total) == (1, 10, 11)
    rows = page.rows()
    assert [r.row for r in rows] == list(range(1, 11))
    assert rows[0].date_raw == "January 3, 1962"
    assert rows[0].title is not None and rows[0].title.startswith(
        "Information on the Attitude of the Korean Workers’ Party"
    )
    # Two documents share a title and differ by address.
    mikoyan = [r for r in rows if r.title == "Telegram from A. Mikoyan to the CPSU Central Committee"]
    assert len(mikoyan) == 2 and mikoyan[0].url != mikoyan[1].url
    assert page.next_url == "http://127.0.0.1:8000/search?search_api_fulltext=Korean+Workers%27+Party&page=1"
    assert page.last_page == 1


def test_last_page_has_no_next(archive: Archive) -> None:
    seed = [archive.by_slug[s] for s in archive.seed_slugs]
    page = SearchPage(URL + "&page=1", render(archive, seed[10:], 11, page=1))
    assert page.next_url is None
    assert [r.row for r in page.rows()] == [1]
    assert page.count is not None and page.count.first == 11


ARCHIVE_MD_ROW = """<!DOCTYPE html><html><body><main id="main">
<div class="view-header"><p class="results-label">Results:</p><p class="results-count">1 - 2 of 2</p></div>
<h2 class="results-title">Documents</h2>
<div class="documents"><div class="card table-responsive"><table class="table table-hover table-striped"><tbody>
  <tr>
    <td class="date"><p>July 18, 1955</p></td>
    <td data-history-node-id="87513" class="document contextual-region">
      <a href="/document/cable-chinese-foreign-ministry-sending-plan-sino-american-talks">
        <h3 class="sub-title"><span>Cable from the Chinese Foreign Ministry, 'Sending the Plan for the Sino-American Talks'</span></h3>
        <div class="text"><p></p><p>First &amp; only  paragraph.</p><p></p></div>
      </a>
    </td>
  </tr>
  <tr><td class="date"></td><td data-history-node-id="1" class="document contextual-region"><a href="/document/x"><h3 class="sub-title"><span>No date, no summary</span></h3></a></td></tr>
</tbody></table></div></div>
</main></body></html>"""


def test_row_markup_from_archive_md() -> None:
    page = SearchPage("https://digitalarchive.wilsoncenter.org/search", ARCHIVE_MD_ROW)
    first, second = page.rows()
    assert (
        first.url
        == "https://digitalarchive.wilsoncenter.org/document/cable-chinese-foreign-ministry-sending-plan-sino-american-talks"
    )
    assert (
        first.title
        == "Cable from the Chinese Foreign Ministry, 'Sending the Plan for the Sino-American Talks'"
    )
    assert first.date_raw == "July 18, 1955"
    assert first.summary == "First & only paragraph."
    assert second.date_raw is None and second.summary is None
    assert page.next_url is None


def test_count_without_results_label() -> None:
    # Some captures show just "1 - 6 of 6", without "Results:".
    html = ARCHIVE_MD_ROW.replace('<p class="results-label">Results:</p>', "")
    assert SearchPage("https://x.org/search", html).total == 2


def test_empty_search(archive: Archive) -> None:
    page = SearchPage(URL, render(archive, [], 0))
    assert page.is_empty_search and page.total == 0 and page.rows() == []


def test_more_pages_reported_but_no_next_link_is_not_an_end(archive: Archive) -> None:
    # The spider turns this into a structure error; the page itself exposes the facts.
    seed = [archive.by_slug[s] for s in archive.seed_slugs]
    html = render(archive, seed[:10], 11).replace('rel="next"', "")
    page = SearchPage(URL, html)
    assert page.next_url is None and page.count is not None and page.count.last < page.count.total


def test_truncated_and_empty_bodies_are_incomplete(archive: Archive) -> None:
    seed = [archive.by_slug[s] for s in archive.seed_slugs]
    html = render(archive, seed[:10], 11)
    with pytest.raises(IncompleteResponse):
        SearchPage(URL, html[: len(html) // 2])
    with pytest.raises(IncompleteResponse):
        SearchPage(URL, html[: html.index("</main>") + 7])  # cut after main: no </html>
    with pytest.raises(IncompleteResponse):
        SearchPage(URL, b"")
    with pytest.raises(IncompleteResponse):
        SearchPage(URL, "<html><head><title>x</title></head><body><div>")


def test_block_page_is_not_zero_results() -> None:
    html = (
        "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>"
        '<div id="cf-error-details"><h1>Sorry, you have been blocked</h1></div></body></html>'
    )
    with pytest.raises(BlockedPage):
        SearchPage(URL, html)


def test_layout_change_is_named(archive: Archive) -> None:
    seed = [archive.by_slug[s] for s in archive.seed_slugs]
    html = render(archive, seed[:10], 11)
    with pytest.raises(LayoutChanged) as caught:
        SearchPage(URL, html.replace("results-count", "result-summary"))
    assert caught.value.landmark == "p.results-count"
    with pytest.raises(LayoutChanged) as caught:
        SearchPage(URL, html.replace('<main id="main">', '<main id="content">'))
    assert caught.value.landmark == "main#main"
    with pytest.raises(LayoutChanged) as caught:
        SearchPage(URL, html.replace('class="document contextual-region"', 'class="doc contextual-region"'))
    assert caught.value.landmark == "td.document"


# --- titles and text as a reader sees them ---------------------------------------------------

ROW_TITLE = (
    "<span>Cable from the Chinese Foreign Ministry, 'Sending the Plan for the Sino-American Talks'</span>"
)


def with_row_title(markup: str) -> str:
    assert ROW_TITLE in ARCHIVE_MD_ROW
    return ARCHIVE_MD_ROW.replace(ROW_TITLE, markup, 1)


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("Fish &amp;amp; Chips", "Fish &amp; Chips"),
        ("&amp;lt;b&amp;gt;", "&lt;b&gt;"),
        ("&amp;para 3 &amp;copy 1962 &amp;not final", "&para 3 &copy 1962 &not final"),
        ("Fish &amp; Chips &lt;b&gt;", "Fish & Chips <b>"),
    ],
)
def test_row_title_is_what_a_reader_sees(source: str, shown: str) -> None:
    title = SearchPage(URL, with_row_title(f"<span>{source}</span>")).rows()[0].title
    assert title == shown
    assert normalize_title(title) == shown


def test_script_and_style_in_a_row_never_reach_its_values() -> None:
    html = with_row_title(
        "<span>Cable<script>document.write('PWNED')</script> from the "
        "<style>.t{color:red}</style>Ministry</span><noscript>Enable JavaScript</noscript>"
    )
    html = html.replace("<p>July 18, 1955</p>", "<p>July 18,<script>x=1</script> 1955</p>")
    html = html.replace("First &amp; only  paragraph.", "First &amp;<style>p{}</style> only paragraph.")
    first = SearchPage(URL, html).rows()[0]
    assert first.title == "Cable from the Ministry"
    assert first.date_raw == "July 18, 1955"
    assert first.summary == "First & only paragraph."


def test_a_title_of_invisible_characters_is_no_title() -> None:
    title = SearchPage(URL, with_row_title("<span>\u2063\u3164 \U000e0041</span>")).rows()[0].title
    assert title is not None  # the page reports what is there ...
    assert normalize_title(title) is None  # ... and the title rule finds nothing visible in it


def test_bytes_that_are_not_utf8_are_replaced_and_flagged() -> None:
    body = ARCHIVE_MD_ROW.encode("utf-8").replace(b"Sending the Plan", b"Sending \xff the Plan")
    page = SearchPage(URL, body)
    assert page.invalid_utf8 is True
    assert (
        page.rows()[0].title
        == "Cable from the Chinese Foreign Ministry, 'Sending \ufffd the Plan for the Sino-American Talks'"
    )
    assert SearchPage(URL, ARCHIVE_MD_ROW.encode("utf-8")).invalid_utf8 is False


def test_links_that_are_no_urls() -> None:
    bad_row = ARCHIVE_MD_ROW.replace('<a href="/document/x">', '<a href="http://[::1">')
    with pytest.raises(LayoutChanged) as caught:
        SearchPage(URL, bad_row).rows()
    assert caught.value.landmark == "td.document a::attr(href) in row 2"
    pager = '<nav class="pager"><a rel="next" href="http://[::1">Next</a></nav></main>'
    page = SearchPage(URL, ARCHIVE_MD_ROW.replace("</main>", pager))
    assert page.next_url is None and len(page.rows()) == 2
