"""pywb replays the harvester's WACZs (issue 17): ``benchmarks/pywb_check.py`` run here when
pywb is installed where that check keeps it; skipped otherwise (pywb brings gevent and its
own pins: the check installs it into a venv of its own, about 12 s, then runs in about 20 s)."""

from __future__ import annotations

import pytest

from benchmarks.pywb_check import main
from tests.conftest import ROOT

VENV = ROOT / "output" / "pywb-venv"


@pytest.mark.skipif(
    not (VENV / "bin" / "wayback").exists(),
    reason=f"pywb is not installed in {VENV}: `python -m benchmarks.pywb_check` installs it and runs the check",
)
def test_pywb_replays_a_single_run_and_a_job_after_three_nights(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--venv", str(VENV), "--documents", "60", "--records", "10"]) == 0
    assert "result: every body equals the archived one" in capsys.readouterr().out
