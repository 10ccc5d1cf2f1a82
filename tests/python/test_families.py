"""Python-side tests of the family exporters (tools/pysjd2/families).

    /usr/bin/python3 -m unittest discover -s tests/python -v

* Re-exporting every tiny family reproduces the committed folders under tests/models/families
  byte for byte (same seed, same graphs, same references).
* The fine-tuning recipe (finetune-sjd2) runs a few steps on tiny models and writes a folder with
  the sjd2 section and the noise_levels input; LoRA merging and the zero-initialised noise input
  leave the model unchanged.
* Parity of our re-implementations against Hugging Face ``transformers`` (Llama as used by
  Janus-Pro and Emu3, Chameleon as used by Lumina-mGPT, T5 encoder as used by LlamaGen): these
  skip with a message when ``transformers`` is not installed (it is not on the build machines).
"""
from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import json_close  # noqa: E402
import torch  # noqa: E402

from pysjd2.families import emu3, engine_py, finetune, janus_pro, llamagen, lumina_mgpt  # noqa: E402
from pysjd2.families.t5 import T5Config, T5Encoder  # noqa: E402

FAMILIES = ["janus-pro", "llamagen", "lumina-mgpt", "emu3"]
PY = sys.executable


def export(args):
    return subprocess.run([PY, os.path.join(ROOT, "export_models.py")] + args, cwd=ROOT, capture_output=True, text=True)


def have_transformers():
    try:
        import transformers  # noqa: F401
        return True
    except ImportError:
        return False


HF_SKIP = "Hugging Face transformers is not installed here (install it to compare with its implementations)"


class TinyExportsReproduce(unittest.TestCase):
    def test_every_family_reexports_identically(self):
        with tempfile.TemporaryDirectory() as tmp:
            for fam in FAMILIES + ["janus-pro-fp16", "lumina-mgpt-fp16", "emu3-fp16"]:
                base = fam.replace("-fp16", "")
                extra = ["--fp16"] if fam.endswith("-fp16") else []
                extra += ["--external-data"] if fam == "janus-pro-fp16" else []
                # janus-pro stays a legacy export (transformer contract 1, no tree attention), so that the
                # engine's contract-1 path and PAC's chain fallback keep a test model
                extra += ["--contract", "1", "--no-window-mask"] if fam == "janus-pro" else []
                out = os.path.join(tmp, fam)
                r = export([base, "--tiny", "--out", out, "--skip-parity"] + extra)
                self.assertEqual(r.returncode, 0, r.stderr[-2000:])
                ref = os.path.join(ROOT, "tests", "models", "families", fam)
                # hf_reference.json comes from tools/hf_reference.py (transformers), not from the exporter
                names = sorted(n for n in os.listdir(ref) if n != "hf_reference.json")
                self.assertEqual(names, sorted(os.listdir(out)), fam)
                _, mismatch, errors = filecmp.cmpfiles(ref, out, names, shallow=False)
                # Graphs and manifests byte for byte; PyTorch's reference numbers within rounding
                # (their last digits depend on the CPU's BLAS kernels: tools/json_close.py).
                for name in [m for m in mismatch if m in ("parity.json", "reference.json")]:
                    diff = json_close.files_close(os.path.join(ref, name), os.path.join(out, name))
                    self.assertIsNone(diff, f"{fam}/{name}: re-export differs")
                    mismatch.remove(name)
                self.assertEqual((mismatch, errors), ([], []), f"{fam}: re-export differs")


