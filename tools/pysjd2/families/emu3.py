"""Emu3 (baaivision/Emu3, BAAI/Emu3-Gen) -> model folder.

Inputs:

* ``--checkpoint``: the Emu3-Gen Hugging Face folder (``config.json``, safetensors shards,
  ``emu3.tiktoken``, ``emu3_vision_tokens.txt``);
* ``--vq``: the Emu3-VisionTokenizer folder (``config.json``, ``model.safetensors``).

Architecture (emu3/mllm/modeling_emu3.py): Llama decoder with grouped-query attention (32 heads, 8
KV heads), RoPE theta 1e6, RMSNorm eps 1e-5; vocabulary 184622 = 151643 tiktoken ranks + 3 + 205
extra specials + the vision tokens file (``<|image token|>``, ``<|image start|>``, ``<|image end|>``,
then 32768 ``<|visual token NNNNNN|>``). Code c is vocabulary id ``<|visual token 000000|>`` + c
(upstream assumes the range is contiguous; the exporter checks it). image_embedding row c and logit c
are those rows of ``embed_tokens`` / ``lm_head``; the text graph keeps only the rows below the
visual tokens.

Sequence (processing_emu3.py, utils_emu3.py, image_generation.py): ``<|extra_203|>`` (BOS) + prompt +
" masterpiece, film grained, best quality." (the official example's positive suffix, kept in
``tokenizer.prompt_format``), then ``<|image start|>`` + "{H}*{W}" + ``<|image token|>``, rows of H codes
each followed by ``<|extra_200|>`` (forced end of line), then ``<|extra_201|>`` (end of frame),
``<|image end|>``, ``<|extra_204|>`` (EOS). H = W = round(sqrt(image_area) / 8) = 90 for the 1:1
ratio (720 px). Text is NFC-normalised and split by Qwen's regex before the tiktoken BPE.

CFG: ``UnbatchedClassifierFreeGuidanceLogitsProcessor`` with the negative prompt as its own sequence
(BOS + negative + the same image prefix), scale 3; top-k 2048 (our ``negative_prompt`` mode).

The MoVQ decoder (emu3/tokenizer/modeling_emu3visionvq.py) decodes one latent frame; see
``vqdecoders.MovqDecoder``.
"""
from __future__ import annotations

import math
import os
from typing import Dict, List, Optional

import torch
import torch.nn as nn

from . import common
from .checkpoint import Checkpoint, load_into, read_json, write_safetensors
from .decoder import FamilyConfig, FamilyTransformer, RowSelectEmbedding, RowSelectHead
from .export import export_family_folder
from . import reference as ref
from .tokenizers import TINY_WORDS, Tiktoken, tiny_tiktoken
from .vqdecoders import MovqDecoder

PAT_STR = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
POSITIVE_PROMPT = " masterpiece, film grained, best quality."
NEGATIVE_PROMPT = ("lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, "
                   "worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry.")
FIXED_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [f"<|extra_{i}|>" for i in range(205)]
BOS, EOS, EOL, EOF = "<|extra_203|>", "<|extra_204|>", "<|extra_200|>", "<|extra_201|>"
IMG, BOI, EOI = "<|image token|>", "<|image start|>", "<|image end|>"


def visual(c: int) -> str:
    return f"<|visual token {c:06d}|>"


def special_ids(ranks_count: int, vision_tokens: List[str]) -> Dict[str, int]:
    """Upstream's SPECIAL_TOKENS numbering: start at 151643 (= the number of tiktoken ranks)."""
    return {t: ranks_count + i for i, t in enumerate(FIXED_SPECIALS + vision_tokens)}


def build(config: dict, codebook_size: int, text_rows: int) -> FamilyTransformer:
    d = int(config.get("hidden_size", 4096))
    heads = int(config.get("num_attention_heads", 32))
    cfg = FamilyConfig(
        text_vocab_size=text_rows, codebook_size=codebook_size, hidden_size=d,
        num_layers=int(config.get("num_hidden_layers", 32)), num_heads=heads,
        num_kv_heads=int(config.get("num_key_value_heads") or heads), head_dim=d // heads,
        ffn_size=int(config.get("intermediate_size", 14336)),
        max_sequence_length=int(config.get("max_position_embeddings", 9216)),
        rope_theta=float(config.get("rope_theta", 1000000.0)), family="emu3", layer_style="hf",
        rms_eps=float(config.get("rms_norm_eps", 1e-5)))
    rs = config.get("rope_scaling")
    if rs:
        if rs.get("type", rs.get("rope_type")) != "linear":
            raise ValueError(f"rope_scaling {rs} is not supported (only linear)")
        cfg.rope_scaling_factor = float(rs["factor"])
    if int(config.get("pretraining_tp", 1)) != 1:
        pass   # tensor-parallel slicing only reorders the same matmuls
    return FamilyTransformer(cfg, nn.Embedding(text_rows, d), RowSelectEmbedding(codebook_size, d),
                             RowSelectHead(codebook_size, d))


