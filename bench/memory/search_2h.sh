#!/usr/bin/env bash
# Peak memory of `wordspot search` over one 2-hour recording (issue 14: under 150 MB).
#
# usage: bench/memory/search_2h.sh [--release] [--bin PATH] [extra search args, e.g. --frontend mfcc]
#
# Builds (once, in $WORK, default bench-out/memory) a 2 h, 16 kHz mono recording by
# concatenating real speech from ../shared/data (or $WORDSPOT_SHARED_DATA) with sox:
# Speech Commands nine/right/zero (the query's own clip left out), the Spanish clips and
# the FSDD digits (resampled to 16 kHz), about 25 min, repeated and cut to 7200 s.
# Then runs `wordspot search --no-cache` over it under `/usr/bin/time -v` and prints
# the peak RSS, the wall time and the best hit. `--bin` measures another build of
# wordspot (e.g. an older commit's) on the same file.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="${WORDSPOT_SHARED_DATA:-$root/../shared/data}"
work="${WORK:-$root/bench-out/memory}"
profile=debug
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release; shift ;;
    --bin) bin="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -d "$data/speech_commands" ] || { echo "no shared data at $data" >&2; exit 2; }
command -v sox >/dev/null || { echo "sox is needed to build the recording" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) is needed" >&2; exit 2; }
if [ -z "$bin" ]; then
  if [ "$profile" = release ]; then
    (cd "$root" && cargo build --release --quiet)
  else
    (cd "$root" && cargo build --quiet)
  fi
  bin="$root/target/$profile/wordspot"
fi
mkdir -p "$work"
query="$(ls "$data"/speech_commands/nine/*.wav | head -n 1)"
rec="$work/rec2h.wav"
if [ ! -s "$rec" ]; then
  parts="$work/parts"; rm -rf "$parts"; mkdir -p "$parts"
  # Batches of 100 clips (sox opens every input at once); each batch has one sample rate.
  batch() { # name files...
    local name="$1"; shift
    printf '%s\n' "$@" | split -l 100 - "$parts/$name.list."
    for l in "$parts/$name".list.*; do
      mapfile -t fs <"$l"
      sox -V1 "${fs[@]}" -r 16000 -c 1 -b 16 "$l.wav"
    done
  }
  mapfile -t sc < <(ls "$data"/speech_commands/{nine,right,zero}/*.wav | grep -vxF "$query")
  batch sc "${sc[@]}"
  batch es "$data"/spanish_one_speaker/heycomputer/es/*.wav "$data"/spanish_one_speaker/not-wake-words/es/*.wav
  batch fsdd "$data"/fsdd/*.wav
  sox "$parts"/*.list.*.wav "$work/pool.wav"
  pool_s="$(soxi -D "$work/pool.wav")"
  reps="$(python3 -c "import math; print(math.ceil(7200 / $pool_s))")"
  sox "$work/pool.wav" "$rec" repeat "$((reps - 1))" trim 0 7200
  rm -rf "$parts" "$work/pool.wav"
fi
echo "recording: $rec ($(soxi -d "$rec"), $(du -h "$rec" | cut -f1)); query: $query"
echo "binary: $bin; search args: ${*:-(defaults)}"
/usr/bin/time -v "$bin" search --query "$query" --no-cache --format tsv "$@" "$rec" \
  >"$work/search.tsv" 2>"$work/search.time"
rss_kb="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/search.time")"
wall="$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/search.time")"
echo "peak RSS: $((rss_kb / 1024)) MB ($rss_kb kB); wall: $wall"
echo "best hit: $(sed -n 2p "$work/search.tsv")"