class FineTuning(unittest.TestCase):
    def test_lora_merge_is_exact(self):
        torch.manual_seed(0)
        base = torch.nn.Linear(8, 6)
        lora = finetune.LoraLinear(base, 2, 2.0)
        with torch.no_grad():
            lora.b.normal_()
        x = torch.randn(3, 8)
        want = lora(x)
        merged = lora.merged()
        self.assertLess((merged(x) - want).abs().max().item(), 1e-5)

    def test_noise_conditioning_starts_as_identity(self):
        with tempfile.TemporaryDirectory() as tmp:
            ck = os.path.join(tmp, "ck")
            emu3.make_tiny(ck, seed=1)
            model, _, _, _, _ = emu3.load(ck, os.path.join(ck, "vision_tokenizer"))
            x = torch.randn(2, 5, model.config.hidden_size)
            mask = torch.ones(2, 5, dtype=torch.long)
            pos = torch.arange(5).unsqueeze(0).repeat(2, 1)
            with torch.no_grad():
                before, _ = model(x, mask, pos)
                model.enable_noise_conditioning()
                after, _ = model(x, mask, pos, None, torch.rand(2, 5))
            self.assertLess((before - after).abs().max().item(), 1e-6)

    def test_a_few_steps_on_tiny_models(self):
        with tempfile.TemporaryDirectory() as tmp:
            for fam, train in (("emu3", "lora"), ("llamagen", "noise")):
                out = os.path.join(tmp, fam)
                log = os.path.join(tmp, fam + ".log")
                r = export(["finetune-sjd2", "--model-dir", os.path.join(ROOT, "tests", "models", "families", fam),
                            "--out", out, "--steps", "4", "--batch", "3", "--self-distill", "4", "--train", train,
                            "--skip-parity", "--log", log])
                self.assertEqual(r.returncode, 0, r.stderr[-3000:])
                with open(os.path.join(out, "model.json"), encoding="utf-8") as f:
                    m = json.load(f)
                self.assertIsNotNone(m["sjd2"])
                self.assertEqual(len(m["sjd2"]["embedding_mean"]), m["transformer"]["hidden_size"])
                import onnx
                names = [i.name for i in onnx.load(os.path.join(out, "transformer.onnx")).graph.input]
                self.assertIn("noise_levels", names)
                with open(log, encoding="utf-8") as f:
                    recs = [json.loads(l) for l in f if l.strip()]
                self.assertTrue(recs and all(r["loss"] == r["loss"] and r["loss"] < 20 for r in recs))

    def test_python_rows_match_the_engine_reference(self):
        for fam in FAMILIES:
            d = os.path.join(ROOT, "tests", "models", "families", fam)
            with open(os.path.join(d, "model.json"), encoding="utf-8") as f:
                m = json.load(f)
            with open(os.path.join(d, "reference.json"), encoding="utf-8") as f:
                ref = json.load(f)
            rows = engine_py.PromptRows(d, m)
            self.assertEqual(rows.conditional(ref["prompt"]), ref["cond_ids"], fam)
            self.assertEqual(rows.unconditional(ref["prompt"]), ref["uncond_ids"], fam)


class HuggingFaceReferences(unittest.TestCase):
    """Replays numbers from the upstream implementations (hf_reference.json, written by
    tools/hf_reference.py where transformers is installed) without them."""

    def _load(self, fam):
        with open(os.path.join(ROOT, "tests", "models", "families", fam, "hf_reference.json"), encoding="utf-8") as f:
            return json.load(f)

    def test_vq_decoders_in_the_real_layout_match_upstream_pixels(self):
        from pysjd2.families import hf_layouts
        for fam in ("janus-pro", "lumina-mgpt", "emu3"):
            with self.subTest(family=fam):
                self._check_layout(fam, hf_layouts)

    def _check_layout(self, fam, hf_layouts):
        lay = self._load(fam)["layout"]
        self.assertEqual(lay["layout"], hf_layouts.LAYOUTS[fam])
        codes = hf_layouts.codes(fam)
        self.assertEqual(codes.reshape(-1).tolist(), lay["codes"]["data"])
        with torch.no_grad():
            have = hf_layouts.build(fam)(codes)
        want = torch.tensor(lay["pixels"]["data"], dtype=torch.float32).reshape(lay["pixels"]["shape"])
        self.assertEqual(list(have.shape), lay["pixels"]["shape"])
        diff = (have - want).abs().max().item()
        self.assertLess(diff, lay["tolerance"], f"{fam}: VQ decoder in the real layout differs from upstream by {diff:.2e}")

    def test_lumina_grid_tokens_read_back_as_the_grid(self):
        want = self._load("lumina-mgpt")["grid_tokens"]
        have = lumina_mgpt.grid_token_check([c["image_size"] for c in want])
        self.assertEqual(have, want)
        for c in have:
            self.assertEqual(c["latent_read_back"], [c["latent"], c["latent"]])
            self.assertEqual(c["end_of_turn_id"], 8710)        # the id Lumina-mGPT stops generation at