def _rename(name: str) -> Optional[str]:
    if name.startswith("layers.") or name.startswith("norm."):
        return "model." + name
    return None


def load_vq(vq_dir: str) -> MovqDecoder:
    c = read_json(os.path.join(vq_dir, "config.json"))
    if c.get("double_z"):
        raise ValueError("double_z MoVQ configurations are not supported")
    vq = MovqDecoder(codebook_size=c.get("codebook_size", 32768), embed_dim=c.get("embed_dim", 4),
                     z_channels=c.get("z_channels", 4), ch=c.get("ch", 256), ch_mult=c.get("ch_mult", [1, 2, 2, 4]),
                     num_res_blocks=c.get("num_res_blocks", 2), attn_resolutions=c.get("attn_resolutions", [3]),
                     temporal_downsample_factor=c.get("temporal_downsample_factor", 4),
                     out_channels=c.get("out_channels", 3))
    names = [n for n, _ in vq.named_parameters()] + [n for n, _ in vq.named_buffers() if "running_" in n]
    load_into(vq, Checkpoint(vq_dir), names=names)
    return vq.eval()


def tokenizer_info(ckpt_dir: str):
    ranks = Tiktoken.read(os.path.join(ckpt_dir, "emu3.tiktoken"))
    with open(os.path.join(ckpt_dir, "emu3_vision_tokens.txt"), encoding="utf-8") as f:
        vision = [t.strip() for t in f if t.strip()]
    return ranks, special_ids(len(ranks), vision)


def load(ckpt_dir: str, vq_dir: str):
    config = read_json(os.path.join(ckpt_dir, "config.json"))
    vq = load_vq(vq_dir)
    K = vq.quantize.embedding.weight.shape[0]
    ranks, ids = tokenizer_info(ckpt_dir)
    v0 = ids[visual(0)]
    if any(ids.get(visual(c)) != v0 + c for c in range(K)):
        raise ValueError("visual tokens are not contiguous in the vocabulary")
    for key, tok in (("img_token_id", IMG), ("boi_token_id", BOI), ("eoi_token_id", EOI), ("eol_token_id", EOL),
                     ("eof_token_id", EOF), ("bos_token_id", BOS), ("eos_token_id", EOS)):
        if key in config and config[key] != ids[tok]:
            raise ValueError(f"config {key} = {config[key]} but the tokenizer files give {tok} id {ids[tok]}")
    model = build(config, K, v0)
    ckpt = Checkpoint(ckpt_dir)
    load_into(model, ckpt, names=[n for n, _ in model.named_parameters() if _rename(n)], rename=_rename)
    with torch.no_grad():
        emb = ckpt.get("model.embed_tokens.weight")
        model.text_embed.weight.copy_(emb[:v0])
        model.image_embed.weight.copy_(emb[v0:v0 + K])
        model.head.weight.copy_(ckpt.get("lm_head.weight")[v0:v0 + K])
    return model.eval(), vq, config, ranks, ids


def grid_size(image_area: int, ratio: str, scale: int):
    w, h = map(int, ratio.split(":"))
    r = (image_area / (h * w)) ** 0.5
    return int(round(h * r / scale)), int(round(w * r / scale))


def make_manifest(name, model, vq, gh: int, gw: int, ranks, ids, max_prompt_tokens, description):
    cfg = model.config
    tok = Tiktoken(ranks, [{"pattern": PAT_STR, "behavior": "isolated"}])
    size_ids = tok.encode(f"{gh}*{gw}")
    slots = gh * (gw + 1)
    m = common.manifest_skeleton(name, description)
    m["image"] = {"grid_height": gh, "grid_width": gw, "codebook_size": cfg.codebook_size,
                  "height": gh * vq.scale, "width": gw * vq.scale, "pixel_range": [-1.0, 1.0]}
    keep = [BOS, EOS, BOI, EOI, IMG, EOL, EOF, "<|endoftext|>"]
    m["tokenizer"] = {"type": "tiktoken", "vocab": "emu3.tiktoken", "lowercase": False, "normalization": "nfc",
                      "max_prompt_tokens": max_prompt_tokens or max(8, min(512, cfg.max_sequence_length - slots - 16)),
                      "prompt_format": "{prompt}" + POSITIVE_PROMPT,
                      "pre_tokenizer": [{"pattern": PAT_STR, "behavior": "isolated", "invert": False}],
                      "special_tokens": {t: ids[t] for t in keep}}
    m["sequence"] = {"prompt_prefix_ids": [ids[BOS]], "prompt_suffix_ids": [],
                     "begin_of_image_ids": [ids[BOI]] + size_ids + [ids[IMG]], "end_of_line_id": ids[EOL],
                     "end_of_image_ids": [ids[EOF], ids[EOI], ids[EOS]]}
    m["cfg"] = {"unconditional": "negative_prompt", "pad_id": ids["<|endoftext|>"], "negative_prompt": NEGATIVE_PROMPT}
    m["sampling"] = {"cfg_scale": 3.0, "temperature": 1.0, "top_k": 2048, "top_p": 1.0}
    return m


