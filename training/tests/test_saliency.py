"""training/explain/saliency.py and training/explain/gradcam_outputs.py on the shipped model: guided backprop and
autograd Grad-CAM give maps over the crop in [0, 1] that depend on the class, and the graph surgery finds both branches and is
idempotent. (The TypeScript Grad-CAM is checked against these maps in test/explain.test.ts.)"""
from __future__ import annotations

import unittest
from pathlib import Path

import numpy as np

from training.tests.prerequisites import require_module

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "emolens-fer.onnx"


class Saliency(unittest.TestCase):
    def setUp(self):
        require_module(self, "onnx", "python3-onnx")
        from training.distill.teacher import OnnxTeacher
        self.teacher = OnnxTeacher(SHIPPED)
        rng = np.random.default_rng(0)
        # smooth random "faces": a blurred noise field, so the maps have something spatial to find
        noise = rng.uniform(0, 255, (3, 12, 12))
        self.crops = np.stack([np.kron(n, np.ones((4, 4))) for n in noise]).astype(np.uint8)

    def test_guided_backprop_and_grad_cam_are_maps_over_the_crop_that_depend_on_the_class(self):
        from training.explain.saliency import grad_cam, guided_backprop
        for fn in (lambda c: guided_backprop(self.teacher, self.crops, c), lambda c: grad_cam(self.teacher, self.crops, c)[0]):
            happy, sad = fn([3, 3, 3]), fn([5, 5, 5])
            self.assertEqual(happy.shape, (3, 48, 48))
            self.assertTrue(((happy >= 0) & (happy <= 1)).all())
            self.assertTrue(np.allclose(happy.reshape(3, -1).max(1), 1))
            self.assertEqual(float(np.abs(happy[:, :2]).max()), 0.0, "the 2 px border is outside the net's window")
            self.assertGreater(float(np.abs(happy - sad).max()), 0.1)

    def test_the_surgery_finds_both_branches_and_reruns_as_a_no_op(self):
        import onnx
        from training.explain.gradcam_outputs import add_gradcam_outputs
        model = onnx.load(str(SHIPPED))
        before = [o.name for o in model.graph.output]
        block = add_gradcam_outputs(model)
        self.assertEqual([(b["output"], b["hflip"]) for b in block["branches"]], [("gradcam_features_0", False), ("gradcam_features_1", True)])
        self.assertEqual(block["stride"], 8)
        self.assertEqual([o.name for o in model.graph.output], before)


if __name__ == "__main__":
    unittest.main()
