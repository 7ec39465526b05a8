"""The replica's search results page, as ARCHIVE.md "Search results page" fixes it.

The row markup is the confirmed one (the same as the Related Documents rows of real
document pages); the wrapper, the "X - Y of N" line and the Drupal pager are the
assumed contract that ARCHIVE.md writes down.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import urlencode

from replica.model import ReplicaDoc


def alias_href(doc: ReplicaDoc) -> str:
    """The address a row links under the ``aliases`` fault: legacy, node or canonical."""
    kind = doc.nid % 3
    if kind == 0:
        return f"/document/{doc.record_id}"
    if kind == 1:
        return f"/node/{doc.nid}"
    return f"/document/{doc.slug}"


def render_row(doc: ReplicaDoc, href: str | None = None) -> str:
    """One result row (the same markup as the Related Documents rows of document pages)."""
    date = f"<p>{escape(doc.date_raw)}</p>" if doc.date_raw else ""
    if doc.summary:
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in doc.summary)
        text = f'<div class="text"><p></p>{paragraphs}<p></p></div>'
    else:
        text = ""
    return (
        f'<tr><td class="date">{date}</td>'
        f'<td data-history-node-id="{doc.nid}" class="document contextual-region">'
        f'<a href="{href or "/document/" + doc.slug}"><h3 class="sub-title"><span>{doc.title}</span></h3>'
        f"{text}</a></td></tr>\n"
    )


def _href(params: Sequence[tuple[str, str]], page: int) -> str:
    query = [(k, v) for k, v in params if k != "page"]
    if page:
        query.append(("page", str(page)))
    return escape("?" + urlencode(query), quote=True)


def render_pager(params: Sequence[tuple[str, str]], page: int, last_page: int) -> str:
    """Drupal's full pager: first, previous, a window of pages, next, last."""
    if last_page <= 0:
        return ""
    items = []
    if page > 0:
        items.append(
            f'<li class="page-item pager__item--first"><a class="page-link" href="{_href(params, 0)}" '
            'title="Go to first page">First</a></li>'
        )
        items.append(
            f'<li class="page-item pager__item--previous"><a class="page-link" href="{_href(params, page - 1)}" '
            'title="Go to previous page" rel="prev">Previous</a></li>'
        )
    start = max(0, min(page - 4, last_page - 8))
    for number in range(start, min(last_page, start + 8) + 1):
        if number == page:
            items.append(f'<li class="page-item active"><span class="page-link">{number + 1}</span></li>')
        else:
            items.append(
                f'<li class="page-item"><a class="page-link" href="{_href(params, number)}" '
                f'title="Go to page {number + 1}">{number + 1}</a></li>'
            )
    if page < last_page:
        items.append(
            f'<li class="page-item pager__item--next"><a class="page-link" href="{_href(params, page + 1)}" '
            'title="Go to next page" rel="next">Next</a></li>'
        )
        items.append(
            f'<li class="page-item pager__item--last"><a class="page-link" href="{_href(params, last_page)}" '
            'title="Go to last page">Last</a></li>'
        )
    return (
        '<nav class="pager" role="navigation" aria-labelledby="pagination-heading">\n'
        '<h4 id="pagination-heading" class="visually-hidden">Pagination</h4>\n'
        f'<ul class="pagination js-pager__items">{"".join(items)}</ul>\n</nav>\n'
    )


def render_search_main(
    rows: Sequence[ReplicaDoc],
    *,
    total: int,
    page: int,
    page_size: int,
    params: Sequence[tuple[str, str]],
    aliases: bool = False,
) -> str:
    """The ``<main>`` region of ``/search``: count line, result table, pager."""
    last_page = max(0, (total - 1) // page_size)
    form_value = escape(dict(params).get("search_api_fulltext", ""), quote=True)
    parts = [
        '<div data-drupal-messages-fallback="" class="hidden"></div>\n'
        '<div class="views-exposed-form" data-drupal-selector="views-exposed-form-search-page">'
        f'<form action="/search" method="get"><input type="text" name="search_api_fulltext" value="{form_value}">'
        '<input type="submit" value="Search"></form></div>\n'
        '<div class="view view-search view-id-search view-display-id-page_1">\n'
    ]
    if total == 0:
        parts.append('<div class="view-empty"><p>No results found. Please try a different search.</p></div>\n')
    elif rows:
        first = page * page_size + 1
        parts.append(
            '<div class="view-header"><p class="results-label">Results:</p>'
            f'<p class="results-count">{first} - {first + len(rows) - 1} of {total}</p></div>\n'
            '<h2 class="results-title">Documents</h2>\n'
            '<div class="documents"><div class="card table-responsive">'
            '<table class="table table-hover table-striped"><tbody>\n'
        )
        parts.extend(render_row(doc, alias_href(doc) if aliases else None) for doc in rows)
        parts.append("</tbody></table></div></div>\n")
    else:
        # Past the last page the real site shows an empty list, not an error.
        parts.append(
            '<div class="documents"><div class="card table-responsive">'
            '<table class="table table-hover table-striped"><tbody>\n</tbody></table></div></div>\n'
        )
    parts.append(render_pager(params, page, last_page) if total else "")
    parts.append("</div>\n")
    return "".join(parts)
