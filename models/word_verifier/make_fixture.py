"""Reference output of the word verifier for tests/verify.rs (onnxruntime).

Run with EfficientWord-Net's venv (bench/peers/efficientword_net/setup.sh):
    bench/peers/efficientword_net/.venv/bin/python models/word_verifier/make_fixture.py
Writes tests/data/verify/word_verifier_ref.json: for a 1.5 s window of a shared
recording, rows 0, 74 and 148 of python_speech_features' logfbank (as
EfficientWord-Net computes it) and the model's 2048 outputs.
"""
import json, os, sys
import numpy as np, soundfile as sf, onnxruntime as rt
from eff_word_net.audio_utils import logfbank

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
wav = os.path.join(root, "..", "shared", "data", "wake_words", "alexa")
src = sorted(f for f in os.listdir(wav) if f.endswith((".wav", ".flac")))[0]
x, sr = sf.read(os.path.join(wav, src), dtype="float32")
assert sr == 16000, sr
if x.ndim > 1:
    x = x.mean(1)
w = np.zeros(24000, np.float32)
n = min(len(x), 24000)
w[:n] = x[:n]
f = logfbank(w, samplerate=16000, winlen=0.025, winstep=0.01, nfilt=64, nfft=512, preemph=0.0)
so = rt.SessionOptions(); so.intra_op_num_threads = 1
s = rt.InferenceSession(os.path.join(here, "resnet50_arc_qint8.onnx"), sess_options=so)
y = s.run(None, {s.get_inputs()[0].name: np.float32(f[None, None])})[0][0]
out = dict(source=f"wake_words/alexa/{src}", samples=n,
           fbank_rows={str(r): [float(v) for v in f[r]] for r in (0, 74, 148)},
           embedding=[float(v) for v in y])
json.dump(out, open(os.path.join(root, "tests", "data", "verify", "word_verifier_ref.json"), "w"))
print("wrote", src, "norm", float(np.linalg.norm(y)))
