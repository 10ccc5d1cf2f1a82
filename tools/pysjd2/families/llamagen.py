"""LlamaGen text-to-image (FoundationVision/LlamaGen, ``GPT_models`` with ``model_type='t2i'``) ->
model folder.

Inputs (the files upstream's ``autoregressive/sample/sample_t2i.py`` loads):

* ``--checkpoint``: the GPT checkpoint (``t2i_XL_stage2_512.pt``; a dict with ``model`` / ``module``
  / ``state_dict``), with ``--gpt-model`` naming the size (GPT-B ... GPT-7B; default GPT-XL) -- or a
  folder holding ``llamagen.json`` (our tiny layout: gpt.pt, vq.pt, t5/ and the model arguments);
* ``--vq-checkpoint``: VQ-16 (``vq_ds16_t2i.pt``, ``{"model": ...}``), codebook 16384 x 8;
* ``--t5``: the FLAN-T5-XL folder (``config.json``, ``spiece.model``, weights).

Decisions (docs/models.md):

* Text conditioning: the **T5 encoder is exported inside the text_embedding graph**, followed by
  LlamaGen's caption projection (``cls_embedding.cap_proj``: Linear, GELU-tanh, Linear). The engine
  always embeds a whole prompt row in one call, with left padding id 0 (T5's pad id, masked inside
  the graph), so the bidirectional encoder sees exactly the prompt. The T5 tokenizer's ``</s>`` (id
  1) is the template suffix; prompts are lowercased (upstream's ``clean_caption`` does more: URL and
  HTML removal etc., not reproduced). Accepting precomputed features instead would need a new engine
  input; exporting T5 keeps prompt -> image self-contained (cost: ~1.2 B parameters for FLAN-T5-XL's
  encoder, use ``--fp16``).
* CFG: upstream's unconditional row is the learned ``uncond_embedding`` [120, 2048] in place of the
  caption features, with the conditional row's caption mask (left padding: a prompt of n tokens
  uses null rows 120-n .. 119). We expose it as one extra text id ``NULL = t5 vocab_size``: the
  manifest uses ``pad_prompt`` with ``pad_id = NULL``, so the unconditional row is NULL x n followed
  by ``</s>``; a row containing NULL is replaced wholesale by the null rows for its slots
  (slot of position j in a row of S ids: 120 - S + j).
* Positions: caption slot k sits at absolute position 120 - n + k and image token i at 120 + i
  (upstream's ``input_pos``); the manifest's ``sequence.first_image_position = cls_token_num`` makes
  the engine feed exactly these ids, and the graph derives 2-D RoPE rows/columns from them (caption
  slots get zero cos/sin, as in upstream's table -- their queries and keys vanish).
* Sampling defaults: CFG 7.5, top-k 1000, temperature 1 (sample_t2i.py).
"""
from __future__ import annotations

import json
import os
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common
from .checkpoint import Checkpoint, load_into, read_json, write_safetensors
from .decoder import FamilyConfig, FamilyTransformer
from .export import export_family_folder, transformer_case, text_case
from . import reference as ref
from .t5 import T5Config, T5Encoder
from .tokenizers import (TINY_WORDS, UnigramSentencePiece, sentencepiece_for_engine, sentencepiece_model_bytes,
                         tiny_unigram_pieces)
from .vqdecoders import Vq16Decoder

GPT_MODELS = {  # name: (n_layer, n_head, dim), autoregressive/models/gpt.py
    "GPT-B": (12, 12, 768), "GPT-L": (24, 16, 1024), "GPT-XL": (36, 20, 1280), "GPT-XXL": (48, 24, 1536),
    "GPT-XXXL": (48, 40, 2560), "GPT-1B": (22, 32, 2048), "GPT-3B": (24, 32, 3200), "GPT-7B": (32, 32, 4096),
}
VQ_MODELS = {"VQ-16": [1, 1, 2, 2, 4], "VQ-8": [1, 2, 2, 4]}


