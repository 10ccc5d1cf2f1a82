#!/usr/bin/env python3
"""Reference numbers from the upstream implementations for the tiny family exports:
tests/models/families/<family>/hf_reference.json, which the engine's tests replay without them.

Runs in the reference environment (docs/models.md, "Checked against transformers": torch 2.6,
transformers 4.53, onnxruntime), not on Debian 12's python. For each of Janus-Pro, Lumina-mGPT and
Emu3 it rebuilds the tiny upstream-layout checkpoint the exporter made (same seed), loads the same
weights into the upstream classes and records:

* ``vq``: pixels of a fixed code grid from the upstream VQ decoder (transformers' ``JanusVQVAE`` and
  ``Emu3VQVAE``; for Lumina-mGPT Chameleon's own ``VQModel`` from chameleon/inference/vqgan.py, pass
  ``--chameleon-vqgan``, because transformers' ``ChameleonVQVAE`` has no decoder);
* ``mixed_logits``: the CFG-mixed logits of every code slot of reference.json's code sequence, with
  the same rows: Janus-Pro from transformers' own ``generate(generation_mode="image")`` with the codes
  forced (its pad-token unconditional row and its ``ClassifierFreeGuidanceLogitsProcessor``),
  Lumina-mGPT and Emu3 teacher-forced through ``ChameleonForConditionalGeneration`` /
  ``Emu3ForCausalLM`` (BPE / visual-token ids, the full lm_head restricted to the image tokens);
* ``layout``: pixels of the decoder in the real checkpoints' layout (tools/pysjd2/families/hf_layouts.py),
  which tests/python rebuilds from the same seed;
* for the ``-fp16`` folders (transformer computing in float16): ``mixed_logits`` from transformers run
  in float16, plus its bfloat16 run and its float32 run with the same float16-rounded weights, each
  with a tolerance bounded as ``document`` explains.

It also measures our PyTorch modules and the committed ONNX graphs against these numbers and
prints the table; ``--check`` only measures (writes nothing).

    python3 tools/hf_reference.py --chameleon-vqgan PATH/chameleon/inference/vqgan.py [--check]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pysjd2 import onnx_export as ox  # noqa: E402
from pysjd2.families import emu3, hf_layouts, janus_pro, lumina_mgpt  # noqa: E402
from pysjd2.families.checkpoint import Checkpoint, read_json  # noqa: E402
from pysjd2.families.tokenizers import hf_token_id  # noqa: E402

FAMILIES = os.path.join(ROOT, "tests", "models", "families")
COMMAND = "python3 tools/hf_reference.py --chameleon-vqgan PATH/chameleon/inference/vqgan.py"
VQ_TOLERANCE = 1e-4          # float32 pixels in [-1, 1]
# float16-stored VQ weights: the graph holds VQ-16's codebook normalised, then rounded to float16
# (relative error up to 2^-11 per entry), where upstream normalises the rounded codebook
VQ_FP16_TOLERANCE = 2e-3
# float32 logits: the engine replays them within 1e-4 (the ONNX graphs measure <= 3.5e-5 from
# transformers, logits spanning +-45); 5e-4 leaves room for other CPUs' kernels and still catches an
# RMSNorm epsilon ten times too large (1.6e-3 on the tiny Emu3)
LOGIT_TOLERANCE = 5e-4


def versions() -> dict:
    import onnxruntime
    import transformers
    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__}


def maxdiff(a, b) -> float:
    a = a.detach().float() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a, dtype=np.float32))
    b = b.detach().float() if isinstance(b, torch.Tensor) else torch.as_tensor(np.asarray(b, dtype=np.float32))
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max())


def run_onnx(path: str, feeds: dict) -> np.ndarray:
    import onnxruntime as ort
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)[0]


def onnx_vq(vq, codes: torch.Tensor, tmp: str) -> np.ndarray:
    """Our decoder exported the way the exporter exports it, run by ONNX Runtime."""
    path = os.path.join(tmp, "vq.onnx")
    ox._export(ox._VqGraph(vq), (torch.zeros(2, *codes.shape[1:], dtype=torch.long),), path, ["codes"], ["image"],
               {"codes": {0: "batch"}, "image": {0: "batch"}})
    return run_onnx(path, {"codes": codes.numpy()})


def reference_json(family: str) -> dict:
    with open(os.path.join(FAMILIES, family, "reference.json"), encoding="utf-8") as f:
        return json.load(f)


def tensor_of(d: dict) -> torch.Tensor:
    return torch.tensor(d["data"], dtype=torch.float32).reshape(d["shape"])


def code_grid(ref: dict, manifest: dict) -> torch.Tensor:
    h, w = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    return torch.tensor(ref["codes"], dtype=torch.long).reshape(1, h, w)


def manifest_of(family: str) -> dict:
    return read_json(os.path.join(FAMILIES, family, "model.json"))


def load_state(module, sd: dict, allowed_missing) -> None:
    r = module.load_state_dict(sd, strict=False)
    missing = [k for k in r.missing_keys if not any(k.startswith(p) for p in allowed_missing)]
    if missing or r.unexpected_keys:
        raise SystemExit(f"{type(module).__name__}: missing {missing[:8]}, unexpected {r.unexpected_keys[:8]}")


def mix(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    return uncond + scale * (cond - uncond)


def onnx_mixed(model_dir: str, ref: dict, manifest: dict) -> torch.Tensor:
    """The committed graphs teacher-forced like the engine's one-window test: each CFG row as one
    unpadded sequence (positions from 0, empty KV cache), code slots embedded by image_embedding,
    forced end-of-line slots by text_embedding; CFG-mixed logits of every code slot."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2

    def sess(name):
        return ort.InferenceSession(os.path.join(model_dir, name + ".onnx"), opts, providers=["CPUExecutionProvider"])
    text, image, tr = sess("text_embedding"), sess("image_embedding"), sess("transformer")
    h, w = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    eol = manifest["sequence"]["end_of_line_id"]
    slots = []
    for r in range(h):
        slots += [("code", c) for c in ref["codes"][r * w:(r + 1) * w]] + ([("eol", eol)] if eol is not None else [])
    fed = slots[:-1]

    def run(prefix):
        parts = [text.run(None, {"input_ids": np.array([prefix], dtype=np.int64)})[0]]
        for kind, v in fed:
            if kind == "code":
                parts.append(image.run(None, {"image_codes": np.array([[v]], dtype=np.int64)})[0])
            else:
                parts.append(text.run(None, {"input_ids": np.array([[v]], dtype=np.int64)})[0])
        x = np.concatenate(parts, axis=1).astype(np.float32)
        n = x.shape[1]
        feeds = {"inputs_embeds": x, "attention_mask": np.ones((1, n), dtype=np.int64),
                 "position_ids": np.arange(n, dtype=np.int64)[None]}
        for i in tr.get_inputs():
            if i.name.startswith("past_key_values."):
                dt = np.float16 if i.type == "tensor(float16)" else np.float32
                feeds[i.name] = np.zeros((1, i.shape[1], 0, i.shape[3]), dtype=dt)
            elif i.name == "window_mask":
                feeds[i.name] = np.tril(np.ones((n, n), dtype=np.int64))
        return torch.from_numpy(tr.run(["logits"], feeds)[0][0].astype(np.float32)), len(prefix)
    (c, pc), (u, pu) = run(ref["cond_ids"]), run(ref["uncond_ids"])
    out = []
    for k, (kind, _) in enumerate(slots):
        if kind == "code":
            out.append(mix(c[pc - 1 + k], u[pu - 1 + k], ref["cfg_scale"]))
    return torch.stack(out)


