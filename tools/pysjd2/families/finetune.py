"""``export_models.py finetune-sjd2``: a low-cost next-clean-token (SJD2) fine-tuning recipe for the
families' PyTorch re-implementations, ending in a model folder with the ``sjd2`` manifest section
and the ``noise_levels`` transformer input.

Recipe (docs/models.md, algorithms.md "SJD2"):

* Start from an exported folder (``--model-dir``; family.json says how to rebuild the PyTorch model
  from its checkpoint, or from the seed for ``--tiny`` models).
* Add noise-level conditioning: an MLP of sigma features added to every input embedding, with a
  zero-initialised output layer, so the model is exactly the base model before training.
* Train only cheap parameters: the noise MLP plus LoRA adapters (rank ``--lora-rank``) on the
  attention projections (``--train lora``, default), or the noise MLP alone (``--train noise``), or
  everything (``--train full``). LoRA is merged into the weights before export.
* Data: ``--data FILE.jsonl`` (lines ``{"prompt": ..., "codes": [...]}`` with h*w codes, or
  ``"prompt_ids"`` instead of ``"prompt"``), or self-distillation (``--self-distill N``): N code grids
  sampled from the base model itself with its default CFG / top-k for prompts from ``--prompts``
  (one per line) -- no dataset needed and the targets stay on the model's own distribution.
* Batches mix plain AR rows with rows where a random segment of code slots is replaced by noisy
  embeddings: on the normalised image embeddings n = (e - mean) / std, ñ = sqrt(1 - s^2) n + s eps,
  fed as ñ std + mean with ``noise_levels`` = s; along the segment the level rises over the Karras
  grid (first slots nearly clean, last ones near sigma_max), matching what SJD2 feeds in a window.
  Forced end-of-line slots stay clean. The loss is cross-entropy of the next **clean** code at
  every code slot (noisy inputs or not). ``--uncond-prob`` of the rows use the unconditional
  prompt, because the engine feeds the same noisy window to both CFG rows.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import noise_schedule
from . import engine_py, family_module
from .export import export_family_folder

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "wqkv", "wo")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model-dir", required=True, help="a family model folder (with family.json)")
    p.add_argument("--out", required=True, help="output model folder (with the sjd2 section)")
    p.add_argument("--steps", type=int, default=1000, help="optimiser steps (default 1000)")
    p.add_argument("--batch", type=int, default=8, help="rows per step (default 8)")
    p.add_argument("--lr", type=float, default=2e-4, help="learning rate (default 2e-4)")
    p.add_argument("--train", choices=["noise", "lora", "full"], default="lora", help="what to train (default lora)")
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--data", default=None, help="JSONL with prompt / prompt_ids and codes")
    p.add_argument("--self-distill", type=int, default=64, help="samples drawn from the base model when --data is absent")
    p.add_argument("--prompts", default=None, help="text file, one prompt per line (self-distillation)")
    p.add_argument("--noise-row-prob", type=float, default=0.5, help="share of rows with a noisy segment")
    p.add_argument("--uncond-prob", type=float, default=0.1, help="share of rows with the unconditional prompt")
    p.add_argument("--sigma-steps", type=int, default=20, help="Karras grid size written to the manifest")
    p.add_argument("--sigma-min", type=float, default=0.02)
    p.add_argument("--sigma-max", type=float, default=1.0)
    p.add_argument("--rho", type=float, default=7.0)
    p.add_argument("--window-share", type=float, default=0.5,
                   help="share of noisy rows that imitate the engine's window schedule (the rest: per-pass segments)")
    p.add_argument("--window-min", type=int, default=8, help="smallest window the window-schedule rows imitate")
    p.add_argument("--window-max", type=int, default=96, help="largest window the window-schedule rows imitate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--name", default=None)
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--contract", type=int, choices=(1, 2), default=2, help="transformer contract of the output (see the family exporters)")
    p.add_argument("--no-window-mask", dest="window_mask", action="store_false",
                   help="leave out the transformer's tree-attention input (window_mask); pac then decodes chain drafts")
    p.add_argument("--skip-parity", action="store_true")
    p.add_argument("--log", default=None, help="write one JSON line per logging step to this file")


def karras(steps: int, smin: float, smax: float, rho: float) -> np.ndarray:
    a, b = smax ** (1.0 / rho), smin ** (1.0 / rho)
    return np.array([(a + (i / max(steps - 1, 1)) * (b - a)) ** rho for i in range(steps)], dtype=np.float32)


class LoraLinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.a = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.b = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x):
        return self.base(x) + F.linear(F.linear(x, self.a), self.b) * self.scale

    def merged(self) -> nn.Linear:
        with torch.no_grad():
            self.base.weight += (self.b @ self.a) * self.scale
        return self.base


def add_lora(model, rank: int) -> List[nn.Parameter]:
    params = []
    for layer in model.layers:
        for mod in list(layer.modules()):
            for name, child in list(mod.named_children()):
                if isinstance(child, nn.Linear) and name in LORA_TARGETS:
                    lora = LoraLinear(child, rank, alpha=rank)
                    setattr(mod, name, lora)
                    params += [lora.a, lora.b]
    return params


def merge_lora(model) -> None:
    for mod in list(model.modules()):
        for name, child in list(mod.named_children()):
            if isinstance(child, LoraLinear):
                setattr(mod, name, child.merged())


def noise_levels_for(rng: np.random.Generator, forced: List[bool], sigmas: np.ndarray, prob: float,
                     window_share: float = 0.0, window_range: tuple = (8, 96), rho: float = 7.0) -> np.ndarray:
    """Per-slot sigma for one row: 0 (clean), the engine's window-schedule ramp (``window_share`` of
    the noisy rows), or a Karras ramp rising by a random slope over a random code segment (the
    per-pass schedule). Forced slots stay clean: the engine feeds them clean."""
    n = len(forced)
    lv = np.zeros(n, dtype=np.float32)
    if rng.random() >= prob:
        return lv
    if window_share > 0 and rng.random() < window_share:
        ramp = noise_schedule.window_segment(rng, n, float(sigmas[-1]), float(sigmas[0]), rho, *window_range)
        ramp[np.asarray(forced, dtype=bool)] = 0.0
        return ramp
    steps = len(sigmas)
    length = int(rng.integers(2, max(3, n // 2 + 1)))
    start = int(rng.integers(0, max(1, n - length + 1)))
    slope = float(rng.uniform(0.3, 2.0))
    offset = float(rng.uniform(0.0, 0.75 * steps))
    for j in range(length):
        k = start + j
        if k >= n or forced[k]:
            continue
        depth = int(offset + slope * j)
        lv[k] = sigmas[int(np.clip(steps - 1 - depth, 0, steps - 1))]
    return lv


def embedding_stats(model):
    with torch.no_grad():
        table = model.image_embed(torch.arange(model.config.codebook_size).unsqueeze(0))[0].double()
    return table.mean(0).float(), table.std(0, unbiased=False).clamp(min=1e-6).float()


def load_data(args, rows: engine_py.PromptRows, manifest: dict, model, g: torch.Generator):
    h, w = manifest["image"]["grid_height"], manifest["image"]["grid_width"]
    items = []
    if args.data:
        with open(args.data, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                d = json.loads(line)
                ids = d["prompt_ids"] if "prompt_ids" in d else rows.prompt_ids(d["prompt"])
                codes = list(np.asarray(d["codes"]).reshape(-1))
                if len(codes) != h * w:
                    raise ValueError(f"{args.data}: {len(codes)} codes, the model has {h}x{w}")
                items.append((rows.template(ids), [int(c) for c in codes]))
        return items
    prompts = ["a red circle", "a blue square on the left", "two small dogs", "a big yellow star",
               "a black cat on a white table", "a green triangle above a circle"]
    if args.prompts:
        with open(args.prompts, encoding="utf-8") as f:
            prompts = [l.strip() for l in f if l.strip()]
    t0 = time.time()
    for i in range(args.self_distill):
        p = prompts[i % len(prompts)]
        cond, uncond = rows.conditional(p), rows.unconditional(p)
        items.append((cond, engine_py.sample_codes(model, manifest, cond, uncond, g)))
    print(f"  self-distillation: {len(items)} samples from the base model in {time.time() - t0:.1f} s")
    return items


def make_batch(model, manifest, items, uncond_rows, rng, sigmas, mean, std, args, g):
    """Inputs, mask, positions, noise levels, targets and target mask for one batch."""
    forced = engine_py.slot_layout(manifest)
    eol = manifest["sequence"].get("end_of_line_id")
    picks = rng.integers(0, len(items), size=args.batch)
    prefixes, codes_list = [], []
    for i in picks:
        prefix, codes = items[int(i)]
        if rng.random() < args.uncond_prob:
            prefix = uncond_rows[int(i) % len(uncond_rows)]
        prefixes.append(prefix)
        codes_list.append(codes)
    dev = next(model.parameters()).device
    ids, pmask, ppos = engine_py.pad_rows(prefixes, manifest)
    with torch.no_grad():
        text = model.text_embed(ids.to(dev))
        eol_embed = model.text_embed(torch.tensor([[eol]], device=dev))[0, 0] if eol is not None else None
    n_slots = len(forced)
    b, p = ids.shape
    slot_codes = torch.zeros(b, n_slots, dtype=torch.long)
    for r, codes in enumerate(codes_list):
        it = iter(codes)
        for k, f in enumerate(forced):
            if not f:
                slot_codes[r, k] = next(it)
    img = model.image_embed(slot_codes.to(dev))                             # [B,N,D]
    if eol_embed is not None:
        fmask = torch.tensor(forced, device=dev).view(1, -1, 1)
        img = torch.where(fmask, eol_embed.view(1, 1, -1), img)
    levels = torch.from_numpy(np.stack([noise_levels_for(rng, forced, sigmas, args.noise_row_prob, args.window_share,
                                                         (args.window_min, args.window_max), args.rho) for _ in range(b)]))
    s = levels.unsqueeze(-1).to(dev)
    eps = torch.randn(img.shape, generator=g).to(dev)
    mean, std = mean.to(dev), std.to(dev)
    noisy = (torch.sqrt(1 - s * s) * ((img - mean) / std) + s * eps) * std + mean
    img = torch.where(s > 0, noisy, img)
    x = torch.cat([text, img[:, :-1]], 1)
    mask = torch.cat([pmask, torch.ones(b, n_slots - 1, dtype=torch.long)], 1)
    pos = torch.cat([ppos, ppos[:, -1:] + torch.arange(1, n_slots).unsqueeze(0)], 1)
    nl = torch.cat([torch.zeros(b, p), levels[:, :-1]], 1)
    # input at position p-1+k predicts slot k; only code slots are targets
    targets = slot_codes
    tmask = ~torch.tensor(forced).unsqueeze(0).repeat(b, 1)
    return x, mask, pos, nl, targets, tmask, p


def run(args) -> str:
    with open(os.path.join(args.model_dir, "family.json"), encoding="utf-8") as f:
        info = json.load(f)
    with open(os.path.join(args.model_dir, "model.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    fam = family_module(info["family"])
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    work = tempfile.mkdtemp(prefix="sjd2-finetune-")
    model, vq = fam.from_family_info(info, work)
    model.eval()
    rows = engine_py.PromptRows(args.model_dir, manifest)
    print(f"finetune-sjd2: {info['family']} from {args.model_dir}")
    items = load_data(args, rows, manifest, model, g)
    uncond_rows = [rows.unconditional(p) for p in ["a red circle"]]
    if manifest["cfg"]["unconditional"] == "pad_prompt":
        uncond_rows = [rows.template([manifest["cfg"]["pad_id"]] * (len(pfx) - len(rows.template([])))) for pfx, _ in items[:8]]

    mean, std = embedding_stats(model)
    model.enable_noise_conditioning()
    for p in model.parameters():
        p.requires_grad_(args.train == "full")
    trainable = list(model.noise_embed.parameters())
    for p in trainable:
        p.requires_grad_(True)
    if args.train == "lora":
        trainable += add_lora(model, args.lora_rank)
    elif args.train == "full":
        trainable = [p for p in model.parameters()]
    for p in model.text_embed.parameters():
        p.requires_grad_(False)
    trainable = [p for p in trainable if p.requires_grad]
    model.to(args.device)
    opt = torch.optim.AdamW(trainable, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    sigmas = karras(args.sigma_steps, args.sigma_min, args.sigma_max, args.rho)
    print(f"  training {sum(p.numel() for p in trainable)} parameters ({args.train}), {args.steps} steps x {args.batch} rows")
    model.train()
    history = []
    t0 = time.time()
    for step in range(args.steps):
        x, mask, pos, nl, targets, tmask, p = make_batch(model, manifest, items, uncond_rows, rng, sigmas, mean, std, args, g)
        lr = args.lr * min(1.0, (step + 1) / max(1, args.steps // 20)) * (0.5 * (1 + math.cos(math.pi * step / max(1, args.steps))))
        for grp in opt.param_groups:
            grp["lr"] = lr
        logits = model.training_forward(x.to(args.device), mask.to(args.device), pos.to(args.device), nl.to(args.device))
        pred = logits[:, p - 1:]                                            # [B,N,K]
        ce = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), targets.reshape(-1).to(args.device), reduction="none")
        ce = ce.view(targets.shape)
        noisy_in = torch.cat([torch.zeros(nl.shape[0], 1), nl[:, p:]], 1) > 0   # slot k's input (k-1) was noisy
        loss = (ce * tmask).sum() / tmask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        if step % max(1, args.steps // 20) == 0 or step == args.steps - 1:
            sel = tmask & noisy_in
            rec = {"step": step + 1, "loss": round(float(loss), 4),
                   "loss_after_noisy_input": round(float(ce[sel].mean()), 4) if sel.any() else None,
                   "loss_after_clean_input": round(float(ce[tmask & ~noisy_in].mean()), 4),
                   "lr": round(lr, 7), "seconds": round(time.time() - t0, 1)}
            history.append(rec)
            print("  " + json.dumps(rec))
            if args.log:
                with open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
    model.eval()
    if args.train == "lora":
        merge_lora(model)
    model.to("cpu")

    out_manifest = json.loads(json.dumps(manifest))
    out_manifest["name"] = args.name or os.path.basename(os.path.normpath(args.out))
    out_manifest["description"] = manifest.get("description", "") + f"; SJD2 fine-tuned ({args.train}, {args.steps} steps)"
    out_manifest["sjd2"] = {"schedule": "karras", "steps": args.sigma_steps, "sigma_min": args.sigma_min,
                            "sigma_max": args.sigma_max, "rho": args.rho,
                            "embedding_mean": [float("%.7g" % v) for v in mean.tolist()],
                            "embedding_std": [float("%.7g" % v) for v in std.tolist()]}
    out_manifest["graphs"] = {}
    files = {}
    skip = {"model.json", "parity.json", "family.json", "reference.json", "tokenizer_cases.json"}
    for fname in os.listdir(args.model_dir):
        if fname not in skip and not fname.endswith(".onnx") and not fname.endswith(".onnx.data"):
            import pathlib
            files[fname] = pathlib.Path(os.path.join(args.model_dir, fname))
    out_info = dict(info, finetune={"train": args.train, "steps": args.steps, "batch": args.batch, "lr": args.lr,
                                    "history": history, "base_model": args.model_dir})
    export_family_folder(args.out, model, vq, out_manifest, files, out_info, parity_seed=args.seed, fp16=args.fp16, contract=args.contract, window_mask=args.window_mask,
                         extra_cases=getattr(fam, "extra_cases", None))
    return args.out
