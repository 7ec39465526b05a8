"""The replica's search results page, as ARCHIVE.md "Search results page" fixes it.

The row markup is the confirmed one (the same as the Related Documents rows of real
document pages); the wrapper, the "X - Y of N" line and the Drupal pager are the
assumed contract that ARCHIVE.md writes down. The fixed markup is in
``replica/templates/search*.html`` and ``pager.html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import urlencode

from replica.html import render_result_row
from replica.model import ReplicaDoc
from replica.template import load


def alias_href(doc: ReplicaDoc) -> str:
    """The address a row links under the ``aliases`` fault: legacy, node or canonical."""
    kind = doc.nid % 3
    if kind == 0:
        return f"/document/{doc.record_id}"
    if kind == 1:
        return f"/node/{doc.nid}"
    return f"/document/{doc.slug}"


def render_row(doc: ReplicaDoc, href: str | None = None) -> str:
    """One result row (the Related Documents rows' markup, without an empty ``div.text``)."""
    return render_result_row(doc, href, empty_text=False) + "\n"


def page_href(params: Sequence[tuple[str, str]], page: int) -> str:
    """The pager's link to ``page``: the same query, ``page`` last (left out for page 0), escaped."""
    query = [(k, v) for k, v in params if k != "page"]
    if page:
        query.append(("page", str(page)))
    return escape("?" + urlencode(query), quote=True)


def _link(cls: str, href: str, title: str, text: str, rel: str = "") -> str:
    rel_attr = f' rel="{rel}"' if rel else ""
    return f'<li class="page-item{cls}"><a class="page-link" href="{href}" title="{title}"{rel_attr}>{text}</a></li>'


def render_pager(params: Sequence[tuple[str, str]], page: int, last_page: int) -> str:
    """Drupal's full pager: first, previous, a window of pages, next, last."""
    if last_page <= 0:
        return ""
    items = []
    if page > 0:
        items.append(_link(" pager__item--first", page_href(params, 0), "Go to first page", "First"))
        items.append(
            _link(
                " pager__item--previous",
                page_href(params, page - 1),
                "Go to previous page",
                "Previous",
                "prev",
            )
        )
    start = max(0, min(page - 4, last_page - 8))
    for number in range(start, min(last_page, start + 8) + 1):
        if number == page:
            items.append(f'<li class="page-item active"><span class="page-link">{number + 1}</span></li>')
        else:
            items.append(_link("", page_href(params, number), f"Go to page {number + 1}", str(number + 1)))
    if page < last_page:
        items.append(
            _link(" pager__item--next", page_href(params, page + 1), "Go to next page", "Next", "next")
        )
        items.append(_link(" pager__item--last", page_href(params, last_page), "Go to last page", "Last"))
    return load("pager.html").render(items="".join(items))


def render_search_main(
    rows: Sequence[ReplicaDoc],
    *,
    total: int,
    page: int,
    page_size: int,
    params: Sequence[tuple[str, str]],
    aliases: bool = False,
    again: Sequence[ReplicaDoc] = (),
) -> str:
    """The ``<main>`` region of ``/search``: count line, result table, pager.

    ``aliases`` links rows by :func:`alias_href` instead of their canonical address.
    ``again`` are documents listed a second time, after the rows, under their legacy
    ``/document/<record id>`` address (the "X - Y" line does not count them).
    """
    last_page = max(0, (total - 1) // page_size)
    if total == 0:
        results = load("search-empty.html").render()
    elif rows:
        first = page * page_size + 1
        results = load("search-count.html").render(
            first=str(first), last=str(first + len(rows) - 1), total=str(total)
        ) + load("search-table.html").render(
            rows="".join(render_row(doc, alias_href(doc) if aliases else None) for doc in rows)
            + "".join(render_row(doc, f"/document/{doc.record_id}") for doc in again)
        )
    else:
        # Past the last page the real site shows an empty list, not an error.
        results = load("search-table.html").render(rows="")
    return load("search.html").render(
        query=escape(dict(params).get("search_api_fulltext", ""), quote=True),
        results=results,
        pager=render_pager(params, page, last_page) if total else "",
    )
