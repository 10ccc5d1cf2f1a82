"""Random-weight tiny models for the engine's tests (tests/models/tiny, tiny-eol, micro).

Everything is derived from one seed, so exporting twice gives identical files. The output head
is scaled (by bisection on a fixed set of random prompts and images) so that the next-code
distributions are moderately peaked: the top code gets about ``target_top_prob`` on average.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .transformer import Sjd2Transformer, TransformerConfig

SPECIAL_TOKENS = ["[PAD]", "[BOS]", "[BOI]", "[EOI]", "[EOL]", "[UNK]"]
PAD_ID, BOS_ID, BOI_ID, EOI_ID, EOL_ID, UNK_ID = range(6)

WORDS = [
    "a", "an", "the", "one", "two", "three", "many",
    "big", "small", "tiny", "large", "dark", "light", "bright",
    "red", "green", "blue", "yellow", "orange", "purple", "black", "white", "gray",
    "circle", "square", "triangle", "star", "dot", "line", "cross",
    "above", "below", "left", "right", "of", "on", "in", "and", "with", "next", "to", "near",
    "top", "bottom", "center", "corner",
]

VOCAB = SPECIAL_TOKENS + WORDS


def vocab_text() -> str:
    return "\n".join(VOCAB) + "\n"


class TinyVqDecoder(nn.Module):
    """codes [B,h,w] -> image [B,3,4h,4w] in [-1,1]: embedding -> conv -> upsample x4 -> conv -> tanh."""

    def __init__(self, codebook_size: int, channels: int = 8, hidden: int = 16, scale: int = 4):
        super().__init__()
        self.embed = nn.Embedding(codebook_size, channels)
        self.conv1 = nn.Conv2d(channels, hidden, 3, padding=1)
        self.up = nn.Upsample(scale_factor=scale, mode="nearest")
        self.conv2 = nn.Conv2d(hidden, 3, 3, padding=1)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        x = self.embed(codes).permute(0, 3, 1, 2)
        x = F.silu(self.conv1(x))
        x = self.up(x)
        return torch.tanh(self.conv2(x))


def sequence_length(grid: Tuple[int, int], end_of_line: bool, max_prompt_tokens: int) -> int:
    h, w = grid
    need = 1 + max_prompt_tokens + 1 + h * (w + (1 if end_of_line else 0))
    return int(math.ceil(need / 8.0) * 8)


def _init_weights(model: Sjd2Transformer, g: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("text_embed.") or name.startswith("image_embed."):
                p.copy_(torch.randn(p.shape, generator=g))
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:  # RMSNorm weights
                p.fill_(1.0)


def _calibration_batch(cfg: TransformerConfig, grid, end_of_line: bool, g: torch.Generator,
                       n: int = 24):
    """Random [BOS] words [BOI] image sequences; returns embeddings, mask, positions, and a
    boolean [n,S] selecting the positions whose logits predict an image code."""
    h, w = grid
    rows = []
    for _ in range(n):
        k = int(torch.randint(2, 9, (1,), generator=g))
        words = torch.randint(len(SPECIAL_TOKENS), cfg.text_vocab_size, (k,), generator=g).tolist()
        text = [BOS_ID] + words + [BOI_ID]
        img: List[Tuple[str, int]] = []
        for _r in range(h):
            for _c in range(w):
                img.append(("code", int(torch.randint(0, cfg.codebook_size, (1,), generator=g))))
            if end_of_line:
                img.append(("text", EOL_ID))
        rows.append([("text", t) for t in text] + img)
    s = max(len(r) for r in rows)
    embeds = torch.zeros(n, s, cfg.hidden_size)
    mask = torch.zeros(n, s, dtype=torch.long)
    predicts_code = torch.zeros(n, s, dtype=torch.bool)
    return rows, s, embeds, mask, predicts_code


@torch.no_grad()
def mean_top_prob(model: Sjd2Transformer, grid, end_of_line: bool, seed: int) -> float:
    cfg = model.config
    g = torch.Generator().manual_seed(seed + 7919)
    rows, s, embeds, mask, predicts = _calibration_batch(cfg, grid, end_of_line, g)
    for b, row in enumerate(rows):
        off = s - len(row)  # left padding
        for j, (kind, v) in enumerate(row):
            t = torch.tensor([v])
            embeds[b, off + j] = (model.embed_text(t) if kind == "text" else model.embed_image(t))[0]
            mask[b, off + j] = 1
            nxt = row[j + 1] if j + 1 < len(row) else None
            predicts[b, off + j] = nxt is not None and nxt[0] == "code"
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = model.training_forward(embeds, mask, pos)
    probs = torch.softmax(logits[predicts], dim=-1)
    return probs.max(dim=-1).values.mean().item()


def build_tiny(grid: Tuple[int, int] = (4, 4), codebook_size: int = 64, end_of_line: bool = False,
               sjd2: bool = True, seed: int = 0, name: str = "tiny", max_prompt_tokens: int = 24,
               target_top_prob: float = 0.4, verbose: bool = True):
    """Returns (transformer, vq_decoder, manifest, tokenizer_files)."""
    h, w = grid
    cfg = TransformerConfig(
        text_vocab_size=len(VOCAB), codebook_size=codebook_size, hidden_size=64, num_layers=2,
        num_heads=4, num_kv_heads=2, head_dim=16, ffn_size=128,
        max_sequence_length=sequence_length(grid, end_of_line, max_prompt_tokens),
        rope_theta=10000.0, noise_conditioning=sjd2)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = Sjd2Transformer(cfg)
    _init_weights(model, g)   # noise MLP included: random, so noise_levels visibly matter
    model.eval()
    vq = TinyVqDecoder(codebook_size)
    with torch.no_grad():
        for pname, p in vq.named_parameters():
            if pname.startswith("embed."):
                p.copy_(torch.randn(p.shape, generator=g))
            elif p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    vq.eval()

    # calibrate the output head: top-1 probability is monotone in the logit scale
    base = model.lm_head.weight.detach().clone()
    lo, hi = math.log(0.05), math.log(50.0)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        with torch.no_grad():
            model.lm_head.weight.copy_(base * math.exp(mid))
        if mean_top_prob(model, grid, end_of_line, seed) < target_top_prob:
            lo = mid
        else:
            hi = mid
    scale = math.exp(0.5 * (lo + hi))
    with torch.no_grad():
        model.lm_head.weight.copy_(base * scale)
    top = mean_top_prob(model, grid, end_of_line, seed)
    if verbose:
        print(f"  output head scaled by {scale:.4g}: mean top-1 probability {top:.3f} "
              f"(uniform would be {1.0 / codebook_size:.3f})")

    sjd2_section = None
    if sjd2:
        table = model.image_embed.weight.detach().double()
        mean = table.mean(dim=0)
        std = table.std(dim=0, unbiased=False).clamp(min=1e-6)
        sjd2_section = {
            "schedule": "karras", "steps": 8, "sigma_min": 0.02, "sigma_max": 1.0, "rho": 7.0,
            "embedding_mean": [float("%.7g" % v) for v in mean.tolist()],
            "embedding_std": [float("%.7g" % v) for v in std.tolist()],
        }

    manifest = {
        "format": "sjd2onnx-model",
        "format_version": 1,
        "name": name,
        "description": f"random-weight test model (seed {seed}, {h}x{w} grid, {codebook_size} codes"
                       + (", end-of-line tokens" if end_of_line else "")
                       + (", SJD2 noise input" if sjd2 else "") + ")",
        "transformer": {"hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers,
                        "num_kv_heads": cfg.num_kv_heads, "head_dim": cfg.head_dim,
                        "max_sequence_length": cfg.max_sequence_length},
        "image": {"grid_height": h, "grid_width": w, "codebook_size": codebook_size,
                  "height": 4 * h, "width": 4 * w, "pixel_range": [-1.0, 1.0]},
        "tokenizer": {"type": "wordpiece", "vocab": "vocab.txt", "lowercase": True,
                      "max_prompt_tokens": max_prompt_tokens},
        "sequence": {"prompt_prefix_ids": [BOS_ID], "prompt_suffix_ids": [],
                     "begin_of_image_ids": [BOI_ID],
                     "end_of_line_id": EOL_ID if end_of_line else None,
                     "end_of_image_ids": [EOI_ID]},
        "cfg": {"unconditional": "empty_prompt", "pad_id": PAD_ID, "negative_prompt": None},
        "sampling": {"cfg_scale": 3.0, "temperature": 1.0, "top_k": 0, "top_p": 1.0},
        "graphs": {},
        "sjd2": sjd2_section,
    }
    return model, vq, manifest, {"vocab.txt": vocab_text()}
