#!/usr/bin/env bash
# Set up, then check and test everything: lint, format, types, unit tests, real pages, and
# crawls of the replica (in-process, and through the CLI where only the CLI shows it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check harvester tests tools replica benchmarks
.venv/bin/ruff format --check harvester tests tools replica benchmarks
.venv/bin/mypy --strict harvester
# Two workers (the machine's two cores); tests sharing a costly session fixture stay on one
# worker (tests/conftest.py). HARVESTER_TEST_WORKERS=0 runs everything in this process.
.venv/bin/python -m pytest -n "${HARVESTER_TEST_WORKERS:-2}" --dist loadgroup "$@"
