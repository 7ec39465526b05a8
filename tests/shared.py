"""Where ``../shared`` is (real pages and data beside the checkout), and what to do without it.

The real pages and records are third-party material that is not shipped with the project. A
test that reads them calls :func:`require_shared`: on a developer's machine without
``../shared`` the test is skipped with the reason; in CI (``HARVESTER_REQUIRE_SHARED=1``) a
missing file fails the test, so a wrong checkout layout cannot pass by skipping everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ``../shared`` beside the checkout.
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
#: The five real document pages.
REAL_DOCUMENTS = SHARED_DIR / "fixtures" / "real" / "document"
#: Real records and the seed search.
DATA_DIR = SHARED_DIR / "data"
#: Set to ``1`` (CI does) to fail, not skip, when ``../shared`` is missing.
REQUIRE_ENV = "HARVESTER_REQUIRE_SHARED"


def require_shared(path: Path) -> Path:
    """*path* when it exists; else skip the test, or fail it when ``HARVESTER_REQUIRE_SHARED=1``."""
    if path.exists():
        return path
    reason = f"{path} not found: the real pages and data live in ../shared, beside the checkout"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: required)", pytrace=False)
    pytest.skip(reason)
