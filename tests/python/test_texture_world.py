"""Fast tests of the entropy world (tools/pysjd2/texture_world.py), its evaluator (texture_eval.py),
its entropy measure (texture_entropy.py) and its training batches (texture_train.py).

    /usr/bin/python3 -m pytest tests/python -q -k texture
    /usr/bin/python3 -m unittest tests/python/test_texture_world.py
"""
from __future__ import annotations

import os
import sys

import unittest

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from pysjd2 import texture_entropy, texture_eval, texture_world as tw  # noqa: E402


def _scenes(n, seed=11, mode="all"):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        sc = tw.sample_scene(rng, mode)
        out.append((sc, tw.caption(sc, rng)))
    return out


# ------------------------------------------------------------------------------------------
# world
# ------------------------------------------------------------------------------------------
class TextureWorldTests(unittest.TestCase):
    def test_texture_world_is_seeded_and_renders_deterministically(self):
        a, b = _scenes(6, seed=3), _scenes(6, seed=3)
        assert [c for _, c in a] == [c for _, c in b]
        for (sa, _), (sb, _) in zip(a, b):
            np.testing.assert_array_equal(tw.render(sa), tw.render(sb))
        assert tw.render(a[0][0]).shape == (64, 64, 3) and tw.render(a[0][0]).dtype == np.uint8


    def test_texture_captions_parse_back_to_the_scene(self):
        tok = tw.tokenizer()
        for sc, cap in _scenes(50):
            ids = tok.encode(cap)
            assert len(ids) <= tw.MAX_PROMPT_TOKENS and tw.UNK_ID not in ids, cap
            p = tw.parse_caption(cap)
            assert p is not None, cap
            assert [(o["color"], o["kind"]) for o in p["objects"]] == \
                [(o["color"], o["kind"]) for o in sc["objects"]], cap
            for po, o in zip(p["objects"], sc["objects"]):
                assert po["size"] in (None, o["size"])
                assert po["texture"] in (None, o["texture"]["kind"])
            assert p["relation"] == sc["relation"] and p["position"] == sc["position"]
            assert p["third_position"] == sc["third_position"]


    def test_texture_scenes_keep_the_grammar_geometry(self):
        for sc, _ in _scenes(50, seed=4):
            objs = sc["objects"]
            assert len({o["color"] for o in objs}) == len(objs)        # one object per colour
            for o in objs:
                lo, hi = tw.SIZE_RANGES[o["size"]]
                assert lo <= o["extent"] <= hi
            if sc["position"]:
                assert tw.region_of(*objs[0]["center"]) == sc["position"]
            if sc["relation"]:
                assert tw.relation_holds(sc["relation"], objs[0]["center"], objs[1]["center"],
                                         tw.RELATION_MIN_GAP, tw.RELATION_MAX_SKEW)
            if sc["third_position"]:
                assert tw.region_of(*objs[2]["center"]) == sc["third_position"]
            assert tw._visible_ok([objs[i] for i in sc["order"]])


    def test_texture_held_out_pairs_stay_out_of_training_scenes(self):
        for sc, _ in _scenes(150, seed=5, mode="train"):
            assert all((o["color"], o["kind"]) not in tw.HELD_OUT for o in sc["objects"])
        for sc, _ in _scenes(20, seed=5, mode="heldout"):
            assert any((o["color"], o["kind"]) in tw.HELD_OUT for o in sc["objects"])


    def test_texture_backgrounds_are_never_object_coloured(self):
        rng = np.random.default_rng(8)
        for _ in range(40):
            sc = tw.sample_scene(rng, "all")
            sc["objects"], sc["order"] = [], []
            assert (texture_eval.color_labels(tw.render(sc)) < 0).all(), sc["background"]["kind"]


# ------------------------------------------------------------------------------------------
# evaluator
# ------------------------------------------------------------------------------------------
class TextureEvalTests(unittest.TestCase):
    def test_texture_eval_reads_a_red_striped_circle_as_red_and_a_circle(self):
        rng = np.random.default_rng(0)
        sc = tw.sample_scene(rng, "all")
        while len(sc["objects"]) != 1:
            sc = tw.sample_scene(rng, "all")
        o = sc["objects"][0]
        o.update(color="red", kind="circle", rgb=list(tw.COLORS["red"]), size="big", extent=24.0)
        o["texture"] = {"kind": "striped", "seed": 1, "angle": 0.7, "period": 4.0, "depth": 0.45,
                        "light": False, "phase": 0.0}
        sc["background"]["kind"] = "striped"
        o["center"] = tw._centre_in_region(rng, sc["position"], 24.0)
        img = tw.render(sc)
        found = texture_eval.detect(img)
        assert [(f["color"], f["kind"]) for f in found] == [("red", "circle")]
        phrase = tw.REGION_PHRASES[sc["position"]][0]
        assert texture_eval.score("a big red striped circle " + phrase, img)["all"]
        assert not texture_eval.score("a big blue striped circle " + phrase, img)["all"]
        assert not texture_eval.score("a big red striped square " + phrase, img)["all"]
        assert not texture_eval.score("a small red striped circle " + phrase, img)["all"]


    def test_texture_eval_accepts_ground_truth(self):
        cases = _scenes(40, seed=21)
        ok = sum(texture_eval.score(c, tw.render(s))["all"] for s, c in cases)
        assert ok / len(cases) >= 0.95


    def test_texture_eval_rejects_corruptions(self):
        for kind in texture_eval.CORRUPTIONS:
            with self.subTest(kind=kind):
                self._rejects(kind)

    def _rejects(self, kind):
        rng = np.random.default_rng(100 + texture_eval.CORRUPTIONS.index(kind))
        accepted = total = 0
        while total < 5:
            sc = tw.sample_scene(rng, "all")
            cap = tw.caption(sc, rng)
            bad = texture_eval.corrupt(sc, kind, rng, cap)
            if bad is None:
                continue
            total += 1
            accepted += texture_eval.score(cap, tw.render(bad))["all"]
        assert accepted == 0


    def test_texture_eval_components_are_eight_connected(self):
        m = np.zeros((8, 8), dtype=bool)
        m[1, 1] = m[2, 2] = True        # diagonal neighbours: one component
        m[5:7, 5:7] = True
        comps = texture_eval.components(m)
        assert sorted(int(c.sum()) for c in comps) == [2, 4]


