"""Helpers shared by the family exporters: random initialisation of tiny configurations, output
head calibration, the command-line options every family takes, and the manifest skeleton."""
from __future__ import annotations

import argparse
import json
import math
import os
from typing import Dict, Iterable, Optional

import torch
import torch.nn as nn

from .decoder import FamilyTransformer


def init_random(module: nn.Module, g: torch.Generator, embed_std: float = 1.0) -> None:
    """Weights ~ N(0, 1/fan_in) for matrices and convolutions, N(0, embed_std²) for embeddings,
    small random biases, norm scales 1 (GroupNorm/LayerNorm/RMSNorm weights), BatchNorm running
    statistics mildly random (so they matter)."""
    with torch.no_grad():
        for mod_name, mod in module.named_modules():
            for name, p in list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False)):
                full = f"{mod_name}.{name}" if mod_name else name
                kind = type(mod).__name__
                if isinstance(mod, nn.Embedding) or kind == "RowSelectEmbedding":
                    p.copy_(torch.randn(p.shape, generator=g) * embed_std)
                elif kind == "ChameleonQKNorm":
                    p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g) if name == "weight" else 0.1 * torch.randn(p.shape, generator=g))
                elif isinstance(mod, (nn.GroupNorm, nn.LayerNorm)) or (name == "weight" and p.dim() == 1):
                    p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g) if name == "weight" else 0.1 * torch.randn(p.shape, generator=g))
                elif isinstance(mod, nn.BatchNorm3d):
                    if name == "running_var":
                        p.copy_(0.5 + torch.rand(p.shape, generator=g))
                    elif name == "running_mean":
                        p.copy_(0.1 * torch.randn(p.shape, generator=g))
                    elif name == "weight":
                        p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
                    elif name == "bias":
                        p.copy_(0.1 * torch.randn(p.shape, generator=g))
                elif p.dtype.is_floating_point and p.dim() >= 2:
                    fan_in = p[0].numel()
                    p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
                elif p.dtype.is_floating_point:
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))


@torch.no_grad()
def mean_top_prob(model: FamilyTransformer, g: torch.Generator, batch: int = 8, length: int = 12) -> float:
    cfg = model.config
    text = torch.randint(1, cfg.text_vocab_size, (batch, 3), generator=g)
    codes = torch.randint(0, cfg.codebook_size, (batch, length), generator=g)
    x = torch.cat([model.text_embed(text), model.image_embed(codes)], dim=1)
    s = x.shape[1]
    mask = torch.ones(batch, s, dtype=torch.long)
    pos = torch.arange(s).unsqueeze(0).repeat(batch, 1) + cfg.first_image_position
    logits, _ = model(x, mask, pos, None, None)
    return torch.softmax(logits[:, 2:-1], -1).max(-1).values.mean().item()


@torch.no_grad()
def calibrate_head(model: FamilyTransformer, weight: torch.Tensor, seed: int, target: float = 0.4,
                   verbose: bool = True) -> float:
    """Scales ``weight`` (the last matrix of the output head) so that the mean top-1 probability
    over random sequences is about ``target`` (moderately peaked, like tiny.py's models)."""
    base = weight.detach().clone()
    lo, hi = math.log(0.02), math.log(100.0)
    for _ in range(24):
        mid = 0.5 * (lo + hi)
        weight.copy_(base * math.exp(mid))
        if mean_top_prob(model, torch.Generator().manual_seed(seed + 17)) < target:
            lo = mid
        else:
            hi = mid
    scale = math.exp(0.5 * (lo + hi))
    weight.copy_(base * scale)
    if verbose:
        top = mean_top_prob(model, torch.Generator().manual_seed(seed + 17))
        print(f"  output head scaled by {scale:.4g}: mean top-1 probability {top:.3f}")
    return scale


def renamed_parameters(model: nn.Module, rename) -> Dict[str, torch.Tensor]:
    """{upstream name: tensor} for the parameters rename() maps (it returns a falsy name to skip one)."""
    tensors = {}
    for n, p in model.named_parameters():
        r = rename(n)
        if r:
            tensors[r] = p.detach()
    return tensors


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", help="the family's checkpoint (folder or file, see docs/models.md)")
    p.add_argument("--out", required=True, help="output model folder")
    p.add_argument("--tiny", action="store_true",
                   help="build a tiny random-weight configuration (checkpoint in the upstream layout, written to "
                        "OUT/../<name>-checkpoint unless --checkpoint names a folder) and export it")
    p.add_argument("--seed", type=int, default=0, help="seed for --tiny weights and parity cases (default 0)")
    p.add_argument("--name", default=None, help="manifest name (default: the output folder's name)")
    p.add_argument("--fp16", action="store_true", help="store float weights as float16 (graphs still compute in float32)")
    p.add_argument("--contract", type=int, choices=(1, 2), default=2,
                   help="transformer contract: 2 (default) returns only the new KV rows, so the engine keeps the cache "
                        "on the device; 1 returns past + window (engines before device-resident decoding)")
    p.add_argument("--no-window-mask", dest="window_mask", action="store_false",
                   help="leave out the transformer's tree-attention input (window_mask); pac then decodes chain drafts")
    p.add_argument("--external-data", dest="external_data", action="store_const", const=True, default=None,
                   help="always put weights into <graph>.onnx.data files (default: only above ~1.5 GB)")
    p.add_argument("--max-prompt-tokens", type=int, default=None, help="prompt token limit written to the manifest")
    p.add_argument("--parity-floats", type=int, default=None,
                   help="size budget of parity.json in floats (default 60000; 12000 for --tiny)")
    p.add_argument("--no-self-test", action="store_true", help="skip the float64 window self-test")
    p.add_argument("--skip-parity", action="store_true", help="do not run `sjd2 parity` afterwards")
    from ..quantize import add_arguments as add_weight_arguments
    add_weight_arguments(p)
    p.add_argument("--reference", action="store_true",
                   help="also write reference.json (teacher-forced CFG logits built the upstream way; default for --tiny)")


def manifest_skeleton(name: str, description: str) -> dict:
    return {"format": "sjd2onnx-model", "format_version": 1, "name": name, "description": description,
            "graphs": {}, "sjd2": None}


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def default_tiny_checkpoint_dir(out_dir: str, family: str) -> str:
    """A fresh temporary folder for a tiny checkpoint (it is reproducible from the seed, which
    family.json records, so nothing needs to keep it)."""
    import atexit
    import shutil
    import tempfile
    path = tempfile.mkdtemp(prefix=f"sjd2-{family}-tiny-")
    atexit.register(shutil.rmtree, path, True)
    return path


def family_info(args, family: str, **paths) -> dict:
    """family.json content: how to rebuild the PyTorch model (finetune-sjd2 reads it). Tiny models
    record their seed instead of the temporary checkpoint paths."""
    info = {"family": family}
    if args.tiny:
        info["tiny_seed"] = args.seed
        info.update({k: None for k in paths})
    else:
        info.update({k: (os.path.abspath(v) if isinstance(v, str) and os.path.exists(v) else v) for k, v in paths.items()})
    return info
