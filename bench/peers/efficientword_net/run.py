#!/usr/bin/env python3
"""EfficientWord-Net 1.0.5 on a wordspot detection benchmark (eval::bench layout).

usage: .venv/bin/python run.py BENCH_DIR [--out results.json]

* references: eff_word_net.generate_reference.generate_reference_file on enroll/KEYWORD/*.wav
  (it asserts > 3 embeddings: with 3 takes, take_1 is repeated as a 4th file; the score is a
  max over references, so a repeat changes nothing);
* detector: its default model (Resnet50_Arc_loss, 1.5 s window), the CustomAudioStream default
  sliding step of 1/8 s, HotwordDetector defaults (threshold 0.9, relaxation_time 0.8 s,
  continuous=True). The stream is replayed offline, so relaxation time is counted in stream time.
  One embedding per window is scored against every keyword (as MultiHotwordDetector does).
* scoring: wordspot's rules (event = a window [t-1.5 s, t]; it hits a labelled occurrence of its
  keyword when it overlaps it; other events and repeats on an occurrence are false alarms;
  FA/h over total stream hours; miss at <= R FA/h = best swept threshold with at most R FA/h).
"""
import os
for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[v] = "1"
import json, shutil, sys, tempfile, time, resource, csv
import numpy as np
import onnxruntime as rt
import soundfile as sf

_orig = rt.InferenceSession
def _one_thread(*a, **k):
    so = k.get("sess_options") or rt.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    k["sess_options"] = so
    return _orig(*a, **k)
rt.InferenceSession = _one_thread

from eff_word_net.audio_processing import Resnet50_Arc_loss, ModelType
from eff_word_net.generate_reference import generate_reference_file

RATE = 16000
HOP = RATE // 8          # CustomAudioStream default sliding_window_secs = 1/8
DEFAULT_THRESHOLD = 0.9  # HotwordDetector default
RELAXATION = 0.8         # HotwordDetector default relaxation_time


def read_labels(path):
    occ, files = {}, []
    for row in csv.reader(open(path), delimiter="\t"):
        if not row or row[0] == "file":
            continue
        if row[0] not in files:
            files.append(row[0])
        if len(row) >= 4 and row[1]:
            occ.setdefault((row[0], row[1]), []).append((float(row[2]), float(row[3])))
    return files, occ


def events_for(times, scores, threshold, relax):
    """HotwordDetector.scoreVector with continuous=True: a score over the threshold
    triggers unless within `relax` s of the last trigger (then 0.001, no trigger)."""
    ev, last = [], -1e9
    for t, s in zip(times, scores):
        if s > threshold:
            if t - last < relax:
                continue
            last = t
            ev.append((t - 1.5, t, s))
    return ev


def score(events_by_file, occ_by_file, n_occ, hours):
    """wordspot's rule: events sorted by confidence; first hit on an occurrence counts,
    every other event is a false alarm."""
    hits, fa = set(), 0
    for f, evs in events_by_file.items():
        occs = occ_by_file.get(f, [])
        for (a, b, s) in evs:
            best, ov = None, 0.0
            for i, (oa, ob) in enumerate(occs):
                o = min(b, ob) - max(a, oa)
                if a < ob and oa < b and o > ov:
                    best, ov = i, o
            if best is None or (f, best) in hits:
                fa += 1
            else:
                hits.add((f, best))
    return {"hits": len(hits), "misses": n_occ - len(hits), "false_alarms": fa,
            "miss_rate": (n_occ - len(hits)) / max(n_occ, 1), "fa_per_hour": fa / hours}


