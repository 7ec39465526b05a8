"""HTML of the replica: the page chrome and the document page, shaped like the real site.

The real archive (a Drupal 10 site) sends 60-90 KB per document page: a ``<head>`` with
meta, link and script tags, a header with mega menus, a ``<main id="main">`` region of about
20 KB, a footer and a Drupal settings JSON. A spider proven on the replica must work on the
real site, so this module reproduces the *structure* the real pages show (element names,
classes, ids, nesting and order inside ``<main>``, see ``shared/site/ARCHIVE.md`` and the
saved pages in ``shared/fixtures/real/document/``) and their *weight*.

The markup lives in ``replica/templates/`` (see :mod:`replica.template`): the chrome
(``page.html`` with ``header.html``, ``footer.html``, ``theme.css`` and
``drupal-settings.json``; invented menu labels, CSS and settings, none of it copied from the
real pages) and the fixed parts of the document region. This module fills their slots; what
repeats (rows, pills, information blocks, paragraphs) is written here, one small function each.

Text is HTML-escaped (``html.escape(..., quote=True)``) everywhere except
:attr:`ReplicaDoc.title`, which is already "as the markup carries it" (it may hold
entities such as ``&amp;`` or ``&#039;`` on purpose) and is inserted verbatim.

Deliberate realism that a spider must cope with (all seen on the real pages):

- the translation pane carries Word-export markup with its own ``<meta>``, ``<title>`` and
  ``<style>``, empty ``&nbsp;`` paragraphs between paragraphs, and footnote anchors;
- a Cloudflare challenge ``<script>`` (``/cdn-cgi/challenge-platform/...``) sits either
  inside the translation pane (one document in three) or at the end of ``<body>``: every
  ordinary page mentions the challenge platform, so its mere presence does not mean "blocked";
- ``h2.title`` and ``h3.title`` also occur in the footer, ``data-history-node-id`` also on
  the mega-menu cards, and "Related Documents" rows are the same markup as search results.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Iterable, Sequence

from replica.model import ReplicaDoc, Term
from replica.template import Template, load, read

__all__ = [
    "SITE_NAME",
    "SITE_ORIGIN",
    "has_pane_challenge_script",
    "page_shell",
    "render_document_main",
    "render_document_page",
    "render_result_row",
    "render_results_table",
    "visible_text",
]

SITE_NAME = "Wilson Center Digital Archive"
SITE_ORIGIN = "https://digitalarchive.wilsoncenter.org"

_esc = html.escape
_JSON_QUOTE_RE = re.compile(r'(?<!\\)((?:\\\\)*)\\"')


def _digest(seed: str) -> bytes:
    """A stable 32-byte digest of *seed* (ids, class names)."""
    return hashlib.sha256(seed.encode("utf-8")).digest()


def _drupal_json(value: object) -> str:
    """JSON as Drupal prints it into a page: ``/`` and markup characters escaped.

    Escaping ``<``, ``>``, ``&`` and ``'`` keeps ``</script>`` out of the script element.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    # An escaped quote inside a string (not an escaped backslash before a closing quote).
    text = _JSON_QUOTE_RE.sub(r"\1\\u0022", text)
    return (
        text.replace("/", "\\/")
        .replace("<", "\\u003C")
        .replace(">", "\\u003E")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )


def _challenge_script(seed: str) -> str:
    """A Cloudflare-like challenge loader ``<script>`` (our own one-liner, not Cloudflare's)."""
    stamp = 1735000000 + int.from_bytes(_digest("ts:" + seed)[:3], "big") % 2000000
    return load("challenge-script.html").render(
        ray=_digest("ray:" + seed)[:8].hex(),
        ts=base64.b64encode(f"{stamp}.000000".encode("ascii")).decode("ascii"),
    )


# =========================================================================================
# The chrome
# =========================================================================================


def _settings_templates() -> tuple[Template, Template]:
    """The Drupal settings JSON (slots ``current_path``, ``statistics``) and its
    ``statistics`` member (slot ``nid``; node pages only), printed as Drupal prints them.

    ``drupal-settings.json`` is readable JSON whose strings are template text.
    """
    settings = json.loads(read("drupal-settings.json"))
    statistics = settings.pop("statistics")
    user = settings.pop("user")
    text = _drupal_json(settings)[:-1] + "${statistics}," + _drupal_json({"user": user})[1:]
    member = "," + _drupal_json({"statistics": statistics})[1:-1]
    return Template(text, "drupal-settings.json"), Template(member, "drupal-settings.json#statistics")