def find_multiple(n: int, k: int) -> int:
    return n if n % k == 0 else n + k - (n % k)


class CaptionText(nn.Module):
    """ids [B,S] -> caption embeddings [B,S,D]: T5 features (or the learned null caption) projected
    by LlamaGen's ``cap_proj``."""

    def __init__(self, t5: T5Encoder, caption_dim: int, dim: int, cls_token_num: int):
        super().__init__()
        self.t5 = t5
        self.cap_proj = nn.Module()
        self.cap_proj.fc1 = nn.Linear(caption_dim, dim, bias=False)
        self.cap_proj.fc2 = nn.Linear(dim, dim, bias=False)
        self.uncond_embedding = nn.Parameter(torch.zeros(cls_token_num, caption_dim))
        self.cls = cls_token_num
        self.t5_vocab = t5.config.vocab_size
        self.null_id = t5.config.vocab_size

    def forward(self, ids):
        real = (ids != 0) & (ids < self.t5_vocab)                        # T5 pad id 0 is masked
        t5_ids = torch.where(ids < self.t5_vocab, ids, torch.zeros_like(ids))
        feats = self.t5(t5_ids, real.to(torch.int64)) * real.unsqueeze(-1).to(torch.float32)
        ones = torch.ones_like(ids[0])
        total = ones.sum()
        slot = (torch.cumsum(ones, 0) - 1 + self.cls - total).clamp(min=0, max=self.cls - 1)
        null = self.uncond_embedding[slot].unsqueeze(0)                   # [1,S,C]
        null_row = (ids == self.null_id).any(dim=-1, keepdim=True).unsqueeze(-1)   # [B,1,1]
        cap = torch.where(null_row, null, feats)
        return self.cap_proj.fc2(F.gelu(self.cap_proj.fc1(cap), approximate="tanh"))


def build(gpt: dict, t5cfg: T5Config, vq_args: dict, image_size: int):
    dim, n_layer, n_head = gpt["dim"], gpt["n_layer"], gpt["n_head"]
    n_kv = gpt.get("n_kv_head") or n_head
    hidden = int(2 * 4 * dim / 3)
    if gpt.get("ffn_dim_multiplier"):
        hidden = int(gpt["ffn_dim_multiplier"] * hidden)
    ffn = find_multiple(hidden, gpt.get("multiple_of", 256))
    vq = Vq16Decoder(codebook_size=vq_args.get("codebook_size", 16384), codebook_embed_dim=vq_args.get("codebook_embed_dim", 8),
                     codebook_l2_norm=vq_args.get("codebook_l2_norm", True), z_channels=vq_args.get("z_channels", 256),
                     ch=vq_args.get("ch", 128), ch_mult=vq_args.get("ch_mult", VQ_MODELS["VQ-16"]),
                     num_res_blocks=vq_args.get("num_res_blocks", 2))
    if image_size % vq.scale:
        raise ValueError(f"image size {image_size} is not a multiple of the VQ downsampling {vq.scale}")
    latent = image_size // vq.scale
    cls = gpt.get("cls_token_num", 120)
    K = gpt.get("vocab_size", 16384)
    cfg = FamilyConfig(
        text_vocab_size=t5cfg.vocab_size + 1, codebook_size=K, hidden_size=dim, num_layers=n_layer,
        num_heads=n_head, num_kv_heads=n_kv, head_dim=dim // n_head, ffn_size=ffn,
        max_sequence_length=cls + latent * latent, rope_theta=float(gpt.get("rope_base", 10000)),
        family="llamagen", layer_style="llamagen", rms_eps=float(gpt.get("norm_eps", 1e-5)),
        rope="llamagen2d", first_image_position=cls, grid_width=latent)
    text = CaptionText(T5Encoder(t5cfg), gpt.get("caption_dim", t5cfg.d_model), dim, cls)
    image = nn.Embedding(K, dim)
    head = nn.Linear(dim, K, bias=False)
    return FamilyTransformer(cfg, text, image, head), vq, latent


