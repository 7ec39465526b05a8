"""HTML of the replica: the page chrome and the document page, shaped like the real site.

The real archive (a Drupal 10 site) sends 60-90 KB per document page: a ``<head>`` with
meta, link and script tags, a header with mega menus, a ``<main id="main">`` region of about
20 KB, a footer and a Drupal settings JSON. A spider proven on the replica must work on the
real site, so this module reproduces the *structure* the real pages show (element names,
classes, ids, nesting and order inside ``<main>``, see ``shared/site/ARCHIVE.md`` and the
saved pages in ``shared/fixtures/real/document/``) and their *weight*.

The chrome (everything outside ``<main>``) is written here, with invented menu labels, CSS
and settings; none of it is copied from the real pages. It is assembled once, at import,
into a few constant strings, so :func:`page_shell` is a handful of concatenations: the
replica serves thousands of pages per second.

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

__all__ = [
    "SITE_NAME",
    "SITE_ORIGIN",
    "has_pane_challenge_script",
    "page_shell",
    "render_document_main",
    "render_document_page",
    "render_result_row",
    "render_results_table",
]

SITE_NAME = "Wilson Center Digital Archive"
SITE_ORIGIN = "https://digitalarchive.wilsoncenter.org"

#: Where the Cloudflare-like challenge loader points (the real pages load this path).
_CHALLENGE_PATH = "/cdn-cgi/challenge-platform/scripts/jsd/main.js"

_esc = html.escape
_JSON_QUOTE_RE = re.compile(r'(?<!\\)((?:\\\\)*)\\"')


# =========================================================================================
# Small deterministic helpers (used at import for the chrome, and per document)
# =========================================================================================


def _digest(seed: str) -> bytes:
    """A stable 32-byte digest of *seed* (chrome hashes, ids, class names)."""
    return hashlib.sha256(seed.encode("utf-8")).digest()


def _token(seed: str, length: int) -> str:
    """A stable URL-safe token of *length* characters, like Drupal's aggregate hashes."""
    raw = base64.urlsafe_b64encode(_digest(seed) + _digest(seed + "+")).decode("ascii")
    return raw.rstrip("=")[:length]


def _fake_nid(seed: str) -> int:
    """A stable node id in the range the real site uses (five or six digits)."""
    return 76000 + int.from_bytes(_digest(seed)[:4], "big") % 30000


