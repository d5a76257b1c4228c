"""Converters from TF.js: the graph and weights reader (tfjs.py), BlazeFace -> ONNX (tfjs_to_onnx.py) and face-api's
68-point landmark net -> ONNX (landmarks68.py). They write ONNX files and sidecars; they never train."""