_SETTINGS, _STATISTICS = _settings_templates()
_PAGE = load("page.html").fill(
    theme_css=read("theme.css"), header=load("header.html"), footer=load("footer.html"), settings=_SETTINGS
)
_PAGE_CHALLENGE = _challenge_script("page")
_NODE_RE = re.compile(r"/node/(\d+)")


def page_shell(
    *,
    title: str,
    main_html: str,
    canonical: str | None = None,
    shortlink: str | None = None,
    body_class: str = "",
) -> str:
    """A full HTML5 page: the site's chrome around ``<main id="main">{main_html}</main>``.

    *title* is plain text (escaped here); ``<title>`` reads ``{title} | Wilson Center
    Digital Archive``. *canonical* and *shortlink*, when given, become
    ``<link rel="canonical">`` / ``<link rel="shortlink">`` exactly as passed (site-relative
    or absolute). A ``/node/<nid>`` shortlink also sets the settings JSON's ``currentPath``.
    *main_html* is inserted verbatim. Unless *main_html* already carries the Cloudflare-like
    challenge script (as some document panes do), the script is placed at the end of
    ``<body>``, as on the real pages.
    """
    links = ""
    if canonical is not None:
        links = f'<link rel="canonical" href="{_esc(canonical)}">\n'
    if shortlink is not None:
        links += f'<link rel="shortlink" href="{_esc(shortlink)}">\n'
    node = _NODE_RE.search(shortlink) if shortlink else None
    return _PAGE.render(
        head_links=links,
        title=_esc(title),
        body_attributes=f' class="{_esc(body_class)}"' if body_class else "",
        main=main_html,
        current_path="node\\/" + node[1] if node else "",
        statistics=_STATISTICS.render(nid=node[1]) if node else "",
        challenge="" if "/cdn-cgi/challenge-platform/" in main_html else _PAGE_CHALLENGE,
    )


# =========================================================================================
# The document region (<main>)
# =========================================================================================

_PANE_LABELS = {"translation": "Translation", "transcript": "Transcript", "original": "Original"}

_ICON_PEOPLE = "fa-solid fa-user"
_ICON_PLACES = "fa-solid fa-earth"
_ICON_TOPICS = "fa-solid fa-books"
_ICON_SUBJECT = "fa-solid fa-book-blank"
_ICON_SEARCH = "fa-regular fa-magnifying-glass"

_FOOTNOTE_RE = re.compile(r"\[(\d{1,3})\]")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HIDDEN_RE = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)


def visible_text(markup: str) -> str:
    """What a reader sees of a title's markup: tags and script or style elements dropped,
    entities decoded once.

    >>> visible_text("Mao&amp;#039;s <b>Talk</b><script>x()</script> &amp;amp; notes")
    'Mao&#039;s Talk &amp; notes'
    """
    return html.unescape(_HIDDEN_RE.sub("", markup))


def has_pane_challenge_script(nid: int) -> bool:
    """Whether the text pane of node *nid* carries the challenge script (one node in three).

    On the other pages the script sits at the end of ``<body>`` (see :func:`page_shell`).
    """
    return nid % 3 == 0


def _word_classes(nid: int) -> tuple[str, str, str]:
    """Word-export class names (``cs`` + 8 hex digits) for a node: paragraph, run, note."""
    digest = _digest(f"word:{nid}")
    return (
        "cs" + digest[0:4].hex().upper(),
        "cs" + digest[4:8].hex().upper(),
        "cs" + digest[8:12].hex().upper(),
    )


