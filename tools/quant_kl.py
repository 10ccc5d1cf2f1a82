#!/usr/bin/env python3
"""Quality cost of 8- and 4-bit weights, teacher-forced: KL divergence per image token between the
float32 model's next-code distribution and the quantized model's, on sequences the model did not
choose (the default model's training distribution, or random codes for the tiny models).

The quantized model is the PyTorch model with its linear weights rounded exactly as
``export_models.py ... --weights`` stores them (pysjd2.quantize; `sjd2 parity` checks the graphs
against it within 1e-4), so no ONNX Runtime is needed here.

    /usr/bin/python3 tools/quant_kl.py demo [--state onnx/torch_state.pt] [--batches 8]
    /usr/bin/python3 tools/quant_kl.py tiny [--seed 0]

Prints one JSON line per format and accuracy level (level 4: the int8 input rounding emulated): KL(float32 || format) in nats per image token (mean and the 99th
percentile over tokens), the cross-entropy of the teacher codes under both models, and the share of
tokens where the two models' most likely code differs. Temperature 1, no top-k, conditional rows.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from pysjd2 import quantize as qz  # noqa: E402


def compare(model, batches, block_size: int) -> None:
    """``batches``: list of (inputs_embeds fn, attention mask, position ids, target codes, first logit row)."""
    variants = {}
    for fmt in ("int8", "int4"):
        for level in (0, 4):
            m = copy.deepcopy(model)
            qz.quantize_linears_(m, qz.FORMATS[fmt], block_size)
            if level == 4:       # inputs rounded to int8 per block, as ONNX Runtime computes accuracy level 4
                qz.emulate_int8_inputs_(m, block_size)
            variants[f"{fmt} level {level}"] = m.eval()
    stats = {fmt: {"kl": [], "ce_q": [], "flip": []} for fmt in variants}
    ce_f = []
    with torch.no_grad():
        for embed, mask, pos, codes, first in batches:
            def logp(m):
                logits, _ = m(embed(m), mask, pos, None)       # no noise levels: clean inputs
                return F.log_softmax(logits[:, first:first + codes.shape[1]].double(), -1)
            lf = logp(model)
            ce_f.append(-lf.gather(-1, codes.unsqueeze(-1)).squeeze(-1).flatten())
            for fmt, m in variants.items():
                lq = logp(m)
                stats[fmt]["kl"].append((lf.exp() * (lf - lq)).sum(-1).flatten())
                stats[fmt]["ce_q"].append(-lq.gather(-1, codes.unsqueeze(-1)).squeeze(-1).flatten())
                stats[fmt]["flip"].append((lf.argmax(-1) != lq.argmax(-1)).double().flatten())
    ce_f = torch.cat(ce_f)
    for fmt, s in stats.items():
        kl = torch.cat(s["kl"])
        print(json.dumps({"format": fmt, "block_size": block_size, "tokens": int(kl.numel()),
                          "kl_mean_nats": float(kl.mean()), "kl_p99_nats": float(torch.quantile(kl, 0.99)),
                          "ce_float32": float(ce_f.mean()), "ce_quantized": float(torch.cat(s["ce_q"]).mean()),
                          "argmax_differs": float(torch.cat(s["flip"]).mean())}))


def demo_batches(args):
    from pysjd2 import demo, demo_train as dt
    model, _dec, codebook, _mean, _std, _meta = demo.load_state(argparse.Namespace(state=args.state, out=None))
    t = dict(dt.TRAIN, caption_dropout=0.0)
    cb = torch.from_numpy(codebook)
    out = []
    for i in range(args.batches):
        b = dt.draw_batch(10_000_000 + i, args.batch, t, None)
        text, tmask = torch.from_numpy(b["text"]), torch.from_numpy(b["mask"])
        codes = dt.encode_images(torch.from_numpy(b["images"]), cb)
        n = codes.shape[0]
        mask = torch.cat([tmask, torch.ones(n, codes.shape[1], dtype=torch.long)], 1)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)

        def embed(m, text=text, codes=codes):
            return torch.cat([m.text_embed(text), m.image_embed(codes)], 1)
        # the logits row of input j predicts input j+1: the begin-of-image token predicts code 0
        out.append((embed, mask, pos, codes, text.shape[1] - 1))
    return model.eval(), out


def tiny_batches(args):
    from pysjd2.tiny import build_tiny
    model, _vq, _manifest, _tok = build_tiny(grid=(4, 4), codebook_size=64, end_of_line=False, sjd2=False, seed=args.seed,
                                             name="tiny", max_prompt_tokens=24)
    g = torch.Generator().manual_seed(1)
    cfg = model.config
    out = []
    for _ in range(args.batches):
        text = torch.randint(3, cfg.text_vocab_size, (args.batch, 6), generator=g)
        codes = torch.randint(0, cfg.codebook_size, (args.batch, 16), generator=g)
        mask = torch.ones(args.batch, 22, dtype=torch.long)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)

        def embed(m, text=text, codes=codes):
            return torch.cat([m.text_embed(text), m.image_embed(codes)], 1)
        out.append((embed, mask, pos, codes, 5))
    return model.eval(), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=("demo", "tiny"))
    ap.add_argument("--state", default=os.path.join(ROOT, "onnx", "torch_state.pt"), help="demo: torch_state.pt")
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--block-size", type=int, default=qz.DEFAULT_BLOCK_SIZE)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, batches = demo_batches(args) if args.model == "demo" else tiny_batches(args)
    compare(model, batches, args.block_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
