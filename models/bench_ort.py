#!/usr/bin/env python3
"""Times onnxruntime (one thread) on the bench models and compares with tract's criterion results.

    python models/bench_ort.py --dir target/w2v-bench --out target/w2v-bench/ort.json
    python models/bench_ort.py --dir target/w2v-bench --compare target/criterion

Same 10 s input signal as benches/wav2vec2.rs, same ONNX files, one intra-op thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

SECONDS = 10
NAMES = ["base-L6.int8", "base-L6", "base-L12.int8", "base-L12"]


def signal() -> np.ndarray:
    i = np.arange(SECONDS * 16000)
    t = (i / 16000.0).astype(np.float32)
    x = 0.3 * np.sin(2 * np.pi * 140.0 * t) + 0.1 * np.sin(2 * np.pi * 1100.0 * t)
    x = x + (((i * 7919) % 1000) / 1000.0 - 0.5) * 0.02
    x = x.astype(np.float32)
    return ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)


def time_ort(path: Path, runs: int) -> float:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feed = {"input_values": signal()[None, :]}
    sess.run(None, feed)  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feed)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def criterion_median(crit: Path, name: str) -> float | None:
    f = crit / "wav2vec2_10s" / name / "whole" / "new" / "estimates.json"
    if not f.is_file():
        return None
    return json.loads(f.read_text())["median"]["point_estimate"] / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", required=True)
    p.add_argument("--out")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--compare", help="criterion output folder (target/criterion) to compare against")
    args = p.parse_args()
    d = Path(args.dir)
    if args.compare:
        ort = json.loads((d / "ort.json").read_text())
        print(f"{'model':<16}{'tract s/10s':>12}{'tract RTF':>11}{'ort s/10s':>11}{'ort RTF':>9}{'tract/ort':>11}")
        for n in NAMES:
            t = criterion_median(Path(args.compare), n)
            o = ort.get(n)
            if t is None or o is None:
                print(f"{n:<16} (missing: tract {t}, ort {o})")
                continue
            print(f"{n:<16}{t:>12.3f}{t / SECONDS:>11.3f}{o:>11.3f}{o / SECONDS:>9.3f}{t / o:>11.2f}")
        return
    res = {}
    for n in NAMES:
        f = d / f"{n}.onnx"
        if not f.is_file():
            print(f"skipping {n}: {f} not found")
            continue
        res[n] = time_ort(f, args.runs)
        print(f"onnxruntime {n}: {res[n]:.3f} s per {SECONDS} s (RTF {res[n] / SECONDS:.3f})", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
