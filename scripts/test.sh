#!/usr/bin/env bash
# Set up, then check and test everything: lint, format, types, unit tests, real pages, and
# crawls of the replica (in-process, and through the CLI where only the CLI shows it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check harvester tests tools replica benchmarks
.venv/bin/ruff format --check harvester tests tools replica benchmarks
.venv/bin/mypy --strict harvester
.venv/bin/python -m pytest "$@"
