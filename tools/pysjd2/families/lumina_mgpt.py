"""Lumina-mGPT (Alpha-VLLM/Lumina-mGPT, a Chameleon-7B fine-tune) -> model folder.

Inputs:

* ``--checkpoint``: the Hugging Face folder (e.g. Lumina-mGPT-7B-768: ``config.json`` of
  ``ChameleonXLLMXConfig``, safetensors, ``tokenizer.json``);
* ``--vqgan``: Chameleon's tokenizer folder (``vqgan.yaml``, ``vqgan.ckpt``, ``text_tokenizer.json``),
  what upstream's ``FlexARItemProcessor`` loads from ``ckpts/chameleon/tokenizer``.

Architecture (lumina_mgpt/model/chameleon/modeling_chameleon.py): Llama layout with qk-LayerNorm
(LayerNorm over the head dimension, eps 1e-5, no affine, then per-shard weight/bias
[model_parallel_size, head_dim] repeated over the shard's heads), RMSNorm eps 1e-5, rotate-half RoPE
(linear scaling supported), optional swin-norm ordering (30B).

Image tokens: Chameleon stores its 8192 VQGAN codes as BPE tokens ``IMGIMG<letters>Z`` (digits
written A..J) at ids 4..8195 in an order that is a permutation of the codes. Code c's id is the
id of the token whose name spells c (upstream ``VocabTranslation.img2bpe``); the exporter bakes it
into the graphs: image_embedding row c = ``embed_tokens[img2bpe[c]]``, logit c = ``lm_head[img2bpe[c]]``
(the lm_head restricted to image tokens is exactly upstream's ``MultiModalLogitsProcessor``, which
suppresses every other id while an image is open).

Sequence (inference_solver.py, item_processor.py): ``<s>`` + "Generate an image of {W}x{H} according
to the following prompt:\\n{prompt}" + ``<reserved08706>`` (end of turn), then the image:
``<racm3:break>`` (8197), the height and width grid tokens ``<reserved{8800+n}>`` with n = pixels/32,
rows of codes each followed by ``<reserved08799>`` (forced end of line), ``<eoss>``. Upstream lets the
model sample the image start and the two size tokens; we put them in ``begin_of_image_ids``.

CFG (``LLMImageStartTriggeredUnbatchedClassifierFreeGuidanceLogitsProcessor``): the unconditional
branch is a separate sequence that starts at the image start token (the prompt is masked away):
``[<racm3:break>, h, w, codes...]`` with its own positions from 0 -- our ``begin_of_image`` mode.
Defaults: CFG 4, top-k 2000, temperature 1 (README).
"""
from __future__ import annotations

import os
from typing import Dict, Optional

import torch
import torch.nn as nn

from . import common
from .checkpoint import Checkpoint, load_into, read_json
from .decoder import FamilyConfig, FamilyTransformer, RowSelectEmbedding, RowSelectHead
from .export import export_family_folder
from . import reference as ref
from .tokenizers import ByteLevelBpe
from .janus_pro import write_tokenizer_cases
from .tokenizers import TINY_WORDS, convert_hf_tokenizer, hf_token_id, tiny_byte_level_bpe
from .vqdecoders import ChameleonVqganDecoder

PROMPT_FORMAT = "Generate an image of {w}x{h} according to the following prompt:\n{{prompt}}"
IMAGE_START, IMAGE_END, NEW_LINE, END_OF_TURN = "<racm3:break>", "<eoss>", "<reserved08799>", "<reserved08706>"
PATCH = 32          # pixels per grid token (FlexARItemProcessor.patch_size)


def grid_token(n: int) -> str:
    return f"<reserved{8800 + n:05d}>"


def code_of_name(name: str) -> int:
    """IMGIMG<letters>Z -> code (letters A..J are digits 0..9)."""
    digits = "".join(str(ord(c) - ord("A")) if "A" <= c <= "J" else c for c in name[len("IMGIMG"):-1])
    return int(digits)