# ------------------------------------------------------------------------------------------------
# VQ decoders in the real layout
# ------------------------------------------------------------------------------------------------
def chameleon_module(path: str):
    spec = importlib.util.spec_from_file_location("chameleon_vqgan", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def upstream_vq(family: str, c: dict, vq_src) -> torch.nn.Module:
    """The upstream VQ class for a layout dict (hf_layouts.LAYOUTS form)."""
    if family == "janus-pro":
        from transformers import JanusVQVAE, JanusVQVAEConfig
        h, w = c["grid"]
        if h != w:
            raise ValueError("JanusVQVAE decodes square grids only")
        cfg = JanusVQVAEConfig(embed_dim=c["embed_dim"], num_embeddings=c["codebook_size"], latent_channels=c["z_channels"],
                               base_channels=c["ch"], channel_multiplier=c["ch_mult"], num_res_blocks=c["num_res_blocks"],
                               num_patches=h)
        return JanusVQVAE(cfg).eval()
    if family == "lumina-mgpt":
        dd = {"double_z": False, "z_channels": c["z_channels"], "resolution": c["resolution"], "in_channels": 3,
              "out_ch": 3, "ch": c["ch"], "ch_mult": c["ch_mult"], "num_res_blocks": c["num_res_blocks"],
              "attn_resolutions": c["attn_resolutions"], "dropout": 0.0}
        return vq_src.VQModel(ddconfig=dd, n_embed=c["n_embed"], embed_dim=c["embed_dim"]).eval()
    if family == "emu3":
        from transformers import Emu3VQVAE, Emu3VQVAEConfig
        cfg = Emu3VQVAEConfig(codebook_size=c["codebook_size"], embed_dim=c["embed_dim"], latent_channels=c["z_channels"],
                              base_channels=c["ch"], channel_multiplier=c["ch_mult"], num_res_blocks=c["num_res_blocks"],
                              attn_resolutions=c["attn_resolutions"], temporal_downsample_factor=c["temporal_downsample_factor"],
                              hidden_size=c["ch"] * c["ch_mult"][-1], num_attention_heads=1)
        m = Emu3VQVAE(cfg).eval()
        m.config._attn_implementation = "eager"
        return m
    raise KeyError(family)


UPSTREAM_ENCODER_KEYS = ("encoder.", "quant_conv.")


@torch.no_grad()
def upstream_decode(family: str, m, codes: torch.Tensor) -> torch.Tensor:
    b, h, w = codes.shape
    if family == "janus-pro":
        return m.decode(codes.reshape(b, h * w))
    if family == "lumina-mgpt":
        quant = m.quantize.get_codebook_entry(codes.reshape(-1), (b, h, w, m.quantize.e_dim))
        return m.decode(quant)
    if family == "emu3":
        return m.decode(codes)
    raise KeyError(family)


@torch.no_grad()
def layout_check(family: str, vq_src, tmp: str) -> dict:
    ours = hf_layouts.build(family)
    codes = hf_layouts.codes(family)
    up = upstream_vq(family, hf_layouts.LAYOUTS[family], vq_src)
    load_state(up, hf_layouts.hf_state_dict(family, ours), UPSTREAM_ENCODER_KEYS)
    want = upstream_decode(family, up, codes)
    have = ours(codes)
    onnx = onnx_vq(ours, codes, tmp)
    return {"layout": dict(hf_layouts.LAYOUTS[family]), "codes": ox._tensor(codes), "pixels": ox._tensor(want),
            "tolerance": VQ_TOLERANCE,
            "measured": {"pytorch": maxdiff(have, want), "onnx": maxdiff(torch.from_numpy(onnx), want),
                         "pixel_range": [float(want.min()), float(want.max())]}}


def tiny_vq_check(family: str, ours_vq, up, codes: torch.Tensor, model_dir: str, tol: float) -> dict:
    want = upstream_decode(family, up, codes)
    with torch.no_grad():
        have = ours_vq(codes)
    onnx = run_onnx(os.path.join(model_dir, "vq_decoder.onnx"), {"codes": codes.numpy()})
    return {"codes": ox._tensor(codes), "pixels": ox._tensor(want), "tolerance": tol,
            "measured": {"pytorch": maxdiff(have, want), "onnx": maxdiff(torch.from_numpy(onnx), want),
                         "pixel_range": [float(want.min()), float(want.max())]}}


# ------------------------------------------------------------------------------------------------
# Janus-Pro
# ------------------------------------------------------------------------------------------------
def janus_hf(ck: str, config: dict, grid: int):
    from transformers import JanusConfig, JanusForConditionalGeneration
    lc = dict(config["language_config"])
    lc.pop("torch_dtype", None)
    gv = config["gen_vision_config"]["params"]
    vqo = gv["sjd2_vq"]
    al = config["gen_aligner_config"]["params"]
    gh = config["gen_head_config"]["params"]
    cfg = JanusConfig(
        text_config=lc,
        vision_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 4 * grid,
                       "patch_size": 4, "num_image_tokens": grid * grid, "projection_dim": lc["hidden_size"], "depth": 2},
        vq_config={"embed_dim": gv["n_embed"], "num_embeddings": gv["image_token_size"], "latent_channels": vqo["z_channels"],
                   "base_channels": vqo["ch"], "channel_multiplier": vqo["ch_mult"], "num_res_blocks": vqo["num_res_blocks"],
                   "projection_dim": al["n_embed"], "num_hidden_layers": al["depth"], "image_token_embed_dim": gh["n_embed"],
                   "hidden_act": "gelu"})
    cfg.text_config._attn_implementation = "eager"
    hf = JanusForConditionalGeneration(cfg).eval()
    ckpt = Checkpoint(ck)
    sd = {}
    for name in ckpt.keys():
        t = ckpt.get(name)
        if name.startswith("language_model.model."):
            sd["model.language_model." + name[len("language_model.model."):]] = t
        elif name == "language_model.lm_head.weight":
            sd["lm_head.weight"] = t
        elif name.startswith("gen_embed."):
            sd["model.generation_embeddings." + name[len("gen_embed."):]] = t
        elif name.startswith("gen_aligner.layers.0."):
            sd["model.generation_aligner.fc1." + name[len("gen_aligner.layers.0."):]] = t
        elif name.startswith("gen_aligner.layers.2."):
            sd["model.generation_aligner.hidden_layers.0." + name[len("gen_aligner.layers.2."):]] = t
        elif name.startswith("gen_head.output_mlp_projector."):
            sd["model.generation_head.proj_out." + name[len("gen_head.output_mlp_projector."):]] = t
        elif name.startswith("gen_head.vision_head."):
            sd["model.generation_head.vision_head." + name[len("gen_head.vision_head."):]] = t
        elif name.startswith("gen_vision_model."):
            sd["model.vqmodel." + hf_layouts._janus_name(name[len("gen_vision_model."):])] = t
        else:
            raise SystemExit(f"janus: unmapped checkpoint tensor {name}")
    load_state(hf, sd, ("model.vision_model.", "model.aligner.", "model.vqmodel.encoder.", "model.vqmodel.quant_conv."))
    return hf


