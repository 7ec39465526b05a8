"""The report's charts: matplotlib figures rendered to inline SVG.

matplotlib's SVG backend, because the report must open from ``file://`` with nothing
fetched: the charts are static vector markup inside the page (no script, no font, no
CDN), stay sharp at any zoom, keep their labels as text (searchable, copyable, readable by
a screen reader next to the table beside each chart), and weigh a few tens of KB each.
Rendering is plain CPU work with no display and no browser (about 0.1 s a chart).

matplotlib is the optional ``report`` extra (``pip install 'harvester[report]'``): the
harvest itself never imports it. :func:`available` says whether it is there; without it
the report keeps its tables and says how to get the charts.

Every function takes plain numbers and labels and returns one ``<svg>`` element whose ids
are prefixed with ``key`` (many charts share one HTML document). A :class:`Chart` names one
of them with its arguments, so a page's charts can be drawn together, in this process
(:func:`draw_here`) or in a child (:func:`draw_apart`: what a crawl does, so that matplotlib
never joins its memory; ``python -m harvester.report.charts`` is that child).
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, ParamSpec, cast

from harvester.child import run_module

if TYPE_CHECKING:
    import matplotlib
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.figure import Figure as _Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

INSTALL_HINT = "pip install 'harvester[report]'"

PRECISION_COLORS = {"day": "#1f4e79", "month": "#4f8fc0", "year": "#a9cce3", "undated": "#9e9e9e"}
KIND_COLORS = {"listing": "#4f8fc0", "details": "#d9822b", "other": "#9e9e9e"}
VERDICT_COLORS = {"ok": "#2e7d32", "failed": "#c62828", "interrupted": "#ef8f00"}
CHANGE_COLORS = {"added": "#2e7d32", "changed": "#4f8fc0", "removed": "#c62828"}
BAR = "#4f8fc0"

_RC: dict[str, Any] = {
    # Text stays text: smaller than glyph outlines, and a reader (or a test) can find the labels.
    "svg.fonttype": "none",
    # Stable ids run to run (clip paths are named from a hash).
    "svg.hashsalt": "harvester",
    # Labels are data: a place named "$\\frac{a}{b}$" is drawn as written, never as a formula.
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.titlesize": 9,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
}

_error: str | None = None
_loaded = False


def _load() -> None:
    """Import matplotlib on first use, not with this module: the run report's extension imports
    the report at the start of every crawl, and matplotlib with numpy weigh ~45 MB of RSS that
    only the report's last second needs (issue 17: the details crawl's peak RSS)."""
    global _loaded, _error, matplotlib, _Figure, FuncFormatter, MaxNLocator
    if _loaded:
        return
    _loaded = True
    try:
        import matplotlib
        from matplotlib.figure import Figure as _Figure
        from matplotlib.ticker import FuncFormatter, MaxNLocator
    except ImportError as exc:  # the optional extra is not installed
        _error = str(exc)


def _style() -> AbstractContextManager[None]:
    _load()
    return matplotlib.rc_context(cast(Any, _RC))


def available() -> bool:
    """True when matplotlib (the ``report`` extra) can be imported."""
    _load()
    return _error is None


def _figure(width: float, height: float) -> Figure:
    _load()
    return _Figure(figsize=(width, height), layout="constrained")


_HEADER = re.compile(r"\A.*?(?=<svg)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_SIZE = re.compile(r'<svg([^>]*?) width="[^"]*" height="[^"]*"')
_IDS = re.compile(r'(\bid="|url\(#|xlink:href="#|href="#)')


def _render(fig: Figure, key: str, label: str) -> str:
    """The figure as one ``<svg>`` element for an HTML page: no XML prologue, no metadata,
    sized by CSS, its ids prefixed with ``key``, labelled for assistive technology."""
    buffer = io.StringIO()
    with _style():
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _METADATA.sub("", _HEADER.sub("", buffer.getvalue()))
    svg = _SIZE.sub(r"<svg\1", svg, count=1)
    svg = _IDS.sub(lambda m: f"{m.group(1)}{key}-", svg)
    label = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg", f'<svg class="chart-svg" role="img" aria-label="{label}"', 1).strip()


def _short(label: str, width: int = 42) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _thousands(ax: Axes, axis: str = "y") -> None:
    fmt = FuncFormatter(lambda v, _pos: f"{v:,.0f}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(fmt)
    target.set_major_locator(MaxNLocator(integer=True, nbins=6))


# --- the charts ----------------------------------------------------------------------------------


def _span(years: Sequence[int]) -> str:
    return f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])


def years_chart(
    key: str, years: Sequence[tuple[int, dict[str, int]]], undated: int, axis: tuple[int, int] | None = None
) -> str:
    """Documents per year, stacked by date precision, with the undated as a bar of their own.

    ``axis``: the first and last year on the axis (:func:`.dataset.year_axis`); the years
    before and after it are drawn as one bar each, apart, labelled with their span."""
    with _style():
        fig = _figure(6.4, 2.9)
        ax = fig.add_subplot()
        low, high = axis or ((years[0][0], years[-1][0]) if years else (0, 0))
        core = [(year, counts) for year, counts in years if low <= year <= high]
        xs = [year for year, _ in core]
        gap = max(3, len(xs) // 8)
        groups: list[tuple[float, Sequence[tuple[int, dict[str, int]]]]] = [
            (float(x), [row]) for x, row in zip(xs, core, strict=True)
        ]
        ticks: list[float] = []
        labels: list[str] = []
        if xs:
            span = xs[-1] - xs[0]
            step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 1000) if span / s <= 12)
            ticks = [float(y) for y in range(xs[0] - xs[0] % step, xs[-1] + 1, step) if y >= xs[0]]
            labels = [str(int(t)) for t in ticks]
        edge = float(xs[-1]) if xs else 0.0
        for spot, apart in (
            (float(low - gap), [r for r in years if r[0] < low and any(r[1].values())]),
            (float(high + gap), [r for r in years if r[0] > high and any(r[1].values())]),
        ):
            if apart:
                groups.append((spot, apart))
                ticks.append(spot)
                labels.append(_span([year for year, _ in apart]))
                edge = max(edge, spot)
        bottom = [0] * len(groups)
        for precision in ("day", "month", "year"):
            values = [sum(counts[precision] for _, counts in rows) for _, rows in groups]
            ax.bar([x for x, _ in groups], values, bottom=bottom, width=0.85,
                   color=PRECISION_COLORS[precision], label=precision)  # fmt: skip
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        if undated:
            spot = edge + gap if groups else 0
            ax.bar(
                [spot],
                [undated],
                width=0.85 if groups else 0.5,
                color=PRECISION_COLORS["undated"],
                label="undated",
            )
            ticks.append(float(spot))
            labels.append("undated")
        ax.set_xticks(ticks, labels)
        ax.set_ylim(0, max([*bottom, undated, 1]) * 1.08)
        ax.grid(axis="x", visible=False)
        ax.set_ylabel("documents")
        _thousands(ax)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=4, fontsize=8)
        return _render(fig, key, "Documents per year, stacked by date precision")


def hbar_chart(
    key: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    label: str,
    colors: Sequence[str] | None = None,
    percent: bool = False,
    legend: dict[str, str] | None = None,
    width: float = 6.4,
) -> str:
    """Horizontal bars, the first label at the top. ``percent``: values are shares (0-1)."""
    with _style():
        fig = _figure(width, 0.55 + 0.21 * max(len(labels), 1))
        ax = fig.add_subplot()
        ys = list(range(len(labels)))
        ax.barh(ys, values, height=0.7, color=list(colors) if colors else BAR)
        ax.set_yticks(ys, [_short(text) for text in labels])
        ax.set_ylim(len(labels) - 0.45, -0.55)  # the first at the top, no blank margin
        ax.grid(axis="y", visible=False)
        ax.tick_params(axis="y", length=0)
        if percent:
            ax.set_xlim(0, 1)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:.0f}%"))
        else:
            _thousands(ax, "x")
        if legend:
            from matplotlib.patches import Patch

            handles = [Patch(color=color, label=name) for name, color in legend.items()]
            ax.legend(
                handles=handles, loc="lower right", bbox_to_anchor=(1, 1), ncols=len(handles), fontsize=8
            )
        return _render(fig, key, label)


def histogram_chart(key: str, bins: Sequence[tuple[int, int, int]], *, label: str, xlabel: str) -> str:
    """A histogram: ``(low, high, count)`` bins side by side on a numeric axis."""
    with _style():
        fig = _figure(6.4, 2.5)
        ax = fig.add_subplot()
        ax.bar([low for low, _, _ in bins], [n for _, _, n in bins], width=[high - low for low, high, _ in bins],
               align="edge", color=BAR, edgecolor="white", linewidth=0.6)  # fmt: skip
        ax.set_xlabel(xlabel)
        ax.set_ylabel("documents")
        ax.grid(axis="x", visible=False)
        _thousands(ax)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        return _render(fig, key, label)


def pace_chart(key: str, bucket_s: float, series: Sequence[float]) -> str:
    """Pages per minute over the run, one step per time bucket; seconds on the axis for a
    run shorter than two minutes, minutes otherwise."""
    with _style():
        fig = _figure(6.4, 2.4)
        ax = fig.add_subplot()
        total = bucket_s * len(series)
        unit, scale = ("seconds", 1.0) if total < 120 else ("minutes", 60.0)
        xs = [i * bucket_s / scale for i in range(len(series) + 1)]
        values = [*series, series[-1]] if series else [0.0]
        ax.fill_between(xs, values, step="post", color="#a9cce3", linewidth=0)
        ax.step(xs, values, where="post", color="#1f4e79", linewidth=1.2)
        ax.set_xlim(0, xs[-1] or 1)
        ax.set_ylim(0, max(values) * 1.1 or 1)
        ax.set_xlabel(f"{unit} since the run started")
        ax.set_ylabel("pages per minute")
        _thousands(ax)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        return _render(fig, key, "Pages per minute over the run")


def history_chart(key: str, runs: Sequence[dict[str, Any]]) -> str:
    """A job's runs: documents added, changed and removed (log scale), requests, and duration,
    each run's bars coloured by its verdict in the lower panels."""
    with _style():
        return _render(history_figure(runs), key, "The job's runs: changes, requests and duration")


