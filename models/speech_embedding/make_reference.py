# /// script
# requires-python = ">=3.10"
# dependencies = [
#   "numpy==2.1.3",
#   "onnxruntime==1.20.1",
#   "soundfile==0.12.1",
#   "openwakeword==0.6.0",
#   "tqdm==4.67.1",
#   "requests==2.32.3",
#   "scipy==1.14.1",
#   "scikit-learn==1.5.2",
# ]
# ///
"""Writes the onnxruntime reference outputs the Rust parity test compares tract with.

    python models/speech_embedding/make_reference.py SRC.flac tests/data/embedding/

SRC is converted to 16-bit 16 kHz mono `clip.wav` (the committed clip is
wake_words/alexa/0.flac of ../shared/data, Picovoice wake-word-benchmark, Apache-2.0).
Outputs (little-endian f32, row-major):

* `mel.f32`: every mel frame (x/10 + 2), [frames, 32], computed in openWakeWord's
  80 ms streaming chunks (first call 1280 samples, then 1632 per 8 frames);
  the samples left at the end give one more zero-padded chunk.
* `embedding_hop1.f32`: the embedding of every window of 76 mel frames ending on
  mel frame 5, 6, 7, ... ([windows, 96]); the mel history starts as 76 frames of
  ones, as openWakeWord's does. Hop h windows are rows 0, h, 2h, ...
* `openwakeword_hop8.f32`: what openWakeWord 0.6.0's own AudioFeatures gives when
  fed the clip in 1280-sample chunks (openwakeword installed with --no-deps:
  only its utils module and onnxruntime are used). It must equal rows 0, 8, 16, ...
  of `embedding_hop1.f32` for every complete chunk: the script checks it.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import soundfile as sf

HERE = Path(__file__).resolve().parent
MEL = HERE / "melspectrogram.onnx"
EMB = HERE / "embedding_model.onnx"


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def mel_frames(x, mel):
    """Mel frames of int16 samples x, in openWakeWord's streaming chunks."""
    run = lambda s: mel.run(None, {"input": s[None, :].astype(np.float32)})[0].squeeze(axis=(0, 1)) / 10 + 2
    out = []
    count = 0
    n = len(x)
    while True:
        start, length = (0, 1280) if count == 0 else (count * 160, 1632)
        if start + length > n:
            break
        f = run(x[start:start + length])
        out.append(f)
        count += f.shape[0]
    start, length = (0, 1280) if count == 0 else (count * 160, 1632)
    avail = n - start
    if avail >= 512:
        frames = (avail - 512) // 160 + 1
        chunk = np.zeros(length, np.float32)
        chunk[:avail] = x[start:]
        out.append(run(chunk)[:frames])
    return np.concatenate(out, axis=0)


def embeddings(mels, emb):
    hist = np.concatenate([np.ones((76, 32), np.float32), mels], axis=0)
    rows = []
    end = 5
    while end <= mels.shape[0]:
        w = hist[end:end + 76]  # hist index = mel index + 76
        rows.append(emb.run(None, {"input_1": w[None, :, :, None].astype(np.float32)})[0].reshape(96))
        end += 1
    return np.stack(rows)


def openwakeword_hop8(x):
    from openwakeword.utils import AudioFeatures

    af = AudioFeatures(melspec_model_path=str(MEL), embedding_model_path=str(EMB), inference_framework="onnx")
    af.feature_buffer_max_len = 10**9
    before = af.feature_buffer.shape[0]
    for i in range(0, len(x) - 1279, 1280):
        af._streaming_features(x[i:i + 1280])
    return af.feature_buffer[before:].astype(np.float32)


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    audio, rate = sf.read(src, dtype="int16")
    if audio.ndim > 1 or rate != 16000:
        sys.exit(f"{src}: need 16 kHz mono, got {rate} Hz, shape {audio.shape}")
    sf.write(out / "clip.wav", audio, 16000, subtype="PCM_16")
    x = audio.astype(np.float32)
    mel, emb = session(MEL), session(EMB)
    mels = mel_frames(x, mel)
    e1 = embeddings(mels, emb)
    oww = openwakeword_hop8(audio)
    full = (len(x) // 1280)  # windows openWakeWord makes: one per complete chunk
    ours = e1[0:8 * full:8]
    diff = float(np.abs(ours - oww).max())
    print(f"openWakeWord hop-8 windows: {oww.shape[0]}, ours {ours.shape[0]}, max |diff| {diff:.3g}")
    if oww.shape != ours.shape or diff > 1e-5:
        sys.exit("the reference does not reproduce openWakeWord's own streaming features")
    mels.astype("<f4").tofile(out / "mel.f32")
    e1.astype("<f4").tofile(out / "embedding_hop1.f32")
    oww.astype("<f4").tofile(out / "openwakeword_hop8.f32")
    meta = {
        "source": str(src.name),
        "samples": int(len(x)),
        "mel_frames": int(mels.shape[0]),
        "windows_hop1": int(e1.shape[0]),
        "openwakeword_windows": int(oww.shape[0]),
        "embedding_scale": float(np.abs(e1).max()),
        "mel_scale": float(np.abs(mels).max()),
        "max_diff_openwakeword": diff,
        "onnxruntime": ort.__version__,
    }
    (out / "reference.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
