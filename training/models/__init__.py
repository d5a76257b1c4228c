"""Networks: the registry every architecture is built from by name (registry.py), dlib's face-recognition ResNet
ported from face-api (facerec.py), the pretrained face backbones replayed from TF.js (pretrained.py) and the probes
of their frozen features (probe.py). No training loop lives here."""
