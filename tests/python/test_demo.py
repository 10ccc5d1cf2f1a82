"""Python-side tests of the default model's training code (tools/pysjd2/demo_train.py).

    /usr/bin/python3 -m unittest discover -s tests/python -v

* The renderer (with its cached background canvases) reproduces the committed ground-truth
  images pixel for pixel.
* Batches: left padding, [BOS] prompt [BOI], masks, noise levels on the Karras grid, seeded.
* VQ encoding on the training device equals the reference encoder.
* The schedule: warm-up and cosine per cycle, and a new cycle restarts both.
* Two training steps on the CPU, then a new cycle from the saved weights.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import types
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from pysjd2 import demo_train, noise_schedule, shapes, vq  # noqa: E402

SHAPES_DATA = os.path.join(ROOT, "tests", "data", "shapes")


class RendererTests(unittest.TestCase):
    def test_renders_equal_the_committed_ground_truth(self):
        with open(os.path.join(SHAPES_DATA, "labels.json"), encoding="utf-8") as f:
            labels = json.load(f)
        for case in labels[:40]:
            scene = {"objects": [dict(o) for o in case["shapes"]],
                     "background": shapes.BACKGROUNDS.index(tuple(case["background"])),
                     "texture": case["texture"]}
            expected = np.asarray(Image.open(os.path.join(SHAPES_DATA, case["file"])).convert("RGB"))
            np.testing.assert_array_equal(shapes.render(scene), expected, err_msg=case["file"])


class NoiseScheduleTests(unittest.TestCase):
    def test_window_ramp_is_clean_at_the_front_and_rises_to_sigma_max(self):
        span = noise_schedule.MINIMUM_SPAN
        ramp = noise_schedule.window_ramp(span, 0.02, 1.0, 7.0)
        self.assertEqual(ramp[0], 0.0)
        self.assertAlmostEqual(float(ramp[1]), 0.02, places=6)
        self.assertAlmostEqual(float(ramp[-1]), 1.0, places=6)
        self.assertTrue((np.diff(ramp[1:]) > 0).all())
        # one level per noisy position: the ramp is the Karras grid of span - 1 levels, reversed
        np.testing.assert_array_equal(ramp[1:], noise_schedule.karras_grid(span - 1, 0.02, 1.0, 7.0)[::-1])
        # a narrower window feeds the ramp's start; a wider one stretches it to its own end
        np.testing.assert_array_equal(noise_schedule.window_ramp(15, 0.02, 1.0, 7.0), ramp[:15])
        wide = noise_schedule.window_ramp(100, 0.02, 1.0, 7.0)
        self.assertAlmostEqual(float(wide[-1]), 1.0, places=6)
        np.testing.assert_array_equal(wide[1:], noise_schedule.karras_grid(99, 0.02, 1.0, 7.0)[::-1])

    def test_window_segment_puts_one_ramp_after_clean_context(self):
        rng = np.random.default_rng(5)
        for _ in range(200):
            lv = noise_schedule.window_segment(rng, 256, 0.02, 1.0, 7.0, 8, 96)
            noisy = np.flatnonzero(lv)
            self.assertGreater(noisy.size, 0)
            self.assertEqual(lv[0], 0.0)
            self.assertTrue((np.diff(noisy) == 1).all(), "one contiguous stretch")
            self.assertAlmostEqual(float(lv[noisy[0]]), 0.02, places=6)
            self.assertEqual(lv[noisy[0] - 1], 0.0, "its first draft is fed clean")
            self.assertTrue((np.diff(lv[noisy]) > 0).all())


class BatchTests(unittest.TestCase):
    def test_rows_are_left_padded_prompts_with_noise_on_the_grid(self):
        b = demo_train.draw_batch(11, 16, demo_train.TRAIN, demo_train.CUDA_TEXT_WIDTH)
        self.assertEqual(b["text"].shape, (16, demo_train.CUDA_TEXT_WIDTH))
        self.assertEqual(b["images"].shape, (16, 64, 64, 3))
        self.assertEqual(b["levels"].shape, (16, demo_train.NUM_IMAGE_TOKENS))
        for row, mask in zip(b["text"], b["mask"]):
            real = row[mask == 1]
            self.assertTrue((row[mask == 0] == shapes.PAD_ID).all())
            self.assertTrue((np.diff(mask) >= 0).all(), "padding must be on the left")
            self.assertEqual(real[0], shapes.BOS_ID)
            self.assertEqual(real[-1], shapes.BOI_ID)
        # Per-pass rows use the manifest's grid; window-schedule rows the ramp of their window.
        grid = set(demo_train.karras_sigmas().tolist()) | {0.0}
        ramps = set()
        for w in range(demo_train.TRAIN["window_min"], demo_train.TRAIN["window_max"] + 1):
            ramps |= set(noise_schedule.window_ramp(w - 1, 0.02, 1.0, 7.0).tolist())
        self.assertTrue(set(np.unique(b["levels"]).tolist()) <= grid | ramps)
        self.assertTrue((b["levels"] > 0).any())
        again = demo_train.draw_batch(11, 16, demo_train.TRAIN, demo_train.CUDA_TEXT_WIDTH)
        for k in b:
            np.testing.assert_array_equal(b[k], again[k])

    def test_device_encoding_equals_the_reference_encoder(self):
        codebook = torch.load(os.path.join(ROOT, "onnx", "torch_state.pt"), map_location="cpu")["codebook"].float()
        images = demo_train.draw_batch(3, 8, demo_train.TRAIN, None)["images"]
        codes = demo_train.encode_images(torch.from_numpy(images), codebook).numpy()
        np.testing.assert_array_equal(codes, vq.encode(images, codebook.numpy()).reshape(8, -1))


class ScheduleTests(unittest.TestCase):
    def test_warm_up_cosine_and_a_new_cycle(self):
        t = dict(demo_train.TRAIN, lr=1.0, warmup=10, min_lr_ratio=0.0)
        state = {"step": 0, "seconds": 0.0, "total_steps": 100, "budget_seconds": None}
        self.assertAlmostEqual(demo_train.lr_at(state, t), 0.1)
        state["step"] = 50
        self.assertAlmostEqual(demo_train.lr_at(state, t), 0.5)
        state["step"] = 100
        self.assertEqual(demo_train.progress(state), 1.0)
        state.update(cycle_step=100, cycle_seconds=0.0)
        self.assertEqual(demo_train.progress(state), 0.0)
        self.assertAlmostEqual(demo_train.lr_at(state, t), 0.1)   # warm-up again
        state.update(step=150, budget_seconds=10.0, seconds=8.0)   # time budget further along
        self.assertAlmostEqual(demo_train.progress(state), 0.8)


class TrainingSmokeTests(unittest.TestCase):
    def test_two_steps_then_a_new_cycle_from_the_weights(self):
        with tempfile.TemporaryDirectory() as work:
            args = types.SimpleNamespace(work=work, device="cpu", batch=4, lr=None, steps=2, steps_given=True,
                                         minutes=None, resume=False, init_weights=None, workers=0)
            _, state = demo_train.train(args)
            self.assertEqual(state["step"], 2)
            weights = os.path.join(work, "weights.pt")
            self.assertTrue(os.path.exists(weights) and os.path.exists(os.path.join(work, "ckpt.pt")))
            args2 = types.SimpleNamespace(**dict(vars(args), work=os.path.join(work, "2"), init_weights=weights))
            model, state2 = demo_train.train(args2)
            self.assertEqual(state2["step"], 4)
            self.assertEqual(state2["cycle"], 1)
            self.assertEqual(len(state2["train_by_cycle"]), 2)
            saved = torch.load(weights, map_location="cpu")["model"]
            self.assertFalse(all(torch.equal(saved[k], v) for k, v in model.state_dict().items()),
                             "the second cycle must have changed the weights")


if __name__ == "__main__":
    unittest.main()
