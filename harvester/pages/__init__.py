"""Page classes: plain Python over parsel, one module per kind of page, no Scrapy imports.

A page class takes ``(url, body)``, validates itself (``IncompleteResponse`` for a
truncated body, ``BlockedPage`` for a block page, ``LayoutChanged`` for a page missing its
landmarks) and exposes what the page says. Every selector for one layout of the site lives
in these modules; what all pages share is in :mod:`harvester.pages.raw` (validating,
cutting, decoding, parsing), :mod:`harvester.pages.markup` (text as a reader sees it) and
:mod:`harvester.pages.fields` (``@field``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urljoin

from lxml.etree import XPath


def has_class(name: str) -> str:
    """XPath predicate: the element has the CSS class *name* (what ``.name`` means in CSS).

    The class list is padded and searched for `` name `` only where ``@class`` holds *name* at
    all: the same answer (a class name holds no white space), found sooner; libxml2 spent a
    tenth of a document page's reading building padded strings for every ``div`` (issue 17).

    >>> has_class("title")
    "(contains(@class, 'title') and contains(concat(' ', normalize-space(@class), ' '), ' title '))"
    """
    return f"(contains(@class, '{name}') and contains(concat(' ', normalize-space(@class), ' '), ' {name} '))"


def xpath(expression: str) -> Callable[[Any], list[Any]]:
    """An XPath expression compiled once (lxml's ``XPath``), typed as what our expressions
    return: a list of elements or of strings (attribute values, text nodes).

    >>> from lxml.html import fragment_fromstring
    >>> xpath("//a/@href")(fragment_fromstring('<p><a href="/x">x</a></p>'))
    ['/x']
    """
    return cast(Callable[[Any], list[Any]], XPath(expression, smart_strings=False))


def absolute_url(base: str, href: str) -> str | None:
    """*href* (stripped) made absolute against *base*; ``None`` for a link that is no URL
    (``urljoin`` refuses a malformed host such as ``http://[::1``).

    >>> absolute_url("https://h/document/a", " /document/b "), absolute_url("https://h/", "http://[::1")
    ('https://h/document/b', None)
    """
    try:
        return urljoin(base, href.strip())
    except ValueError:
        return None
