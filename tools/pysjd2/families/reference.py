"""Teacher-forced reference runs written by the exporters for the tiny models (reference.json):
the upstream way of building the two CFG rows (each family's own prefix, positions, padding and
token ids, computed here independently of the exported graphs and the engine's template logic) and
the CFG-mixed logits over the image codes for every code slot of a fixed code sequence. The engine's
tests rebuild the rows from the manifest, run the ONNX graphs token by token and in one window, and
must reproduce these logits."""
from __future__ import annotations

import json
import os
from typing import Callable, List, Optional, Sequence

import torch

from .. import onnx_export as ox


def image_slots(codes: Sequence[int], h: int, w: int, eol: bool):
    """(kind, value) per slot: ('code', c) or ('eol', None), rows of w codes each followed by an
    end-of-line slot when the model has one."""
    out = []
    for r in range(h):
        for c in range(w):
            out.append(("code", int(codes[r * w + c])))
        if eol:
            out.append(("eol", None))
    return out


@torch.no_grad()
def row_logits(model, prefix_embeds: torch.Tensor, prefix_positions: Sequence[int], prefix_mask: Sequence[int],
               slot_embeds: torch.Tensor, slot_positions: Sequence[int], head: Callable[[torch.Tensor], torch.Tensor]):
    """Logits (via ``head`` on the final hidden states) at every prefix and slot position of one row."""
    x = torch.cat([prefix_embeds, slot_embeds], 0).unsqueeze(0)
    pos = torch.tensor(list(prefix_positions) + list(slot_positions), dtype=torch.long).unsqueeze(0)
    mask = torch.tensor(list(prefix_mask) + [1] * slot_embeds.shape[0], dtype=torch.long).unsqueeze(0)
    return head(model.hidden_states(x, mask, pos))[0]            # [P+S, K]


def write_reference(out_dir: str, prompt: str, cfg_scale: float, cond_ids: List[int], uncond_ids: List[int],
                    codes: Sequence[int], slots, cond_logits: torch.Tensor, uncond_logits: torch.Tensor,
                    cond_prefix_len: int, uncond_prefix_len: int, note: str) -> None:
    """Stores, for each code slot k, u + s·(c − u) of the logits that predict it."""
    mixed = []
    for k, (kind, _) in enumerate(slots):
        if kind != "code":
            continue
        c = cond_logits[cond_prefix_len - 1 + k]
        u = uncond_logits[uncond_prefix_len - 1 + k]
        mixed.append(u + cfg_scale * (c - u))
    # a transformer that computes in float16 (--fp16, contract 2) is compared at 1e-1: it rounds
    # each normalised activation to float16 (relative 4.9e-4 at most) before the projections, and
    # CFG mixing adds the two rows' differences up to 2s - 1 = 9 times at s = 5; the tiny Janus-Pro
    # export measures 5.6e-2 from this float32 reference (the weights are the same float16-rounded ones)
    tolerance = 1e-1 if _computes_in_fp16(out_dir) else 2e-3
    data = {"note": note, "prompt": prompt, "cfg_scale": cfg_scale, "cond_ids": cond_ids, "uncond_ids": uncond_ids,
            "codes": [int(c) for c in codes], "tolerance": tolerance,
            "mixed_logits": ox._tensor(torch.stack(mixed))}
    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        f.write(ox._dumps(data) + "\n")


def _computes_in_fp16(out_dir: str) -> bool:
    import onnx
    from onnx import TensorProto
    path = os.path.join(out_dir, "transformer.onnx")
    if not os.path.exists(path):
        return False
    inputs = onnx.load(path, load_external_data=False).graph.input
    return any(i.name.startswith("past_key_values.") and i.type.tensor_type.elem_type == TensorProto.FLOAT16 for i in inputs)


def write_unpadded_reference(out_dir: str, model, manifest: dict, prompt: str, table: torch.Tensor,
                             cond_ids: List[int], uncond_ids: List[int], codes: Sequence[int], slots,
                             slot_embeds: torch.Tensor, head: Callable[[torch.Tensor], torch.Tensor], note: str) -> None:
    """``write_reference`` for families whose two CFG rows are separate unpadded sequences
    (positions from 0), their prompt ids embedded through ``table``."""
    rows = []
    for ids in (cond_ids, uncond_ids):
        n = len(ids)
        rows.append(row_logits(model, table[torch.tensor(ids)], range(n), [1] * n, slot_embeds,
                               range(n, n + slot_embeds.shape[0]), head))
    write_reference(out_dir, prompt, manifest["sampling"]["cfg_scale"], cond_ids, uncond_ids, codes, slots,
                    rows[0], rows[1], len(cond_ids), len(uncond_ids), note)


def random_codes(n: int, k: int, seed: int) -> List[int]:
    g = torch.Generator().manual_seed(seed + 4242)
    return torch.randint(0, k, (n,), generator=g).tolist()
