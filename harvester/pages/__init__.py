"""Page classes: plain Python over parsel, one module per kind of page, no Scrapy imports.

A page class takes ``(url, html)``, validates itself (``IncompleteResponse`` for a
truncated body, ``LayoutChanged`` for a page missing its landmarks) and exposes what
the page says. Every selector for one layout of the site lives in these modules.
"""


def has_class(name: str) -> str:
    """XPath predicate: the element has the CSS class *name* (what ``.name`` means in CSS).

    >>> has_class("title")
    "contains(concat(' ', normalize-space(@class), ' '), ' title ')"
    """
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"