def _word_text(doc: ReplicaDoc) -> str:
    """The pane's text as Word-export HTML, with an empty ``&nbsp;`` paragraph in between.

    Two export flavours occur on the real pages and both are produced (by node id parity):
    all paragraphs in one wrapping ``<span>`` with ``p.cs > span.cs`` runs, or no wrapper
    and ``p.cs[style] > span > span.cs`` runs.

    ``[n]`` markers in the text become footnote anchors: at the start of a paragraph the
    footnote itself (``name="_ftn{n}"``), elsewhere the reference (``name="_ftnref{n}"``).
    The anchors' text is the marker, so the visible text is exactly ``doc.text``.
    """
    para, run, note = _word_classes(doc.nid)
    wrapped = doc.nid % 2 == 0
    if wrapped:
        p_tag = f'<p class="{para}">'
        open_p = f'{p_tag}<span class="{run}">'
        close_p = "</span></p>"
    else:
        p_tag = f'<p class="{para}" style="tab-stops:left 36pt left 72pt left 108pt;">'
        open_p = f'{p_tag}<span><span class="{run}">'
        close_p = "</span></span></p>"
    blank = f"{open_p}&nbsp;{close_p}"
    ref = (
        f'</span><a href="#_ftn\\1" name="_ftnref\\1"><sup><span class="{note}">[\\1]'
        f'</span></sup></a><span class="{run}">'
    )
    out = [load("word-style.html").render(para=para, run=run, note=note), "<span>" if wrapped else ""]
    for index, paragraph in enumerate(doc.text):
        if index:
            out.append(blank)
        body = _esc(paragraph)
        if "[" in body:
            lead = _FOOTNOTE_RE.match(body)
            if lead is not None:
                n = lead.group(1)
                rest = _FOOTNOTE_RE.sub(ref, body[lead.end() :])
                out.append(
                    f'{p_tag}<span><a href="#_ftnref{n}" name="_ftn{n}"><sup>'
                    f'<span class="{note}">[{n}]</span></sup></a><span class="{run}">'
                    f"{rest}</span></span></p>"
                )
                continue
            body = _FOOTNOTE_RE.sub(ref, body)
        out.append(f"{open_p}{body}{close_p}")
    if wrapped:
        out.append("</span>")
    if has_pane_challenge_script(doc.nid):
        out.append(_challenge_script(f"node:{doc.nid}"))
    out.append("\n    \n")
    return "".join(out)


def _pdf_objects(paths: Iterable[str]) -> str:
    """The embedded PDF viewers of a pane, one per path."""
    return "".join(load("pdf-object.html").render(path=_esc(p)) for p in paths)


def _nested(content: str, depth: int) -> str:
    """``content`` inside ``depth`` nested ``<div>`` elements."""
    return "<div>" * depth + content + "</div>" * depth


def _pane(doc: ReplicaDoc, nest: int = 0) -> str:
    """The panes of ``#documentTabs``: the scans (``#original``) first, then the active pane.

    Every path of ``doc.pdf_paths`` is embedded once, in list order: the transcript pane
    shows the last, the others (all of them for a translation) sit in an inactive
    ``#original`` pane before it, in the real pages' order (original, transcript,
    translation). *nest* wraps the active pane's content in that many ``<div>`` elements.
    """
    kind = doc.pane
    if kind not in _PANE_LABELS:
        raise ValueError(f"unknown pane {kind!r} for node {doc.nid}: expected one of {sorted(_PANE_LABELS)}")
    original = load("pane-original.html")
    if kind == "original":
        return original.render(state="fade active show", objects=_nested(_pdf_objects(doc.pdf_paths), nest))
    scans = doc.pdf_paths[:-1] if kind == "transcript" else doc.pdf_paths
    before = original.render(state="fade", objects=_pdf_objects(scans)) if scans else ""
    if kind == "translation":
        return before + load("pane-translation.html").render(
            language=_esc(doc.text_language), text=_nested(_word_text(doc), nest)
        )
    content = _pdf_objects(doc.pdf_paths[-1:]) + (_word_text(doc) if doc.text else "")
    return before + load("pane-transcript.html").render(content=_nested(content, nest))


def _document_options(doc: ReplicaDoc) -> str:
    """Type and language dropdowns (disabled: one pane only) and the action buttons."""
    language = ""
    if doc.pane == "translation":
        language = load("language-dropdown.html").render(language=_esc(doc.text_language))
    return load("document-options.html").render(
        pane_label=_PANE_LABELS[doc.pane], language_dropdown=language, nid=str(doc.nid)
    )


def _term_pills(terms: Iterable[Term], kind: str, icon: str) -> str:
    """``li.pill-item > a.pill.pill-{kind}`` for taxonomy terms (name in an inner span)."""
    return "".join(
        f'<li class="pill-item"><a class="pill pill-{kind}" href="/{kind}/{_esc(t.slug)}">'
        f'<span class="pill-interior"><i class="{icon}" aria-hidden="true"></i>'
        f'<span class="name"><span>{_esc(t.name)}</span></span></span></a></li>'
        for t in terms
    )


