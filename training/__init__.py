"""emolens model factory: FER2013 -> PyTorch -> ONNX + JSON sidecar (the model contract, docs/model-contract.md)."""
