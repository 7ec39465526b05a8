"""Text of parsed HTML as a reader sees it: scripts, styles and embedded objects dropped.

Shared by every page class. All functions take an lxml element (``Selector.root`` or what a
compiled XPath returns) and walk it without recursion, so a deeply nested page costs no
Python stack.
"""

from __future__ import annotations

from typing import Any

from lxml.etree import iterwalk

from harvester.text import collapse

__all__ = ["SKIP_TAGS", "lines", "paragraphs", "raw_blocks", "visible_text"]

#: Elements whose content is never text a reader sees.
SKIP_TAGS = frozenset(
    {
        "script", "style", "meta", "title", "noscript", "link", "head", "template",
        "object", "iframe", "embed", "svg", "button", "select",
    }
)  # fmt: skip
#: Elements that end the paragraph before them and their own.
BLOCK_TAGS = frozenset(
    {
        "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "ul", "ol", "dl", "dt",
        "dd", "table", "thead", "tbody", "tfoot", "caption", "blockquote", "pre", "section",
        "article", "aside", "header", "footer", "nav", "figure", "figcaption", "address",
        "center", "hr", "main", "form", "fieldset", "details", "summary", "br",
    }
)  # fmt: skip
#: Table cells stay in their row's paragraph, a space apart.
CELL_TAGS = frozenset({"td", "th"})


def visible_text(root: Any) -> str:
    """All text under an element as one line, collapsed: ``itertext()`` without the content
    of scripts, styles and the other :data:`SKIP_TAGS` (their tails are kept).

    >>> from lxml.html import fragment_fromstring
    >>> visible_text(fragment_fromstring(
    ...     "<h1><span>Fish<script>alert(1)</script> &amp;<style>.x{}</style>  Chips</span></h1>"))
    'Fish & Chips'
    """
    parts: list[str] = []
    append = parts.append
    events = iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in events:
        if event == "start":
            if el.tag in SKIP_TAGS:
                events.skip_subtree()  # its "end" event still comes, and adds the tail
            elif text := el.text:
                append(text)
            continue
        # "end", "comment" and "pi": the tail follows the node (the root's is not ours).
        if el is not root and (tail := el.tail):
            append(tail)
    return collapse("".join(parts))


def raw_blocks(root: Any) -> list[str]:
    """Text of an element cut at block boundaries, white space left as it is."""
    out: list[str] = []
    buf: list[str] = []
    append = buf.append
    events = iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in events:
        if event == "start":
            tag = el.tag  # the HTML parser gives lower-case tag names
            if tag in SKIP_TAGS:
                events.skip_subtree()  # its "end" event still comes, and adds the tail
            elif tag in BLOCK_TAGS:
                if buf:
                    out.append("".join(buf))
                    buf.clear()
                if text := el.text:
                    append(text)
            else:
                if tag in CELL_TAGS:
                    append(" ")
                if text := el.text:
                    append(text)
            continue
        if event == "end":
            tag = el.tag
            if tag in BLOCK_TAGS:
                if buf:
                    out.append("".join(buf))
                    buf.clear()
            elif tag in CELL_TAGS:
                append(" ")
        # "end", "comment" and "pi": the tail follows the node (the root's is not ours).
        if el is not root and (tail := el.tail):
            append(tail)
    if buf:
        out.append("".join(buf))
    return out


def paragraphs(root: Any) -> list[str]:
    """Plain-text paragraphs of an element.

    Scripts, styles, ``<meta>``, ``<title>`` and embedded objects are dropped. Every block
    element (``p``, ``div``, ``li``, ``h1``-``h6``, ``tr``...) and every ``<br>`` ends a
    paragraph; inline markup (``span``, ``sup``, ``a``, ``em``) stays in its paragraph, so
    footnote markers keep their place. White space inside a paragraph is collapsed
    (U+00A0 included) and empty paragraphs are dropped.

    >>> from lxml.html import fragment_fromstring
    >>> paragraphs(fragment_fromstring("<div><p>One<sup>[1]</sup></p><style>p{}</style><p> </p>Two<br>Three</div>"))
    ['One[1]', 'Two', 'Three']
    """
    return [p for p in map(collapse, raw_blocks(root)) if p]


def lines(root: Any) -> list[str]:
    """A value shown as lines (``<br>``, blocks or raw line breaks): one string per line."""
    return [line for block in raw_blocks(root) for line in map(collapse, block.splitlines()) if line]