def image_token_ids(vocab: Dict[str, int]) -> torch.Tensor:
    """img2bpe as a tensor: entry c = vocabulary id of image code c."""
    pairs = sorted((code_of_name(n), i) for n, i in vocab.items() if n.startswith("IMGIMG"))
    codes = [c for c, _ in pairs]
    if codes != list(range(len(codes))):
        raise ValueError("the vocabulary's IMGIMG tokens do not spell the codes 0..K-1")
    return torch.tensor([i for _, i in pairs], dtype=torch.long)


def build(config: dict, codebook_size: int) -> FamilyTransformer:
    d = int(config.get("hidden_size", 4096))
    heads = int(config.get("num_attention_heads", 32))
    kv = int(config.get("num_key_value_heads") or heads)
    cfg = FamilyConfig(
        text_vocab_size=int(config.get("vocab_size", 65536)), codebook_size=codebook_size, hidden_size=d,
        num_layers=int(config.get("num_hidden_layers", 32)), num_heads=heads, num_kv_heads=kv, head_dim=d // heads,
        ffn_size=int(config.get("intermediate_size", 11008)),
        max_sequence_length=int(config.get("max_position_embeddings", 4096)),
        rope_theta=float(config.get("rope_theta", 10000.0)), family="lumina-mgpt", layer_style="hf",
        rms_eps=float(config.get("rms_norm_eps", 1e-5)), qk_norm=True,
        qk_norm_shards=int(config.get("model_parallel_size", 1)), k_norm_shards=int(config.get("sjd2_k_norm_rows", 0)),
        swin_norm=bool(config.get("swin_norm", False)))
    rs = config.get("rope_scaling")
    if rs:
        if rs.get("type", rs.get("rope_type")) != "linear":
            raise ValueError(f"rope_scaling {rs} is not supported (only linear)")
        cfg.rope_scaling_factor = float(rs["factor"])
    if config.get("hidden_act", "silu") != "silu" or config.get("mlp_bias") or config.get("attention_bias"):
        raise ValueError("only silu MLPs without biases are supported")
    return FamilyTransformer(cfg, nn.Embedding(cfg.text_vocab_size, d), RowSelectEmbedding(codebook_size, d),
                             RowSelectHead(codebook_size, d))


def _rename(name: str) -> Optional[str]:
    if name.startswith("text_embed."):
        return "model.embed_tokens." + name[len("text_embed."):]
    if name.startswith("layers.") or name.startswith("norm."):
        return "model." + name
    return None   # image_embed / head: row selections, noise_embed: new


def load_vqgan(vq_dir: str) -> ChameleonVqganDecoder:
    import yaml
    with open(os.path.join(vq_dir, "vqgan.yaml"), encoding="utf-8") as f:
        params = yaml.safe_load(f)["model"]["params"]
    dd = params["ddconfig"]
    vq = ChameleonVqganDecoder(n_embed=params["n_embed"], embed_dim=params["embed_dim"], z_channels=dd["z_channels"],
                               ch=dd["ch"], ch_mult=dd["ch_mult"], num_res_blocks=dd["num_res_blocks"],
                               attn_resolutions=dd.get("attn_resolutions") or [], resolution=dd["resolution"],
                               out_ch=dd.get("out_ch", 3))
    load_into(vq, Checkpoint(os.path.join(vq_dir, "vqgan.ckpt")), names=[n for n, _ in vq.named_parameters()])
    return vq.eval()


def vocabulary(ckpt_dir: str, vq_dir: str) -> Dict[str, int]:
    """Name -> id, from Chameleon's text_tokenizer.json (what upstream decodes with), else the
    config's vocabulary_map, else the Hugging Face tokenizer.json."""
    p = os.path.join(vq_dir, "text_tokenizer.json")
    if os.path.exists(p):
        return read_json(p)["model"]["vocab"]
    cfg = read_json(os.path.join(ckpt_dir, "config.json"))
    if cfg.get("vocabulary_map"):
        return cfg["vocabulary_map"]
    return read_json(os.path.join(ckpt_dir, "tokenizer.json"))["model"]["vocab"]


