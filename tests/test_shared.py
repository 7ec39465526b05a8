"""``require_shared``: skip without ``../shared``, but fail when CI requires it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared import REQUIRE_ENV, require_shared


def test_an_existing_path_is_returned(tmp_path: Path) -> None:
    assert require_shared(tmp_path) == tmp_path


def test_a_missing_path_skips_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_shared(tmp_path / "absent.html")
    assert "absent.html not found" in str(skipped.value) and "../shared" in str(skipped.value)


def test_a_missing_path_fails_when_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        require_shared(tmp_path / "absent.html")
    assert "absent.html not found" in str(failed.value) and f"{REQUIRE_ENV}=1" in str(failed.value)
