#!/usr/bin/env bash
# Runs the first Python 3 that has torch: $EMOLENS_PYTHON, then Debian's /usr/bin/python3 (python3-torch), then python3.
# (A pyenv/venv python3 earlier on PATH usually lacks Debian's torch.)
for py in "${EMOLENS_PYTHON:-}" /usr/bin/python3 python3; do
  [ -n "$py" ] && command -v "$py" >/dev/null 2>&1 && "$py" -c 'import torch' 2>/dev/null && exec "$py" "$@"
done
echo "error: no python3 with PyTorch found; run: npm run setup:training" >&2
exit 1
