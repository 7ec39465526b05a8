"""SearchPage on replica-rendered pages and on markup written from ARCHIVE.md."""

from __future__ import annotations

import pytest

from harvester.exceptions import BlockedPage, IncompleteResponse, LayoutChanged
from harvester.pages.search import SearchPage
from replica.dataset import build_archive
from replica.html import page_shell
from replica.search_html import render_search_main

URL = "http://127.0.0.1:8000/search?search_api_fulltext=Korean+Workers%27+Party"


@pytest.fixture(scope="module")
def archive():  # type: ignore[no-untyped-def]
    return build_archive(200)


def render(archive, rows, total, page=0, params=(("search_api_fulltext", "Korean Workers' Party"),)):  # type: ignore[no-untyped-def]
    main = render_search_main(rows, total=total, page=page, page_size=10, params=list(params))
    return page_shell(title="Search", main_html=main)


def test_seed_page_one(archive) -> None:  # type: ignore[no-untyped-def]
    seed = [archive.by_slug[s] for s in archive.seed_slugs]
    page = SearchPage(URL, render(archive, seed[:10], 11))
    assert page.count is not None and (page.count.first, page.count.last, page.count.total) == (1, 10, 11)
    rows = page.rows()
    assert [r.row for r in rows] == list(range(1, 11))
    assert rows[0].date_raw == "January 3, 1962"
    assert rows[0].title is not None and rows[0].title.startswith("Information on the Attitude of the Korean Workers’ Party")
    # Two documents share a title and differ by address.
    mikoyan = [r for r in rows if r.title == "Telegram from A. Mikoyan to the CPSU Central Committee"]
    assert len(mikoyan) == 2 and mikoyan[0].url != mikoyan[1].url
    assert page.next_url == "http://127.0.0.1:8000/search?search_api_fulltext=Korean+Workers%27+Party&page=1"
    assert page.last_page == 1


def test_last_page_has_no_next(archive) -> None:  # type: ignore[no-untyped-def]
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
    assert first.url == "https://digitalarchive.wilsoncenter.org/document/cable-chinese-foreign-ministry-sending-plan-sino-american-talks"
    assert first.title == "Cable from the Chinese Foreign Ministry, 'Sending the Plan for the Sino-American Talks'"
    assert first.date_raw == "July 18, 1955"
    assert first.summary == "First & only paragraph."
    assert first.node_id == "87513"
    assert second.date_raw is None and second.summary is None
    assert page.next_url is None


def test_count_without_results_label() -> None:
    # Some captures show just "1 - 6 of 6", without "Results:".
    html = ARCHIVE_MD_ROW.replace('<p class="results-label">Results:</p>', "")
    assert SearchPage("https://x.org/search", html).total == 2


def test_empty_search(archive) -> None:  # type: ignore[no-untyped-def]
    page = SearchPage(URL, render(archive, [], 0))
    assert page.is_empty_search and page.total == 0 and page.rows() == []


def test_more_pages_reported_but_no_next_link_is_not_an_end(archive) -> None:  # type: ignore[no-untyped-def]
    # The spider turns this into a structure error; the page itself exposes the facts.
    seed = [archive.by_slug[s] for s in archive.seed_slugs]
    html = render(archive, seed[:10], 11).replace('rel="next"', "")
    page = SearchPage(URL, html)
    assert page.next_url is None and page.count is not None and page.count.last < page.count.total


def test_truncated_and_empty_bodies_are_incomplete(archive) -> None:  # type: ignore[no-untyped-def]
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
    html = ("<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>"
            "<div id=\"cf-error-details\"><h1>Sorry, you have been blocked</h1></div></body></html>")
    with pytest.raises(BlockedPage):
        SearchPage(URL, html)


def test_layout_change_is_named(archive) -> None:  # type: ignore[no-untyped-def]
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
