# /// script
# requires-python = ">=3.10"
# dependencies = ["numpy==2.0.2", "soundfile==0.12.1"]
# ///
"""Rebuilds the bundled demo audio from ../shared/data (the outputs are committed;
this script documents how they were made).

    python3 examples/demo/make_data.py [SHARED_DATA]

Keyword "alexa" (Picovoice wake-word-benchmark, Apache-2.0: crowd-sourced, every clip a
different contributor's recording). Other speech: "computer" clips (same source),
Spanish words (Mycroft Precise community data, public-domain waiver) and speech_commands
words (Google Speech Commands, CC BY 4.0). No clip is used twice:

* enroll/alexa_{0,1,2}.flac: three takes (three recordings) for enrollment;
* stream.flac + stream.tsv: ~50 s of other speech with 4 more "alexa"s planted, by
  other recordings, labelled by their voiced extent;
* background.flac: ~60 s of keyword-free speech for calibration (other clips);
* query/alexa.flac + corpus/*.flac: a fourth speaker's take searched in 12 recordings,
  4 of which hold "alexa".
"""
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
RATE = 16000


def voiced(x, lead=0.1, tail=0.1):
    """The clip cut to its voiced part (20 ms frames within 35 dB of the loudest)."""
    f = 320
    n = len(x) // f
    e = np.array([np.mean(x[i * f:(i + 1) * f] ** 2) + 1e-12 for i in range(n)])
    db = 10 * np.log10(e)
    on = np.nonzero(db > db.max() - 35)[0]
    a = max(0, on[0] * f - int(lead * RATE))
    b = min(len(x), (on[-1] + 1) * f + int(tail * RATE))
    return x[a:b]


def read(p):
    x, sr = sf.read(p, dtype="float32")
    assert sr == RATE and x.ndim == 1, p
    return x


def write(p, x):
    p.parent.mkdir(parents=True, exist_ok=True)
    sf.write(p, x, RATE, subtype="PCM_16", format="FLAC")


def main():
    data = Path(sys.argv[1] if len(sys.argv) > 1 else HERE / "../../../shared/data").resolve()
    alexa = sorted((data / "wake_words/alexa").glob("*.flac"), key=lambda p: (len(p.stem), p.stem))
    computer = sorted((data / "wake_words/computer").glob("*.flac"), key=lambda p: (len(p.stem), p.stem))
    spanish = sorted((data / "spanish_one_speaker/not-wake-words/es").glob("*.wav"))
    commands = sorted((data / "speech_commands/right").glob("*.wav")) + sorted(
        (data / "speech_commands/zero").glob("*.wav"))
    rng = np.random.default_rng(7)
    for d in ["enroll", "query", "corpus"]:
        for f in (HERE / d).glob("*"):
            f.unlink()
    # Clips 100.. are used, far from the ones the tests and benchmarks start from.
    al = iter(alexa[100:])
    co = iter(computer[100:])
    es = iter(spanish[40:])
    sc = iter(commands[40:])
    for i in range(3):
        write(HERE / f"enroll/alexa_{i}.flac", voiced(read(next(al)), 0.05, 0.05))
    write(HERE / "query/alexa.flac", voiced(read(next(al)), 0.05, 0.05))
    # Corpus: 4 alexa + 3 computer + 3 Spanish + 2 commands, whole clips.
    for i in range(4):
        write(HERE / f"corpus/alexa_{i}.flac", read(next(al)))
    for i in range(3):
        write(HERE / f"corpus/computer_{i}.flac", read(next(co)))
    for i in range(3):
        write(HERE / f"corpus/spanish_{i}.flac", read(next(es)))
    for i in range(2):
        write(HERE / f"corpus/command_{i}.flac", read(next(sc)))

    def speech(n_es, n_sc, n_co):
        parts = [voiced(read(next(es))) for _ in range(n_es)]
        parts += [voiced(read(next(sc))) for _ in range(n_sc)]
        parts += [voiced(read(next(co))) for _ in range(n_co)]
        rng.shuffle(parts)
        return parts

    # Stream: other speech with 4 planted alexas, gaps of 0.2-0.6 s, a quiet noise floor.
    parts = speech(14, 8, 4)
    planted = set(rng.choice(np.arange(2, len(parts)), size=4, replace=False).tolist())
    out, labels, t = [], [], 0.0
    for i, p in enumerate(parts):
        if i in planted:
            w = voiced(read(next(al)), 0.0, 0.0)
            gap = np.zeros(int(rng.uniform(0.2, 0.6) * RATE), np.float32)
            out += [gap, w]
            t += len(gap) / RATE
            labels.append((t, t + len(w) / RATE))
            t += len(w) / RATE
        gap = np.zeros(int(rng.uniform(0.2, 0.6) * RATE), np.float32)
        out += [gap, p]
        t += (len(gap) + len(p)) / RATE
    x = np.concatenate(out)
    x += rng.normal(0, 10 ** (-60 / 20), len(x)).astype(np.float32)
    write(HERE / "stream.flac", x)
    with open(HERE / "stream.tsv", "w") as f:
        f.write("file\tword\tstart\tend\n")
        for a, b in labels:
            f.write(f"stream.flac\talexa\t{a:.3f}\t{b:.3f}\n")
    # Background: keyword-free, other clips.
    parts = speech(18, 10, 6)
    out = []
    for p in parts:
        out += [np.zeros(int(rng.uniform(0.2, 0.6) * RATE), np.float32), p]
    y = np.concatenate(out)
    y += rng.normal(0, 10 ** (-60 / 20), len(y)).astype(np.float32)
    write(HERE / "background.flac", y)
    print(f"stream {len(x) / RATE:.1f} s, {len(labels)} alexa; background {len(y) / RATE:.1f} s")


if __name__ == "__main__":
    main()