def _search_pill(cls: str, icon: str, href: str, name: str) -> str:
    """A pill whose name is the direct text of ``span.name`` after a newline."""
    return (
        f'<li class="pill-item"><a class="pill {cls}" href="{href}">'
        f'<span class="pill-interior"><i class="{icon}" aria-hidden="true"></i>'
        f'<span class="name">\n{name}</span></span></a></li>'
    )


def _pill_block(heading: str, pills: str, extra_class: str = " mb-4") -> str:
    """A ``div.pill-block`` section: ``h3.title`` and its pill list."""
    return load("pill-block.html").render(extra_class=extra_class, heading=heading, pills=pills)


def render_result_row(doc: ReplicaDoc, href: str | None = None, *, empty_text: bool = True) -> str:
    """One ``<tr>`` of a results table (search results and "Related Documents" alike).

    ``td.date > p`` (an empty ``td.date`` when the date is unknown) and
    ``td[data-history-node-id].document.contextual-region > a[href] > h3.sub-title > span``
    with the title verbatim, then ``div.text`` with the summary paragraphs between two empty
    ``<p>`` (the shape the real pages show). *href* defaults to the canonical address.
    Without a summary, ``div.text`` holds one empty ``<p>`` (Related Documents), or is left
    out when *empty_text* is false (search results).
    """
    date = f"<p>{_esc(doc.date_raw)}</p>" if doc.date_raw else ""
    if doc.summary:
        text = (
            '<div class="text"><p></p>' + "".join(f"<p>{_esc(p)}</p>" for p in doc.summary) + "<p></p></div>"
        )
    else:
        text = '<div class="text"><p></p></div>' if empty_text else ""
    return (
        f'<tr><td class="date">{date}</td><td data-history-node-id="{doc.nid}" '
        f'class="document contextual-region"><a href="{_esc(href or "/document/" + doc.slug)}">'
        f'<h3 class="sub-title"><span>{doc.title}</span></h3>{text}</a></td></tr>'
    )


def render_results_table(docs: Iterable[ReplicaDoc]) -> str:
    """``div.documents > div.card.table-responsive > table.table...`` around result rows."""
    return load("results-table.html").render(rows="".join(render_result_row(d) for d in docs))


def _info_block(label: str, value: str) -> str:
    """``div.information-block > h3.sub-title + div.text``."""
    return load("info-block.html").render(label=label, value=value)


def _info_pills(cls: str, href: str, terms: Iterable[Term]) -> str:
    """Search pills inside an information block (``href`` with ``{name}``/``{tid}``)."""
    pills = "".join(
        _search_pill(cls, _ICON_SEARCH, href.format(name=_esc(t.name), tid=t.tid), _esc(t.name))
        for t in terms
    )
    return load("info-pills.html").render(pills=pills)


def _rights(paragraphs: Sequence[str]) -> str:
    """The Rights block: paragraphs, e-mail addresses of the last one as mailto links."""
    out = [f"            <p>{_esc(p)}</p>\n" for p in paragraphs[:-1]]
    last = _EMAIL_RE.sub(lambda m: f'<a href="mailto:{m[0]}">{m[0]}</a>', _esc(paragraphs[-1]))
    out.append(f"            <p>{last}\n          </p>")
    return load("rights-block.html").render(paragraphs="".join(out))


def _document_information(doc: ReplicaDoc) -> str:
    """``section.document-information``: two columns of information blocks."""
    left = []
    if doc.source:
        left.append(_info_block("Source", _esc(doc.source)))
    if doc.original_archive:
        pills = _info_pills("pill-light-blue", "/search?search_api_fulltext={name}", doc.original_archive)
        left.append(_info_block("Original Archive", pills))
    if doc.rights:
        left.append(_rights(doc.rights))
    right = []
    if doc.uploaded_date:
        right.append(load("uploaded-date-block.html").render(date=_esc(doc.uploaded_date)))
    if doc.classification:
        right.append(_info_block("Original Classification", _esc(doc.classification)))
    if doc.type:
        right.append(_info_block("Type", _esc(doc.type)))
    if doc.languages:
        pills = _info_pills("pill-light-blue", "/search?f[0]=languages:{tid}&amp;fo[0]={tid}", doc.languages)
        right.append(_info_block("Language", pills))
    right.append(_info_block("Record ID", str(doc.record_id)))
    if doc.contributors:
        right.append(_info_block("Document Contributor(s)", "<br>\n".join(_esc(c) for c in doc.contributors)))
    if doc.donors:
        right.append(_info_block("Donors", "\n\n\n" + "<br>\n".join(_esc(d) for d in doc.donors)))
    return load("document-information.html").render(left="".join(left), right="".join(right))


