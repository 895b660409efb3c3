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


def criterion_median(crit: Path, name: str, what: str = "whole") -> float | None:
    f = crit / "wav2vec2_10s" / name / what / "new" / "estimates.json"
    if not f.is_file():
        return None
    return json.loads(f.read_text())["median"]["point_estimate"] / 1e9


def criterion_runs(crit: Path, name: str) -> list[str]:
    d = crit / "wav2vec2_10s" / name
    if not d.is_dir():
        return []
    return sorted(p.name for p in d.iterdir() if (p / "new" / "estimates.json").is_file())


def count_macs(path: Path, samples: int) -> dict[str, int]:
    """Multiply-adds of every MatMul/MatMulInteger/Conv/ConvInteger in the graph for an
    input of `samples` samples (shapes from ONNX shape inference), split into the conv
    feature encoder, the positional convolution and the rest (projection + layers)."""
    import onnx
    from onnx import shape_inference

    m = onnx.load(str(path))
    dim = m.graph.input[0].type.tensor_type.shape.dim[1]
    dim.ClearField("dim_param")
    dim.dim_value = samples
    m = shape_inference.infer_shapes(m, data_prop=True)
    shapes = {}
    for vi in list(m.graph.value_info) + list(m.graph.output) + list(m.graph.input):
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
    for t in m.graph.initializer:
        shapes[t.name] = list(t.dims)
    out: dict[str, int] = {"conv": 0, "pos_conv": 0, "transformer": 0}
    for n in m.graph.node:
        if n.op_type in ("MatMul", "MatMulInteger"):
            a, o = shapes.get(n.input[0]), shapes.get(n.output[0])
            k = a[-1] if a else None
        elif n.op_type in ("Conv", "ConvInteger"):
            w, o = shapes.get(n.input[1]), shapes.get(n.output[0])
            k = int(np.prod(w[1:])) if w else None
        else:
            continue
        if not o or None in o or k is None:
            raise SystemExit(f"{path}: cannot infer the shapes of {n.name}")
        part = "conv" if "feature_extractor" in n.name else "pos_conv" if "pos_conv" in n.name else "transformer"
        out[part] += int(np.prod(o)) * k
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", required=True)
    p.add_argument("--out")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--compare", help="criterion output folder (target/criterion) to compare against")
    p.add_argument("--macs", action="store_true", help="count multiply-adds per second of audio in the graphs")
    args = p.parse_args()
    d = Path(args.dir)
    if args.macs:
        print(f"{'model':<16}{'conv':>9}{'pos conv':>10}{'layers':>9}{'total':>9}  GMAC per second of audio (10 s input)")
        for n in NAMES:
            f = d / f"{n}.onnx"
            if not f.is_file():
                continue
            c = {k: v / SECONDS / 1e9 for k, v in count_macs(f, SECONDS * 16000).items()}
            print(f"{n:<16}{c['conv']:>9.3f}{c['pos_conv']:>10.3f}{c['transformer']:>9.3f}{sum(c.values()):>9.3f}")
        return
    if args.compare:
        ort = json.loads((d / "ort.json").read_text())
        crit = Path(args.compare)
        print(f"{'model':<16}{'tract s/10s':>12}{'tract RTF':>11}{'ort s/10s':>11}{'ort RTF':>9}{'tract/ort':>11}")
        for n in NAMES:
            t = criterion_median(crit, n)
            o = ort.get(n)
            if t is None or o is None:
                print(f"{n:<16} (missing: tract {t}, ort {o})")
                continue
            print(f"{n:<16}{t:>12.3f}{t / SECONDS:>11.3f}{o:>11.3f}{o / SECONDS:>9.3f}{t / o:>11.2f}")
        print(f"\n{'tract run':<52}{'s/10s':>8}{'RTF':>8}{'/ whole':>9}")
        for n in NAMES:
            whole = criterion_median(crit, n)
            for what in criterion_runs(crit, n):
                t = criterion_median(crit, n, what)
                rel = f"{t / whole:>9.2f}" if whole else ""
                print(f"{n + '/' + what:<52}{t:>8.3f}{t / SECONDS:>8.3f}{rel}")
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