def _slugify(label: str) -> str:
    """Lower case, alphanumerics joined by hyphens (good enough for invented menu paths)."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


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
    ray = _digest("ray:" + seed)[:8].hex()
    stamp = 1735000000 + int.from_bytes(_digest("ts:" + seed)[:3], "big") % 2000000
    ts = base64.b64encode(f"{stamp}.000000".encode("ascii")).decode("ascii")
    return (
        "<script>(function(){var w=window,d=document;"
        f"w.__cfBeacon={{ray:'{ray}',ts:'{ts}'}};"
        "function go(){var f=d.createElement('iframe');f.width=f.height=1;"
        "f.style.cssText='position:absolute;top:0;left:0;border:0;visibility:hidden';"
        "d.body.appendChild(f);var s=(f.contentDocument||d).createElement('script');"
        f"s.async=!0;s.src='{_CHALLENGE_PATH}';"
        "((f.contentDocument||d).head||d.documentElement).appendChild(s)}"
        "if(d.readyState!=='loading')go();else d.addEventListener('DOMContentLoaded',go)"
        "})();</script>"
    )


# =========================================================================================
# The chrome: built once at import
# =========================================================================================

_THEME_PATH = "/themes/custom/digitalarchive"
_INCLUDE = _token("css-include", 96)
_JS_INCLUDE = _token("js-include", 120)

#: Mega menus: (theme class, menu label, heading, items, groups). Labels are generic.
_Menu = tuple[str, str, str, tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]
_MENUS: tuple[_Menu, ...] = (
    (
        "people",
        "People",
        "Featured People",
        ("Heads of State", "Foreign Ministers", "Ambassadors", "Party Secretaries",
         "Military Commanders"),
        (
            ("By Role", ("Diplomats", "Politicians", "Scientists", "Journalists",
                         "Activists", "Economists")),
            ("By Era", ("Interwar Years", "Second World War", "Early Cold War",
                        "Detente Years", "Late Cold War", "Post-Cold War")),
        ),
    ),
    (
        "places",
        "Places",
        "Featured Places",
        ("East Asia", "Southeast Asia", "South Asia", "Middle East", "Eastern Europe"),
        (
            ("Regions", ("Western Europe", "Central Asia", "Sub-Saharan Africa",
                         "Latin America", "Caribbean", "Oceania")),
            ("Capitals", ("Northern Capitals", "Southern Capitals", "Island States",
                          "Divided Cities", "Port Cities", "Border Towns")),
        ),
    ),
    (
        "topics",
        "Topics",
        "Featured Topics",
        ("Nuclear History", "Arms Control", "Decolonization", "Alliance Politics",
         "Border Disputes"),
        (
            ("Security", ("Deterrence", "Missile Programs", "Naval Affairs",
                          "Espionage", "Civil Defense", "Disarmament Talks")),
            ("Society", ("Human Rights", "Refugees", "Religion", "Education",
                         "Public Health", "Labor Movements")),
        ),
    ),
    (
        "collections",
        "Collections",
        "Featured Collections",
        ("Diplomatic Cables", "Meeting Minutes", "Intelligence Reports",
         "Party Records", "Oral Histories"),
        (
            ("Series", ("Conference Papers", "Embassy Reports", "Press Summaries",
                        "Speeches", "Letters", "Military Plans")),
            ("Themes", ("Crisis Diplomacy", "Bloc Relations", "Nonaligned States",
                        "Regional Conflicts", "Science Diplomacy", "Cultural Exchange")),
        ),
    ),
)

_CROWN_LINKS: tuple[tuple[str, str], ...] = (
    ("https://www.wilsoncenter.org/", "Parent Institution"),
    ("/about", "About this Archive"),
    ("/donate", "Support the Archive"),
)

_FOOTER_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Explore", ("People", "Places", "Topics", "Collections", "Catalog", "New Additions",
                 "Most Viewed")),
    ("Learn", ("Teaching Resources", "Research Guides", "Document Readers", "Timelines",
               "Glossary", "Citing Documents", "Reuse Policy")),
    ("Programs", ("History Program", "Regional Initiatives", "Translation Projects",
                  "Fellowships", "Workshops", "Conferences", "Publications")),
    ("Connect", ("Contact Us", "Newsletter", "Events", "Press Room", "Partners",
                 "Careers", "Accessibility")),
)

#: Colours for the generated theme CSS (invented).
_THEME_COLOURS: tuple[tuple[str, str, str], ...] = (
    ("people", "#4b2d7f", "#e9e2f5"),
    ("places", "#1d6b57", "#dff1ea"),
    ("topics", "#a34b1c", "#f8e6da"),
    ("collections", "#21508f", "#dde8f6"),
    ("subject", "#5c6670", "#eceff2"),
    ("light-blue", "#1f7fb6", "#e0f0f9"),
)


def _build_css() -> str:
    """An inline stylesheet of invented rules (~10 KB), generated from small tables."""
    rules: list[str] = [
        ":root{--da-ink:#1c1f23;--da-paper:#ffffff;--da-muted:#6a737b;--da-rule:#d5dadf;"
        "--da-radius:.375rem;--da-gap:1.25rem;--da-font:'Source Sans 3',Arial,sans-serif}",
        "html{scroll-behavior:smooth}body{margin:0;font-family:var(--da-font);"
        "color:var(--da-ink);background:var(--da-paper);line-height:1.55}",
        ".skip-to-content-link{position:absolute;left:-9999px;top:auto;width:1px;height:1px;"
        "overflow:hidden}.skip-to-content-link:focus{left:1rem;top:1rem;width:auto;height:auto;"
        "padding:.5rem 1rem;background:#fff;z-index:2000}",
        ".visually-hidden{position:absolute!important;width:1px!important;height:1px!important;"
        "padding:0!important;margin:-1px!important;overflow:hidden!important;"
        "clip:rect(0,0,0,0)!important;white-space:nowrap!important;border:0!important}",
        ".crown-navigation{background:#14171a;font-size:.8125rem}.crown-navigation .nav-link"
        "{color:#cfd5da;padding:.35rem .75rem;text-decoration:none}",
        ".crown-navigation .nav-link:hover,.crown-navigation .nav-link:focus{color:#fff;"
        "text-decoration:underline}",
        ".navigation .navbar{padding:.75rem 0;border-bottom:1px solid var(--da-rule)}",
        ".navbar-brand img{max-height:3.25rem;width:auto}",
        ".navbar-nav .nav-link{font-weight:600;letter-spacing:.02em;padding:.5rem 1rem}",
        ".navbar-nav .nav-link .fa-caret-up{display:none}.navbar-nav .show>.nav-link "
        ".fa-caret-up{display:inline-block}.navbar-nav .show>.nav-link .fa-caret-down"
        "{display:none}",
        ".megamenu{left:0;right:0;width:100%;padding:2.5rem 0;border:0;border-radius:0;"
        "box-shadow:0 1rem 2rem rgba(0,0,0,.18)}",
        ".megamenu .megamenu-bg{position:absolute;inset:0;overflow:hidden;z-index:-1}",
        ".megamenu .megamenu-image{position:absolute;inset:0;background-size:cover;"
        "background-position:center;opacity:.12}",
        ".megamenu h3{font-size:1.5rem;font-weight:700;margin-bottom:1.25rem}",
        ".megamenu .menu-group-title{font-size:.875rem;text-transform:uppercase;"
        "letter-spacing:.08em;margin:1.5rem 0 .5rem}",
        ".megamenu .menu-level-2{list-style:none;padding:0;margin:0;columns:2}",
        ".megamenu .menu-level-2 a{display:block;padding:.2rem 0;color:inherit}",
        ".btn-list{list-style:none;padding:0;margin:0;display:grid;gap:.5rem}",
        ".btn-list .btn{display:flex;justify-content:space-between;align-items:center;"
        "width:100%;text-align:left}",
        ".btn-list .detail{font-size:.8125rem;color:var(--da-muted);margin-left:.5rem}",
        ".card-featured .card-img-overlay{display:flex;flex-direction:column;"
        "justify-content:flex-end;background:linear-gradient(180deg,transparent,rgba(0,0,0,.7))}",
        ".card-featured .card-title{color:#fff;font-size:1.375rem;margin:0}",
        ".card-featured .card-text{color:#e6e9ec;margin:0}",
        ".search-block{padding:.75rem 0;background:#f6f7f8}.search-block .form-text"
        "{min-width:16rem;border-radius:var(--da-radius) 0 0 var(--da-radius)}",
        ".jumbotron{padding:4rem 0 6rem;color:#fff;background:#0e3a5c}",
        ".jumbotron .date{font-size:1.125rem;font-weight:400;opacity:.9}",
        ".jumbotron .title{font-size:2.25rem;font-weight:700;line-height:1.2}",
        ".jumbotron .donated{font-style:italic;margin-top:1rem}",
        ".pull-up{margin-top:-4rem}.card-document{box-shadow:0 .5rem 1.5rem rgba(0,0,0,.12)}",
        ".document-frame{min-height:32rem;max-height:60rem;overflow:auto;padding:2rem}",
        ".pdf-preview{width:100%;height:56rem;border:0}",
        ".document-options{display:flex;justify-content:space-between;flex-wrap:wrap;"
        "padding:1rem 2rem;border-top:1px solid var(--da-rule)}",
        ".options-buttons .btn{margin-left:.5rem}",
        ".text-block p{font-size:1.125rem}",
        ".pill-list{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:.5rem}",
        ".pill{display:inline-flex;border-radius:2rem;padding:.25rem .85rem;"
        "text-decoration:none;font-size:.9375rem}",
        ".pill .pill-interior{display:flex;align-items:center;gap:.4rem}",
        ".document-information{padding:3rem 0;background:#f4f6f8}",
        ".information-block{margin-bottom:1.5rem}.information-block .sub-title"
        "{font-size:.875rem;text-transform:uppercase;letter-spacing:.06em}",
        ".documents .table td.date{white-space:nowrap;width:12rem;color:var(--da-muted)}",
        ".documents .table .sub-title{font-size:1.125rem;margin:0 0 .25rem}",
        ".modal-citation .title-container .title{font-size:1.25rem}",
        "#citation-text{font-family:Georgia,serif}",
        "footer .callout{padding:3rem 0}footer .callout .title{font-size:1.75rem}",
        ".footer-main{background:#0e3a5c;color:#fff;padding:2rem 0}",
        ".footer-secondary{background:#0a2a43;color:#cfd8e0;padding:1.5rem 0;"
        "font-size:.875rem}",
        ".footer-nav{display:flex;justify-content:space-between;align-items:center;"
        "flex-wrap:wrap;gap:1rem}",
        ".footer-columns{display:grid;grid-template-columns:repeat(4,1fr);gap:1.5rem}",
        ".footer-columns .nav-list{list-style:none;padding:0}",
        ".footer-columns a{color:#dfe7ee;text-decoration:none}",
        ".dropdown-document-type .btn,.dropdown-document-language .btn{border-radius:2rem;"
        "padding:.4rem 1.25rem}.dropdown-dark-purple .btn{color:#fff;background:#3b1f5e}"
        ".dropdown-light-purple .btn{color:#3b1f5e;background:#efe9f7}",
        ".btn-dark-blue{color:#fff;background:#0e3a5c}.btn-gray{color:#50585f}"
        ".callout-light-blue{background:#1f7fb6;color:#fff}"
        ".callout-dark-blue{background:#0e3a5c;color:#fff}",
    ]
    for name, strong, soft in _THEME_COLOURS:
        rules.append(
            f".btn-{name}{{color:#fff;background-color:{strong};border-color:{strong}}}"
            f".btn-{name}:hover,.btn-{name}:focus{{color:{strong};background-color:{soft};"
            f"border-color:{strong}}}.btn-{name}.outline{{color:{strong};"
            f"background:transparent}}"
        )
        rules.append(
            f".pill-{name}{{color:{strong};background-color:{soft};border:1px solid {soft}}}"
            f".pill-{name}:hover,.pill-{name}:focus{{color:#fff;background-color:{strong}}}"
            f".pill-{name} i{{color:{strong}}}.pill-{name}:hover i{{color:#fff}}"
        )
        rules.append(
            f".theme-{name} .megamenu-gradient{{background:{soft}}}"
            f".theme-{name} h3,.theme-{name} .menu-group-title{{color:{strong}}}"
        )
    for width, container, title in (
        (576, 540, 1.75),
        (768, 720, 2),
        (992, 960, 2.25),
        (1200, 1140, 2.5),
        (1400, 1320, 2.75),
    ):
        rules.append(
            f"@media (min-width:{width}px){{.container{{max-width:{container}px}}"
            f".jumbotron .title{{font-size:{title}rem}}"
            f".document-frame{{padding:{title - 0.5:.2f}rem}}"
            f".megamenu{{padding:{title + 0.5:.2f}rem 0}}"
            f".footer-columns{{gap:{title / 2:.3f}rem}}}}"
        )
    return "\n".join(rules)


def _picture(slug: str, alt: str) -> str:
    """A responsive ``<picture>`` like the mega-menu cards carry (invented image styles)."""
    sources = []
    for style, media, width, height in (
        ("menu_feature_xl", "all and (min-width: 1200px)", 480, 480),
        ("menu_feature_lg", "all and (min-width: 992px)", 420, 480),
        ("menu_feature_md", "all and (min-width: 768px) and (max-width: 991px)", 640, 400),
        ("menu_feature_sm", "all and (max-width: 767px)", 260, 260),
    ):
        sources.append(
            f'<source srcset="/sites/default/files/styles/{style}/public/shared-media/'
            f'images/menu/{slug}.jpg.webp?itok={_token(style + slug, 8)} 1x" '
            f'media="{media}" type="image/webp" width="{width}" height="{height}">'
        )
    return (
        "<picture>" + "".join(sources)
        + f'<img loading="eager" class="img-fluid w-100" src="/sites/default/files/styles/'
        f'menu_feature_xl/public/shared-media/images/menu/{slug}.jpg.webp?itok='
        f'{_token("menu_feature_xl" + slug, 8)}" width="480" height="480" alt="{_esc(alt)}">'
        "</picture>"
    )


def _build_megamenu(
    theme: str,
    label: str,
    heading: str,
    items: Sequence[str],
    groups: Sequence[tuple[str, Sequence[str]]],
) -> str:
    """One top-level menu entry with its mega menu panel."""
    base = f"/{theme}"
    featured = items[0]
    out = [
        f'\n          <li class="nav-item dropdown megamenu-item menu-item--{theme}">\n'
        f'          <a class="nav-link dropdown-toggle" href="#" data-bs-toggle="dropdown" '
        f'aria-expanded="false">\n            {label}\n'
        '            <i class="fa-solid fa-caret-down" aria-hidden="true"></i>\n'
        '            <i class="fa-solid fa-caret-up" aria-hidden="true"></i>\n          </a>\n'
        f'  <div class="dropdown-menu megamenu theme-{theme} animate slideIn" role="menu">\n'
        '    <div class="megamenu-bg">\n      <div class="megamenu-image"></div>\n'
        '      <div class="megamenu-gradient"></div>\n    </div>\n'
        '    <div class="container">\n      <div class="row">\n        <div class="col-12">\n'
        f"          <h3>{_esc(heading)}</h3>\n        </div>\n      </div>\n"
        '      <div class="row">\n        <div class="col-lg-4 order-0 order-lg-1">\n'
        f'          <div data-history-node-id="{_fake_nid(theme + featured)}" '
        'class="card card-featured h-100">\n'
        f'  <a href="{base}/{_slugify(featured)}">\n    '
        + _picture(_slugify(featured), f"Illustration for {featured}")
        + '\n    <div class="card-img-overlay h-100">\n          <span class="type icon">\n'
        f'              <i class="fa-solid fa-star" title="Type - {label}" '
        'aria-hidden="true"></i>\n'
        f'              <span class="sr-only">Icon for Type - {label}</span>\n'
        "          </span>\n"
        f'      <h4 class="card-title"><span>{_esc(featured)}</span>\n</h4>\n'
        f'      <p class="card-text">Browse {_esc(featured.lower())}</p>\n'
        "    </div>\n  </a>\n</div>\n        </div>\n"
        '        <div class="col-lg-8 order-1 order-lg-0">\n          <ul class="btn-list">\n'
    ]
    for index, item in enumerate(items[1:], start=1):
        out.append(
            f'            <li data-history-node-id="{_fake_nid(theme + item)}">\n'
            f'  <a class="btn btn-white" href="{base}/{_slugify(item)}">\n'
            '    <span class="text">\n'
            f'      <span class="title"><span>{_esc(item)}</span>\n</span>\n'
            f'      <span class="detail">({17 * index + len(item) * 3})</span>\n'
            "    </span>\n"
            '    <i class="fa-solid fa-arrow-right-long" aria-hidden="true"></i>\n'
            "  </a>\n</li>\n"
        )
    out.append('          </ul>\n          <div class="row menu-groups">\n')
    for group, entries in groups:
        out.append(
            '            <div class="col-md-6">\n'
            f'              <h4 class="menu-group-title">{_esc(group)}</h4>\n'
            '              <ul class="menu menu-level-2">\n'
        )
        for entry in entries:
            out.append(
                '                <li class="menu-item">'
                f'<a href="{base}?group={_slugify(group)}&amp;term={_slugify(entry)}" '
                f'class="menu-link">{_esc(entry)}</a></li>\n'
            )
        out.append("              </ul>\n            </div>\n")
    out.append(
        "          </div>\n"
        '          <div class="btn-footer text-center">\n'
        f'            <a class="btn btn-{theme}" href="{base}">\n'
        f"              <span>Browse All {label}</span>\n            </a>\n"
        "          </div>\n        </div>\n      </div>\n    </div>\n  </div>\n"
        "          </li>\n"
    )
    return "".join(out)


def _build_header() -> str:
    """Skip link, crown navigation, brand, mega menus and search form."""
    crown = "".join(
        f'\n      <li class="nav-item"><a href="{href}" class="nav-link">{_esc(text)}</a></li>'
        for href, text in _CROWN_LINKS
    )
    crown_dropdown = "".join(
        f'\n          <li class="nav-item"><a href="{href}" class="dropdown-item">'
        f"{_esc(text)}</a></li>"
        for href, text in _CROWN_LINKS
    )
    menus = "".join(_build_megamenu(*menu) for menu in _MENUS)
    return (
        '<header>\n  <a href="#main" class="skip-to-content-link">\n    Skip to content\n  </a>\n'
        '  <section class="crown-navigation">\n    <div class="container">\n'
        '      <div class="row">\n        <div class="col-12">\n'
        '  <nav role="navigation" aria-labelledby="block-crown-menu" id="block-crown">\n'
        '    <h2 class="visually-hidden" id="block-crown-menu">Quick navigation</h2>\n'
        f'    <ul class="nav d-none d-md-flex">{crown}\n    </ul>\n'
        '    <div class="dropdown d-flex d-md-none">\n'
        '      <button class="btn btn-dark-gray dropdown-toggle" type="button" '
        'id="crownMenuButton" data-bs-toggle="dropdown" aria-expanded="false">\n'
        "        Quick Links\n      </button>\n"
        f'      <ul class="dropdown-menu">{crown_dropdown}\n      </ul>\n    </div>\n'
        "  </nav>\n        </div>\n      </div>\n    </div>\n  </section>\n"
        '  <section class="navigation">\n'
        '    <nav role="navigation" class="navbar navbar-expand-lg navbar-light bg-light">\n'
        '      <div class="container justify-content-lg-between">\n'
        '        <a class="navbar-brand" href="/">\n          <picture>\n'
        f'            <source media="(max-width: 480px)" srcset="{_THEME_PATH}/assets/'
        'images/brand-compact.svg">\n'
        f'            <img class="img-fluid" src="{_THEME_PATH}/assets/images/brand.svg" '
        f'alt="{SITE_NAME} home">\n'
        "          </picture>\n        </a>\n"
        '  <h2 class="visually-hidden" id="block-main-menu-menu">Main navigation</h2>\n'
        '  <button class="navbar-toggler collapsed" type="button" data-bs-toggle="collapse" '
        'data-bs-target="#navbarMain" aria-controls="navbarMain" aria-expanded="false" '
        'aria-label="Toggle navigation">\n'
        '    <span class="icon-bar"></span>\n    <span class="icon-bar"></span>\n'
        '    <span class="icon-bar"></span>\n  </button>\n'
        '  <div class="navbar-collapse flex-grow-0 collapse" id="navbarMain">\n'
        '        <ul class="navbar-nav justify-content-center menu menu-level-0">'
        f"{menus}        </ul>\n"
        '        <a class="btn btn-gray btn-catalog outline d-flex d-lg-none" href="/search">\n'
        '          <span><i class="fa-solid fa-magnifying-glass" aria-hidden="true"></i>'
        " Catalog</span>\n        </a>\n  </div>\n"
        '    <a class="btn btn-gray btn-catalog outline d-none d-lg-flex" href="/search">\n'
        '      <span><i class="fa-solid fa-magnifying-glass" aria-hidden="true"></i>'
        " Catalog</span>\n    </a>\n"
        "      </div>\n    </nav>\n  </section>\n"
        '  <section class="search-block">\n    <div class="container">\n'
        '      <form class="views-exposed-form search-form" action="/search" method="get" '
        'id="views-exposed-form-catalog-header" accept-charset="UTF-8" role="search">\n'
        '        <div class="form-item js-form-item form-type-textfield">\n'
        '          <label for="edit-header-fulltext" class="visually-hidden">'
        "Search the archive</label>\n"
        '          <input type="text" id="edit-header-fulltext" name="search_api_fulltext" '
        'value="" size="30" maxlength="128" class="form-text form-control" '
        'placeholder="Search documents, people, places">\n'
        "        </div>\n"
        '        <div class="form-actions js-form-wrapper form-wrapper">\n'
        '          <button type="submit" class="btn btn-dark-blue button js-form-submit '
        'form-submit"><i class="fa-solid fa-magnifying-glass" aria-hidden="true"></i>'
        '<span class="visually-hidden">Search</span></button>\n'
        "        </div>\n      </form>\n    </div>\n  </section>\n</header>\n"
    )


def _build_footer() -> str:
    """Call-out blocks, link columns, brand bar and contact block."""
    columns = []
    for heading, links in _FOOTER_COLUMNS:
        items = "".join(
            f'\n            <li class="nav-item"><a href="/{_slugify(heading)}/{_slugify(link)}" '
            f'class="nav-link">{_esc(link)}</a></li>'
            for link in links
        )
        columns.append(
            f'\n        <nav class="footer-column" aria-labelledby="footer-{_slugify(heading)}">\n'
            f'          <h4 class="footer-column-title" id="footer-{_slugify(heading)}">'
            f"{_esc(heading)}</h4>\n"
            f'          <ul class="nav-list">{items}\n          </ul>\n        </nav>'
        )
    callouts = []
    for tone, title, text, href, button in (
        (
            "light-blue",
            "About the Archive",
            "A free collection of once-secret records from governments and parties around "
            "the world, translated and annotated so that readers everywhere can study them.",
            "/about",
            "Read More",
        ),
        (
            "dark-blue",
            "History &amp; Policy",
            "The program behind the archive gathers primary sources on international history "
            "and brings scholars and policy makers together around them.",
            "https://www.wilsoncenter.org/",
            "Visit the Program",
        ),
    ):
        callouts.append(
            '\n      <div class="col-lg-6">\n'
            f'        <div class="callout callout-{tone}">\n'
            '          <div class="callout-bg d-block d-lg-none"><div class="callout-image">'
            "</div></div>\n"
            '          <div class="container callout-body text-center text-md-start">\n'
            '            <div class="row">\n              <div class="col-12">\n'
            f'                <h2 class="title">{title}</h2>\n'
            f'                <p class="text">{text}</p>\n'
            f'                <a class="btn btn-{tone} outline" href="{href}">\n'
            f"                  <span>{button}</span>\n                </a>\n"
            "              </div>\n            </div>\n          </div>\n        </div>\n"
            "      </div>"
        )
    primary = "".join(
        f'\n          <li class="nav-item"><a href="/{_slugify(text)}" class="nav-link">'
        f"{text}</a></li>"
        for text in ("People", "Places", "Topics", "Collections")
    )
    return (
        "<footer>\n"
        '  <div id="block-footer-callouts">\n'
        '  <section class="callout-container callout-dual">\n'
        '  <div class="callout-bg d-none d-lg-block"><div class="callout-image"></div></div>\n'
        '  <div class="container">\n    <div class="row">'
        + "".join(callouts)
        + "\n    </div>\n  </div>\n  </section>\n  </div>\n"
        '  <section class="footer-links">\n    <div class="container">\n'
        '      <div class="footer-columns">'
        + "".join(columns)
        + "\n      </div>\n    </div>\n  </section>\n"
        '  <section class="footer-main">\n    <div class="container">\n'
        '      <div class="row">\n        <div class="col-12">\n'
        '          <div class="footer-nav">\n'
        '            <a class="footer-branding" href="/">\n              <picture>\n'
        f'                <source media="(max-width: 767px)" srcset="{_THEME_PATH}/assets/'
        'images/brand-footer-compact.svg">\n'
        f'                <img class="img-fluid" src="{_THEME_PATH}/assets/images/'
        f'brand-footer.svg" alt="{SITE_NAME} home">\n'
        "              </picture>\n            </a>\n"
        '    <nav role="navigation" aria-labelledby="block-footer-primary-menu" '
        'id="block-footer-primary">\n'
        '      <h2 class="visually-hidden" id="block-footer-primary-menu">Footer navigation'
        "</h2>\n"
        f'      <ul class="nav-list">{primary}\n'
        '          <li class="nav-item"><a class="btn btn-light-blue outline '
        'btn-back-to-top" href="#"><i class="fa-solid fa-caret-up" aria-hidden="true"></i>'
        " Back to Top</a></li>\n      </ul>\n    </nav>\n"
        "          </div>\n        </div>\n      </div>\n    </div>\n  </section>\n"
        '  <section class="footer-secondary">\n    <div class="container">\n'
        '      <div class="row">\n        <div class="col-12">\n'
        '          <div class="footer-nav">\n            <div class="contact-info">\n'
        '              <h3 class="title">History Program Office</h3>\n'
        "              <address>\n                Digital Archive Editorial Office<br>\n"
        "                Mail: see the contact page for our postal address\n"
        "              </address>\n            </div>\n"
        '    <nav role="navigation" aria-labelledby="block-footer-secondary-menu" '
        'id="block-footer-secondary">\n'
        '      <h2 class="visually-hidden" id="block-footer-secondary-menu">Legal navigation'
        "</h2>\n"
        '      <ul class="nav-list">\n'
        '        <li class="nav-item"><a href="/privacy" class="nav-link">Privacy</a></li>\n'
        '        <li class="nav-item"><a href="/terms" class="nav-link">Terms of Use</a></li>\n'
        '        <li class="nav-item"><a href="/contact" class="nav-link">Contact</a></li>\n'
        "      </ul>\n    </nav>\n"
        "          </div>\n        </div>\n      </div>\n    </div>\n  </section>\n"
        "</footer>\n"
    )


def _consent_markup(heading: str, text: str) -> str:
    """The cookie-consent banner HTML that the settings JSON embeds (as Drupal does)."""
    return (
        '<div role="alertdialog" aria-labelledby="consent-text" class="consent-banner '
        'consent-banner--opt-in">\n  <div role="banner" class="consent-popup '
        'consent-popup-light-blue">\n    <div class="container">\n      <div class="row">\n'
        '        <div class="col-12">\n          <div class="consent-content info">\n'
        '            <div id="consent-text" class="consent-message">\n'
        f"              <h2>{heading}</h2><p>{text}</p>\n"
        '              <button type="button" class="consent-more-button">\n'
        "                Read our privacy notice\n              </button>\n"
        "            </div>\n"
        '            <div id="consent-buttons" class="consent-buttons">\n'
        '              <button type="button" class="btn btn-sm btn-light-purple '
        'consent-agree"><span>Allow</span></button>\n'
        '              <button type="button" class="btn btn-sm btn-transparent '
        'consent-decline"><span>Refuse</span></button>\n'
        "            </div>\n          </div>\n        </div>\n      </div>\n"
        "    </div>\n  </div>\n</div>"
    )


def _build_settings_parts() -> tuple[str, str, str]:
    """The Drupal settings script, cut where the per-page path and node id go."""
    consent = {
        "policy_version": "2.1.0",
        "popup_enabled": True,
        "popup_agreed_enabled": False,
        "popup_hide_agreed": False,
        "popup_html_info": _consent_markup(
            "This site stores small files on your device to remember your choices.",
            "Choose Allow to accept them, or Refuse to browse without them.",
        ),
        "mobile_breakpoint": 768,
        "popup_height": "auto",
        "popup_width": "100%",
        "popup_delay": 800,
        "popup_link": "https://www.wilsoncenter.org/privacy",
        "popup_link_new_window": True,
        "popup_language": "en",
        "store_consent": False,
        "cookie_name": "",
        "cookie_lifetime": 90,
        "method": "opt_in",
        "automatic_cookies_removal": True,
        "withdraw_markup": _consent_markup(
            "Your cookie preferences", "You agreed to the use of cookies on this site."
        ),
        "withdraw_enabled": False,
        "cookie_categories": [],
        "enable_save_preferences_button": True,
        "cookie_value_disagreed": "0",
        "cookie_value_agreed": "2",
        "containing_element": "body",
        "close_button_action": "close_banner",
        "open_by_default": True,
    }
    middle = {
        "pluralDelimiter": "\u0003",
        "suppressDeprecationErrors": True,
        "ajaxPageState": {
            "libraries": _token("libraries", 180),
            "theme": "digitalarchive",
            "theme_token": None,
        },
        "ajaxTrustedUrl": [],
        "consent": consent,
        "dataLayer": {"defaultLang": "en", "languages": {"en": {"id": "en", "name": "English"}}},
        "bootstrap": {"forms_has_error_value_toggle": 1, "modal_animation": 1,
                      "popover_enabled": 1, "tooltip_enabled": 1},
    }
    head = (
        '<script type="application/json" data-drupal-selector="drupal-settings-json">'
        '{"path":{"baseUrl":"\\/","pathPrefix":"","currentPath":"'
    )
    after_path = (
        '","currentPathIsAdmin":false,"isFront":false,"currentLanguage":"en"},'
        + _drupal_json(middle)[1:-1]
    )
    tail = (
        ',"user":{"uid":0,"permissionsHash":"'
        + hashlib.sha256(b"anonymous-permissions").hexdigest()
        + '"}}</script>\n'
    )
    return head, after_path, tail


def _build_head_top() -> str:
    """``<!DOCTYPE>`` to just before the canonical link."""
    return (
        '<!DOCTYPE html>\n<html lang="en" dir="ltr">\n  <head>\n    <meta charset="utf-8">\n'
        '<meta name="Generator" content="Drupal 10 (https://www.drupal.org)">\n'
        '<meta name="MobileOptimized" content="width">\n'
        '<meta name="HandheldFriendly" content="true">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        "<style>#consent-popup,#consent-popup .consent-withdraw{background:#1f7fb6}"
        "#consent-popup h2,#consent-popup p,#consent-popup button{color:#fff}"
        ".consent-agree:focus,.consent-decline:focus{outline:3px solid #ffbf47}</style>\n"
        f'<link rel="icon" href="{_THEME_PATH}/favicon.ico" type="image/vnd.microsoft.icon">\n'
    )


def _build_head_scripts() -> str:
    """Head scripts after the canonical/shortlink tags, up to ``<title>``."""
    return (
        f'<script src="/sites/default/files/analytics/site-tag.js?{_token("tag", 6)}" '
        "defer></script>\n\n    <title>"
    )


def _build_head_bottom() -> str:
    """From ``</title>`` to the opening ``<body`` tag (icons, stylesheets, inline CSS)."""
    icons = (
        f'\n    <link rel="apple-touch-icon" sizes="180x180" href="{_THEME_PATH}/assets/icons/'
        'touch-180.png">\n'
        f'    <link rel="icon" type="image/png" sizes="32x32" href="{_THEME_PATH}/assets/icons/'
        'icon-32.png">\n'
        f'    <link rel="icon" type="image/png" sizes="16x16" href="{_THEME_PATH}/assets/icons/'
        'icon-16.png">\n'
        f'    <link rel="manifest" href="{_THEME_PATH}/assets/icons/manifest.json">\n'
        f'    <link rel="mask-icon" href="{_THEME_PATH}/assets/icons/pinned.svg" '
        'color="#0e3a5c">\n'
        '    <meta name="msapplication-TileColor" content="#0e3a5c">\n'
        '    <meta name="theme-color" content="#ffffff">\n\n'
    )
    sheets = "".join(
        f'<link rel="stylesheet" media="all" href="/sites/default/files/css/css_'
        f'{_token(f"css{delta}", 43)}.css?delta={delta}&amp;language=en&amp;'
        f'theme=digitalarchive&amp;include={_INCLUDE}">\n'
        for delta in range(5)
    )
    return (
        " | " + SITE_NAME + "</title>\n" + icons + "    " + sheets
        + '<style media="all" id="theme-inline">\n' + _build_css() + "\n</style>\n"
        "  </head>\n  <body"
    )


def _build_footer_scripts() -> str:
    """External scripts after the settings JSON."""
    scripts = "".join(
        f'<script src="/sites/default/files/js/js_{_token(f"js{delta}", 43)}.js?'
        f'scope=footer&amp;delta={delta}&amp;language=en&amp;theme=digitalarchive&amp;'
        f'include={_JS_INCLUDE}"></script>\n'
        for delta in range(4)
    )
    return (
        scripts
        + '<script src="https://kit.example-icons.net/da-kit.js" crossorigin="anonymous">'
        "</script>\n"
        '<script src="/modules/contrib/consent/js/consent.min.js?v=10.3" defer></script>\n'
    )


_HEAD_TOP = _build_head_top()
_HEAD_SCRIPTS = _build_head_scripts()
_HEAD_BOTTOM = _build_head_bottom()
_BODY_TOP = (
    '>\n<noscript><img src="/sites/default/files/analytics/pixel.gif" alt="" width="1" '
    'height="1" style="display:none"></noscript>\n'
    '  <div class="dialog-off-canvas-main-canvas" data-off-canvas-main-canvas>\n'
    + _build_header()
    + '\n<main id="main">\n'
)
_BODY_BOTTOM = "\n</main>\n\n" + _build_footer() + "\n  </div>\n"
_SETTINGS_HEAD, _SETTINGS_AFTER_PATH, _SETTINGS_TAIL = _build_settings_parts()
_STATISTICS = (
    ',"statistics":{"data":{"nid":"%s"},'
    '"url":"\\/core\\/modules\\/statistics\\/statistics.php"}'
)
_FOOTER_SCRIPTS = _build_footer_scripts()
_PAGE_CHALLENGE = _challenge_script("page")
_END = "</body>\n</html>\n"
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
    if node is not None:
        current = "node\\/" + node.group(1)
        statistics = _STATISTICS % node.group(1)
    else:
        current = ""
        statistics = ""
    body = f' class="{_esc(body_class)}"' if body_class else ""
    challenge = "" if "/cdn-cgi/challenge-platform/" in main_html else _PAGE_CHALLENGE
    return "".join((
        _HEAD_TOP, links, _HEAD_SCRIPTS, _esc(title), _HEAD_BOTTOM, body, _BODY_TOP,
        main_html, _BODY_BOTTOM, _SETTINGS_HEAD, current, _SETTINGS_AFTER_PATH,
        statistics, _SETTINGS_TAIL, _FOOTER_SCRIPTS, challenge, _END,
    ))


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
    head = (
        '\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title></title>'
        '<style type="text/css">\n'
        f"\t\t\t.{para}{{margin:0pt;text-indent:0pt;text-align:justify;line-height:115%}}\n"
        f"\t\t\t.{run}{{font-family:'Times New Roman',serif;font-size:12pt;color:#000000;"
        "font-weight:normal;font-style:normal;background:transparent}\n"
        f"\t\t\t.{note}{{font-family:'Times New Roman',serif;font-size:8pt;color:#000000;"
        "vertical-align:super;background:transparent}\n"
        "\t\t</style>"
    )
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
    out = [head, "<span>" if wrapped else ""]
    for index, paragraph in enumerate(doc.text):
        if index:
            out.append(blank)
        body = _esc(paragraph)
        if "[" in body:
            lead = _FOOTNOTE_RE.match(body)
            if lead is not None:
                n = lead.group(1)
                rest = _FOOTNOTE_RE.sub(ref, body[lead.end():])
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


def _pdf_object(path: str) -> str:
    """The embedded PDF viewer of a pane."""
    return (
        "\n                                      "
        f'<object class="pdf-preview" data="{_esc(path)}"></object>\n'
    )


def _original_pane(paths: Sequence[str], *, active: bool) -> str:
    """The ``#original`` pane: the scans, one PDF viewer each."""
    state = "fade active show" if active else "fade"
    return (
        f'\n                                            <div class="tab-pane {state}" '
        'id="original" role="tabpanel" aria-labelledby="original-tab">\n'
        + "".join(_pdf_object(p) for p in paths)
        + "                                  </div>\n"
    )


