"""The search's URLs: the first results page of a run, and page N of the same search.

Results pages of 100 by default (``items_per_page``; the site's own default is 10), unless
the ``start_url`` names a size. Whatever the site actually serves, the walk reads from the
"X - Y of N" line of each page.

>>> urls = SearchUrls("https://h", query="Korean Workers' Party")
>>> urls.first
'https://h/search?search_api_fulltext=Korean+Workers%27+Party&items_per_page=100'
>>> urls.page(2)
'https://h/search?search_api_fulltext=Korean+Workers%27+Party&items_per_page=100&page=2'
>>> SearchUrls("https://h", newest_first=True, per_page=10).page(0)
'https://h/search?sort_bef_combine=created_DESC'
>>> SearchUrls("https://h", start_url="https://h/search?sort_bef_combine=created_ASC&items_per_page=50&page=3", newest_first=True).first
'https://h/search?sort_bef_combine=created_ASC&items_per_page=50&page=3'
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SORT = "sort_bef_combine"
NEWEST_FIRST = "created_DESC"
PER_PAGE = "items_per_page"
#: The site's page size when none is asked for.
SITE_DEFAULT_PER_PAGE = 10


class SearchUrls:
    """URLs of one search: keywords (``query``), a results URL (``start_url``) or the whole archive."""

    def __init__(
        self,
        base_url: str,
        *,
        query: str = "",
        start_url: str | None = None,
        newest_first: bool = False,
        per_page: int = 100,
    ) -> None:
        if start_url:
            url = start_url
        elif query:
            url = f"{base_url}/search?{urlencode({'search_api_fulltext': query})}"
        else:
            url = f"{base_url}/search"
        if per_page != SITE_DEFAULT_PER_PAGE:
            url = _with_params(url, {PER_PAGE: str(per_page)}, replace=False)
        if newest_first:
            # Scheduled runs walk newest uploads first, so that what is new comes first.
            url = _with_params(url, {SORT: NEWEST_FIRST}, replace=False)
        self.first = url

    @property
    def sorted_newest_first(self) -> bool:
        return dict(parse_qsl(urlsplit(self.first).query)).get(SORT) == NEWEST_FIRST

    def page(self, number: int) -> str:
        """The results URL of page ``number`` (0-based) of this search."""
        parts = urlsplit(self.first)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
        if number:
            query.append(("page", str(number)))
        return urlunsplit(parts._replace(query=urlencode(query)))


def _with_params(url: str, params: dict[str, str], *, replace: bool) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    if replace:
        query = [(k, v) for k, v in query if k not in params]
    query += [(k, v) for k, v in params.items() if replace or k not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))
