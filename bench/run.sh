#!/usr/bin/env bash
# Runs wordspot and the EfficientWord-Net peer on a benchmark built by
# `cargo run --release --example detection_bench -- --out BENCH_DIR`.
# usage: bench/run.sh BENCH_DIR [extra wordspot args, e.g. --frontend embedding]
set -euo pipefail
bench="$(cd "$1" && pwd)"; shift
root="$(cd "$(dirname "$0")/.." && pwd)"
ws="$root/target/release/wordspot"
[ -x "$ws" ] || (cd "$root" && cargo build --release)
[ -x /usr/bin/time ] || apt-get install -y time
work="$bench/wordspot_run"; rm -rf "$work"; mkdir -p "$work"
tpl="$work/templates"
for k in $(ls "$bench/enroll"); do
  "$ws" enroll --name "$k" --out "$tpl" "$@" "$bench"/enroll/"$k"/*.wav >"$work/enroll_$k.log"
done
/usr/bin/time -v "$ws" calibrate --templates "$tpl" --background "$bench/calibration" --fa-per-hour 1 "$@" \
  >"$work/calibrate.log" 2>"$work/calibrate.time"
/usr/bin/time -v "$ws" eval stream --labels "$bench/streams/labels.tsv" --templates "$tpl" --format jsonl "$@" \
  >"$work/eval.jsonl" 2>"$work/eval.time"
peer="$root/bench/peers/efficientword_net"
[ -x "$peer/.venv/bin/python" ] || "$peer/setup.sh"
"$peer/.venv/bin/python" "$peer/run.py" "$bench" --out "$work/efficientword_net.json" >"$work/peer.log"
python3 - "$work" "$*" <<'PY'
import json, re, sys
work, extra = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(f"{work}/eval.jsonl") if l.strip()]
p = [r for r in rows if r["keyword"] == "*"][0]
t = open(f"{work}/eval.time").read()
cpu = float(re.search(r"User time.*: ([\d.]+)", t).group(1)) + float(re.search(r"System time.*: ([\d.]+)", t).group(1))
rss = int(re.search(r"Maximum resident set size.*: (\d+)", t).group(1)) / 1024
m = lambda q: "-" if q is None else f"{100*q['miss_rate']:.1f}%"
d = p["at_threshold"]
print("| system | miss @ 1 FA/h | miss @ 0.1 FA/h | shipped default: miss / FA/h | CPU s per audio hour | peak RSS |")
print("|---|---|---|---|---|---|")
print(f"| wordspot {extra or '(default frontend)'} (calibrated) | {m(p['at_1_fa_per_hour'])} | {m(p['at_0_1_fa_per_hour'])} | "
      f"{100*d['miss_rate']:.1f}% / {d['fa_per_hour']:.2f} | {cpu/p['hours']:.0f} (eval incl. sweep) | {rss:.0f} MB |")
e = json.load(open(f"{work}/efficientword_net.json")); P = e["pooled"]
print(f"| {e['system']} | {m(P['at_1_fa_per_hour'])} | {m(P['at_0_1_fa_per_hour'])} | "
      f"{100*P['at_default']['miss_rate']:.1f}% / {P['at_default']['fa_per_hour']:.2f} | {e['cpu_s_per_audio_hour']:.0f} | {e['peak_rss_mb']:.0f} MB |")
PY
