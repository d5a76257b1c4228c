"""Distillation: shipped models and checkpoints as frozen teachers (teacher.py), a teacher ensemble's val figures
and cached soft targets (ensemble.py), and the teacher -> student GPU campaign (campaign.py)."""
