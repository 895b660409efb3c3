#!/usr/bin/env bash
# Re-extracts the built-in word-verifier model from the PyPI wheel it was taken
# from (efficientword-net 1.0.5) and checks it against SHA256SUMS.
#   models/word_verifier/fetch.sh            # check the committed file
#   models/word_verifier/fetch.sh --write    # also overwrite it
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" efficientword-net==1.0.5
(cd "$tmp" && python3 -m zipfile -e ./efficientword_net-1.0.5-*.whl wheel)
cp "$tmp/wheel/eff_word_net/models/resnet_50_arc/slim_93%_accuracy_72.7390%_qint8.onnx" \
    "$tmp/resnet50_arc_qint8.onnx"
(cd "$tmp" && sha256sum -c "$here/SHA256SUMS")
if [ "${1:-}" = --write ]; then
    cp "$tmp/resnet50_arc_qint8.onnx" "$here/"
    echo "wrote $here/resnet50_arc_qint8.onnx"
fi
