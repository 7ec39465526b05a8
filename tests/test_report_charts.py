"""The report's charts (harvester/report/charts.py): labels are data, the year axis is not
stretched by a few documents, a job's legend never sits on a bar, a log axis has no 0.

Each test first shows the fault it guards against (the old drawing, or the protection off)."""

from __future__ import annotations

import io
import re
import sys
from typing import Any

import pytest

from harvester.report import charts
from harvester.report.dataset import DatasetProfile, year_axis

pytest.importorskip("matplotlib")

FRACTION = r"$\frac{a}{b}$"


def svg_texts(svg: str) -> list[str]:
    """The text of every ``<text>`` element of an SVG (entities decoded)."""
    import html

    return [
        html.unescape(re.sub(r"<[^>]+>", "", t)) for t in re.findall(r"<text\b[^>]*>(.*?)</text>", svg, re.S)
    ]


def test_a_label_with_dollars_is_drawn_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = [FRACTION, "Moscow", "$5 and $6"]
    # The damage: with mathtext on, the place is drawn as a fraction (no "$" left in the SVG).
    monkeypatch.setitem(charts._RC, "text.parse_math", True)
    drawn = svg_texts(charts.hbar_chart("t", labels, [3, 2, 1], label="places"))
    assert FRACTION not in drawn
    monkeypatch.undo()
    drawn = svg_texts(charts.hbar_chart("t", labels, [3, 2, 1], label="places"))
    assert FRACTION in drawn and "$5 and $6" in drawn


def archive_years() -> list[tuple[int, dict[str, int]]]:
    """An archive of 1945-1991 (about 20 documents a year) and one document of 2007."""
    profile = DatasetProfile()
    for year in range(1945, 1992):
        for n in range(20 + year % 7):
            profile.add({"id": f"{year}-{n}", "date": f"{year}-03-0{1 + n % 9}", "date_precision": "day"})
    profile.add({"id": "late", "date": "2007-06", "date_precision": "month"})
    return profile.years()


def year_labels(svg: str) -> set[int]:
    return {int(t) for t in svg_texts(svg) if t.isdigit()}


def test_a_few_late_documents_do_not_stretch_the_year_axis() -> None:
    years = archive_years()
    # The damage: the whole span on the axis, 1992-2006 an empty plain with its own ticks.
    stretched = charts.years_chart("y", years, 0)
    assert any(1992 <= y <= 2006 for y in year_labels(stretched))
    axis = year_axis(years)
    assert axis == (1945, 1991)
    drawn = charts.years_chart("y", years, 0, axis)
    labels = year_labels(drawn)
    assert not any(1992 <= y <= 2006 for y in labels) and 2007 in labels  # the late one, apart
    assert max(y for y in labels if y != 2007) <= 1991


def test_a_year_axis_keeps_every_year_when_none_is_apart() -> None:
    years = [(y, {"day": 5, "month": 0, "year": 0}) for y in range(1950, 1961)]
    assert year_axis(years) == (1950, 1960)
    assert year_labels(charts.years_chart("y", years, 0, year_axis(years))) >= {1950, 1960}


def runs() -> list[dict[str, Any]]:
    """Job runs whose bars reach the top of their panels (where a legend inside would sit)."""
    return [
        {"run": i + 1, "status": status, "changes": {"added": a, "changed": c, "removed": r},
         "requests": q, "duration_s": d}
        for i, (status, a, c, r, q, d) in enumerate([
            ("ok", 16153, 0, 0, 1700, 9000), ("ok", 25, 10, 5, 180, 600),
            ("failed", 0, 0, 0, 40, 30), ("ok", 300, 120, 2, 1700, 8800),
        ])
    ]  # fmt: skip


def overlaps(fig: Any) -> list[str]:
    """Bars a legend of *fig* covers: (legend entry texts, axes index) of each."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # lays the figure out, as saving it does
    renderer = canvas.get_renderer()
    found = []
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for i, ax in enumerate(fig.axes):
            for bar in ax.patches:
                if bar.get_height() and box.overlaps(bar.get_window_extent(renderer)):
                    found.append(f"{[t.get_text() for t in legend.get_texts()]} over a bar of panel {i}")
    return found


def test_the_job_history_legend_sits_on_no_bar() -> None:
    with charts._style():
        fig = charts.history_figure(runs())
        assert overlaps(fig) == []
        # The damage, the old way: the verdicts' legend inside the requests panel, upper right.
        from matplotlib.patches import Patch

        middle = fig.axes[1]
        middle.legend(handles=[Patch(color=c, label=n) for n, c in charts.VERDICT_COLORS.items()],
                      loc="upper right", ncols=3, fontsize=8)  # fmt: skip
        assert overlaps(fig)


def test_the_log_axis_of_changes_has_no_zero() -> None:
    with charts._style():
        fig = charts.history_figure(runs())
        fig.savefig(io.BytesIO(), format="svg")
        top = fig.axes[0]
        assert top.get_yscale() == "symlog"
        shown = [t.get_text() for t in top.get_yticklabels() if t.get_text()]
        assert shown and "0" not in shown
        assert 0 in list(top.get_yticks())  # the tick is there; its label is not


# --- drawn in a child process (a crawl's report: matplotlib stays out of the crawl) -------------


def page_charts() -> list[charts.Chart]:
    years = (
        DatasetProfile()
        .extend([{"date": "1962-01-03", "date_precision": "day"}, {"date": "1958", "date_precision": "year"}])
        .years()
    )
    return [
        charts.chart(charts.years_chart, "y", years, 1, year_axis(years)),
        charts.chart(charts.hbar_chart, "h", ["Moscow", FRACTION], [3, 1], label="places"),
        charts.chart(charts.pace_chart, "p", 60.0, [60.0, 120.0, 30.0]),
    ]


def test_charts_drawn_in_a_child_are_the_charts_drawn_here() -> None:
    here, apart = charts.draw_here(page_charts()), charts.draw_apart(page_charts())
    assert apart.errors == [None, None, None] and apart.missing is None
    assert apart.svgs == here.svgs
    assert all(svg and svg.startswith("<svg") for svg in apart.svgs)


def test_a_chart_that_fails_in_the_child_leaves_the_others() -> None:
    calls = page_charts()
    calls.insert(
        1, charts.chart(charts.hbar_chart, "bad", ["a"], [1], colors=["no such colour"], label="bad")
    )
    drawn = charts.draw_apart(calls)
    assert [svg is not None for svg in drawn.svgs] == [True, False, True, True]
    assert drawn.errors[1] is not None and "ValueError" in drawn.errors[1]


def test_a_child_that_cannot_run_makes_every_chart_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", sys.executable + "-not-there")
    drawn = charts.draw_apart(page_charts())
    assert drawn.svgs == [None, None, None]
    assert all(e and "drawing the charts failed" in e for e in drawn.errors), drawn.errors


def test_only_the_reports_charts_are_drawn() -> None:
    with pytest.raises(ValueError, match="not one of the report's charts"):
        charts.chart(svg_texts, "<svg/>")
