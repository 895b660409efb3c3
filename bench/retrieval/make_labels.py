# /// script
# requires-python = ">=3.10"
# dependencies = ["soundfile==0.12.1"]
# ///
"""Writes the cross-speaker retrieval sets of ../shared/data as wordspot labels.

    python3 bench/retrieval/make_labels.py [SHARED_DATA]

* `shared325.tsv`: 40 alexa + 40 computer (wake_words, many speakers) + 50 each of
  nine/right/zero (speech_commands, many speakers) + the 98 Spanish not-wake-words
  as recordings without a labelled word: 325 recordings, 230 queries.
* `shared-small.tsv`: 10 of each word + 20 Spanish distractors (the CI floor test).

Each keyword clip is one occurrence spanning the whole clip; `wordspot eval retrieval
--trim` narrows it to the voiced part. The clips are taken in file-name order.
File names are relative to this folder (`../../../shared/data/...`), the layout of a
checkout with `shared/` beside it.
"""
import os
import sys
from pathlib import Path

import soundfile as sf

HERE = Path(__file__).resolve().parent


def pick(folder, n, ext):
    files = sorted(p for p in folder.iterdir() if p.suffix == ext)
    key = (lambda p: (len(p.stem), p.stem)) if ext == ".flac" else (lambda p: p.name)
    return sorted(files, key=key)[:n]


def write(name, data, counts, distractors):
    rows = ["file\tword\tstart\tend"]
    for word, (folder, ext) in {
        "alexa": (data / "wake_words/alexa", ".flac"),
        "computer": (data / "wake_words/computer", ".flac"),
        "nine": (data / "speech_commands/nine", ".wav"),
        "right": (data / "speech_commands/right", ".wav"),
        "zero": (data / "speech_commands/zero", ".wav"),
    }.items():
        for p in pick(folder, counts[word], ext):
            rel = os.path.relpath(p, HERE)
            rows.append(f"{rel}\t{word}\t0\t{sf.info(p).duration:.3f}")
    for p in pick(data / "spanish_one_speaker/not-wake-words/es", distractors, ".wav"):
        rows.append(os.path.relpath(p, HERE))
    (HERE / name).write_text("\n".join(rows) + "\n")
    print(f"{name}: {len(rows) - 1} recordings")


def main():
    data = Path(sys.argv[1] if len(sys.argv) > 1 else HERE / "../../../shared/data").resolve()
    big = {"alexa": 40, "computer": 40, "nine": 50, "right": 50, "zero": 50}
    write("shared325.tsv", data, big, 98)
    write("shared-small.tsv", data, {w: 10 for w in big}, 20)


if __name__ == "__main__":
    main()