def _rename_gpt(name: str):
    if name.startswith("text_embed.t5."):
        return None                       # loaded from the T5 checkpoint
    if name.startswith("text_embed.cap_proj."):
        return "cls_embedding.cap_proj." + name[len("text_embed.cap_proj."):]
    if name == "text_embed.uncond_embedding":
        return "cls_embedding.uncond_embedding"
    if name == "image_embed.weight":
        return "tok_embeddings.weight"
    if name == "head.weight":
        return "output.weight"
    if name.startswith("noise_embed."):
        return None
    return name


def resolve_inputs(args):
    """(gpt checkpoint, vq checkpoint, t5 folder, gpt args, vq args, image size) from the options or
    a folder with llamagen.json."""
    ck = args.checkpoint
    if ck and os.path.isdir(ck) and os.path.exists(os.path.join(ck, "llamagen.json")):
        meta = read_json(os.path.join(ck, "llamagen.json"))
        return (os.path.join(ck, meta["gpt_checkpoint"]), os.path.join(ck, meta["vq_checkpoint"]),
                os.path.join(ck, meta["t5"]), meta["gpt"], meta["vq"], args.image_size or meta["image_size"])
    if not (ck and args.vq_checkpoint and args.t5):
        raise SystemExit("llamagen: --checkpoint GPT.pt --vq-checkpoint VQ.pt --t5 DIR are required (or --tiny)")
    n_layer, n_head, dim = GPT_MODELS[args.gpt_model]
    gpt = {"dim": dim, "n_layer": n_layer, "n_head": n_head, "cls_token_num": args.cls_token_num,
           "vocab_size": args.codebook_size, "caption_dim": None}
    vq = {"codebook_size": args.codebook_size, "codebook_embed_dim": args.codebook_embed_dim,
          "ch_mult": VQ_MODELS[args.vq_model]}
    return ck, args.vq_checkpoint, args.t5, gpt, vq, args.image_size or 512


def load(gpt_path: str, vq_path: str, t5_dir: str, gpt: dict, vq_args: dict, image_size: int):
    t5cfg = T5Config.from_hf(read_json(os.path.join(t5_dir, "config.json")))
    if t5cfg.gated and t5cfg.act not in ("gelu", "gelu_new"):
        raise ValueError(f"T5 feed_forward_proj {t5cfg.feed_forward_proj} is not supported")
    gpt = dict(gpt)
    if not gpt.get("caption_dim"):
        gpt["caption_dim"] = t5cfg.d_model
    model, vq, latent = build(gpt, t5cfg, vq_args, image_size)
    ck = Checkpoint(gpt_path)
    if ck.has("tok_embeddings.weight") and ck.get("tok_embeddings.weight").shape[1] != gpt["dim"]:
        raise ValueError(f"the GPT checkpoint has dim {ck.get('tok_embeddings.weight').shape[1]}, "
                         f"--gpt-model says {gpt['dim']}")
    load_into(model, ck, names=[n for n, _ in model.named_parameters()], rename=_rename_gpt)
    t5ck = Checkpoint(t5_dir)
    load_into(model.text_embed.t5, t5ck, names=[n for n, _ in model.text_embed.t5.named_parameters()])
    load_into(vq, Checkpoint(vq_path), names=[n for n, _ in vq.named_parameters()])
    return model.eval(), vq.eval(), latent, t5cfg


