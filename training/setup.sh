#!/usr/bin/env bash
# Installs what training/ needs from Debian: PyTorch (CPU), NumPy, Pillow, ONNX (distillation reads shipped models). Idempotent.
set -euo pipefail
if training/py.sh -c 'import torch, numpy, PIL, onnx' 2>/dev/null; then
  echo "training: $(training/py.sh -c 'import torch; print("PyTorch", torch.__version__)') already available"
  exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch python3-numpy python3-pil python3-onnx >/dev/null
training/py.sh -c 'import torch; print("training: PyTorch", torch.__version__, "installed")'
