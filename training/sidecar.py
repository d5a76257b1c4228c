"""The file side of the model contract (docs/model-contract.md): the .onnx file's sha256 and the sidecar beside it."""
from __future__ import annotations

import hashlib
import json
import os


def sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_sidecar(onnx_path, sidecar: dict) -> str:
    """Writes `sidecar` as `<onnx_path without .onnx>.json` (2-space JSON, newline-terminated); returns that path."""
    path = os.path.splitext(str(onnx_path))[0] + ".json"
    with open(path, "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    return path
