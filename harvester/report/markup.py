"""The report's building blocks: numbers and durations as text, tables, tiles, a chart with
its table beside it, and the page's inline style."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from html import escape
from typing import Any

from harvester.report import charts

logger = logging.getLogger(__name__)


def _num(value: Any) -> str:
    """A number as a reader wants it.

    >>> _num(16153), _num(0.5), _num(2.25), _num(None)
    ('16,153', '0.5', '2.25', '–')
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return escape(str(value))


def duration(seconds: float | None) -> str:
    """
    >>> duration(0.84), duration(78.6), duration(3725)
    ('0.8 s', '1 min 19 s', '1 h 02 min')
    """
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {round(seconds % 60):d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _text(value: Any) -> str:
    """A value as the command line would give it (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _since(seconds: float, step: float) -> str:
    """A time since the run started, as precise as the step.

    >>> _since(0.03, 0.01), _since(1.2, 0.2), _since(80, 10)
    ('0.03 s', '1.2 s', '1 min 20 s')
    """
    if step >= 1:
        return duration(seconds) if seconds >= 60 else f"{seconds:.0f} s"
    return f"{seconds:.{2 if step < 0.1 else 1}f} s"


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def table(
    caption: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric_from: int = 1
) -> str:
    """A table; columns from ``numeric_from`` on are right-aligned numbers (pre-formatted
    strings are kept as they are)."""
    head = "".join(f'<th scope="col"{" class=n" if i >= numeric_from else ""}>{escape(h)}</th>'
                   for i, h in enumerate(headers))  # fmt: skip
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = cell if isinstance(cell, Markup) else _num(cell)
            tag = "th scope=row" if i == 0 else "td"
            cls = " class=n" if i >= numeric_from else ""
            cells.append(f"<{tag}{cls}>{text}</{tag.split()[0]}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


class Markup(str):
    """HTML that a table cell keeps as it is."""


def _tiles(items: Sequence[tuple[str, str, str]]) -> str:
    """``(label, value HTML, class)`` tiles."""
    return '<div class="tiles">' + "".join(
        f'<div class="tile {cls}"><span class="label">{escape(label)}</span><span class="value">{value}</span></div>'
        for label, value, cls in items
    ) + "</div>"  # fmt: skip


class ChartSlots:
    """The charts of a page being built: :func:`_pair` leaves a slot for each, and
    :meth:`fill` puts them in once they are drawn together (here or in a child process)."""

    def __init__(self) -> None:
        self.charts: list[tuple[str, charts.Chart]] = []

    def slot(self, key: str, chart: charts.Chart) -> str:
        self.charts.append((key, chart))
        return f"<!--chart {len(self.charts) - 1}-->"  # a comment: page text is escaped, never "<!--"

    def fill(
        self, page: str, draw: Callable[[Sequence[charts.Chart]], charts.Drawn]
    ) -> tuple[str, charts.Drawn]:
        drawn = draw([chart for _, chart in self.charts])
        failed: dict[str, list[str]] = {}
        for index, (key, _) in enumerate(self.charts):
            error = drawn.errors[index]
            if error is not None:
                failed.setdefault(error, []).append(key)
            page = page.replace(f"<!--chart {index}-->", _plot(drawn.svgs[index], error, drawn.missing), 1)
        for error, keys in failed.items():  # one line for a child that drew none
            logger.error("Report chart(s) %s could not be drawn: %s", ", ".join(map(repr, keys)), error)
        return page, drawn


_SLOTS: ContextVar[ChartSlots | None] = ContextVar("report_chart_slots", default=None)


@contextmanager
def chart_slots() -> Iterator[ChartSlots]:
    """While the page is built, :func:`_pair` leaves its chart to be drawn later."""
    slots = ChartSlots()
    token = _SLOTS.set(slots)
    try:
        yield slots
    finally:
        _SLOTS.reset(token)


def _plot(svg: str | None, error: str | None, missing: str | None) -> str:
    if svg is not None:
        return svg
    if error is not None:  # one chart failing leaves the rest of the report
        return f'<p class="nochart">Chart not drawn: {escape(error)}</p>'
    return f'<p class="nochart">Chart not drawn: install the plotting extra (<code>{charts.INSTALL_HINT}</code>).</p>'


def _pair(
    key: str, title: str, chart: charts.Chart | None, numbers: str, note: str = "", *, wide: bool = False
) -> str:
    """A chart with its numbers in a table beside it (``wide``: a wide table, below it); the
    chart is left in a slot of the page being built (:func:`chart_slots`, in ``render``)."""
    slots = _SLOTS.get()
    assert slots is not None, "a chart pair is built within chart_slots()"
    plot = "" if chart is None else slots.slot(key, chart)
    note_html = f"<p class=note>{note}</p>" if note else ""
    return (
        f'<figure class="pair{" wide" if wide else ""}" id="chart-{key}" data-chart="{key}">'
        f"<figcaption><h3>{escape(title)}</h3>{note_html}</figcaption>"
        f'<div class="plot">{plot}</div><div class="numbers">{numbers}</div></figure>'
    )


# --- the sections ------------------------------------------------------------------------------


_CSS = """
:root{color-scheme:light;--ink:#1d232a;--muted:#5b6570;--line:#d9dee3;--ok:#2e7d32;--bad:#c62828;--warn:#ef8f00}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans","Liberation Sans",sans-serif;color:var(--ink);background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:1.2rem 1.4rem 3rem}
header h1{font-size:1.45rem;margin:.2rem 0}
header p{margin:.1rem 0;color:var(--muted)}
nav{margin:.6rem 0 0;font-size:.92rem}nav a{margin-right:1rem}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem 1.2rem;margin:1.1rem 0}
h2{font-size:1.2rem;margin:.1rem 0 .8rem}h3{font-size:1rem;margin:.2rem 0}
.status{display:inline-block;padding:.05rem .55rem;border-radius:4px;color:#fff;background:#757575;font-weight:700;letter-spacing:.03em}
.status.ok{background:var(--ok)}.status.failed{background:var(--bad)}.status.interrupted{background:var(--warn)}
td .status{font-size:.8rem;padding:0 .35rem}
.why{border-left:5px solid var(--bad);background:#fdecea;padding:.6rem 1rem;margin:.4rem 0 1rem;border-radius:4px}
.why ul{margin:.3rem 0 0;padding-left:1.2rem}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5rem,1fr));gap:.6rem;margin:.6rem 0}
.tile{border:1px solid var(--line);border-radius:6px;padding:.45rem .7rem;background:#fbfcfd}
.tile .label{display:block;font-size:.78rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:1.3rem;font-weight:600}.tile small{font-size:.8rem;font-weight:400;color:var(--muted)}
.tile.good .value{color:var(--ok)}.tile.warn .value{color:var(--warn)}.tile.bad .value{color:var(--bad)}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;font-size:.9rem;margin:.6rem 0 0}
.facts dt{color:var(--muted)}.facts dd{margin:0;overflow-wrap:anywhere}
figure.pair{display:grid;grid-template-columns:minmax(0,3fr) minmax(15rem,2fr);gap:.4rem 1.2rem;align-items:start;margin:0;padding:.9rem 0;border-top:1px solid var(--line)}
figure.pair figcaption{grid-column:1/-1}
figure.pair.wide{grid-template-columns:minmax(0,1fr)}figure.pair.wide .plot{max-width:760px}
figure.pair.wide .numbers{max-height:none}
.note{color:var(--muted);font-size:.88rem;margin:.15rem 0}
.plot svg{display:block;width:100%;height:auto}
.numbers{max-height:24rem;overflow:auto;border:1px solid var(--line);border-radius:4px}
.nochart{color:var(--muted);font-style:italic;border:1px dashed var(--line);padding:1rem;border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:.85rem;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.35rem .5rem;color:var(--muted);font-size:.8rem}
th,td{padding:.18rem .5rem;border-bottom:1px solid #eef0f2;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f1f3f5}
.n{text-align:right}
.two{display:grid;grid-template-columns:1fr 1fr;gap:1.2rem;padding:.9rem 0;border-top:1px solid var(--line);align-items:start}
tbody th{font-weight:500}
.two table{border:1px solid var(--line)}
.changes .numbers,.changes table{max-height:none}
code{font-size:.88em;background:#f1f3f5;padding:0 .25rem;border-radius:3px;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:.82rem;margin-top:1.4rem}
@media (max-width:760px){figure.pair,.two{grid-template-columns:1fr}}
@media print{
body{background:#fff;font-size:10pt}main{max-width:none;padding:0}nav{display:none}
section{border:0;border-radius:0;padding:0;margin:0 0 1rem}
figure.pair,.two{display:block}
.numbers,figure.pair.wide .numbers,.changes .numbers{max-height:none;overflow:visible;border:0}
thead th{position:static}thead{display:table-header-group}
tr,.plot,.tile{break-inside:avoid}h2,h3{break-after:avoid}
.plot svg{max-width:17cm}
}
"""
