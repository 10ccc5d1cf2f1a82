"""`export_models.py texture export` (tools/pysjd2/texture_export.py) on a tiny random model.

    /usr/bin/python3 -m unittest tests/python/test_texture_export.py -v

A training folder (vq.pt, weights.pt) of a tiny randomly initialised entropy-world model is
exported, then exported again from the torch_state.pt it wrote: every file must be the same
byte for byte, the graphs must pass onnx.checker, and the manifest must describe the texture
world with the sampling flags given to the first export.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import torch  # noqa: E402

from pysjd2 import texture_export, texture_world as tw, vq  # noqa: E402
from pysjd2.texture_train import TOKENIZER  # noqa: E402
from pysjd2.transformer import Sjd2Transformer, TransformerConfig  # noqa: E402

CODEBOOK = 32
GRAPHS = ["text_embedding.onnx", "image_embedding.onnx", "transformer.onnx", "vq_decoder.onnx"]


def write_training_folder(work: str) -> None:
    """vq.pt and weights.pt as texture_train writes them, for a tiny random model."""
    torch.manual_seed(7)
    cfg = TransformerConfig(text_vocab_size=len(TOKENIZER.tokens), codebook_size=CODEBOOK, hidden_size=32,
                            num_layers=1, num_heads=2, num_kv_heads=1, head_dim=16, ffn_size=64,
                            max_sequence_length=300, rope_theta=10000.0, noise_conditioning=True)
    model = Sjd2Transformer(cfg)
    codebook = torch.rand(CODEBOOK, vq.PATCH * vq.PATCH * 3) * 2 - 1
    dec = vq.VqDecoder(CODEBOOK)   # the default conv widths: load_vq and load_torch_state build those
    stats = {"codebook_size": CODEBOOK, "psnr_decoder_db": 20.0, "decoder_steps": 0}
    torch.save({"codebook": codebook, "decoder": dec.state_dict(), "stats": stats}, os.path.join(work, "vq.pt"))
    state = {"step": 10, "seconds": 12.5, "total_steps": 10, "budget_seconds": None, "world": "texture",
             "history": [{"step": 5, "ar_loss": 3.4657, "lr": 0.001}, {"step": 10, "ar_loss": 3.41, "lr": 0.0005}],
             "train_by_cycle": [{"batch_size": 4, "betas": (0.9, 0.95), "device": "cpu"}],
             "model_config": cfg.to_dict(), "vq": stats,
             "emb_mean": torch.randn(32) * 0.01, "emb_std": torch.rand(32) * 0.1 + 0.05}
    torch.save({"transformer_config": cfg.to_dict(), "model": model.state_dict(), "state": state},
               os.path.join(work, "weights.pt"))


class TextureExportTests(unittest.TestCase):
    def test_reexport_from_torch_state_is_byte_identical(self):
        import onnx
        with tempfile.TemporaryDirectory() as tmp:
            work, a, b = (os.path.join(tmp, n) for n in ("train", "a", "b"))
            os.makedirs(work)
            write_training_folder(work)
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(texture_export.main(["--from", work, "--out", a, "--top-k", "4", "--cfg-scale", "1.5"]), 0)
                self.assertEqual(texture_export.main(["--state", os.path.join(a, "torch_state.pt"), "--out", b]), 0)
            names = sorted(os.listdir(a))
            self.assertEqual(names, sorted(GRAPHS + ["model.json", "parity.json", "texture_world.json",
                                                     "torch_state.pt", "training.json", "vocab.txt"]))
            self.assertEqual(sorted(os.listdir(b)), names)
            for n in names:
                with open(os.path.join(a, n), "rb") as fa, open(os.path.join(b, n), "rb") as fb:
                    self.assertTrue(fa.read() == fb.read(), n + " differs after a re-export from torch_state.pt")
            for g in GRAPHS:
                onnx.checker.check_model(onnx.load(os.path.join(a, g)))
            with open(os.path.join(a, "model.json"), encoding="utf-8") as f:
                man = json.load(f)
            self.assertEqual(man["name"], texture_export.NAME)
            self.assertEqual(man["image"], {"grid_height": 16, "grid_width": 16, "codebook_size": CODEBOOK,
                                            "height": 64, "width": 64, "pixel_range": [-1.0, 1.0]})
            self.assertEqual(man["tokenizer"]["max_prompt_tokens"], tw.MAX_PROMPT_TOKENS)
            self.assertEqual(man["sampling"], dict(texture_export.SAMPLING, top_k=4, cfg_scale=1.5))
            self.assertEqual(len(man["sjd2"]["embedding_mean"]), 32)
            with open(os.path.join(a, "vocab.txt"), encoding="utf-8") as f:
                self.assertEqual(f.read().splitlines(), TOKENIZER.tokens)
            state = torch.load(os.path.join(a, "torch_state.pt"), map_location="cpu")
            self.assertTrue(all(v.dtype == torch.float16 for v in state["transformer"].values()))
            self.assertTrue(all(v.dtype == torch.float16 for v in state["vq_decoder"].values()))
            self.assertEqual(state["meta"]["steps"], 10)


if __name__ == "__main__":
    unittest.main()