def history_figure(runs: Sequence[dict[str, Any]]) -> Figure:
    """The figure of :func:`history_chart` (call within the chart style)."""
    fig = _figure(6.4, 4.6)
    top, middle, bottom = fig.subplots(3, 1, sharex=True, height_ratios=[1.4, 1, 1])
    xs = list(range(len(runs)))
    width = 0.26
    for offset, change in zip((-width, 0.0, width), ("added", "changed", "removed"), strict=True):
        values = [(run.get("changes") or {}).get(change, 0) for run in runs]
        top.bar([x + offset for x in xs], values, width=width, color=CHANGE_COLORS[change], label=change)
    if any((run.get("changes") or {}).get(c) for run in runs for c in CHANGE_COLORS):
        top.set_yscale("symlog", linthresh=1)
        # A log axis has no 0: the symlog's linear stretch below 1 is not labelled.
        top.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else ""))
    top.set_ylabel("documents")
    colors = [VERDICT_COLORS.get(str(run.get("status")), "#9e9e9e") for run in runs]
    middle.bar(xs, [run.get("requests") or 0 for run in runs], width=0.6, color=colors)
    middle.set_ylabel("requests")
    _thousands(middle)
    bottom.bar(xs, [run.get("duration_s") or 0 for run in runs], width=0.6, color=colors)
    bottom.set_ylabel("seconds")
    for ax in (top, middle, bottom):
        ax.grid(axis="x", visible=False)
    bottom.set_xticks(xs, [f"run {run['run']}" for run in runs])
    from matplotlib.patches import Patch

    # One legend above the panels, never over a bar: the changes, then the verdicts.
    handles = [Patch(color=color, label=name) for name, color in CHANGE_COLORS.items()]
    handles += [Patch(color=color, label=f"run {name}") for name, color in VERDICT_COLORS.items()]
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), fontsize=8)
    return fig