def _pane(doc: ReplicaDoc) -> str:
    """The panes of ``#documentTabs``: the scans (``#original``) first, then the active pane.

    Every path of ``doc.pdf_paths`` is embedded once, in list order: the transcript pane
    shows the last, the others (all of them for a translation) sit in an inactive
    ``#original`` pane before it, in the real pages' order (original, transcript,
    translation).
    """
    kind = doc.pane
    if kind == "original":
        return _original_pane(doc.pdf_paths, active=True)
    scans = doc.pdf_paths[:-1] if kind == "transcript" else doc.pdf_paths
    before = _original_pane(scans, active=False) if scans else ""
    if kind == "translation":
        language = _esc(doc.text_language)
        return before + (
            '\n                                            <div class="tab-pane fade active show" '
            'id="translation" role="tabpanel" aria-labelledby="translation-tab">\n\n'
            '                  <div class="tab-content tab-content-languages h-100">\n\n'
            '                                          <div class="tab-pane fade show active" '
            f'id="translation-{language}" role="tabpanel" '
            f'aria-labelledby="translation-{language}">\n'
            "                        \n          " + _word_text(doc)
            + "                      </div>\n                    \n"
            "                  </div>\n\n                </div>\n"
        )
    if kind == "transcript":
        parts = [
            before,
            '\n                                            <div class="tab-pane fade active show" '
            'id="transcript" role="tabpanel" aria-labelledby="transcript-tab">\n',
        ]
        if doc.pdf_paths:
            parts.append(_pdf_object(doc.pdf_paths[-1]))
        if doc.text:
            parts.append(_word_text(doc))
        parts.append("                                  </div>\n")
        return "".join(parts)
    raise ValueError(f"unknown pane {kind!r} for node {doc.nid}: expected one of "
                     f"{sorted(_PANE_LABELS)}")


