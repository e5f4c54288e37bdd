#!/usr/bin/env bash
# The GPU check in one go (see benchmarks/gpu_check.py): CUDA-only tests, fp32 vs bf16 training
# step with peak memory, packed vs sequential small runs, one summary table (also written to
# $OUT/gpu_check/ when OUT is set, else runs/gpu_check/). Under 8 minutes on a CUDA machine.
# Usage: bash benchmarks/gpu_check.sh [--quick] [--text-encoder NAME_OR_DIR]
# Exit status: 0 every step ran (see the table for the targets); 1 a step failed or ran past its
# budget; 2 bad options; 3 no CUDA device (checked first, before anything heavy is imported).
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)" 2>/dev/null; then
  echo "gpu_check: no CUDA device visible to torch; this check needs a GPU (nothing was run)" >&2
  exit 3
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$PY" benchmarks/gpu_check.py "$@"