def add_arguments(p) -> None:
    common.add_common_arguments(p)
    p.add_argument("--vq", help="Emu3-VisionTokenizer folder (config.json, model.safetensors)")
    p.add_argument("--ratio", default="1:1", help="width:height (default 1:1)")
    p.add_argument("--image-area", type=int, default=None, help="pixels² (default: config image_area, 720·720)")


def export(args) -> str:
    ckpt_dir, vq_dir = args.checkpoint, args.vq
    if args.tiny:
        ckpt_dir = ckpt_dir or common.default_tiny_checkpoint_dir(args.out, "emu3")
        make_tiny(ckpt_dir, seed=args.seed)
        vq_dir = vq_dir or os.path.join(ckpt_dir, "vision_tokenizer")
    if not (ckpt_dir and vq_dir):
        raise SystemExit("emu3: --checkpoint DIR and --vq DIR are required (or --tiny)")
    model, vq, config, ranks, ids = load(ckpt_dir, vq_dir)
    area = args.image_area or int(config.get("image_area", 720 * 720))
    gh, gw = grid_size(area, args.ratio, vq.scale)
    name = args.name or os.path.basename(os.path.normpath(args.out))
    desc = (f"Emu3 ({'tiny random-weight configuration' if args.tiny else os.path.basename(os.path.normpath(ckpt_dir))}), "
            f"{gh}x{gw} codes + end-of-line tokens, MoVQ decoder, negative-prompt CFG")
    manifest = make_manifest(name, model, vq, gh, gw, ranks, ids, args.max_prompt_tokens, desc)
    info = common.family_info(args, "emu3", checkpoint=ckpt_dir, vq=vq_dir)
    info.update({"image_area": area, "ratio": args.ratio})
    with open(os.path.join(ckpt_dir, "emu3.tiktoken"), "rb") as f:
        tik = f.read()
    export_family_folder(args.out, model, vq, manifest, {"emu3.tiktoken": tik}, info, parity_seed=args.seed,
                         self_test=False if args.no_self_test else None, fp16=args.fp16, weights=args.weights, block_size=args.block_size, accuracy_level=args.accuracy_level, contract=args.contract, window_mask=args.window_mask,
                         external_data=args.external_data,
                         max_parity_floats=args.parity_floats or (12000 if args.tiny else 60000))
    tok = Tiktoken(ranks, manifest["tokenizer"]["pre_tokenizer"], manifest["tokenizer"]["special_tokens"])
    cases = [{"prompt": p, "ids": tok.encode(p + POSITIVE_PROMPT)} for p in ("a red circle", "Two big dogs, on the left!")]
    cases.append({"text": NEGATIVE_PROMPT, "ids": tok.encode(NEGATIVE_PROMPT)})
    common.write_json(os.path.join(args.out, "tokenizer_cases.json"), {"cases": cases})
    if args.tiny or args.reference:
        write_reference(args.out, model, ckpt_dir, manifest, tok, ids, seed=args.seed, fp16=args.fp16)
    return args.out


@torch.no_grad()
def write_reference(out_dir, model, ckpt_dir, manifest, tok, ids, prompt="a red circle", seed=0, fp16=False):
    """image_generation.py: BOS + prompt + positive suffix + <|image start|> "H*W" <|image token|>,
    and the negative prompt's own sequence with the same image prefix; visual tokens as vocabulary
    ids through embed_tokens, logits from lm_head rows of the visual tokens."""
    seq = manifest["sequence"]
    gh, gw = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    boi = [ids[BOI]] + tok.encode(f"{gh}*{gw}") + [ids[IMG]]
    cond = [ids[BOS]] + tok.encode(prompt + POSITIVE_PROMPT) + boi
    uncond = [ids[BOS]] + tok.encode(NEGATIVE_PROMPT) + boi
    ck = Checkpoint(ckpt_dir)
    table = ck.get("model.embed_tokens.weight")
    lm_head = ck.get("lm_head.weight")
    if fp16:     # the tables as the graphs store them (export.round_to_fp16_ rounded the model's rows)
        table, lm_head = table.half().float(), lm_head.half().float()
    v0 = ids[visual(0)]
    K = model.config.codebook_size
    codes = ref.random_codes(gh * gw, K, seed)
    slots = ref.image_slots(codes, gh, gw, True)
    fed = torch.tensor([v0 + v if k == "code" else ids[EOL] for k, v in slots[:-1]], dtype=torch.long)

    def head(hs):
        return torch.nn.functional.linear(hs, lm_head)[..., v0:v0 + K]
    ref.write_unpadded_reference(out_dir, model, manifest, prompt, table, cond, uncond, codes, slots, table[fed], head,
                                 "Emu3: negative prompt as its own sequence, visual token ids")