class _Record:
    def __init__(self):
        self.rows = []

    def __call__(self, input_ids, scores):
        self.rows.append(scores.detach().clone())
        return scores


class _RecordAndForce:
    """Records the CFG-mixed scores, then makes the fixed code the greedy choice."""

    def __init__(self, codes):
        self.codes = list(codes)
        self.rows = []

    def __call__(self, input_ids, scores):
        self.rows.append(scores.detach().clone())
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.codes[len(self.rows) - 1]] = 0
        return forced


@torch.no_grad()
def janus_generate(hf, cond_ids, codes, cfg_scale: float, ids: dict):
    """transformers' Janus image generation with the codes forced: returns (mixed logits, the
    unconditional row's input ids it built, the generated codes)."""
    from transformers import GenerationConfig, LogitsProcessorList
    from transformers.generation.logits_process import ClassifierFreeGuidanceLogitsProcessor
    gc = GenerationConfig(bos_token_id=ids["bos"], pad_token_id=ids["pad"], do_sample=False, num_return_sequences=1,
                          max_length=len(cond_ids) + len(codes) + 1, guidance_scale=1.0,
                          generation_kwargs={"boi_token_id": ids["boi"]})
    raw, forced = _Record(), _RecordAndForce(codes)
    seen = {}
    emb = hf.get_input_embeddings()
    orig = emb.forward

    def capture(x):
        seen.setdefault("ids", x.detach().clone())
        return orig(x)
    emb.forward = capture
    try:
        out = hf.generate(torch.tensor([cond_ids]), attention_mask=torch.ones(1, len(cond_ids), dtype=torch.long),
                          generation_config=gc, generation_mode="image",
                          logits_processor=LogitsProcessorList([raw, ClassifierFreeGuidanceLogitsProcessor(cfg_scale), forced]))
    finally:
        emb.forward = orig
    mixed = torch.cat(forced.rows, 0).float()
    # the processor's mixing checked against the raw rows it was given
    again = torch.stack([mix(r[0], r[1], cfg_scale).float() for r in raw.rows])
    assert maxdiff(mixed, again) == 0.0, "CFG processor mixing differs"
    return mixed, seen["ids"][1].tolist(), out[0].tolist()