def make_manifest(name, model, vq, latent, t5cfg, max_prompt_tokens, description):
    cfg = model.config
    cls = cfg.first_image_position
    m = common.manifest_skeleton(name, description)
    m["image"] = {"grid_height": latent, "grid_width": latent, "codebook_size": cfg.codebook_size,
                  "height": latent * vq.scale, "width": latent * vq.scale, "pixel_range": [-1.0, 1.0]}
    m["tokenizer"] = {"type": "sentencepiece", "model": "spiece.model", "lowercase": True,
                      "max_prompt_tokens": max_prompt_tokens or (cls - 1), "prompt_format": "{prompt}"}
    m["sequence"] = {"prompt_prefix_ids": [], "prompt_suffix_ids": [1], "begin_of_image_ids": [],
                     "end_of_line_id": None, "end_of_image_ids": [], "first_image_position": cls}
    m["cfg"] = {"unconditional": "pad_prompt", "pad_id": t5cfg.vocab_size, "negative_prompt": None}
    m["sampling"] = {"cfg_scale": 7.5, "temperature": 1.0, "top_k": 1000, "top_p": 1.0}
    return m


def extra_cases(model):
    """Parity cases in the image region of the 2-D RoPE (positions >= cls_token_num) and a text
    case with a null row, so that both baked-in mappings are checked through ONNX Runtime."""
    cfg = model.config
    f, w = cfg.first_image_position, cfg.grid_width
    p, s = 4, 3
    start = f + max(0, w - 2)                                           # crosses a row boundary
    pos = torch.arange(start + p, start + p + s).unsqueeze(0).repeat(2, 1)
    mask = torch.ones(2, p + s, dtype=torch.long)
    mask[1, 0] = 0
    cases = [transformer_case(model, f"window at image positions {start + p}..{start + p + s - 1} (2-D RoPE)",
                              pos, mask, p, seed=11, keep_layers=[cfg.num_layers - 1])]
    null = model.text_embed.null_id
    ids = torch.tensor([[0, 5, 9, 1], [null, null, null, 1]])
    cases.append(text_case(model, "caption row with left padding, null (unconditional) row", ids))
    return cases


def add_arguments(p) -> None:
    common.add_common_arguments(p)
    p.add_argument("--vq-checkpoint", help="VQ checkpoint (vq_ds16_t2i.pt)")
    p.add_argument("--t5", help="FLAN-T5 folder (config.json, spiece.model, weights)")
    p.add_argument("--gpt-model", default="GPT-XL", choices=sorted(GPT_MODELS), help="GPT size (default GPT-XL)")
    p.add_argument("--vq-model", default="VQ-16", choices=sorted(VQ_MODELS))
    p.add_argument("--image-size", type=int, default=None, help="pixels (default 512; the stage-1 model uses 256)")
    p.add_argument("--cls-token-num", type=int, default=120, help="caption slots (= T5 max length, default 120)")
    p.add_argument("--codebook-size", type=int, default=16384)
    p.add_argument("--codebook-embed-dim", type=int, default=8)
    p.add_argument("--random-size", choices=sorted(GPT_MODELS), default=None,
                   help="random weights with this GPT size, the VQ-16 decoder at 256 pixels and a tiny T5: a model to "
                        "measure the engine at real dimensions (its images are noise; too large to commit)")


