#!/usr/bin/env bash
# Throwaway venv for the EfficientWord-Net peer (bench/peers/efficientword_net/.venv).
# PyAudio (one of its dependencies) needs the PortAudio headers to build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! dpkg -s portaudio19-dev >/dev/null 2>&1; then
  apt-get install -y portaudio19-dev
fi
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install --upgrade pip >/dev/null
# The package's own pins first; if they cannot be met on this Python, install it
# without them and add its runtime imports unpinned (reported by this script).
if ! "$here/.venv/bin/pip" install efficientword-net==1.0.5; then
  echo "setup.sh: pinned dependencies of efficientword-net 1.0.5 failed to install; retrying with --no-deps + unpinned runtime deps" >&2
  "$here/.venv/bin/pip" install --no-deps efficientword-net==1.0.5
  "$here/.venv/bin/pip" install numpy librosa onnxruntime pyaudio
fi
"$here/.venv/bin/python" -c "import eff_word_net, onnxruntime; print('eff_word_net at', eff_word_net.__file__, 'onnxruntime', onnxruntime.__version__)"