def round16(t: torch.Tensor) -> torch.Tensor:
    """What export.round_to_fp16_ does to a weight (float tensors of at least 16 entries)."""
    return t.half().float() if t.is_floating_point() and t.numel() >= 16 else t


def janus(vq_src, tmp: str, family: str) -> dict:
    fp16 = family.endswith("-fp16")
    d = os.path.join(FAMILIES, family)
    info = read_json(os.path.join(d, "family.json"))
    ck = os.path.join(tmp, "janus-ck")
    janus_pro.make_tiny(ck, seed=info["tiny_seed"])
    config = read_json(os.path.join(ck, "config.json"))
    model, vq, grid, _ = janus_pro.load(ck, info["image_size"])
    manifest, ref = manifest_of(family), reference_json(family)
    tj = read_json(os.path.join(ck, "tokenizer.json"))
    ids = {"bos": hf_token_id(tj, "<｜begin▁of▁sentence｜>"), "pad": hf_token_id(tj, janus_pro.PAD_TAG),
           "boi": hf_token_id(tj, janus_pro.BOI_TAG)}

    def build(dtype, rounded):
        hf = janus_hf(ck, config, grid)
        if rounded:
            with torch.no_grad():
                for p in hf.parameters():
                    p.copy_(round16(p))
        return hf.to(dtype)
    hf = build(torch.float32, fp16)
    if fp16:
        with torch.no_grad():
            for p in vq.parameters():
                p.copy_(round16(p))
    mixed, uncond_row, generated = janus_generate(hf, ref["cond_ids"], ref["codes"], ref["cfg_scale"], ids)
    if generated != ref["codes"]:
        raise SystemExit("janus: generate did not follow the forced codes")
    if uncond_row != ref["uncond_ids"]:
        raise SystemExit(f"janus: transformers' unconditional row {uncond_row} != ours {ref['uncond_ids']}")
    out = {"mixed": mixed, "rows": {"uncond_ids_from_transformers_generate": uncond_row}}
    for dt in (torch.float16, torch.bfloat16):
        out[str(dt)[6:]] = janus_generate(build(dt, False), ref["cond_ids"], ref["codes"], ref["cfg_scale"], ids)[0]
    out["vq"] = tiny_vq_check("janus-pro", vq, hf.model.vqmodel, code_grid(ref, manifest), d,
                              VQ_FP16_TOLERANCE if fp16 else VQ_TOLERANCE)
    return out


