#!/usr/bin/env bash
# Set up, then check and test everything: lint, format, types, unit tests, real pages, and
# crawls of the replica (in-process, and through the CLI where only the CLI shows it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# pywb, for the test that replays our WACZs through it (tests/test_pywb_check.py), lives in a
# venv of its own (gevent and its own pins; about 12 s to install once). Without a package
# index the install fails and that one test skips, saying why.
if [ ! -x output/pywb-venv/bin/wayback ]; then
    if ! { .venv/bin/python -m venv output/pywb-venv && output/pywb-venv/bin/pip install --quiet "pywb==2.10.0"; }; then
        echo "warning: could not install pywb into output/pywb-venv: tests/test_pywb_check.py will skip" >&2
        rm -rf output/pywb-venv
    fi
fi
.venv/bin/ruff check harvester tests tools replica benchmarks
.venv/bin/ruff format --check harvester tests tools replica benchmarks
.venv/bin/mypy --strict harvester
# Two workers (the machine's two cores); tests sharing a costly session fixture stay on one
# worker (tests/conftest.py). HARVESTER_TEST_WORKERS=0 runs everything in this process.
.venv/bin/python -m pytest -n "${HARVESTER_TEST_WORKERS:-2}" --dist loadgroup "$@"