def export(args) -> str:
    if args.tiny or args.random_size:
        ck = args.checkpoint or common.default_tiny_checkpoint_dir(args.out, "llamagen")
        make_tiny(ck, seed=args.seed, size=args.random_size)
        args.checkpoint = ck
    gpt_path, vq_path, t5_dir, gpt, vq_args, image_size = resolve_inputs(args)
    model, vq, latent, t5cfg = load(gpt_path, vq_path, t5_dir, gpt, vq_args, image_size)
    name = args.name or os.path.basename(os.path.normpath(args.out))
    what = ("tiny random-weight configuration" if args.tiny
            else f"random weights, {args.random_size} dimensions" if args.random_size else os.path.basename(gpt_path))
    desc = (f"LlamaGen T2I ({what}), "
            f"{latent}x{latent} codes, 2-D RoPE, T5 text encoder in the text graph")
    manifest = make_manifest(name, model, vq, latent, t5cfg, args.max_prompt_tokens, desc)
    spm = os.path.join(t5_dir, "spiece.model")
    info = common.family_info(args, "llamagen", gpt_checkpoint=gpt_path, vq_checkpoint=vq_path, t5=t5_dir)
    info.update({"gpt": gpt, "vq": vq_args, "image_size": image_size})
    with open(spm, "rb") as f:
        spm_bytes = f.read()
    export_family_folder(args.out, model, vq, manifest, {"spiece.model": sentencepiece_for_engine(spm_bytes)}, info,
                         parity_seed=args.seed, self_test=False if args.no_self_test else None, fp16=args.fp16, weights=args.weights, block_size=args.block_size, accuracy_level=args.accuracy_level, contract=args.contract, window_mask=args.window_mask,
                         external_data=args.external_data,
                         max_parity_floats=args.parity_floats or (12000 if args.tiny else 60000),
                         extra_cases=extra_cases)
    tok = UnigramSentencePiece(spm_bytes)
    cases = [{"prompt": p, "ids": tok.encode(p.lower())} for p in ("a red circle", "Two big dogs on the left")]
    common.write_json(os.path.join(args.out, "tokenizer_cases.json"), {"cases": cases})
    if args.tiny or args.reference:
        write_reference(args.out, model, manifest, tok, seed=args.seed)
    return args.out


@torch.no_grad()
def write_reference(out_dir, model, manifest, tok, prompt="a red circle", seed=0):
    """sample_t2i.py + generate(): cls_token_num caption slots, T5 features of the prompt (+ </s>)
    left-padded into the last n slots (mask 0 before), the learned null caption (all slots, same
    mask) for the unconditional row, absolute positions 0.., image token i at cls + i."""
    cfg = model.config
    cls = cfg.first_image_position
    text = model.text_embed
    ids = tok.encode(prompt.lower()) + [1]
    n = len(ids)
    feats = text.t5(torch.tensor([ids]), torch.ones(1, n, dtype=torch.long))[0]          # [n, C]
    cond_cap = torch.cat([torch.zeros(cls - n, feats.shape[1]), feats], 0)
    uncond_cap = text.uncond_embedding
    mask = [0] * (cls - n) + [1] * n

    def proj(c):
        return text.cap_proj.fc2(torch.nn.functional.gelu(text.cap_proj.fc1(c), approximate="tanh"))
    h, w = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    codes = ref.random_codes(h * w, cfg.codebook_size, seed)
    slots = ref.image_slots(codes, h, w, False)
    fed = torch.tensor([v for _, v in slots[:-1]], dtype=torch.long)
    slot_embeds = model.image_embed(fed)
    rows = [ref.row_logits(model, proj(cap), range(cls), mask, slot_embeds, range(cls, cls + len(fed)), model.head)
            for cap in (cond_cap, uncond_cap)]
    null = text.null_id
    ref.write_reference(out_dir, prompt, manifest["sampling"]["cfg_scale"], ids, [null] * (n - 1) + [1], codes, slots,
                        rows[0], rows[1], cls, cls,
                        "LlamaGen: 120-slot (here cls_token_num) caption layout with masks, absolute positions")