# ------------------------------------------------------------------------------------------------
# Lumina-mGPT
# ------------------------------------------------------------------------------------------------
def lumina(vq_src, tmp: str, family: str) -> dict:
    from transformers import ChameleonConfig, ChameleonForConditionalGeneration
    fp16 = family.endswith("-fp16")
    d = os.path.join(FAMILIES, family)
    info = read_json(os.path.join(d, "family.json"))
    ck = os.path.join(tmp, "lumina-ck")
    lumina_mgpt.make_tiny(ck, seed=info["tiny_seed"])
    vq_dir = os.path.join(ck, "chameleon_tokenizer")
    model, vq, config = lumina_mgpt.load(ck, vq_dir)
    manifest, ref = manifest_of(family), reference_json(family)
    tj = read_json(os.path.join(ck, "tokenizer.json"))
    vocab = lumina_mgpt.vocabulary(ck, vq_dir)
    cfg = ChameleonConfig(vocab_size=config["vocab_size"], hidden_size=config["hidden_size"],
                          intermediate_size=config["intermediate_size"], num_hidden_layers=config["num_hidden_layers"],
                          num_attention_heads=config["num_attention_heads"], num_key_value_heads=config["num_key_value_heads"],
                          max_position_embeddings=config["max_position_embeddings"], rms_norm_eps=config["rms_norm_eps"],
                          rope_theta=config["rope_theta"], vocabulary_map=vocab, swin_norm=config["swin_norm"],
                          vq_config={"embed_dim": 8, "num_embeddings": 64, "latent_channels": 8, "base_channels": 32,
                                     "channel_multiplier": [1, 1], "num_res_blocks": 0, "attn_resolutions": []})
    cfg._attn_implementation = "eager"
    ckpt = Checkpoint(ck)
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    sd = {}
    for name in ckpt.keys():
        t = ckpt.get(name)
        if name.endswith("q_norm.weight") or name.endswith("q_norm.bias"):
            t = t.repeat(heads // t.shape[0], 1)              # one row per model-parallel shard -> per head
        elif name.endswith("k_norm.weight") or name.endswith("k_norm.bias"):
            t = t.repeat(kv // t.shape[0], 1)
        sd[name] = t

    def build(dtype, rounded):
        m = ChameleonForConditionalGeneration(cfg).eval()
        load_state(m, {k: round16(v) for k, v in sd.items()} if rounded else sd, ("model.vqmodel.",))
        return m.to(dtype)
    img2bpe = lumina_mgpt.image_token_ids(vocab)
    h, w = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    eol = hf_token_id(tj, lumina_mgpt.NEW_LINE)
    fed = []
    for r in range(h):
        fed += [int(img2bpe[c]) for c in ref["codes"][r * w:(r + 1) * w]] + [eol]
    fed = fed[:-1]                                            # the last slot is never fed

    @torch.no_grad()
    def mixed_of(hf):
        rows = []
        for prefix in (ref["cond_ids"], ref["uncond_ids"]):
            o = hf(input_ids=torch.tensor([prefix + fed]), output_hidden_states=True)
            full = hf.lm_head(o.hidden_states[-1])[0].float()
            # transformers' forward suppresses the image tokens (its Chameleon does not generate
            # images); the other columns show hidden_states[-1] is the state its logits come from
            text_cols = torch.ones(full.shape[-1], dtype=torch.bool)
            text_cols[img2bpe] = False
            assert maxdiff(full[:, text_cols], o.logits[0].float()[:, text_cols]) < 1e-2
            rows.append((full[:, img2bpe], len(prefix)))
        (c, pc), (u, pu) = rows
        return torch.stack([mix(c[pc - 1 + r * (w + 1) + col], u[pu - 1 + r * (w + 1) + col], ref["cfg_scale"])
                            for r in range(h) for col in range(w)])
    out = {"mixed": mixed_of(build(torch.float32, fp16))}
    for dt in (torch.float16, torch.bfloat16):
        out[str(dt)[6:]] = mixed_of(build(dt, False))
    up = vq_src.VQModel(ddconfig={"double_z": False, "z_channels": 8, "resolution": 8, "in_channels": 3, "out_ch": 3,
                                  "ch": 32, "ch_mult": [1, 1], "num_res_blocks": 0, "attn_resolutions": [4],
                                  "dropout": 0.0}, n_embed=64, embed_dim=8).eval()
    # Chameleon's VQModel loads the checkpoint file itself (vqgan.ckpt's state_dict, names as ours)
    sd_vq = torch.load(os.path.join(vq_dir, "vqgan.ckpt"), map_location="cpu")["state_dict"]
    if fp16:
        sd_vq = {k: round16(v) for k, v in sd_vq.items()}
        with torch.no_grad():
            for p in vq.parameters():
                p.copy_(round16(p))
    load_state(up, sd_vq, UPSTREAM_ENCODER_KEYS)
    out["vq"] = tiny_vq_check("lumina-mgpt", vq, up, code_grid(ref, manifest), d, VQ_FP16_TOLERANCE if fp16 else VQ_TOLERANCE)
    out["grid_tokens"] = lumina_mgpt.grid_token_check([256, 512, 768, 1024])
    return out


# ------------------------------------------------------------------------------------------------
# Emu3
# ------------------------------------------------------------------------------------------------
def emu3_ref(vq_src, tmp: str, family: str) -> dict:
    from transformers import Emu3ForCausalLM, Emu3TextConfig
    from transformers.models.emu3.modeling_emu3 import Emu3ImageVocabularyMapping
    fp16 = family.endswith("-fp16")
    d = os.path.join(FAMILIES, family)
    info = read_json(os.path.join(d, "family.json"))
    ck = os.path.join(tmp, "emu3-ck")
    emu3.make_tiny(ck, seed=info["tiny_seed"])
    vq_dir = os.path.join(ck, "vision_tokenizer")
    model, vq, config, ranks, ids = emu3.load(ck, vq_dir)
    manifest, ref = manifest_of(family), reference_json(family)
    # transformers' own image-token bookkeeping over the same names and ids
    mapping = Emu3ImageVocabularyMapping(dict(ids))
    K = manifest["image"]["codebook_size"]
    v0 = ids[emu3.visual(0)]
    if [v0 + c for c in range(K)] != [mapping.img2bpe[c] for c in range(K)]:
        raise SystemExit("emu3: visual-token ids differ from transformers' Emu3ImageVocabularyMapping")
    if mapping.eol_token_id != manifest["sequence"]["end_of_line_id"]:
        raise SystemExit("emu3: end-of-line id differs from transformers' Emu3ImageVocabularyMapping")
    cfg = Emu3TextConfig(vocab_size=config["vocab_size"], hidden_size=config["hidden_size"],
                         intermediate_size=config["intermediate_size"], num_hidden_layers=config["num_hidden_layers"],
                         num_attention_heads=config["num_attention_heads"], num_key_value_heads=config["num_key_value_heads"],
                         max_position_embeddings=config["max_position_embeddings"], rms_norm_eps=config["rms_norm_eps"],
                         rope_theta=config["rope_theta"], tie_word_embeddings=False, pad_token_id=config["pad_token_id"],
                         bos_token_id=config["bos_token_id"], eos_token_id=config["eos_token_id"])
    cfg._attn_implementation = "eager"
    ckpt = Checkpoint(ck)
    sd = {n: ckpt.get(n) for n in ckpt.keys()}

    def build(dtype, rounded):
        m = Emu3ForCausalLM(cfg).eval()
        load_state(m, {k: round16(v) for k, v in sd.items()} if rounded else sd, ())
        return m.to(dtype)
    h, w = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    fed = []
    for r in range(h):
        fed += [v0 + c for c in ref["codes"][r * w:(r + 1) * w]] + [mapping.eol_token_id]
    fed = fed[:-1]

    @torch.no_grad()
    def mixed_of(m):
        c = m(input_ids=torch.tensor([ref["cond_ids"] + fed])).logits[0].float()[:, v0:v0 + K]
        u = m(input_ids=torch.tensor([ref["uncond_ids"] + fed])).logits[0].float()[:, v0:v0 + K]
        pc, pu = len(ref["cond_ids"]), len(ref["uncond_ids"])
        return torch.stack([mix(c[pc - 1 + r * (w + 1) + col], u[pu - 1 + r * (w + 1) + col], ref["cfg_scale"])
                            for r in range(h) for col in range(w)])
    out = {"mixed": mixed_of(build(torch.float32, fp16)),
           "ids": {"visual_token_0": v0, "end_of_line": mapping.eol_token_id,
                   "image_prefix": manifest["sequence"]["begin_of_image_ids"]}}
    for dt in (torch.float16, torch.bfloat16):
        out[str(dt)[6:]] = mixed_of(build(dt, False))
    if fp16:
        with torch.no_grad():
            for p in vq.parameters():
                p.copy_(round16(p))
    vc = read_json(os.path.join(vq_dir, "config.json"))
    up = upstream_vq("emu3", {"codebook_size": vc["codebook_size"], "embed_dim": vc["embed_dim"], "z_channels": vc["z_channels"],
                              "ch": vc["ch"], "ch_mult": vc["ch_mult"], "num_res_blocks": vc["num_res_blocks"],
                              "attn_resolutions": vc["attn_resolutions"],
                              "temporal_downsample_factor": vc["temporal_downsample_factor"]}, vq_src)
    load_state(up, hf_layouts.hf_state_dict("emu3", vq), UPSTREAM_ENCODER_KEYS)
    out["vq"] = tiny_vq_check("emu3", vq, up, code_grid(ref, manifest), d, VQ_FP16_TOLERANCE if fp16 else VQ_TOLERANCE)
    return out


# ------------------------------------------------------------------------------------------------
RUNNERS = {"janus-pro": janus, "lumina-mgpt": lumina, "emu3": emu3_ref}


def tolerance_sum(*parts: float) -> float:
    """A bound from the triangle inequality, rounded up to two significant digits."""
    t = sum(parts)
    e = 10 ** (math.floor(math.log10(t)) - 1)
    return round(math.ceil(t / e) * e, 12)


def document(family: str, r: dict, layout, ver: dict) -> tuple:
    """(hf_reference.json content, measured numbers)."""
    fp16 = family.endswith("-fp16")
    d = os.path.join(FAMILIES, family)
    ref, manifest = reference_json(family), manifest_of(family)
    onnx = onnx_mixed(d, ref, manifest)
    ours = tensor_of(ref["mixed_logits"])
    f32, f16, bf16 = r["mixed"], r["float16"], r["bfloat16"]
    measured = {"pytorch_vs_transformers_float32": maxdiff(ours, f32), "onnx_vs_transformers_float32": maxdiff(onnx, f32),
                "transformers_float16_vs_float32": maxdiff(f16, f32),
                "transformers_bfloat16_vs_float32": maxdiff(bf16, f32),
                "onnx_vs_transformers_float16": maxdiff(onnx, f16), "onnx_vs_transformers_bfloat16": maxdiff(onnx, bf16),
                "logit_range": [float(f32.min()), float(f32.max())]}
    doc = {"note": ("reference numbers from the upstream implementations, same weights as this folder's tiny "
                    "checkpoint; mixed_logits has reference.json's layout"),
           "command": COMMAND, "versions": ver,
           "prompt": ref["prompt"], "cfg_scale": ref["cfg_scale"], "cond_ids": ref["cond_ids"],
           "uncond_ids": ref["uncond_ids"], "codes": ref["codes"]}
    if fp16:
        # The folder's transformer computes in float16. Against transformers' float16 run, by the
        # triangle inequality through the float32 model with the same float16-rounded weights: ours
        # is within reference.json's tolerance of our float32 PyTorch reference, which is within the
        # measured PyTorch difference of transformers' float32 run, which is within the measured
        # float16 error of transformers' float16 run. Likewise for bfloat16.
        own = ref["tolerance"] + measured["pytorch_vs_transformers_float32"]
        doc.update({"dtype": "float16", "mixed_logits": ox._tensor(f16),
                    "tolerance": tolerance_sum(own, measured["transformers_float16_vs_float32"]),
                    "bfloat16_mixed_logits": ox._tensor(bf16),
                    "bfloat16_tolerance": tolerance_sum(own, measured["transformers_bfloat16_vs_float32"]),
                    "float32_mixed_logits": ox._tensor(f32), "float32_tolerance": tolerance_sum(own)})
    else:
        doc.update({"dtype": "float32", "mixed_logits": ox._tensor(f32), "tolerance": LOGIT_TOLERANCE})
    for key in ("rows", "ids", "grid_tokens"):
        if key in r:
            doc[key] = r[key]
    doc["vq"] = r["vq"]
    if layout is not None:
        doc["layout"] = layout
    measured["vq_pytorch"] = r["vq"]["measured"]["pytorch"]
    measured["vq_onnx"] = r["vq"]["measured"]["onnx"]
    if layout is not None:
        measured["layout_vq_pytorch"] = layout["measured"]["pytorch"]
        measured["layout_vq_onnx"] = layout["measured"]["onnx"]
    doc["measured"] = measured
    return doc, measured


def write(family: str, doc: dict) -> None:
    path = os.path.join(FAMILIES, family, "hf_reference.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(ox._dumps(doc) + "\n")
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chameleon-vqgan", required=True, help="chameleon/inference/vqgan.py of facebookresearch/chameleon")
    p.add_argument("--check", action="store_true", help="measure only, write nothing")
    p.add_argument("--families", nargs="*", default=None, help="folders under tests/models/families (default: all "
                   "Janus-Pro, Lumina-mGPT and Emu3 folders, float16 ones included)")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    vq_src = chameleon_module(args.chameleon_vqgan)
    ver = versions()
    families = args.families or [f for base in RUNNERS for f in (base, base + "-fp16")
                                 if os.path.isdir(os.path.join(FAMILIES, f))]
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fam in families:
            base = fam.replace("-fp16", "")
            layout = layout_check(base, vq_src, tmp) if fam == base else None
            doc, measured = document(fam, RUNNERS[base](vq_src, tmp, fam), layout, ver)
            table[fam] = measured
            if not args.check:
                write(fam, doc)
    for fam, m in table.items():
        for k, v in m.items():
            print(f"{fam:16s} {k:36s} {v if isinstance(v, list) else f'{v:.3e}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
