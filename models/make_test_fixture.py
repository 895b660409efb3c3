#!/usr/bin/env python3
# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "torch==2.15.0",
#     "transformers==5.23.0",
#     "onnx==1.23.2",
#     "onnxruntime==1.32.0",
#     "numpy==2.4.6",
# ]
# ///
"""Rebuilds the tiny wav2vec2 test fixture in tests/data/models/.

    python models/make_test_fixture.py [--out tests/data/models]

Writes (all from a seeded random tiny config, so no download):
  tiny-L2.onnx/.json          layer 2 of 3, fp32
  tiny-L2.int8.onnx/.json     the same, dynamic int8
  tiny-all.onnx/.json         every layer (0..=3), fp32 — same weights as tiny-L2
  foreign-*.onnx              valid ONNX files that are not encoders (error tests)
  input.wav                   1.5 s synthetic 16 kHz 16-bit input
  ref-*.f32 + reference.json  onnxruntime outputs for input.wav (raw little-endian f32)
"""

from __future__ import annotations

import argparse
import json
import wave
from pathlib import Path

import numpy as np

import export

SEED = 1234
RATE = 16000


def synth_input(seconds: float = 1.5) -> np.ndarray:
    """A voiced, speech-like test signal: a gliding harmonic source with formant-ish
    amplitude modulation, a pause, and seeded noise. Returned as int16."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = 120 + 40 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum((0.6 / k) * np.sin(k * phase) * (1 + 0.5 * np.sin(2 * np.pi * (3 + k) * t)) for k in range(1, 12))
    env = np.clip(np.sin(np.pi * t / 0.7), 0, None) + np.clip(np.sin(np.pi * (t - 0.8) / 0.7), 0, None) * (t > 0.8)
    rng = np.random.default_rng(SEED)
    x = x * env + 0.01 * rng.standard_normal(n)
    x = x / np.abs(x).max() * 0.5
    return np.round(x * 32767).astype(np.int16)


def write_wav(path: Path, pcm: np.ndarray):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.astype("<i2").tobytes())


def write_foreign_models(out: Path):
    """Two valid ONNX files that are not waveform encoders, for the error tests:
    `foreign-name.onnx` (input `x`) and `foreign-shape.onnx` (input `input_values`
    but int64 [2, 3, 4])."""
    import onnx
    from onnx import TensorProto, helper

    for name, inp, dt, shape in [("foreign-name", "x", TensorProto.FLOAT, [1, "samples"]),
                                 ("foreign-shape", "input_values", TensorProto.INT64, [2, 3, 4])]:
        g = helper.make_graph(
            [helper.make_node("Identity", [inp], ["y"])], name,
            [helper.make_tensor_value_info(inp, dt, shape)],
            [helper.make_tensor_value_info("y", dt, shape)],
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        onnx.save(m, str(out / f"{name}.onnx"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "tests/data/models"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    export.main(["--tiny", "--seed", str(SEED), "--layer", "2", "--int8", "--out", str(out / "tiny-L2.onnx")])
    export.main(["--tiny", "--seed", str(SEED), "--all-layers", "--out", str(out / "tiny-all.onnx")])

    write_foreign_models(out)
    pcm = synth_input()
    write_wav(out / "input.wav", pcm)
    x = export.normalize_wave(pcm.astype(np.float32) / 32768.0)

    refs = {}
    for model, ref in [("tiny-L2.onnx", "ref-L2.f32"), ("tiny-L2.int8.onnx", "ref-L2-int8.f32"),
                       ("tiny-all.onnx", "ref-all.f32")]:
        y = export.ort_run(out / model, x).astype("<f4")
        (out / ref).write_bytes(y.tobytes())
        refs[ref] = {"model": model, "input": "input.wav", "shape": list(y.shape),
                     "max_abs": float(np.abs(y).max())}
        print(f"{ref}: {model} -> shape {y.shape}")
    manifest = {
        "about": "onnxruntime outputs of the models for input.wav (int16/32768, then zero-mean unit-variance)",
        "onnxruntime": __import__("onnxruntime").__version__,
        "references": refs,
    }
    (out / "reference.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
