#!/usr/bin/env bash
# Rebuilds the bundled demo audio from the Free Spoken Digit Dataset (CC BY-SA 4.0,
# github.com/Jakobovski/free-spoken-digit-dataset), as found in ../shared/data/fsdd.
# Needs sox. The outputs are committed; this script documents how they were made.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fsdd="${1:-$here/../../../shared/data/fsdd}"
out="$here"
KW=7          # the demo keyword: "seven"
rm -rf "$out/enroll" "$out/corpus" "$out/stream.wav" "$out/stream.tsv"
mkdir -p "$out/enroll" "$out/corpus"

# Enrollment: three takes of "seven" by george.
for t in 0 1 2; do cp "$fsdd/${KW}_george_$t.wav" "$out/enroll/seven_$t.wav"; done

# Corpus for `search`: one recording per digit by lucas, plus two more "seven"s by nicolas and jackson.
for d in 0 1 2 3 4 5 6 7 8 9; do cp "$fsdd/${d}_lucas_7.wav" "$out/corpus/${d}_lucas.wav"; done
cp "$fsdd/${KW}_nicolas_8.wav" "$out/corpus/${KW}_nicolas.wav"
cp "$fsdd/${KW}_jackson_8.wav" "$out/corpus/${KW}_jackson.wav"

# Stream for `listen`: jackson says a digit sequence with pauses; labels in stream.tsv.
seq=(3 7 1 0 4 7 5 2 9 7 8 6)
parts=()
t=0
printf 'file\tword\tstart\tend\n' > "$out/stream.tsv"
sil="$(mktemp -d)"
sox -n -r 8000 -c 1 -b 16 "$sil/gap.wav" trim 0 0.4
for i in "${!seq[@]}"; do
  d=${seq[$i]}
  f="$fsdd/${d}_jackson_$((10 + i)).wav"
  dur=$(soxi -D "$f")
  if [ "$d" = "$KW" ]; then
    printf 'stream.wav\tseven\t%.3f\t%.3f\n' "$(echo "$t + 0.4" | bc -l)" "$(echo "$t + 0.4 + $dur" | bc -l)" >> "$out/stream.tsv"
  fi
  parts+=("$sil/gap.wav" "$f")
  t=$(echo "$t + 0.4 + $dur" | bc -l)
done
parts+=("$sil/gap.wav")
sox "${parts[@]}" "$out/stream.wav"
rm -rf "$sil"
echo "wrote $(du -sh "$out" | cut -f1) of demo audio to $out"