# ------------------------------------------------------------------------------------------
# entropy measure and training batches
# ------------------------------------------------------------------------------------------
class TextureEntropyAndBatchTests(unittest.TestCase):
    def test_texture_entropy_is_zero_for_a_deterministic_map_and_log_k_for_noise(self):
        k = 16
        rng = np.random.default_rng(0)
        rows = rng.integers(0, k, size=(200, 1, 16))
        det = np.repeat(rows, 16, axis=1)                    # every code equals the one above it
        r = texture_entropy.conditional_entropy(det[:100], det[100:], k)
        assert r["H_given_left_up_plugin"] < 1e-6 and r["top1_accuracy_heldout"] > 0.95
        noise = rng.integers(0, k, size=(400, 16, 16))
        r = texture_entropy.conditional_entropy(noise[:200], noise[200:], k)
        assert abs(r["H_given_left_up_heldout"] - np.log(k)) < 0.15
        assert abs(r["H_marginal_plugin"] - np.log(k)) < 0.02


    def test_texture_training_batches_are_seeded_left_padded_rows(self):
        from pysjd2 import texture_train
        a = texture_train.draw_batch(5, 6, texture_train.TRAIN, texture_train.TEXT_WIDTH)
        b = texture_train.draw_batch(5, 6, texture_train.TRAIN, texture_train.TEXT_WIDTH)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
        assert a["text"].shape == (6, texture_train.TEXT_WIDTH) and a["images"].shape == (6, 64, 64, 3)
        assert (a["text"][:, -1] == tw.BOI_ID).all()
        assert a["levels"].shape == (6, 256)


class TextureTrainingTests(unittest.TestCase):
    def test_texture_training_checkpoints_and_resumes(self):
        import tempfile
        import types

        import torch
        from pysjd2 import texture_train as tt
        small = dict(tt.MODEL, hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, head_dim=16, ffn_size=64)
        saved_model, saved_build = dict(tt.MODEL), dict(tt.CPU_VQ_BUILD)
        tt.MODEL.clear()
        tt.MODEL.update(small)
        tt.CPU_VQ_BUILD.update(images=40, patches=4000, iters=2, decoder_minutes=0.0, heldout_images=20)
        try:
            with tempfile.TemporaryDirectory() as work:
                args = types.SimpleNamespace(out=work, device="cpu", batch=2, lr=None, steps=2, minutes=None,
                                             resume=False, steps_given=True, workers=0, init_weights=None)
                state = tt.train(args)
                self.assertEqual(state["step"], 2)
                for name in ("vq.pt", "ckpt.pt", "weights.pt", "train_log.txt"):
                    self.assertTrue(os.path.exists(os.path.join(work, name)), name)
                args.resume, args.steps = True, 3
                state = tt.train(args)
                self.assertEqual(state["step"], 3)
                self.assertEqual(torch.load(os.path.join(work, "weights.pt"))["state"]["step"], 3)
                with tempfile.TemporaryDirectory() as work2:   # a new cycle elsewhere, with the same tokenizer
                    args2 = types.SimpleNamespace(**dict(vars(args), out=work2, resume=False, steps=1,
                                                         init_weights=os.path.join(work, "weights.pt")))
                    state = tt.train(args2)
                    self.assertEqual((state["step"], state["cycle"], state["cycle_step"]), (4, 1, 3))
                    a = torch.load(os.path.join(work, "vq.pt"))["codebook"]
                    b = torch.load(os.path.join(work2, "vq.pt"))["codebook"]
                    self.assertTrue(torch.equal(a, b))
        finally:
            tt.MODEL.clear()
            tt.MODEL.update(saved_model)
            tt.CPU_VQ_BUILD.clear()
            tt.CPU_VQ_BUILD.update(saved_build)