def make_tiny(ckpt_dir: str, seed: int = 0, size: Optional[str] = None) -> None:
    """Tiny LlamaGen inputs in the upstream layouts: gpt.pt ({"model": state_dict} with LlamaGen
    names), vq.pt ({"model": ...}), t5/ (Hugging Face config.json, spiece.model, model.safetensors),
    plus llamagen.json with the model arguments (what --gpt-model / --image-size say for real ones).
    ``size`` (a GPT_MODELS name) gives the transformer and the VQ-16 decoder their real dimensions
    (256 pixels, 16x16 codes, 120 caption slots) with random weights; the T5 stays tiny."""
    pieces = tiny_unigram_pieces(TINY_WORDS)
    t5cfg = T5Config(vocab_size=len(pieces) + 4, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                     relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="gated-gelu")
    gpt = {"dim": 64, "n_layer": 2, "n_head": 4, "multiple_of": 32, "cls_token_num": 12, "vocab_size": 64,
           "caption_dim": 32, "norm_eps": 1e-5, "rope_base": 10000}
    vq_args = {"codebook_size": 64, "codebook_embed_dim": 8, "ch": 32, "ch_mult": [1, 1], "z_channels": 8, "num_res_blocks": 0}
    image_size = 8
    if size is not None:
        n_layer, n_head, dim = GPT_MODELS[size]
        gpt = dict(gpt, dim=dim, n_layer=n_layer, n_head=n_head, multiple_of=256, cls_token_num=120, vocab_size=16384)
        vq_args = {"codebook_size": 16384, "codebook_embed_dim": 8, "ch": 128, "ch_mult": VQ_MODELS["VQ-16"],
                   "z_channels": 256, "num_res_blocks": 2}
        image_size = 256
    cls = gpt["cls_token_num"]
    model, vq, _ = build(gpt, t5cfg, vq_args, image_size)
    g = torch.Generator().manual_seed(seed)
    common.init_random(model, g)
    common.init_random(vq, g)
    model.eval()
    with torch.no_grad():
        model.text_embed.uncond_embedding.copy_(torch.randn(cls, 32, generator=g) / 32 ** 0.5)
        common.calibrate_head(model, model.head.weight, seed)
    os.makedirs(os.path.join(ckpt_dir, "t5"), exist_ok=True)
    sd = {}
    for n, p in model.named_parameters():
        r = _rename_gpt(n)
        if r is not None:
            sd[r] = p.detach().clone()
    torch.save({"model": sd}, os.path.join(ckpt_dir, "gpt.pt"))
    torch.save({"model": {n: p.detach().clone() for n, p in vq.named_parameters()}}, os.path.join(ckpt_dir, "vq.pt"))
    t5sd = {n: p.detach() for n, p in model.text_embed.t5.named_parameters()}
    t5sd["encoder.embed_tokens.weight"] = t5sd["shared.weight"]
    write_safetensors(os.path.join(ckpt_dir, "t5", "model.safetensors"), t5sd, {"format": "pt"})
    common.write_json(os.path.join(ckpt_dir, "t5", "config.json"), {
        "architectures": ["T5EncoderModel"], "model_type": "t5", "vocab_size": t5cfg.vocab_size, "d_model": 32,
        "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4, "relative_attention_num_buckets": 32,
        "relative_attention_max_distance": 128, "layer_norm_epsilon": 1e-6, "feed_forward_proj": "gated-gelu",
        "is_encoder_decoder": True, "pad_token_id": 0, "eos_token_id": 1})
    with open(os.path.join(ckpt_dir, "t5", "spiece.model"), "wb") as f:
        f.write(sentencepiece_model_bytes(pieces, bos_id=-1))   # as T5's spiece.model
    common.write_json(os.path.join(ckpt_dir, "llamagen.json"), {
        "gpt_checkpoint": "gpt.pt", "vq_checkpoint": "vq.pt", "t5": "t5", "gpt": gpt, "vq": vq_args, "image_size": image_size,
        "note": f"{size} random-weight LlamaGen written by export_models.py llamagen --random-size {size}" if size
        else "tiny random-weight LlamaGen written by export_models.py llamagen --tiny"})


def from_family_info(info: dict, workdir: str):
    if not info.get("gpt_checkpoint"):
        ck = os.path.join(workdir, "llamagen-tiny")
        make_tiny(ck, seed=info["tiny_seed"])
        info = dict(info, gpt_checkpoint=os.path.join(ck, "gpt.pt"), vq_checkpoint=os.path.join(ck, "vq.pt"),
                    t5=os.path.join(ck, "t5"))
    model, vq, _, _ = load(info["gpt_checkpoint"], info["vq_checkpoint"], info["t5"], info["gpt"], info["vq"],
                           info["image_size"])
    return model, vq