# --- drawing a page's charts together, here or in a child process --------------------------------

P = ParamSpec("P")


@dataclass(frozen=True)
class Chart:
    """One chart to draw: the name of a chart function of this module and its arguments
    (plain numbers, labels and colours, which pickle)."""

    function: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def draw(self) -> str:
        return CHARTS[self.function](*self.args, **self.kwargs)


def chart(function: Callable[P, str], *args: P.args, **kwargs: P.kwargs) -> Chart:
    """``chart(hbar_chart, "key", labels, values, label=...)``: the call, to be made later."""
    if CHARTS.get(function.__name__) is not function:
        raise ValueError(f"{function.__name__} is not one of the report's charts")
    return Chart(function.__name__, args, dict(kwargs))


@dataclass
class Drawn:
    """What became of each chart of a page, in order: its ``<svg>``, or why it is not drawn."""

    svgs: list[str | None]
    errors: list[str | None]
    missing: str | None = None
    """Why no chart can be drawn (matplotlib is not installed), or None."""


def draw_here(charts: Sequence[Chart]) -> Drawn:
    """Draw every chart in this process; one that fails is an error of its own."""
    if not available():
        return Drawn([None] * len(charts), [None] * len(charts), _error)
    drawn = Drawn([], [])
    for one in charts:
        try:
            drawn.svgs.append(one.draw())
            drawn.errors.append(None)
        except Exception as exc:  # one chart failing leaves the rest of the report
            drawn.svgs.append(None)
            drawn.errors.append(f"{type(exc).__name__}: {exc}")
    return drawn


def draw_apart(charts: Sequence[Chart]) -> Drawn:
    """Draw every chart in one child process (``python -m harvester.report.charts``): the
    ~45 MB that matplotlib and numpy weigh stay out of this process (a crawl's peak RSS,
    issue 17). A child that fails makes every chart an error naming why."""
    if importlib.util.find_spec("matplotlib") is None:
        return Drawn([None] * len(charts), [None] * len(charts), "No module named 'matplotlib'")
    if not charts:
        return Drawn([], [])
    with tempfile.TemporaryFile() as calls, tempfile.TemporaryFile() as answer:
        pickle.dump([(c.function, c.args, c.kwargs) for c in charts], calls)
        calls.seek(0)
        try:
            run_module("harvester.report.charts", [], stdin=calls, stdout=answer, what="drawing the charts")
            answer.seek(0)
            svgs, errors, missing = pickle.load(answer)
        except Exception as exc:
            return Drawn([None] * len(charts), [str(exc)] * len(charts))
    return Drawn(svgs, errors, missing)


CHARTS: dict[str, Callable[..., str]] = {
    f.__name__: f for f in (years_chart, hbar_chart, histogram_chart, pace_chart, history_chart)
}


def _serve(calls: IO[bytes], answer: IO[bytes]) -> None:
    """The child's side of :func:`draw_apart`: charts in, ``(svgs, errors, missing)`` out."""
    drawn = draw_here([Chart(function, args, kwargs) for function, args, kwargs in pickle.load(calls)])
    pickle.dump((drawn.svgs, drawn.errors, drawn.missing), answer)


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
