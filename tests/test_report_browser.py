"""The demo's report, opened in headless Chromium as a person would: the charts are drawn
(their SVG marks and labels are in the page, their areas of the screenshot are not blank),
the page fetched nothing and logged no error. Chromium is driven over the DevTools protocol
(tests/browser.py). Skipped without Chromium, unless HARVESTER_REQUIRE_SHARED=1 (CI), where
its absence fails the test.
"""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from scrapy.utils.defer import deferred_f_from_coro_f

from harvester.report import charts
from harvester.report.build import write_report
from harvester.report.dataset import DatasetProfile
from harvester.report.html import ReportData
from replica.process import Replica
from tests.browser import find_chromium, printed, visit
from tests.crawling import crawl
from tests.shared import REQUIRE_ENV

SEED_QUERY = "Korean Workers' Party"
#: Each chart of the demo's report: labels its SVG must show, and a colour its bars are drawn in.
EXPECTED: dict[str, tuple[set[str], str]] = {
    "years": ({"day", "month", "year", "documents"}, charts.PRECISION_COLORS["day"]),
    "coverage": ({"id", "title", "text", "listing", "details", "100%"}, charts.KIND_COLORS["details"]),
    "top-languages": ({"Serbo-Croatian"}, charts.BAR),
    "top-places": ({"Pyongyang"}, charts.BAR),
    "top-topics": ({"China-North Korea Relations"}, charts.BAR),
    "top-authors": ({"Deng, Xiaoping"}, charts.BAR),
    "top-original_archive": ({"German Federal Archives (BArch)"}, charts.BAR),
    "text-length": ({"characters of text", "documents"}, charts.BAR),
    "statuses": ({"200"}, charts.VERDICT_COLORS["ok"]),
}


def require_chromium() -> str:
    executable = find_chromium()
    if executable is None:
        reason = "chromium not found (apt-get install chromium; .ci/run installs it)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}; {REQUIRE_ENV}=1: the browser test must run", pytrace=False)
        pytest.skip(reason)
    return executable


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def ink(area: Image.Image, color: str | None = None, tolerance: int = 24) -> float:
    """The share of an area's pixels that are not background (near white) or, with
    ``color``, that are that colour."""
    pixels = np.asarray(area.convert("RGB"), dtype=np.int16).reshape(-1, 3)
    if not len(pixels):
        return 0.0
    if color is None:
        hits = pixels.min(axis=1) < 235
    else:
        hits = np.abs(pixels - np.array(rgb(color), dtype=np.int16)).max(axis=1) <= tolerance
    return float(hits.mean())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_checks_catch_a_page_that_fetches_or_errs(tmp_path: Path) -> None:
    """The control: a page that loads an image and a script, and logs an error, is caught."""
    executable = require_chromium()
    page = tmp_path / "bad.html"
    port = free_port()  # nothing listens there: the request is made, and fails, on loopback
    page.write_text(
        f'<!DOCTYPE html><html><body><img src="http://127.0.0.1:{port}/pixel.png">'
        "<script>console.error('broken chart')</script></body></html>",
        encoding="utf-8",
    )
    seen = visit(executable, page)
    assert any(url.startswith(f"http://127.0.0.1:{port}/") for url in seen.requests)
    assert any("broken chart" in error for error in seen.errors())


def test_tables_print_whole(tmp_path: Path) -> None:
    executable = require_chromium()
    # Tables longer than their box on screen: 70 years, 70 places.
    records = [
        {"id": f"{y}", "url": f"http://x/document/{y}", "title": "T", "date": str(y), "date_precision": "year",
         "places": [f"Place {y}"], "languages": ["Russian"], "text": "abc"}
        for y in range(1921, 1991)
    ]  # fmt: skip
    summary = {"status": "ok", "reasons": [], "responses_by_status": {"200": 70}}
    report = tmp_path / "long.report.html"
    write_report(report, ReportData(summary=summary, profile=DatasetProfile().extend(records)))
    # The damage, on screen: the years' table sits in a scroll box that shows part of it.
    on_screen = printed(executable, report, media="screen")
    assert {"years", "coverage"} <= {box["chart"] for box in on_screen.cut()}
    # Printed: every table box shows its whole table, over several pages.
    on_paper = printed(executable, report)
    (tmp_path / "long.report.pdf").write_bytes(on_paper.pdf)
    assert on_paper.cut() == []
    years = next(box for box in on_paper.boxes if box["chart"] == "years")
    assert years["rows"] == len(records)
    assert on_paper.pdf.startswith(b"%PDF") and on_paper.pages > on_screen.pages >= 1


@deferred_f_from_coro_f
async def test_the_demos_report_is_drawn_offline_in_a_browser(replica: Replica, tmp_path: Path) -> None:
    executable = require_chromium()
    # The demo: the seed search with full records, from the default replica.
    out = tmp_path / "archive.jsonl"
    result = await crawl(replica.base_url, f"query={SEED_QUERY}", "details=true", out=out)
    assert result.verdict == "ok", result.reasons
    report = tmp_path / "archive.report.html"
    seen = visit(executable, report)
    (tmp_path / "report.png").write_bytes(seen.screenshot)

    # Nothing fetched but the page itself, nothing logged as an error.
    assert seen.requests == [report.resolve().as_uri()]
    assert seen.errors() == []
    assert seen.title.startswith("OK: harvest of search")

    charts_by_key: dict[str, dict[str, Any]] = {chart["key"]: chart for chart in seen.charts}
    assert set(charts_by_key) >= set(EXPECTED)
    shot = Image.open(io.BytesIO(seen.screenshot))
    assert shot.size == (seen.width, seen.height)
    for key, (labels, color) in EXPECTED.items():
        chart = charts_by_key[key]
        assert chart["svg"] and chart["marks"] >= 3, key
        assert labels <= set(chart["texts"]), (key, labels - set(chart["texts"]))
        assert chart["tableRows"] >= 1, key
        box = chart["box"]
        assert box["width"] > 300 and box["height"] > 50, (key, box)
        area = shot.crop(
            (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
        )
        assert ink(area) > 0.02, f"{key}: the chart's area of the screenshot is blank"
        assert ink(area, color) > 0.003, f"{key}: no {color} marks drawn"
    # The verdict and the numbers beside the charts, as a reader sees them.
    assert "1956" in charts_by_key["years"]["tableText"]
    assert charts_by_key["years"]["texts"].count("1956") == 1
    assert "Pyongyang" in charts_by_key["top-places"]["tableText"]
    # The demo's run lasts a second or two: no pace is drawn, a sentence says why.
    assert (
        not charts_by_key["pace"]["svg"]
        and "Too short a run for a pace" in charts_by_key["pace"]["tableText"]
    )
