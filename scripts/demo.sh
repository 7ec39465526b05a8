#!/usr/bin/env bash
# Set up, start the bundled replica, harvest the seed search with full records into output/;
# the last line is the path of the run's HTML report (output/archive.report.html).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m replica.demo "$@"