def make_tiny(ckpt_dir: str, seed: int = 0, codes: int = 64) -> None:
    """Tiny Emu3: emu3.tiktoken + emu3_vision_tokens.txt + config.json + model.safetensors, and
    vision_tokenizer/ (config.json + model.safetensors) in the Emu3-VisionTokenizer layout."""
    words = ["a", "the", "red", "blue", "circle", "dog", "on", "left", "masterpiece", "film", "grained", "best",
             "quality", "lowres", "bad", "text"]
    tik_text, ranks = tiny_tiktoken(words)
    vision = [IMG, BOI, EOI] + [visual(c) for c in range(codes)]
    ids = special_ids(len(ranks), vision)
    vocab_size = len(ranks) + len(FIXED_SPECIALS) + len(vision)
    image_area = 8 * 8
    config = {"architectures": ["Emu3ForCausalLM"], "model_type": "Emu3", "vocab_size": vocab_size, "hidden_size": 64,
              "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 1000000.0, "image_area": image_area,
              "pad_token_id": ids["<|endoftext|>"], "bos_token_id": ids[BOS], "eos_token_id": ids[EOS],
              "img_token_id": ids[IMG], "boi_token_id": ids[BOI], "eoi_token_id": ids[EOI], "eol_token_id": ids[EOL],
              "eof_token_id": ids[EOF], "tie_word_embeddings": False,
              "sjd2_note": "tiny random-weight configuration written by export_models.py emu3 --tiny"}
    vq_cfg = {"model_type": "Emu3VisionVQ", "codebook_size": codes, "embed_dim": 4, "z_channels": 4, "double_z": False,
              "in_channels": 3, "out_channels": 3, "temporal_downsample_factor": 4, "ch": 32, "ch_mult": [1, 1],
              "num_res_blocks": 1, "attn_resolutions": [1], "dropout": 0.0}
    v0 = ids[visual(0)]
    model = build(config, codes, v0)
    vq = MovqDecoder(codebook_size=codes, embed_dim=4, z_channels=4, ch=32, ch_mult=[1, 1], num_res_blocks=1,
                     attn_resolutions=[1], temporal_downsample_factor=4)
    g = torch.Generator().manual_seed(seed)
    common.init_random(model, g)
    common.init_random(vq, g)
    emb = torch.randn(vocab_size, 64, generator=g)
    lm_head = torch.randn(vocab_size, 64, generator=g) / 8.0
    with torch.no_grad():
        model.text_embed.weight.copy_(emb[:v0])
        model.image_embed.weight.copy_(emb[v0:v0 + codes])
        model.head.weight.copy_(lm_head[v0:v0 + codes])
        lm_head *= common.calibrate_head(model, model.head.weight, seed)
    model.eval()
    tensors = {"model.embed_tokens.weight": emb, "lm_head.weight": lm_head}
    tensors.update(common.renamed_parameters(model, _rename))
    os.makedirs(os.path.join(ckpt_dir, "vision_tokenizer"), exist_ok=True)
    write_safetensors(os.path.join(ckpt_dir, "model.safetensors"), tensors, {"format": "pt"})
    common.write_json(os.path.join(ckpt_dir, "config.json"), config)
    with open(os.path.join(ckpt_dir, "emu3.tiktoken"), "w", encoding="utf-8") as f:
        f.write(tik_text)
    with open(os.path.join(ckpt_dir, "emu3_vision_tokens.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vision) + "\n")
    vqt = {n: p.detach() for n, p in vq.named_parameters()}
    vqt.update({n: b.detach() for n, b in vq.named_buffers() if "running_" in n})
    write_safetensors(os.path.join(ckpt_dir, "vision_tokenizer", "model.safetensors"), vqt, {"format": "pt"})
    common.write_json(os.path.join(ckpt_dir, "vision_tokenizer", "config.json"), vq_cfg)


def from_family_info(info: dict, workdir: str):
    ckpt, vqd = info.get("checkpoint"), info.get("vq")
    if not ckpt:
        ckpt = os.path.join(workdir, "emu3-tiny")
        make_tiny(ckpt, seed=info["tiny_seed"])
        vqd = os.path.join(ckpt, "vision_tokenizer")
    model, vq, _, _, _ = load(ckpt, vqd)
    return model, vq
