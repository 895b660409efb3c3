#!/usr/bin/env bash
# Reproducible wav2vec2 speed comparison: tract (criterion, benches/wav2vec2.rs) vs
# onnxruntime on the same base-sized random-weight ONNX files, one core each.
#
#   models/bench.sh            # needs python with torch, transformers, onnx, onnxruntime
#   PYTHON=/path/to/venv/bin/python models/bench.sh
#
# Models (~95-380 MB each) go to $CARGO_TARGET_DIR (or target/)/w2v-bench, not to git.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TARGET=${CARGO_TARGET_DIR:-target}
DIR="$TARGET/w2v-bench"
mkdir -p "$DIR"
for L in 6 12; do
  if [ ! -f "$DIR/base-L$L.int8.onnx" ]; then
    "$PYTHON" models/export.py --random-config base --layer "$L" --int8 --out "$DIR/base-L$L.onnx"
  fi
done
# Both engines on one core: pin everything to CPU 0 when taskset exists.
PIN=""
if command -v taskset >/dev/null; then PIN="taskset -c 0"; fi
$PIN "$PYTHON" models/bench_ort.py --dir "$DIR" --out "$DIR/ort.json"
# Built with wav2vec2-threads for the 2-thread rows: those run unpinned (both cores).
cargo bench --features wav2vec2-threads --bench wav2vec2 --no-run
WORDSPOT_W2V_BENCH_DIR="$(cd "$DIR" && pwd)" WORDSPOT_W2V_BENCH_THREADS=0 $PIN \
  cargo bench --features wav2vec2-threads --bench wav2vec2
WORDSPOT_W2V_BENCH_DIR="$(cd "$DIR" && pwd)" WORDSPOT_W2V_BENCH_THREADS=1 \
  cargo bench --features wav2vec2-threads --bench wav2vec2 -- 2threads
"$PYTHON" models/bench_ort.py --dir "$DIR" --compare "$TARGET/criterion"
"$PYTHON" models/bench_ort.py --dir "$DIR" --macs