def main():
    bench = sys.argv[1]
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else os.path.join(bench, "efficientword_net_results.json")
    files, occ = read_labels(os.path.join(bench, "streams", "labels.tsv"))
    keywords = sorted({k for (_, k) in occ})
    model = Resnet50_Arc_loss()
    refs, notes = {}, []
    tmp = tempfile.mkdtemp()
    for k in keywords:
        d = os.path.join(tmp, k)
        os.makedirs(d)
        takes = sorted(os.listdir(os.path.join(bench, "enroll", k)))
        for t in takes:
            shutil.copy(os.path.join(bench, "enroll", k, t), os.path.join(d, t))
        if len(takes) < 4:
            shutil.copy(os.path.join(d, takes[0]), os.path.join(d, "repeat_" + takes[0]))
            notes.append(f"{k}: {len(takes)} takes, {takes[0]} repeated to meet its minimum of 4 references")
        generate_reference_file(input_dir=d, output_dir=tmp, wakeword=k,
                                model_type=ModelType.resnet_50_arc, debug=False)
        refs[k] = np.array(json.load(open(os.path.join(tmp, f"{k}_ref.json")))["embeddings"], dtype=np.float32)
    for n in notes:
        print("note:", n)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    seconds, scores = 0.0, {}
    for f in files:
        x, sr = sf.read(os.path.join(bench, "streams", f), dtype="float32")
        assert sr == RATE
        seconds += len(x) / RATE
        win = model.window_frames
        buf = np.zeros(win, dtype=np.float32)  # the stream's initial blank window
        times, per = [], {k: [] for k in keywords}
        for i in range(0, len(x) - HOP + 1, HOP):
            buf = np.append(buf[HOP:], x[i:i + HOP])
            e = model.audioToVector(buf.astype(np.float32))
            for k in keywords:
                per[k].append(float(model.scoreVector(e, refs[k])))
            times.append((i + HOP) / RATE)
        scores[f] = (times, per)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    hours = seconds / 3600
    res = {"system": "EfficientWord-Net 1.0.5 (resnet_50_arc, 1.5 s window, 1/8 s hop)", "hours": hours,
           "cpu_s_per_audio_hour": cpu / hours, "peak_rss_mb": r1.ru_maxrss / 1024, "notes": notes, "keywords": {}}
    pooled_default = {"hits": 0, "misses": 0, "false_alarms": 0}
    all_curves = {}
    for k in keywords:
        occ_k = {f: occ.get((f, k), []) for f in files}
        n = sum(len(v) for v in occ_k.values())
        d = score({f: events_for(*[scores[f][0], scores[f][1][k]], DEFAULT_THRESHOLD, RELAXATION) for f in files}, occ_k, n, hours)
        grid = np.unique(np.concatenate([np.quantile(np.concatenate([scores[f][1][k] for f in files]), np.linspace(0.5, 1, 200)), np.linspace(0.5, 0.999, 100)]))
        curve = []
        for th in grid:
            p = score({f: events_for(scores[f][0], scores[f][1][k], th, RELAXATION) for f in files}, occ_k, n, hours)
            p["threshold"] = float(th)
            curve.append(p)
        best = lambda r: min([p for p in curve if p["fa_per_hour"] <= r + 1e-12], key=lambda p: (p["miss_rate"], -p["threshold"]), default=None)
        res["keywords"][k] = {"occurrences": n, "at_default": d, "at_1_fa_per_hour": best(1.0), "at_0_1_fa_per_hour": best(0.1), "curve": curve}
        for key in pooled_default:
            pooled_default[key] += d[key]
        all_curves[k] = curve
    n_all = sum(v["occurrences"] for v in res["keywords"].values())
    pooled_default["miss_rate"] = pooled_default["misses"] / max(n_all, 1)
    pooled_default["fa_per_hour"] = pooled_default["false_alarms"] / (hours * len(keywords))
    # Pooled DET: same threshold for all keywords, FA per hour per keyword (wordspot's pooled rule).
    pooled_curve = []
    thr = sorted({p["threshold"] for c in all_curves.values() for p in c})
    for th in thr[::max(1, len(thr) // 300)]:
        h = fa = 0
        for k in keywords:
            occ_k = {f: occ.get((f, k), []) for f in files}
            n = sum(len(v) for v in occ_k.values())
            p = score({f: events_for(scores[f][0], scores[f][1][k], th, RELAXATION) for f in files}, occ_k, n, hours)
            h += p["hits"]; fa += p["false_alarms"]
        pooled_curve.append({"threshold": th, "hits": h, "misses": n_all - h, "false_alarms": fa,
                             "miss_rate": (n_all - h) / n_all, "fa_per_hour": fa / (hours * len(keywords))})
    best = lambda r: min([p for p in pooled_curve if p["fa_per_hour"] <= r + 1e-12], key=lambda p: (p["miss_rate"], -p["threshold"]), default=None)
    res["pooled"] = {"occurrences": n_all, "at_default": pooled_default, "at_1_fa_per_hour": best(1.0), "at_0_1_fa_per_hour": best(0.1)}
    json.dump(res, open(out, "w"), indent=1)
    m = lambda p: "-" if p is None else f"{100 * p['miss_rate']:.1f}%"
    P = res["pooled"]
    print(f"| {res['system']} | {m(P['at_1_fa_per_hour'])} | {m(P['at_0_1_fa_per_hour'])} | "
          f"{100 * P['at_default']['miss_rate']:.1f}% / {P['at_default']['fa_per_hour']:.2f} | {res['cpu_s_per_audio_hour']:.0f} | {res['peak_rss_mb']:.0f} MB |")
    print("results:", out)


if __name__ == "__main__":
    main()
