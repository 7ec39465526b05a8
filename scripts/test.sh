#!/usr/bin/env bash
# Set up, then run the whole test suite (unit, real-page, and end-to-end crawls of the replica).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check harvester tests tools replica benchmarks
.venv/bin/python -m pytest "$@"
