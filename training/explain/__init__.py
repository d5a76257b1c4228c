"""Explanations of an exported model: the Grad-CAM outputs added to its graph and sidecar (gradcam_outputs.py) and
the PyTorch reference maps, Grad-CAM by autograd and guided backprop (saliency.py). See docs/explain.md."""
