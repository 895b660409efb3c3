#!/usr/bin/env bash
# wordspot (native embedding network; and with tract running it) vs onnxruntime on the built-in speech-embedding models, same
# audio and chunking, one run: prints both and the ratio per hop.
#   PYTHON=python3 models/speech_embedding/bench.sh
# Needs numpy, onnxruntime and soundfile for $PYTHON (versions in bench_ort.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
cargo bench --bench embedding -- whole_file 2>&1 | tee /tmp/wordspot-embedding-bench.txt | grep -E "^embedding|time:"
"$PY" models/speech_embedding/bench_ort.py | tee /tmp/wordspot-ort-bench.txt
"$PY" - <<'PY'
import re
t = open("/tmp/wordspot-embedding-bench.txt").read()
o = open("/tmp/wordspot-ort-bench.txt").read()
unit = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
for hop in (8, 4, 2):
    m = re.search(rf"hop{hop}_whole_file\s+time:\s+\[\S+ \S+ cpu (\S+) (\S+) cpu", t)
    r = re.search(rf"hop{hop}_whole_file: (\S+) ms", o)
    k = re.search(rf"hop{hop}_tract_whole_file\s+time:\s+\[\S+ \S+ cpu (\S+) (\S+) cpu", t)
    if m and r:
        ours = float(m.group(1)) * unit[m.group(2)]
        ort = float(r.group(1))
        line = f"hop {hop}: wordspot {ours:.1f} ms, onnxruntime {ort:.1f} ms per 10 s -> ratio {ours / ort:.2f}"
        if k:
            tr = float(k.group(1)) * unit[k.group(2)]
            line += f" (embedding by tract: {tr:.1f} ms, ratio {tr / ort:.2f})"
        print(line)
PY
