"""training/models/facerec.py: dlib's face-recognition ResNet (face-api's weights) as a torch backbone.

    /usr/bin/python3 -m unittest training.tests.test_facerec

The weights ship in the npm dependency @vladmandic/face-api, so after `npm ci` nothing else is needed.
"""
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from training.models.facerec import MANIFEST, MEAN_RGB, FaceRecEmotion, FaceRecNet, check, load_weights

torch.set_num_threads(1)


@unittest.skipUnless(MANIFEST.exists(), f"{MANIFEST} missing: run npm ci")
class FaceRec(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = load_weights()

    def test_every_shipped_weight_is_used(self):
        names = {k.rsplit("/", 2)[0] for k in self.w if k != "fc"}
        net = FaceRecNet(self.w)
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        # 1 stem + 14 residual blocks x 2 convs, and each face-api conv (filters, bias, scale weights/biases) is one
        self.assertEqual(len(convs), 29)
        self.assertEqual(len(names), 29)
        self.assertEqual(len(self.w), 29 * 4 + 1)
        self.assertEqual(tuple(net(torch.rand(2, 3, 150, 150) * 255).shape), (2, 128))

    def test_the_gray_stem_equals_the_rgb_stem_on_gray_faces(self):
        rgb_net, gray_net = FaceRecNet(self.w), FaceRecEmotion(w=self.w, work=64)
        gray = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(0))  # 0..1
        rgb = (gray.repeat(1, 3, 1, 1) * 255 - torch.tensor(MEAN_RGB).view(1, 3, 1, 1)) / 255
        with torch.no_grad():
            a, b = rgb_net.trunk.stem(rgb), gray_net.trunk.stem(gray)
            # float32 sums in a different order: 7.6e-6 at worst over 200 random inputs, on values of this scale
            self.assertLess((a - b).abs().max().item(), 1e-6 * max(1.0, a.abs().max().item()) + 2e-5)

    def test_the_emotion_net_reads_the_pipeline_normalisation_and_any_crop(self):
        net = FaceRecEmotion(w=self.w, work=64).eval()
        net.set_input_normalization(0.5, 0.25)
        g = torch.rand(2, 1, 44, 44, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            direct = net.head(net.trunk(F.interpolate(g, size=(64, 64), mode="bilinear", align_corners=False)).mean((2, 3)))
            self.assertLess((net((g - 0.5) / 0.25) - direct).abs().max().item(), 1e-5)
            for size in (44, 48, 64):
                self.assertEqual(tuple(net(torch.randn(2, 1, size, size)).shape), (2, 7))

    def test_the_stem_stays_frozen_and_the_rest_trains(self):
        net = FaceRecEmotion(w=self.w, work=64)
        self.assertFalse(any(p.requires_grad for p in net.trunk.stem.parameters()))
        self.assertTrue(all(p.requires_grad for p in net.trunk.stages.parameters()))
        self.assertTrue(all(p.requires_grad for p in net.head.parameters()))

    def test_torch_gives_face_apis_descriptors(self):
        # face-api's own forward on TF.js (cpu backend) through scripts/facerec-descriptors.mjs, ~10 s
        self.assertLess(check(2), 1e-4)


if __name__ == "__main__":
    unittest.main()
