"""Janus-Pro (deepseek-ai/Janus, ``MultiModalityCausalLM``) -> model folder.

Checkpoint: the Hugging Face folder (``config.json``, ``*.safetensors`` or ``pytorch_model*.bin``,
``tokenizer.json``, ``tokenizer_config.json``). What the exporter takes from it:

* ``language_model.model.*``: the Llama decoder (``language_config``: hidden 2048 / 4096, 24 / 30
  layers, multi-head attention, RMSNorm eps 1e-6 and RoPE theta 10000 by LlamaConfig default);
  the text embedding is ``language_model.model.embed_tokens`` (vocabulary 102400 + added tokens).
* image embedding = ``gen_aligner(gen_embed(code))``: a 16384 x 8 table and an MLP projector
  (``mlp_gelu``, depth 2: Linear(8, n_embed), GELU, Linear(n_embed, n_embed)).
* logits = ``gen_head``: Linear(n_embed, image_token_embed), GELU, Linear(image_token_embed, 16384)
  on the final normalised hidden state (``language_model.lm_head`` is the text head, unused).
* ``gen_vision_model``: LlamaGen's VQ-16 (fixed architecture ``VQ_16()``: l2-normalised 16384 x 8
  codebook, z 256, ch 128, ch_mult 1,1,2,2,4, 2 res blocks), decoded at 384 px = 24 x 24 codes.

Prompt (generation_inference.py / README): ``<|User|>: {prompt}\\n\\n<|Assistant|>:<begin_of_image>``
tokenized with BOS; CFG 5 with an unconditional row whose tokens between BOS and <begin_of_image> are
all ``<｜▁pad▁｜>`` (``tokens[1:-1] = pad_id``): our ``pad_prompt`` with the template text inside
``tokenizer.prompt_format``. Temperature 1, no top-k / top-p.

Tiny configurations (``--tiny``) may shrink the VQ decoder through our extra key
``gen_vision_config.params.sjd2_vq`` (ch, ch_mult, z_channels, num_res_blocks); upstream ignores it.
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
from .export import export_family_folder
from . import reference as ref
from .tokenizers import ByteLevelBpe, convert_hf_tokenizer, hf_token_id, tiny_byte_level_bpe, TINY_WORDS
from .vqdecoders import Vq16Decoder

PROMPT_FORMAT = "<|User|>: {prompt}\n\n<|Assistant|>:"
PAD_TAG = "<｜▁pad▁｜>"
BOI_TAG, EOI_TAG = "<begin_of_image>", "<end_of_image>"


class GenImageEmbedding(nn.Module):
    def __init__(self, codes: int, code_dim: int, hidden: int, depth: int):
        super().__init__()
        self.gen_embed = nn.Embedding(codes, code_dim)
        mods = [nn.Linear(code_dim, hidden)]
        for _ in range(1, depth):
            mods += [nn.GELU(), nn.Linear(hidden, hidden)]
        self.aligner = nn.Module()
        self.aligner.layers = nn.Sequential(*mods)

    def forward(self, codes):
        return self.aligner.layers(self.gen_embed(codes))


class GenHead(nn.Module):
    def __init__(self, hidden: int, mid: int, codes: int):
        super().__init__()
        self.output_mlp_projector = nn.Linear(hidden, mid)
        self.vision_head = nn.Linear(mid, codes)

    def forward(self, h):
        return self.vision_head(F.gelu(self.output_mlp_projector(h)))


def build(config: dict, image_size: int):
    lc = config["language_config"]
    d = lc.get("hidden_size", 4096)
    heads = lc.get("num_attention_heads", 32)
    al = config["gen_aligner_config"]["params"]
    if al.get("projector_type", "mlp_gelu") != "mlp_gelu":
        raise ValueError(f"gen_aligner projector_type {al.get('projector_type')} is not supported")
    gh = config["gen_head_config"]["params"]
    gv = config["gen_vision_config"]["params"]
    vqo = dict(gv.get("sjd2_vq", {}))
    K = int(gv.get("image_token_size", gh.get("image_token_size", 16384)))
    vq = Vq16Decoder(codebook_size=K, codebook_embed_dim=int(gv.get("n_embed", 8)), codebook_l2_norm=True,
                     z_channels=vqo.get("z_channels", 256), ch=vqo.get("ch", 128),
                     ch_mult=vqo.get("ch_mult", [1, 1, 2, 2, 4]), num_res_blocks=vqo.get("num_res_blocks", 2))
    if image_size % vq.scale:
        raise ValueError(f"image size {image_size} is not a multiple of the VQ patch size {vq.scale}")
    grid = image_size // vq.scale
    cfg = FamilyConfig(
        text_vocab_size=int(lc.get("vocab_size", 102400)), codebook_size=K, hidden_size=d,
        num_layers=int(lc.get("num_hidden_layers", 30)), num_heads=heads,
        num_kv_heads=int(lc.get("num_key_value_heads") or heads), head_dim=d // heads,
        ffn_size=int(lc.get("intermediate_size", 11008)),
        max_sequence_length=int(lc.get("max_position_embeddings", 16384)),
        rope_theta=float(lc.get("rope_theta", 10000.0)), family="janus-pro", layer_style="hf",
        rms_eps=float(lc.get("rms_norm_eps", 1e-6)))
    if lc.get("rope_scaling"):
        rs = lc["rope_scaling"]
        if rs.get("type", rs.get("rope_type")) != "linear":
            raise ValueError(f"rope_scaling {rs} is not supported (only linear)")
        cfg.rope_scaling_factor = float(rs["factor"])
    text = nn.Embedding(cfg.text_vocab_size, d)
    image = GenImageEmbedding(K, int(gv.get("n_embed", 8)), int(al.get("n_embed", d)), int(al.get("depth", 1)))
    head = GenHead(int(gh.get("n_embed", d)), int(gh.get("image_token_embed", d)), int(gh.get("image_token_size", K)))
    return FamilyTransformer(cfg, text, image, head), vq, grid


def _rename(name: str) -> str:
    if name.startswith("text_embed."):
        return "language_model.model.embed_tokens." + name[len("text_embed."):]
    if name.startswith("image_embed.gen_embed."):
        return "gen_embed." + name[len("image_embed.gen_embed."):]
    if name.startswith("image_embed.aligner."):
        return "gen_aligner." + name[len("image_embed.aligner."):]
    if name.startswith("head."):
        return "gen_head." + name[len("head."):]
    if name.startswith("layers.") or name.startswith("norm."):
        return "language_model.model." + name
    if name.startswith("noise_embed."):
        return None
    raise KeyError(name)


def load(ckpt_dir: str, image_size: int = 384):
    config = read_json(os.path.join(ckpt_dir, "config.json"))
    model, vq, grid = build(config, image_size)
    ckpt = Checkpoint(ckpt_dir)
    load_into(model, ckpt, names=[n for n, _ in model.named_parameters()], rename=_rename)
    load_into(vq, ckpt.prefixed("gen_vision_model."), names=[n for n, _ in vq.named_parameters()])
    return model.eval(), vq.eval(), grid, config


def tokenizer_parts(ckpt_dir: str):
    tj = read_json(os.path.join(ckpt_dir, "tokenizer.json"))
    tc_path = os.path.join(ckpt_dir, "tokenizer_config.json")
    tc = read_json(tc_path) if os.path.exists(tc_path) else {}
    files, fields = convert_hf_tokenizer(tj, keep_special=["<|User|>", "<|Assistant|>", BOI_TAG, EOI_TAG])
    bos = tc.get("bos_token", "<｜begin▁of▁sentence｜>")
    if isinstance(bos, dict):
        bos = bos.get("content")
    ids = {"bos": hf_token_id(tj, bos), "pad": hf_token_id(tj, PAD_TAG),
           "boi": hf_token_id(tj, BOI_TAG), "eoi": hf_token_id(tj, EOI_TAG)}
    add_bos = tc.get("add_bos_token", True)
    return files, fields, ids, add_bos, tj


def make_manifest(name: str, model: FamilyTransformer, vq, grid: int, fields: dict, ids: dict, add_bos: bool,
                  max_prompt_tokens: Optional[int], description: str) -> dict:
    cfg = model.config
    slots = grid * grid
    mpt = max_prompt_tokens or max(8, min(512, cfg.max_sequence_length - slots - 2))
    m = common.manifest_skeleton(name, description)
    m["image"] = {"grid_height": grid, "grid_width": grid, "codebook_size": cfg.codebook_size,
                  "height": grid * vq.scale, "width": grid * vq.scale, "pixel_range": [-1.0, 1.0]}
    m["tokenizer"] = dict(fields, lowercase=False, max_prompt_tokens=mpt, prompt_format=PROMPT_FORMAT)
    m["sequence"] = {"prompt_prefix_ids": [ids["bos"]] if add_bos else [], "prompt_suffix_ids": [],
                     "begin_of_image_ids": [ids["boi"]], "end_of_line_id": None, "end_of_image_ids": [ids["eoi"]]}
    m["cfg"] = {"unconditional": "pad_prompt", "pad_id": ids["pad"], "negative_prompt": None}
    m["sampling"] = {"cfg_scale": 5.0, "temperature": 1.0, "top_k": 0, "top_p": 1.0}
    return m


def add_arguments(p) -> None:
    common.add_common_arguments(p)
    p.add_argument("--image-size", type=int, default=None, help="pixels (default 384; --tiny: 8)")


def export(args) -> str:
    ckpt_dir = args.checkpoint
    image_size = args.image_size
    if args.tiny:
        ckpt_dir = ckpt_dir or common.default_tiny_checkpoint_dir(args.out, "janus-pro")
        make_tiny(ckpt_dir, seed=args.seed)
        image_size = image_size or 8
    if not ckpt_dir:
        raise SystemExit("janus-pro: --checkpoint DIR (Hugging Face Janus-Pro folder) or --tiny is required")
    image_size = image_size or 384
    model, vq, grid, config = load(ckpt_dir, image_size)
    files, fields, ids, add_bos, tj = tokenizer_parts(ckpt_dir)
    name = args.name or os.path.basename(os.path.normpath(args.out))
    desc = (f"Janus-Pro ({'tiny random-weight configuration' if args.tiny else os.path.basename(os.path.normpath(ckpt_dir))}), "
            f"{grid}x{grid} codes, VQ-16, CFG with pad-token unconditional prompt")
    manifest = make_manifest(name, model, vq, grid, fields, ids, add_bos, args.max_prompt_tokens, desc)
    info = common.family_info(args, "janus-pro", checkpoint=ckpt_dir)
    info["image_size"] = image_size
    export_family_folder(args.out, model, vq, manifest, files, info, parity_seed=args.seed,
                         self_test=False if args.no_self_test else None, fp16=args.fp16, weights=args.weights, block_size=args.block_size, accuracy_level=args.accuracy_level, contract=args.contract, window_mask=args.window_mask,
                         external_data=args.external_data,
                         max_parity_floats=args.parity_floats or (12000 if args.tiny else 60000))
    write_tokenizer_cases(args.out, fields, tj)
    if args.tiny or args.reference:
        write_reference(args.out, model, ckpt_dir, manifest, tj, fields, ids, seed=args.seed)
    return args.out


@torch.no_grad()
def write_reference(out_dir, model, ckpt_dir, manifest, tj, fields, ids, prompt="a red circle", seed=0):
    """generation_inference.py's rows: BOS + tokens of the formatted prompt + <begin_of_image>, and
    the same with every token between the first and the last replaced by the pad id."""
    tok = ByteLevelBpe(tj["model"]["vocab"], [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]],
                       fields.get("pre_tokenizer", []), fields.get("special_tokens"), fields.get("byte_level", False))
    cond = [ids["bos"]] + tok.encode(PROMPT_FORMAT.replace("{prompt}", prompt)) + [ids["boi"]]
    uncond = list(cond)
    uncond[1:-1] = [ids["pad"]] * (len(cond) - 2)
    table = model.text_embed.weight          # language_model.model.embed_tokens (as stored: fp16-rounded with --fp16)
    h, w = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    codes = ref.random_codes(h * w, model.config.codebook_size, seed)
    slots = ref.image_slots(codes, h, w, False)
    fed = torch.tensor([v for _, v in slots[:-1]], dtype=torch.long)
    ref.write_unpadded_reference(out_dir, model, manifest, prompt, table, cond, uncond, codes, slots,
                                 model.image_embed(fed), model.head, "Janus-Pro: pad-token unconditional row, positions from 0")


def write_tokenizer_cases(out_dir: str, fields: dict, tj: dict, prompt_format: str = PROMPT_FORMAT,
                          prompts=("a red circle", "two big dogs on the left", "Hello, world! 42")) -> None:
    """tokenizer_cases.json: Python reference ids of a few prompts (with the prompt format), which a
    test compares with the engine's tokenizer."""
    tok = ByteLevelBpe(tj["model"]["vocab"], [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]],
                       fields.get("pre_tokenizer", []), fields.get("special_tokens"), fields.get("byte_level", False))
    cases = [{"prompt": p, "ids": tok.encode(prompt_format.replace("{prompt}", p))} for p in prompts]
    common.write_json(os.path.join(out_dir, "tokenizer_cases.json"), {"cases": cases})