def load(ckpt_dir: str, vq_dir: str):
    config = read_json(os.path.join(ckpt_dir, "config.json"))
    img2bpe = image_token_ids(vocabulary(ckpt_dir, vq_dir))
    vq = load_vqgan(vq_dir)
    K = vq.quantize.embedding.weight.shape[0]
    if len(img2bpe) != K:
        raise ValueError(f"the vocabulary has {len(img2bpe)} image tokens, the VQGAN {K} codes")
    ckpt = Checkpoint(ckpt_dir)
    # q_norm / k_norm rows: [model_parallel_size, head_dim] in Lumina-mGPT's own modeling code,
    # [num_heads, head_dim] in Hugging Face transformers' Chameleon conversion; both load
    if ckpt.has("model.layers.0.self_attn.q_norm.weight"):
        config = dict(config, model_parallel_size=int(ckpt.get("model.layers.0.self_attn.q_norm.weight").shape[0]),
                      sjd2_k_norm_rows=int(ckpt.get("model.layers.0.self_attn.k_norm.weight").shape[0]))
    model = build(config, K)
    load_into(model, ckpt, names=[n for n, _ in model.named_parameters() if _rename(n)], rename=_rename)
    with torch.no_grad():
        model.image_embed.weight.copy_(model.text_embed.weight[img2bpe])
        head = ckpt.get("lm_head.weight") if ckpt.has("lm_head.weight") else model.text_embed.weight
        model.head.weight.copy_(head[img2bpe])
    return model.eval(), vq, config


