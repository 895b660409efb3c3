# /// script
# requires-python = ">=3.10"
# dependencies = ["numpy==2.0.2", "onnxruntime==1.20.1", "soundfile==0.12.1"]
# ///
"""onnxruntime (one thread) on the same two models, audio and chunking as
`cargo bench --bench embedding`: 10 s of the reference clip, whole file, windows
batched as wordspot batches them (16), at hops 8, 4 and 2. Prints CPU ms per 10 s."""
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_reference as mr  # noqa: E402

clip, _ = sf.read(Path(__file__).resolve().parents[2] / "tests/data/embedding/clip.wav", dtype="int16")
x = np.resize(clip, 160_000).astype(np.float32)
mel, emb = mr.session(mr.MEL), mr.session(mr.EMB)


def run(hop):
    m = mr.mel_frames(x, mel)
    hist = np.concatenate([np.ones((76, 32), np.float32), m])
    ends = list(range(5, m.shape[0] + 1, hop))
    w = np.stack([hist[e:e + 76] for e in ends])[:, :, :, None]
    for i in range(0, len(ends) - 15, 16):
        emb.run(None, {"input_1": w[i:i + 16]})
    for i in range(len(ends) - len(ends) % 16, len(ends)):
        emb.run(None, {"input_1": w[i:i + 1]})


for hop in [8, 4, 2]:
    run(hop)
    t = time.process_time()
    n = 5
    for _ in range(n):
        run(hop)
    ms = (time.process_time() - t) / n * 1000
    print(f"onnxruntime hop{hop}_whole_file: {ms:.1f} ms CPU per 10 s (RTF {ms / 10000:.4f})")