# ------------------------------------------------------------------------------------------------
# tiny configuration in the upstream layout
# ------------------------------------------------------------------------------------------------
DEEPSEEK_LIKE_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "[\r\n]"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba]+"},
         "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+"},
         "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\s+$"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"}, "behavior": "Isolated",
         "invert": False},
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ],
}


def make_tiny(ckpt_dir: str, seed: int = 0) -> None:
    """Writes a tiny Janus-Pro checkpoint folder in the upstream layout (config.json, model.safetensors,
    tokenizer.json, tokenizer_config.json)."""
    specials = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", PAD_TAG, "<|User|>", "<|Assistant|>",
                "<image_placeholder>", BOI_TAG, EOI_TAG]
    tj = tiny_byte_level_bpe(TINY_WORDS[:24] + ["User", "Assistant"], specials, DEEPSEEK_LIKE_PRE_TOKENIZER)
    vocab_size = max(max(tj["model"]["vocab"].values()), max(t["id"] for t in tj["added_tokens"])) + 1
    d, K = 64, 64
    config = {
        "model_type": "multi_modality",
        "language_config": {"model_type": "llama", "hidden_size": d, "intermediate_size": 128,
                            "num_attention_heads": 4, "num_key_value_heads": 4, "num_hidden_layers": 2,
                            "max_position_embeddings": 256, "vocab_size": vocab_size, "torch_dtype": "float32"},
        "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner",
                               "params": {"depth": 2, "input_dim": 8, "n_embed": d, "projector_type": "mlp_gelu"}},
        "gen_head_config": {"cls": "vision_head", "model_type": "gen_head",
                            "params": {"image_token_embed": d, "image_token_size": K, "n_embed": d}},
        "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision",
                              "params": {"image_token_size": K, "n_embed": 8,
                                         "sjd2_vq": {"ch": 32, "ch_mult": [1, 1], "z_channels": 8, "num_res_blocks": 0}}},
        "sjd2_note": "tiny random-weight configuration written by export_models.py janus-pro --tiny",
    }
    model, vq, _ = build(config, 8)
    g = torch.Generator().manual_seed(seed)
    common.init_random(model, g)
    common.init_random(vq, g)
    model.eval()
    with torch.no_grad():
        common.calibrate_head(model, model.head.vision_head.weight, seed)
    tensors = {}
    for n, p in model.named_parameters():
        if n.startswith("noise_embed."):
            continue
        tensors[_rename(n)] = p.detach()
    tensors["language_model.lm_head.weight"] = torch.randn(vocab_size, d, generator=g) / d ** 0.5
    for n, p in vq.named_parameters():
        tensors["gen_vision_model." + n] = p.detach()
    os.makedirs(ckpt_dir, exist_ok=True)
    write_safetensors(os.path.join(ckpt_dir, "model.safetensors"), tensors, {"format": "pt"})
    common.write_json(os.path.join(ckpt_dir, "config.json"), config)
    common.write_json(os.path.join(ckpt_dir, "tokenizer.json"), tj)
    common.write_json(os.path.join(ckpt_dir, "tokenizer_config.json"),
                      {"add_bos_token": True, "add_eos_token": False, "bos_token": specials[0], "eos_token": specials[1],
                       "pad_token": None, "tokenizer_class": "LlamaTokenizerFast", "model_max_length": 16384})


def from_family_info(info: dict, workdir: str):
    """(model, vq) rebuilt from a model folder's family.json (tiny models: from their seed)."""
    ckpt = info.get("checkpoint")
    if not ckpt:
        ckpt = os.path.join(workdir, "janus-pro-tiny")
        make_tiny(ckpt, seed=info["tiny_seed"])
    model, vq, _, _ = load(ckpt, info["image_size"])
    return model, vq
