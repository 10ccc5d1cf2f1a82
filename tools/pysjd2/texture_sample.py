"""PyTorch AR sampler and TextureEval scoring for an entropy-world training folder.

    python3 export_models.py texture evaluate --out DIR [--n 40] [--cfg-scale 1] [--top-k 8]
                                              [--temperature 1] [--seed 0] [--grid PNG]

Draws ``n`` prompts from the world's grammar (training colour+shape pairs; ``--held-out`` for
the held-out pairs), samples one image per prompt from ``DIR/weights.pt`` (decoded with
``DIR/vq.pt``), scores them with TextureEval and reports, besides accuracy, the mean entropy of
the sampling distribution per code (after CFG, temperature and top-k): the uncertainty that
speculative Jacobi decoding has to live with.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Dict, List

import numpy as np
import torch

from . import demo_train as dt
from . import texture_eval as te
from . import texture_world as tw
from .texture_train import TOKENIZER, load_vq, new_model


@torch.no_grad()
def sample(model, prompts: List[str], cfg_scale: float = 1.0, temperature: float = 1.0, top_k: int = 8,
           seed: int = 0):
    """(codes [N,16,16], mean entropy per code of the sampling distribution in nats). All prompts
    in one batch; with CFG the empty prompt is the unconditional row."""
    gen = torch.Generator().manual_seed(seed)
    use_cfg = cfg_scale != 1.0
    rows = [[tw.BOS_ID] + TOKENIZER.encode(p) + [tw.BOI_ID] for p in prompts]
    if use_cfg:
        rows += [[tw.BOS_ID, tw.BOI_ID]] * len(prompts)
    ids, mask = (torch.from_numpy(a) for a in dt.left_pad(rows))
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    n = len(prompts)
    logits, past = model(model.text_embed(ids), mask, pos, model.empty_past(len(rows)))
    codes, ent = [], []
    for t in range(dt.NUM_IMAGE_TOKENS):
        lg = logits[:, -1].float()
        lg = lg[n:] + cfg_scale * (lg[:n] - lg[n:]) if use_cfg else lg
        lg = lg / max(temperature, 1e-5)
        if top_k:
            kth = torch.topk(lg, top_k, dim=-1).values[:, -1:]
            lg = torch.where(lg < kth, torch.full_like(lg, -1e9), lg)
        p = torch.softmax(lg, -1)
        ent.append(float(-(p * torch.log(p.clamp(min=1e-12))).sum(-1).mean()))
        c = torch.multinomial(p, 1, generator=gen)                     # [N,1]
        codes.append(c[:, 0])
        if t == dt.NUM_IMAGE_TOKENS - 1:
            break
        cc = torch.cat([c, c]) if use_cfg else c
        mask = torch.cat([mask, torch.ones(len(rows), 1, dtype=torch.long)], 1)
        pos = pos[:, -1:] + 1
        logits, past = model(model.image_embed(cc), mask, pos, past)
    return torch.stack(codes, 1).view(n, dt.GRID, dt.GRID), float(np.mean(ent))


def evaluate(work: str, n: int = 40, held_out: bool = False, cfg_scale: float = 1.0, top_k: int = 8,
             temperature: float = 1.0, seed: int = 0, grid: str = None) -> Dict:
    ck = torch.load(os.path.join(work, "weights.pt"), map_location="cpu")
    model = new_model(ck["transformer_config"])
    model.load_state_dict(ck["model"])
    model.eval()
    _, dec, vq_stats = load_vq(work)
    rng = np.random.default_rng(seed)
    prompts = []
    for _ in range(n):
        sc = tw.sample_scene(rng, "heldout" if held_out else "train")
        prompts.append(tw.caption(sc, rng))
    codes, entropy = sample(model, prompts, cfg_scale, temperature, top_k, seed)
    with torch.no_grad():
        imgs = ((dec(codes).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    tot = {a: [0, 0] for a in te.ATTRIBUTES + ["all"]}
    for p, img in zip(prompts, imgs):
        r = te.score(p, img)
        for a, v in r.items():
            if v is not None:
                tot[a][0] += bool(v)
                tot[a][1] += 1
    if grid:
        from PIL import Image
        cols = 8
        rows_n = (n + cols - 1) // cols
        canvas = np.full((rows_n * 64, cols * 64, 3), 255, dtype=np.uint8)
        for i, img in enumerate(imgs):
            canvas[(i // cols) * 64:(i // cols + 1) * 64, (i % cols) * 64:(i % cols + 1) * 64] = img
        Image.fromarray(canvas).save(grid, optimize=True)
    return {"evaluator": te.VERSION, "step": ck["state"]["step"], "n": n, "held_out": held_out,
            "cfg_scale": cfg_scale, "top_k": top_k, "temperature": temperature, "seed": seed,
            "accuracy": {a: round(v[0] / v[1], 3) for a, v in tot.items() if v[1]},
            "sampling_entropy_nats_per_code": round(entropy, 3), "vq": vq_stats}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="export_models.py texture evaluate")
    ap.add_argument("--out", required=True, help="training folder (weights.pt, vq.pt)")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--held-out", action="store_true")
    ap.add_argument("--cfg-scale", type=float, default=1.0)
    ap.add_argument("--top-k", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--grid", default=None, help="write the images to this PNG (8 a row)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads or max(1, os.cpu_count() or 1))
    print(json.dumps(evaluate(a.out, a.n, a.held_out, a.cfg_scale, a.top_k, a.temperature, a.seed, a.grid)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