def sequence_ids(tj: dict, latent: int) -> Dict[str, int]:
    """Ids of the image-sequence tokens, picked by name: the grid-size token is
    ``<reserved{8800 + latent / 2}>`` (one per 32 px), for height and width alike."""
    return {k: hf_token_id(tj, v) for k, v in {"start": IMAGE_START, "end": IMAGE_END, "eol": NEW_LINE,
                                               "eot": END_OF_TURN, "grid": grid_token(latent // 2)}.items()}


def make_manifest(name, model, vq, latent: int, tj: dict, fields: dict, max_prompt_tokens, description):
    cfg = model.config
    px = latent * vq.scale
    ids = sequence_ids(tj, latent)
    bos = hf_token_id(tj, "<s>")
    slots = latent * (latent + 1)
    m = common.manifest_skeleton(name, description)
    m["image"] = {"grid_height": latent, "grid_width": latent, "codebook_size": cfg.codebook_size,
                  "height": px, "width": px, "pixel_range": [-1.0, 1.0]}
    m["tokenizer"] = dict(fields, lowercase=False,
                          max_prompt_tokens=max_prompt_tokens or max(8, min(512, cfg.max_sequence_length - slots - 8)),
                          prompt_format=PROMPT_FORMAT.format(w=px, h=px))
    m["sequence"] = {"prompt_prefix_ids": [bos], "prompt_suffix_ids": [ids["eot"]],
                     "begin_of_image_ids": [ids["start"], ids["grid"], ids["grid"]], "end_of_line_id": ids["eol"],
                     "end_of_image_ids": [ids["end"]]}
    m["cfg"] = {"unconditional": "begin_of_image", "pad_id": 0, "negative_prompt": None}
    m["sampling"] = {"cfg_scale": 4.0, "temperature": 1.0, "top_k": 2000, "top_p": 1.0}
    return m


CHAMELEON_RESERVED_OFFSET = 4    # <reserved0NNNN> has id NNNN + 4 in Chameleon's vocabulary (8710 = <reserved08706>)
GRID_TOKEN_BASE_ID = 8804        # upstream reads grids as id - 8804 (inference_solver.py, item_processor.decode_image)


def chameleon_numbered_tokenizer(names) -> dict:
    """A tokenizer.json stub holding ``names`` at the ids Chameleon's vocabulary gives them (specials
    0..3, ``<reserved0NNNN>`` at NNNN + 4, ``<racm3:break>`` 8197, ``<eoss>`` 8196)."""
    fixed = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, IMAGE_END: 8196, IMAGE_START: 8197}
    added = []
    for n in names:
        i = fixed.get(n)
        if i is None:
            i = int(n[len("<reserved"):-1]) + CHAMELEON_RESERVED_OFFSET
        added.append({"id": i, "content": n, "special": True})
    return {"added_tokens": added, "model": {"vocab": {}}}


def grid_token_check(image_sizes) -> list:
    """For each image size: the begin-of-image ids our manifest writes in a vocabulary with Chameleon's
    numbering, and the latent grid upstream's ``(id - 8804) * 2`` reads back from them."""
    out = []
    for px in image_sizes:
        latent = px // 16                 # VQGAN patch 16 px
        grids = latent // 2               # one grid token per 32 px
        names = [IMAGE_START, IMAGE_END, NEW_LINE, END_OF_TURN, grid_token(grids), "<s>"]
        s = sequence_ids(chameleon_numbered_tokenizer(names), latent)
        ids = [s["start"], s["grid"], s["grid"]]          # begin_of_image_ids as make_manifest writes them
        read_back = [(i - GRID_TOKEN_BASE_ID) * 2 for i in ids[1:]]
        out.append({"image_size": px, "begin_of_image_ids": ids, "latent_read_back": read_back, "latent": latent,
                    "new_line_id": s["eol"], "end_of_turn_id": s["eot"]})
    return out


def add_arguments(p) -> None:
    common.add_common_arguments(p)
    p.add_argument("--vqgan", help="Chameleon tokenizer folder (vqgan.yaml, vqgan.ckpt, text_tokenizer.json)")
    p.add_argument("--image-size", type=int, default=None, help="pixels, a multiple of 32 (default 768; --tiny: 8)")


def export(args) -> str:
    ckpt_dir, vq_dir, image_size = args.checkpoint, args.vqgan, args.image_size
    if args.tiny:
        ckpt_dir = ckpt_dir or common.default_tiny_checkpoint_dir(args.out, "lumina-mgpt")
        make_tiny(ckpt_dir, seed=args.seed)
        vq_dir = vq_dir or os.path.join(ckpt_dir, "chameleon_tokenizer")
        image_size = image_size or 8
    if not (ckpt_dir and vq_dir):
        raise SystemExit("lumina-mgpt: --checkpoint DIR and --vqgan DIR are required (or --tiny)")
    image_size = image_size or 768
    model, vq, config = load(ckpt_dir, vq_dir)
    if image_size % vq.scale or (image_size // vq.scale) % 2:
        raise SystemExit(f"lumina-mgpt: image size must be a multiple of {2 * vq.scale}")
    latent = image_size // vq.scale
    tj = read_json(os.path.join(ckpt_dir, "tokenizer.json"))
    files, fields = convert_hf_tokenizer(tj, keep_special=[END_OF_TURN, IMAGE_START, IMAGE_END])
    name = args.name or os.path.basename(os.path.normpath(args.out))
    desc = (f"Lumina-mGPT ({'tiny random-weight configuration' if args.tiny else os.path.basename(os.path.normpath(ckpt_dir))}), "
            f"{latent}x{latent} codes + end-of-line tokens, Chameleon VQGAN")
    manifest = make_manifest(name, model, vq, latent, tj, fields, args.max_prompt_tokens, desc)
    info = common.family_info(args, "lumina-mgpt", checkpoint=ckpt_dir, vqgan=vq_dir)
    info["image_size"] = image_size
    export_family_folder(args.out, model, vq, manifest, files, info, parity_seed=args.seed,
                         self_test=False if args.no_self_test else None, fp16=args.fp16, weights=args.weights, block_size=args.block_size, accuracy_level=args.accuracy_level, contract=args.contract, window_mask=args.window_mask,
                         external_data=args.external_data,
                         max_parity_floats=args.parity_floats or (12000 if args.tiny else 60000))
    write_tokenizer_cases(args.out, fields, tj, prompt_format=manifest["tokenizer"]["prompt_format"])
    if args.tiny or args.reference:
        write_reference(args.out, model, ckpt_dir, vq_dir, manifest, tj, fields, seed=args.seed, fp16=args.fp16)
    return args.out


@torch.no_grad()
def write_reference(out_dir, model, ckpt_dir, vq_dir, manifest, tj, fields, prompt="a red circle", seed=0, fp16=False):
    """inference_solver.py: the conditional sequence is <s> + the conversation text + <reserved08706>
    + <racm3:break> h w + image tokens as BPE ids (embedded by embed_tokens, logits from the full
    lm_head restricted to the image ids); the unconditional one starts at <racm3:break>."""
    tok = ByteLevelBpe(tj["model"]["vocab"], [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]],
                       fields.get("pre_tokenizer", []), fields.get("special_tokens"), fields.get("byte_level", False))
    seq = manifest["sequence"]
    fmt = manifest["tokenizer"]["prompt_format"]
    start = [hf_token_id(tj, IMAGE_START)] + [hf_token_id(tj, grid_token(manifest["image"]["grid_height"] // 2))] * 2
    cond = [hf_token_id(tj, "<s>")] + tok.encode(fmt.replace("{prompt}", prompt)) + [hf_token_id(tj, END_OF_TURN)] + start
    uncond = list(start)
    ck = Checkpoint(ckpt_dir)
    table = ck.get("model.embed_tokens.weight")
    lm_head = ck.get("lm_head.weight")
    if fp16:     # the tables as the graphs store them (export.round_to_fp16_ rounded the model's rows)
        table, lm_head = table.half().float(), lm_head.half().float()
    img2bpe = image_token_ids(vocabulary(ckpt_dir, vq_dir))
    eol = hf_token_id(tj, NEW_LINE)
    h, w = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    codes = ref.random_codes(h * w, model.config.codebook_size, seed)
    slots = ref.image_slots(codes, h, w, True)
    fed = torch.tensor([int(img2bpe[v]) if k == "code" else eol for k, v in slots[:-1]], dtype=torch.long)

    def head(hs):
        return torch.nn.functional.linear(hs, lm_head)[..., img2bpe]
    ref.write_unpadded_reference(out_dir, model, manifest, prompt, table, cond, uncond, codes, slots, table[fed], head,
                                 "Lumina-mGPT: BPE ids through embed_tokens / lm_head, unconditional "
                                 "row from the image start token")


# ------------------------------------------------------------------------------------------------
CHAMELEON_LIKE_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "<sentinel:[0-9]+>"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "([\t\n]|    |  )"}, "behavior": "Isolated", "invert": False},
        {"type": "Digits", "individual_digits": True},
        {"type": "Split", "pattern": {"Regex": "[\\p{P}!-/:-@\\[-`{-~]"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    ],
}


def make_tiny(ckpt_dir: str, seed: int = 0, codes: int = 64) -> None:
    """Tiny Lumina-mGPT: a HF-style folder (config.json, model.safetensors, tokenizer.json) and a
    Chameleon tokenizer folder (chameleon_tokenizer/: vqgan.yaml, vqgan.ckpt, text_tokenizer.json).
    Like Chameleon, ids 0..3 are specials and 4..4+K-1 the IMGIMG tokens, in name order (so the
    code -> id map is a real permutation)."""
    import yaml
    from .checkpoint import write_safetensors

    def name_of(c: int) -> str:
        return "IMGIMG" + "".join(chr(ord("A") + int(ch)) for ch in str(c)) + "Z"
    img_names = sorted(name_of(c) for c in range(codes))
    specials_head = ["<s>", "<pad>", "</s>", "<unk>"]
    tail_specials = [IMAGE_START, IMAGE_END, END_OF_TURN, NEW_LINE, grid_token(2), "<reserved08707>"]
    tj = tiny_byte_level_bpe(TINY_WORDS[:20] + ["Generate", "according", "following", "prompt"], tail_specials,
                             CHAMELEON_LIKE_PRE_TOKENIZER, leading=specials_head + img_names, leading_special=specials_head)
    vocab_size = max(max(tj["model"]["vocab"].values()), max(t["id"] for t in tj["added_tokens"])) + 1
    config = {"architectures": ["ChameleonXLLMXForConditionalGeneration"], "model_type": "chameleon",
              "vocab_size": vocab_size, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "model_parallel_size": 1, "swin_norm": False, "mask_image_logits": False,
              "hidden_act": "silu", "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
              "sjd2_note": "tiny random-weight configuration written by export_models.py lumina-mgpt --tiny"}
    vq_params = {"embed_dim": 8, "n_embed": codes,
                 "ddconfig": {"double_z": False, "z_channels": 8, "resolution": 8, "in_channels": 3, "out_ch": 3,
                              "ch": 32, "ch_mult": [1, 1], "num_res_blocks": 0, "attn_resolutions": [4], "dropout": 0.0}}
    model = build(config, codes)
    dd = vq_params["ddconfig"]
    vq = ChameleonVqganDecoder(n_embed=codes, embed_dim=8, z_channels=8, ch=32, ch_mult=[1, 1], num_res_blocks=0,
                               attn_resolutions=[4], resolution=8)
    g = torch.Generator().manual_seed(seed)
    common.init_random(model, g)
    common.init_random(vq, g)
    img2bpe = image_token_ids(tj["model"]["vocab"])
    lm_head = torch.randn(vocab_size, 64, generator=g) / 8.0
    with torch.no_grad():
        model.image_embed.weight.copy_(model.text_embed.weight[img2bpe])
        model.head.weight.copy_(lm_head[img2bpe])
        scale = common.calibrate_head(model, model.head.weight, seed)
        lm_head *= scale
    model.eval()
    tensors = {"lm_head.weight": lm_head}
    tensors.update(common.renamed_parameters(model, _rename))
    os.makedirs(os.path.join(ckpt_dir, "chameleon_tokenizer"), exist_ok=True)
    write_safetensors(os.path.join(ckpt_dir, "model.safetensors"), tensors, {"format": "pt"})
    common.write_json(os.path.join(ckpt_dir, "config.json"), config)
    common.write_json(os.path.join(ckpt_dir, "tokenizer.json"), tj)
    common.write_json(os.path.join(ckpt_dir, "chameleon_tokenizer", "text_tokenizer.json"), tj)
    with open(os.path.join(ckpt_dir, "chameleon_tokenizer", "vqgan.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({"model": {"target": "taming.models.vqgan.VQModel", "params": vq_params}}, f)
    torch.save({"state_dict": {n: p.detach().clone() for n, p in vq.named_parameters()}},
               os.path.join(ckpt_dir, "chameleon_tokenizer", "vqgan.ckpt"))


def from_family_info(info: dict, workdir: str):
    ckpt, vqgan = info.get("checkpoint"), info.get("vqgan")
    if not ckpt:
        ckpt = os.path.join(workdir, "lumina-mgpt-tiny")
        make_tiny(ckpt, seed=info["tiny_seed"])
        vqgan = os.path.join(ckpt, "chameleon_tokenizer")
    model, vq, _ = load(ckpt, vqgan)
    return model, vq
