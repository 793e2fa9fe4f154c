#!/usr/bin/env bash
# Run every benchmark in benchmarks/ and collect its JSON.
#
#   scripts/run_benchmarks.sh [--quick] [OUTDIR]
#
# On a GPU machine: install the CUDA build of JAX first (pip install -U "jax[cuda12]"), then run
# this script; each benchmark measures its baseline in the same run and writes a JSON with the
# ratios. OUTDIR defaults to benchmarks/results/<backend>/ (e.g. benchmarks/results/gpu/).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
if [ "${1:-}" = "--quick" ]; then quick=(--quick); shift; fi
backend=$(python -c "import jax; print(jax.default_backend())")
out=${1:-benchmarks/results/$backend}
mkdir -p "$out"
echo "backend: $backend; devices: $(python -c 'import jax; print(jax.devices())')"
status=0
for b in benchmarks/bench_*.py; do
  name=$(basename "$b" .py); name=${name#bench_}
  echo "== $name"
  if ! python "$b" "${quick[@]}" --out "$out/$name.json" > "$out/$name.log" 2>&1; then
    echo "   FAILED (see $out/$name.log)"; status=1
  else
    echo "   -> $out/$name.json"
  fi
done
exit $status
