#!/usr/bin/env bash
# Run every benchmark (one process each) and print their tables and the targets table.
# Usage: bash benchmarks/run_all.sh [--quick] [names...]   (see python -m benchmarks --help)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$PY" -m benchmarks "$@"