@unittest.skipUnless(have_transformers(), HF_SKIP)
class HuggingFaceParity(unittest.TestCase):
    """Our decoder / T5 against transformers' implementations on random small configurations."""

    def _compare_llama(self, build_ours, kv_heads: int, theta: float):
        from transformers import LlamaConfig, LlamaForCausalLM
        hf_cfg = LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=kv_heads, max_position_embeddings=64,
                             rms_norm_eps=1e-5, rope_theta=theta, tie_word_embeddings=False)
        torch.manual_seed(0)
        hf = LlamaForCausalLM(hf_cfg).eval()
        ours = build_ours(hf_cfg.to_dict())
        sd = hf.state_dict()
        with torch.no_grad():
            ours.text_embed.weight.copy_(sd["model.embed_tokens.weight"][:ours.text_embed.weight.shape[0]])
            for n, p in ours.named_parameters():
                if n.startswith("layers.") or n.startswith("norm."):
                    p.copy_(sd["model." + n])
        ids = torch.randint(0, 90, (2, 11))
        with torch.no_grad():
            want = hf(input_ids=ids, output_hidden_states=True).hidden_states[-1]
            mask = torch.ones_like(ids)
            pos = torch.arange(11).unsqueeze(0).repeat(2, 1)
            have = ours.hidden_states(ours.text_embed(ids), mask, pos)
        self.assertLess((want - have).abs().max().item(), 1e-4)

    def test_janus_language_model_matches_llama(self):
        def build(lc):
            cfg = {"language_config": lc,
                   "gen_aligner_config": {"params": {"depth": 2, "input_dim": 8, "n_embed": 64, "projector_type": "mlp_gelu"}},
                   "gen_head_config": {"params": {"image_token_embed": 64, "image_token_size": 16, "n_embed": 64}},
                   "gen_vision_config": {"params": {"image_token_size": 16, "n_embed": 8,
                                                    "sjd2_vq": {"ch": 32, "ch_mult": [1, 1], "z_channels": 8, "num_res_blocks": 0}}}}
            return janus_pro.build(cfg, 8)[0].eval()
        self._compare_llama(build, kv_heads=4, theta=10000.0)

    def test_emu3_decoder_matches_llama_with_gqa_and_theta_1e6(self):
        self._compare_llama(lambda lc: emu3.build(lc, 16, 97).eval(), kv_heads=2, theta=1e6)

    def test_lumina_decoder_matches_chameleon(self):
        try:
            from transformers import ChameleonConfig, ChameleonForConditionalGeneration
        except ImportError:
            self.skipTest("this transformers version has no Chameleon (needs >= 4.44)")
        vocab = {f"<t{i}>": i for i in range(97)}
        cfg = ChameleonConfig(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                              rms_norm_eps=1e-5, vocabulary_map=vocab,
                              vq_config={"embed_dim": 8, "num_embeddings": 16, "latent_channels": 8, "base_channels": 32,
                                         "channel_multiplier": [1, 1], "num_res_blocks": 1, "attn_resolutions": []})
        torch.manual_seed(0)
        hf = ChameleonForConditionalGeneration(cfg).eval()
        sd = hf.state_dict()
        q_rows = sd["model.layers.0.self_attn.q_norm.weight"].shape[0]
        k_rows = sd["model.layers.0.self_attn.k_norm.weight"].shape[0]
        d = cfg.to_dict()
        d.update(model_parallel_size=q_rows, sjd2_k_norm_rows=k_rows)
        ours = lumina_mgpt.build(d, 16).eval()
        with torch.no_grad():
            for n, p in ours.named_parameters():
                if n.startswith("layers.") or n.startswith("norm."):
                    p.copy_(sd["model." + n])
                    if "q_norm" in n or "k_norm" in n:   # exercise weight and bias
                        p.add_(0.1 * torch.randn_like(p))
                        sd["model." + n].copy_(p)
            ours.text_embed.weight.copy_(sd["model.embed_tokens.weight"])
        ids = torch.randint(0, 90, (2, 9))
        with torch.no_grad():
            want = hf(input_ids=ids, output_hidden_states=True).hidden_states[-1]
            have = ours.hidden_states(ours.text_embed(ids), torch.ones_like(ids), torch.arange(9).unsqueeze(0).repeat(2, 1))
        self.assertLess((want - have).abs().max().item(), 1e-4)

    def test_t5_encoder_matches(self):
        from transformers import T5Config as HfT5Config, T5EncoderModel
        hf_cfg = HfT5Config(vocab_size=101, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                            feed_forward_proj="gated-gelu", relative_attention_num_buckets=32,
                            relative_attention_max_distance=128)
        torch.manual_seed(0)
        hf = T5EncoderModel(hf_cfg).eval()
        ours = T5Encoder(T5Config.from_hf(hf_cfg.to_dict())).eval()
        missing = ours.load_state_dict(hf.state_dict(), strict=False)
        self.assertEqual(missing.missing_keys, [])
        ids = torch.randint(2, 100, (2, 13))
        mask = torch.ones_like(ids)
        mask[1, 9:] = 0
        with torch.no_grad():
            want = hf(input_ids=ids, attention_mask=mask).last_hidden_state
            have = ours(ids, mask)
        self.assertLess((want[0] - have[0]).abs().max().item(), 1e-4)
        self.assertLess((want[1, :9] - have[1, :9]).abs().max().item(), 1e-4)


if __name__ == "__main__":
    unittest.main()
