"""What the engine does, in PyTorch, for a family model folder: prompt -> CFG rows (the manifest's
template, prompt_format, special tokens, unconditional mode), left padding and position ids
(including ``first_image_position``), and an AR sampler with CFG / temperature / top-k over our
PyTorch re-implementation. Fine-tuning uses it for self-distillation data and batch layout."""
from __future__ import annotations

import json
import os
import unicodedata
from typing import List, Optional, Sequence, Tuple

import torch

from .tokenizers import ByteLevelBpe, Tiktoken, UnigramSentencePiece


class PromptRows:
    def __init__(self, model_dir: str, manifest: dict):
        self.m = manifest
        t = manifest["tokenizer"]
        kind = t["type"]
        special = t.get("special_tokens") or {}
        if kind == "bpe":
            with open(os.path.join(model_dir, t["vocab"]), encoding="utf-8") as f:
                vocab = json.load(f)
            with open(os.path.join(model_dir, t["merges"]), encoding="utf-8") as f:
                merges = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#version")]
            self.tok = ByteLevelBpe(vocab, merges, t.get("pre_tokenizer") or [], special, t.get("byte_level", False))
        elif kind == "tiktoken":
            self.tok = Tiktoken(Tiktoken.read(os.path.join(model_dir, t["vocab"])), t["pre_tokenizer"], special)
        elif kind == "sentencepiece":
            with open(os.path.join(model_dir, t["model"]), "rb") as f:
                self.tok = UnigramSentencePiece(f.read())
        else:
            raise ValueError(f"tokenizer type {kind} has no Python encoder here")

    def encode_text(self, text: str) -> List[int]:
        norm = self.m["tokenizer"].get("normalization")
        if norm:
            text = unicodedata.normalize(norm.upper(), text)
        return self.tok.encode(text)

    def prompt_ids(self, prompt: str) -> List[int]:
        t = self.m["tokenizer"]
        text = prompt.lower() if t.get("lowercase") else prompt
        return self.encode_text(t.get("prompt_format", "{prompt}").replace("{prompt}", text))

    def template(self, ids: Sequence[int]) -> List[int]:
        s = self.m["sequence"]
        return list(s["prompt_prefix_ids"]) + list(ids) + list(s["prompt_suffix_ids"]) + list(s["begin_of_image_ids"])

    def conditional(self, prompt: str) -> List[int]:
        return self.template(self.prompt_ids(prompt))

    def unconditional(self, prompt: str) -> List[int]:
        c = self.m["cfg"]
        mode = c["unconditional"]
        if mode == "empty_prompt":
            return self.template([])
        if mode == "pad_prompt":
            return self.template([c["pad_id"]] * len(self.prompt_ids(prompt)))
        if mode == "negative_prompt":
            return self.template(self.encode_text(c["negative_prompt"]))
        if mode == "begin_of_image":
            return list(self.m["sequence"]["begin_of_image_ids"])
        raise ValueError(mode)


def pad_rows(rows: Sequence[Sequence[int]], manifest: dict) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-padded ids (pad id 0), mask and position ids of the prefix, as the engine builds them."""
    p = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), p, dtype=torch.long)
    mask = torch.zeros(len(rows), p, dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, p - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[b, p - len(r):] = 1
    first = manifest["sequence"].get("first_image_position")
    if first is not None:
        pos = (torch.arange(p) - p + first).unsqueeze(0).repeat(len(rows), 1).clamp(min=0)
    else:
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, pos


def slot_layout(manifest: dict) -> List[bool]:
    """True for forced (end-of-line) slots, row-major."""
    h, w = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    eol = manifest["sequence"].get("end_of_line_id") is not None
    return [c >= w for _ in range(h) for c in range(w + (1 if eol else 0))]


def distribution(cond, uncond, cfg_scale: float, temperature: float, top_k: int) -> torch.Tensor:
    logits = cond if uncond is None else uncond + cfg_scale * (cond - uncond)
    logits = logits / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits, dim=-1)


@torch.no_grad()
def sample_codes(model, manifest: dict, cond: List[int], uncond: Optional[List[int]], g: torch.Generator,
                 cfg_scale: Optional[float] = None, temperature: Optional[float] = None,
                 top_k: Optional[int] = None) -> List[int]:
    """AR sampling with a KV cache (one slot per pass), CFG rows as the engine builds them."""
    smp = manifest["sampling"]
    cfg_scale = smp["cfg_scale"] if cfg_scale is None else cfg_scale
    temperature = smp["temperature"] if temperature is None else temperature
    top_k = smp["top_k"] if top_k is None else top_k
    rows = [cond] if uncond is None or cfg_scale == 1.0 else [cond, uncond]
    ids, mask, pos = pad_rows(rows, manifest)
    logits, past = model(model.text_embed(ids), mask, pos, model.empty_past(len(rows)), None)
    forced = slot_layout(manifest)
    eol = manifest["sequence"].get("end_of_line_id")
    eol_embed = model.text_embed(torch.tensor([[eol]])) if eol is not None else None
    codes: List[int] = []
    last = logits[:, -1]
    next_pos = pos[:, -1] + 1
    full_mask = mask
    for k, f in enumerate(forced):
        if f:
            x = eol_embed.expand(len(rows), 1, -1)
        else:
            probs = distribution(last[0], last[1] if len(rows) > 1 else None, cfg_scale, temperature, top_k)
            c = int(torch.multinomial(probs, 1, generator=g))
            codes.append(c)
            if len(codes) == manifest["image"]["grid_height"] * manifest["image"]["grid_width"]:
                break
            x = model.image_embed(torch.tensor([[c]])).expand(len(rows), 1, -1)
        full_mask = torch.cat([full_mask, torch.ones(len(rows), 1, dtype=torch.long)], 1)
        logits, past = model(x, full_mask, next_pos.unsqueeze(1), past, None)
        last = logits[:, -1]
        next_pos = next_pos + 1
    return codes