def _document_options(doc: ReplicaDoc) -> str:
    """Type and language dropdowns (disabled: one pane only) and the action buttons."""
    language = ""
    if doc.pane == "translation":
        language = (
            '\n                                            <div class="dropdown '
            'dropdown-light-purple dropdown-document-language">\n'
            '                  <button class="btn dropdown-toggle" disabled type="button" '
            'id="dropdownDocumentLanguage" data-bs-toggle="dropdown" aria-expanded="false">\n'
            f'                    <span class="changing-text">{_esc(doc.text_language)}</span>\n'
            "                  </button>\n                </div>\n"
        )
    return (
        '\n          <div class="document-options">\n\n'
        '                                    <div class="options-dropdowns">\n'
        '                              <div class="dropdown dropdown-dark-purple '
        'dropdown-document-type">\n\n'
        '                  <button class="btn dropdown-toggle" disabled type="button" '
        'id="dropdownDocumentType" data-bs-toggle="dropdown" aria-expanded="false">\n'
        f'                    <span class="changing-text">{_PANE_LABELS[doc.pane]}</span>\n'
        "                  </button>\n\n                </div>\n"
        + language
        + "\n            </div>\n\n"
        '            <div class="options-buttons">\n\n'
        '              <button class="btn btn-icon btn-dark-blue" type="button" '
        'title="Citation" data-tooltip="tooltip" data-bs-toggle="modal" '
        'data-bs-target="#citation">\n'
        '                <span><i class="fa-solid fa-pencil" aria-hidden="true"></i></span>\n'
        "              </button>\n\n"
        '              <div class="btn btn-dark-blue btn-icon btn-share share-toolbox" '
        'title="Share Document" data-bs-toggle="tooltip" aria-label="Share Document"></div>\n\n'
        f'              <a class="btn btn-icon btn-dark-blue" href="/document/{doc.nid}/download" '
        'title="Download" target="_blank" data-bs-toggle="tooltip">\n'
        '                <span><i class="fa-solid fa-download" aria-hidden="true"></i></span>\n'
        "              </a>\n\n            </div>\n\n          </div>\n"
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
    return (
        f'\n                  <div class="pill-block{extra_class}">\n'
        f'            <h3 class="title">{heading}</h3>\n'
        '            <ul class="pill-list">\n              \n'
        f"{pills}\n            </ul>\n          </div>\n        "
    )


def render_result_row(doc: ReplicaDoc) -> str:
    """One ``<tr>`` of a results table (search results and "Related Documents" alike).

    ``td.date > p`` (an empty ``td.date`` when the date is unknown) and
    ``td[data-history-node-id].document.contextual-region > a > h3.sub-title > span`` with
    the title verbatim, then ``div.text`` with the summary paragraphs between two empty
    ``<p>`` (the shape the real pages show).
    """
    date = f"<p>{_esc(doc.date_raw)}</p>" if doc.date_raw else ""
    if doc.summary:
        summary = "<p></p>" + "".join(f"<p>{_esc(p)}</p>" for p in doc.summary) + "<p></p>"
    else:
        summary = "<p></p>"
    return (
        f'<tr><td class="date">{date}</td><td data-history-node-id="{doc.nid}" '
        f'class="document contextual-region"><a href="/document/{_esc(doc.slug)}">'
        f'<h3 class="sub-title"><span>{doc.title}</span></h3>'
        f'<div class="text">{summary}</div></a></td></tr>'
    )


def render_results_table(docs: Iterable[ReplicaDoc]) -> str:
    """``div.documents > div.card.table-responsive > table.table...`` around result rows."""
    rows = "".join(render_result_row(d) for d in docs)
    return (
        '<div class="documents">\n          <div class="card table-responsive">\n'
        '            <table class="table table-hover table-striped">\n'
        "              <tbody>\n                                \n"
        f"{rows}\n                \n              </tbody>\n            </table>\n"
        "          </div>\n        </div>"
    )


def _info_block(label: str, value: str) -> str:
    """``div.information-block > h3.sub-title + div.text``."""
    return (
        '\n                  <div class="information-block">\n'
        f'            <h3 class="sub-title">{label}</h3>\n'
        '            <div class="text">\n              \n'
        f"{value}\n            </div>\n          </div>\n        "
    )


def _info_pills(pills: str) -> str:
    """Pills inside an information block, as the real pages wrap them."""
    return (
        "<p>\n                </p><ul class=\"pill-list\">\n                  \n"
        f"{pills}\n                </ul>\n              <p></p>"
    )


def _rights(paragraphs: Sequence[str]) -> str:
    """The Rights block: paragraphs, e-mail addresses of the last one as mailto links."""
    out = []
    last = len(paragraphs) - 1
    for index, paragraph in enumerate(paragraphs):
        text = _esc(paragraph)
        if index == last:
            text = _EMAIL_RE.sub(lambda m: f'<a href="mailto:{m[0]}">{m[0]}</a>', text)
            out.append(f"            <p>{text}\n          </p>")
        else:
            out.append(f"            <p>{text}</p>\n")
    return (
        '\n                        <div class="information-block">\n'
        '          <h3 class="sub-title">Rights</h3>\n'
        '          <div class="text">\n' + "".join(out) + "</div>\n        </div>\n"
    )


def _document_information(doc: ReplicaDoc) -> str:
    """``section.document-information``: two columns of information blocks."""
    left = []
    if doc.source:
        left.append(_info_block("Source", _esc(doc.source)))
    if doc.original_archive:
        pills = "".join(
            _search_pill(
                "pill-light-blue", _ICON_SEARCH,
                f"/search?search_api_fulltext={_esc(t.name)}", _esc(t.name),
            )
            for t in doc.original_archive
        )
        left.append(_info_block("Original Archive", _info_pills(pills)))
    if doc.rights:
        left.append(_rights(doc.rights))
    right = []
    if doc.uploaded_date:
        right.append(
            '\n        <div class="information-block">\n'
            '          <h3 class="sub-title">Original Uploaded Date</h3>\n'
            f'          <div class="text">\n            {_esc(doc.uploaded_date)}\n'
            "          </div>\n        </div>\n\n        "
        )
    if doc.classification:
        right.append(_info_block("Original Classification", _esc(doc.classification)))
    if doc.type:
        right.append(_info_block("Type", _esc(doc.type)))
    if doc.languages:
        pills = "".join(
            _search_pill(
                "pill-light-blue", _ICON_SEARCH,
                f"/search?f[0]=languages:{t.tid}&amp;fo[0]={t.tid}", _esc(t.name),
            )
            for t in doc.languages
        )
        right.append(_info_block("Language", _info_pills(pills)))
    right.append(_info_block("Record ID", str(doc.record_id)))
    if doc.contributors:
        right.append(_info_block(
            "Document Contributor(s)", "<br>\n".join(_esc(c) for c in doc.contributors)
        ))
    if doc.donors:
        right.append(_info_block("Donors", "\n\n\n" + "<br>\n".join(_esc(d) for d in doc.donors)))
    return (
        '\n\n<section class="document-information">\n\n  <div class="container">\n'
        '    <div class="row">\n      <div class="col-12">\n'
        '        <h2 class="title">Document Information</h2>\n      </div>\n    </div>\n\n'
        '    <div class="row">\n            <div class="col-lg-7">\n\n        '
        + "".join(left)
        + '\n      </div>\n\n            <div class="offset-lg-1 col-lg-4 offset-xl-2 '
        'col-xl-3">\n'
        + "".join(right)
        + "\n      </div>\n    </div>\n  </div>\n\n</section>\n"
    )


def _citation(doc: ReplicaDoc) -> str:
    """The citation modal ``#citation`` with ``#citation-text`` and ``a#citation-url``."""
    parts = [f'"{doc.title}"']
    if doc.date_raw:
        parts.append(_esc(doc.date_raw))
    parts.append(SITE_NAME)
    if doc.source:
        parts.append(_esc(doc.source))
    return (
        '\n\n\n<div class="modal fade" id="citation" tabindex="-1" role="dialog" '
        'aria-labelledby="citationLabel" aria-hidden="true">\n'
        '  <div class="modal-dialog modal-dialog-centered modal-dialog-scrollable '
        'modal-citation" role="document">\n'
        '    <div class="modal-content modal-dark-blue">\n      <div class="modal-header">\n'
        '        <h5 class="modal-title" id="citationLabel">Citation</h5>\n'
        '        <button type="button" class="close" data-bs-dismiss="modal" '
        'aria-label="Close">\n'
        '          <i aria-hidden="true" class="fa-solid fa-xmark"></i>\n'
        "        </button>\n      </div>\n      <div class=\"modal-body\">\n"
        '        <div class="modal-bg">\n          <div class="modal-image"></div>\n'
        '          <div class="modal-gradient"></div>\n        </div>\n'
        '        <div class="container">\n\n          <div class="title-container">\n'
        f'            <h6 class="title">{doc.title}</h6>\n          </div>\n\n'
        '          <div class="card mt-3">\n            <div class="card-body">\n'
        '              <div id="citation-text" class="text">\n'
        f"                {', '.join(parts)}\n"
        '                <div class="d-flex align-items-center mt-2">\n'
        f'                                      <a id="citation-url">{SITE_ORIGIN}/document/'
        f"{doc.record_id}</a>\n"
        '                                    <button class="btn btn-icon btn-copy" '
        'title="Copy to Clipboard" data-clipboard-target="#citation-text" '
        'aria-label="Copy to Clipboard"><i class="fa-solid fa-copy" aria-hidden="true">'
        "</i></button>\n"
        "                </div>\n              </div>\n            </div>\n          </div>\n\n"
        "        </div>\n      </div>\n    </div>\n  </div>\n</div>\n"
    )


def render_document_main(
    doc: ReplicaDoc, related: list[ReplicaDoc], *, title_class: str = "title"
) -> str:
    """The inner HTML of ``<main id="main">`` for a document page, as the real site shows it.

    In order: the header ``section.jumbotron`` (``h2.date``, ``h1.{title_class} > span``,
    ``p.donated``), ``section.document-container`` (``#documentTabs`` with the pane chosen by
    ``doc.pane``, ``div.document-options``, ``div.text-block`` summary, "Author(s):" pills,
    ``div.pill-block`` sections, optional "Related Documents" table), then
    ``section.document-information`` and the ``#citation`` modal. Empty parts are omitted.

    *title_class* renames the ``h1`` class (a fault uses it to simulate a layout change).
    Raises :class:`ValueError` for an unknown ``doc.pane``.
    """
    date = f'<h2 class="date">{_esc(doc.date_raw)}</h2>\n          ' if doc.date_raw else ""
    credits = (
        f'\n                      <p class="donated">{_esc(doc.credits)}</p>'
        if doc.credits else ""
    )
    out = [
        '\n    \n\n\n    <div data-drupal-messages-fallback class="hidden"></div>\n'
        '<div id="block-digitalarchive-content">\n  \n    \n      \n\n\n\n\n\n'
        '<section class="jumbotron jumbotron-bg-document jumbotron-document">\n\n'
        '  <div class="container">\n    <div class="row">\n      <div class="col-12">\n'
        '        <div class="content-block">\n          '
        f'{date}<h1 class="{_esc(title_class)}"><span>{doc.title}</span>\n</h1>\n'
        f"{credits}\n                  </div>\n      </div>\n    </div>\n  </div>\n\n"
        "</section>\n\n"
        '<section class="document-container">\n\n  <div class="container">\n'
        '    <div class="row pull-up">\n      <div class="col-12">\n\n'
        '        <div class="card card-document">\n\n          <div class="document-frame">\n\n'
        '            <div class="tab-content tab-content-types tab-text-active" '
        'id="documentTabs">\n\n                            \n                            \n',
        _pane(doc),
        "                          </div>\n\n          </div>\n",
        _document_options(doc),
        "\n        </div>\n      </div>\n    </div>\n"
        '    <div class="row mt-4 mt-md-5">\n      <div class="col-lg-8 mt-lg-3">\n'
        '        <div class="text-block">\n          \n',
        "".join(f"<p>{_esc(p)}</p>" for p in doc.summary),
        "\n        </div>\n      </div>\n",
    ]
    if doc.authors:
        out.append(
            '      <div class="col-lg-4 mt-2 mt-lg-3">\n'
            '        <h2 class="title">Author(s):</h2>\n        <ul class="pill-list">\n'
            "          \n" + _term_pills(doc.authors, "people", _ICON_PEOPLE)
            + "\n          \n        </ul>\n      </div>\n"
        )
    out.append(
        "    </div>\n"
        '    <div class="row my-4">\n      <div class="col-12">\n        <hr class="hr">\n'
        '      </div>\n    </div>\n    <div class="row">\n\n            <div class="col-md-6">\n'
        "                "
    )
    if doc.people:
        out.append(_pill_block(
            "Associated People &amp; Organizations",
            _term_pills(doc.people, "people", _ICON_PEOPLE),
        ))
    if doc.places:
        out.append(_pill_block(
            "Associated Places", _term_pills(doc.places, "places", _ICON_PLACES)
        ))
    if doc.topics:
        out.append(_pill_block(
            "Associated Topics", _term_pills(doc.topics, "topics", _ICON_TOPICS)
        ))
    out.append('\n      </div>\n\n      <div class="col-md-6 mt-4 mt-md-0">\n\n        ')
    if doc.subjects:
        pills = "".join(
            _search_pill(
                "pill-subject", _ICON_SUBJECT,
                f"/search?search_api_fulltext={_esc(s)}", _esc(s),
            )
            for s in doc.subjects
        )
        out.append(_pill_block("Subjects Discussed", pills, extra_class=""))
    out.append("\n      </div>\n\n    </div>\n\n")
    if related:
        out.append(
            '      <div class="row my-4">\n      <div class="col-12">\n'
            '        <hr class="hr">\n      </div>\n    </div>\n'
            '      <div class="row">\n      <div class="col-12">\n'
            '        <h3 class="title">Related Documents</h3>\n        '
            + render_results_table(related)
            + "\n\n      </div>\n    </div>\n"
        )
    out.append("      </div>\n\n</section>\n")
    out.append(_document_information(doc))
    out.append(_citation(doc))
    out.append("\n\n\n\n\n\n\n\n\n  </div>\n\n\n\n\n")
    return "".join(out)


def render_document_page(
    doc: ReplicaDoc, related: list[ReplicaDoc], *, title_class: str = "title"
) -> str:
    """A whole document page: :func:`render_document_main` inside :func:`page_shell`.

    The ``<title>`` gets the plain title (entities of ``doc.title`` decoded, then escaped
    again by :func:`page_shell`); canonical ``/document/{slug}``, shortlink ``/node/{nid}``.
    """
    return page_shell(
        title=html.unescape(doc.title),
        main_html=render_document_main(doc, related, title_class=title_class),
        canonical=f"/document/{doc.slug}",
        shortlink=f"/node/{doc.nid}",
        body_class="path-node page-node-type-document",
    )