def _citation(doc: ReplicaDoc) -> str:
    """The citation modal ``#citation`` with ``#citation-text`` and ``a#citation-url``."""
    parts = [f'"{doc.title}"']
    if doc.date_raw:
        parts.append(_esc(doc.date_raw))
    parts.append(SITE_NAME)
    if doc.source:
        parts.append(_esc(doc.source))
    return load("citation.html").render(title=doc.title, text=", ".join(parts), record_id=str(doc.record_id))


def render_document_main(
    doc: ReplicaDoc, related: list[ReplicaDoc], *, title_class: str = "title", nest: int = 0
) -> str:
    """The inner HTML of ``<main id="main">`` for a document page, as the real site shows it.

    In order: the header ``section.jumbotron`` (``h2.date``, ``h1.{title_class} > span``,
    ``p.donated``), ``section.document-container`` (``#documentTabs`` with the pane chosen by
    ``doc.pane``, ``div.document-options``, ``div.text-block`` summary, "Author(s):" pills,
    ``div.pill-block`` sections, optional "Related Documents" table), then
    ``section.document-information`` and the ``#citation`` modal. Empty parts are omitted.

    *title_class* renames the ``h1`` class (a fault uses it to simulate a layout change);
    *nest* wraps the active pane's content in that many ``<div>`` elements (another fault).
    Raises :class:`ValueError` for an unknown ``doc.pane``.
    """
    pill_blocks = []
    for heading, terms, kind, icon in (
        ("Associated People &amp; Organizations", doc.people, "people", _ICON_PEOPLE),
        ("Associated Places", doc.places, "places", _ICON_PLACES),
        ("Associated Topics", doc.topics, "topics", _ICON_TOPICS),
    ):
        if terms:
            pill_blocks.append(_pill_block(heading, _term_pills(terms, kind, icon)))
    subjects = ""
    if doc.subjects:
        pills = "".join(
            _search_pill("pill-subject", _ICON_SUBJECT, f"/search?search_api_fulltext={_esc(s)}", _esc(s))
            for s in doc.subjects
        )
        subjects = _pill_block("Subjects Discussed", pills, extra_class="")
    return load("document.html").render(
        date=f'<h2 class="date">{_esc(doc.date_raw)}</h2>\n          ' if doc.date_raw else "",
        title_class=_esc(title_class),
        title=doc.title,
        credits=f'\n                      <p class="donated">{_esc(doc.credits)}</p>' if doc.credits else "",
        panes=_pane(doc, nest),
        options=_document_options(doc),
        summary="".join(f"<p>{_esc(p)}</p>" for p in doc.summary),
        authors=(
            load("authors.html").render(pills=_term_pills(doc.authors, "people", _ICON_PEOPLE))
            if doc.authors
            else ""
        ),
        pill_blocks="".join(pill_blocks),
        subjects=subjects,
        related=load("related.html").render(table=render_results_table(related)) if related else "",
        information=_document_information(doc),
        citation=_citation(doc),
    )


def render_document_page(
    doc: ReplicaDoc,
    related: list[ReplicaDoc],
    *,
    title_class: str = "title",
    canonical: str | None = None,
    nest: int = 0,
) -> str:
    """A whole document page: :func:`render_document_main` inside :func:`page_shell`.

    The ``<title>`` gets the title as a reader sees it (:func:`visible_text`, escaped again
    by :func:`page_shell`); canonical ``/document/{slug}`` (or *canonical*), shortlink
    ``/node/{nid}``.
    """
    return page_shell(
        title=visible_text(doc.title),
        main_html=render_document_main(doc, related, title_class=title_class, nest=nest),
        canonical=f"/document/{doc.slug}" if canonical is None else canonical,
        shortlink=f"/node/{doc.nid}",
        body_class="path-node page-node-type-document",
    )
