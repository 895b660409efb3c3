#!/usr/bin/env bash
# Round trip of wordspot's exports through other readers (issue 16):
#   * every exported .eaf validates against the EAF 3.0 XSD (EAFv3.0.xsd as
#     shipped in the pympi-ling 1.71 source package on PyPI), with lxml;
#   * pympi-ling reads the EAFs and praatio the TextGrids with the very times
#     wordspot printed (to the millisecond);
#   * merging into an EAF written by pympi and a TextGrid written by praatio
#     keeps their tiers.
# Usage: bench/linguist/run.sh [WORDSPOT_BINARY]   (default target/release/wordspot)
# Needs python3 with venv, PyPI on the first run (the venv is kept in
# $WORDSPOT_LINGUIST_VENV, default bench/linguist/.venv) and ../shared/data
# (or $WORDSPOT_SHARED_DATA). Run by tests/linguist_readers.rs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../target/release/wordspot}
data=${WORDSPOT_SHARED_DATA:-$here/../../../shared/data}
venv=${WORDSPOT_LINGUIST_VENV:-$here/.venv}
# Setting up (venv, PyPI) exits with status 3 on failure, so a caller can
# tell a missing tool from a failed check.
setup() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" &&
      "$venv/bin/pip" install -q pympi-ling==1.71 praatio==6.2.2 lxml || return 1
  fi
  if [ ! -s "$xsd" ]; then
    "$venv/bin/pip" download -q --no-deps --no-binary :all: pympi-ling==1.71 -d "$venv/sdist" &&
      tar xzf "$venv/sdist/pympi_ling-1.71.tar.gz" -O pympi_ling-1.71/test/EAFv3.0.xsd > "$xsd.part" &&
      mv "$xsd.part" "$xsd" || return 1
  fi
}
xsd=$venv/EAFv3.0.xsd
setup || { echo "setup failed: python3 venv, PyPI (pympi-ling, praatio, lxml) or the EAF 3.0 XSD" >&2; exit 3; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
# 12 "nine" and 12 "right" clips by many speakers; the query is another "nine".
ls "$data/speech_commands/nine" | sort | sed -n '2,13p' | while read -r f; do cp "$data/speech_commands/nine/$f" "$work/corpus/"; done
ls "$data/speech_commands/right" | sort | head -12 | while read -r f; do cp "$data/speech_commands/right/$f" "$work/corpus/right_$f"; done
query="$data/speech_commands/nine/$(ls "$data/speech_commands/nine" | sort | head -1)"
first=$(ls "$work/corpus" | sort | head -1)
second=$(ls "$work/corpus" | sort | sed -n 2p)
"$venv/bin/python" "$here/check.py" make "$work/corpus/$first" "$work/corpus/$second"
"$bin" search --query "$query" --word nine --per-file 2 --top-k 1000 --format jsonl --no-cache \
  --export eaf "$work/out" --export textgrid "$work/out" "$work/corpus" > "$work/hits.jsonl"
"$venv/bin/python" "$here/check.py" check "$work/out" "$work/hits.jsonl" "$xsd" "$work/corpus"
