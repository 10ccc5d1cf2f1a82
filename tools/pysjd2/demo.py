"""The default model: a small text-to-image AR model trained on the procedural shapes world.

    python3 export_models.py demo --out onnx [--steps N] [--resume] [--minutes M] [--device cpu|cuda]
                                  [--init-weights weights.pt] [--work DIR] [--no-export]
    python3 export_models.py demo sample --out onnx [--prompts "a big red circle on the left" ...]
    python3 export_models.py demo export --out onnx        (re-export from onnx/torch_state.pt)

Stages (work files under train/demo/, gitignored):
1. VQ tokenizer (k-means on 4x4 patches + small conv decoder), cached in train/demo/vq.pt.
2. Transformer training with caption dropout and SJD2 next-clean-token noise segments
   (demo_train.py), checkpointed to train/demo/ckpt.pt (with optimizer) and weights.pt (without)
   every few minutes; --resume continues the cycle from ckpt.pt, --init-weights starts a new
   cosine cycle from a weights.pt.
3. Export with world_export.export into --out, plus torch_state.pt (float32 weights of
   transformer, VQ decoder and codebook, with configs) so the PyTorch model can be rebuilt
   without retraining (``load_torch_state``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional

import numpy as np
import torch

from . import shapes, world_export
from .transformer import Sjd2Transformer
from .demo_train import (CODEBOOK_SIZE, GRID, MAX_PROMPT_TOKENS, MODEL, NUM_IMAGE_TOKENS, REPO,
                         TRAIN, WORK, get_vq, left_pad, new_model, resolve_run_args, train)

# The manifest's sampling defaults. CFG 1 (no guidance) was chosen from a sweep of the scale
# (docs/default-model.md, "Sampling defaults"): it keeps the world's spread of sizes, positions and
# backgrounds that guidance collapses, draws every grammar prompt right, and halves the work per pass;
# guidance buys held-out colour+shape pairs (--cfg 2-3) at the price of that spread.
SAMPLING = dict(cfg_scale=1.0, temperature=1.0, top_k=8, top_p=1.0)


# ------------------------------------------------------------------------------------------
# sampling (PyTorch reference AR sampler with CFG)
# ------------------------------------------------------------------------------------------
@torch.no_grad()
def sample(model: Sjd2Transformer, prompts: List[str], cfg_scale: float = 3.0,
           temperature: float = 1.0, top_k: int = 0, seed: int = 0) -> torch.Tensor:
    """Codes [N,16,16]; CFG with the empty prompt as the unconditional row."""
    tok = shapes.WordTokenizer()
    gen = torch.Generator().manual_seed(seed)
    out = []
    for p in prompts:
        rows = [[shapes.BOS_ID] + tok.encode(p) + [shapes.BOI_ID], [shapes.BOS_ID, shapes.BOI_ID]]
        use_cfg = cfg_scale != 1.0
        if not use_cfg:
            rows = rows[:1]
        ids, mask = (torch.from_numpy(a) for a in left_pad(rows))
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        logits, past = model(model.text_embed(ids), mask, pos, model.empty_past(len(rows)))
        codes = []
        for t in range(NUM_IMAGE_TOKENS):
            lg = logits[:, -1].float()
            if use_cfg:
                lg = lg[1] + cfg_scale * (lg[0] - lg[1])
            else:
                lg = lg[0]
            lg = lg / max(temperature, 1e-5)
            if top_k:
                kth = torch.topk(lg, top_k).values[-1]
                lg = torch.where(lg < kth, torch.full_like(lg, -1e9), lg)
            c = int(torch.multinomial(torch.softmax(lg, -1), 1, generator=gen))
            codes.append(c)
            if t == NUM_IMAGE_TOKENS - 1:
                break
            x = model.image_embed(torch.full((len(rows), 1), c, dtype=torch.long))
            mask = torch.cat([mask, torch.ones(len(rows), 1, dtype=torch.long)], 1)
            pos = pos[:, -1:] + 1
            logits, past = model(x, mask, pos, past)
        out.append(torch.tensor(codes).view(GRID, GRID))
    return torch.stack(out)


def decode_to_uint8(decoder, codes: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        img = decoder(codes)
    return ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def sample_grid(model, decoder, prompts: List[str], path: str, per_prompt: int = 4,
                seed: int = 0, **kw) -> None:
    from PIL import Image, ImageDraw
    rows = []
    for i, p in enumerate(prompts):
        codes = sample(model, [p] * per_prompt, seed=seed + 100 * i, **kw)
        rows.append(decode_to_uint8(decoder, codes))
    scale = 2
    cell = 64 * scale
    label_w = 300
    W = label_w + per_prompt * (cell + 4)
    H = len(prompts) * (cell + 4)
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(canvas)
    for r, imgs in enumerate(rows):
        y = r * (cell + 4)
        words = (prompts[r] or "(empty prompt, unconditional)").split()
        lines, cur = [], ""
        for w in words:
            if len(cur) + len(w) + 1 > 40:
                lines.append(cur)
                cur = w
            else:
                cur = (cur + " " + w).strip()
        lines.append(cur)
        for k, ln in enumerate(lines):
            d.text((6, y + 8 + 14 * k), ln, fill=(0, 0, 0))
        for c, im in enumerate(imgs):
            canvas.paste(Image.fromarray(im).resize((cell, cell), Image.NEAREST),
                         (label_w + c * (cell + 4), y))
    canvas.save(path, optimize=True)


DEFAULT_PROMPTS = [
    "a big red circle on the left",
    "a small blue square at the top",
    "there is a big yellow triangle in the center",
    "a big green circle above a small red square",
    "a blue triangle to the left of a yellow circle",
    "a big purple triangle on the right",          # held out pair
    "a small orange circle below a big blue square",  # held out pair
    "",
]


def _components(mask: np.ndarray) -> List[np.ndarray]:
    """4-connected components of a boolean [H,W] mask, as arrays of (y, x)."""
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    H, W = mask.shape
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        stack = [(y0, x0)]
        seen[y0, x0] = True
        pts = []
        while stack:
            y, x = stack.pop()
            pts.append((y, x))
            for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= yy < H and 0 <= xx < W and mask[yy, xx] and not seen[yy, xx]:
                    seen[yy, xx] = True
                    stack.append((yy, xx))
        out.append(np.array(pts))
    return out


def analyse_image(img: np.ndarray) -> List[Dict]:
    """Crude attribute reader for a rendered/generated uint8 [64,64,3] image: connected blobs of
    one shape colour with at least 20 pixels -> colour, centre, size guess (big/small from the
    bounding box) and kind guess (fill ratio of the bounding box: square ~1, circle ~0.79,
    triangle ~0.5)."""
    px = img.astype(np.float32)
    found = []
    cols = np.array(list(shapes.COLORS.values()), dtype=np.float32)
    d = ((px[:, :, None, :] - cols[None, None]) ** 2).sum(-1)       # [64,64,6]
    nearest = d.argmin(-1)
    close = d.min(-1) < 70.0 ** 2
    for ci, name in enumerate(shapes.COLORS):
        for pts in _components(close & (nearest == ci)):
            n = len(pts)
            if n < 20:
                continue
            ys, xs = pts[:, 0], pts[:, 1]
            h = ys.max() - ys.min() + 1
            w = xs.max() - xs.min() + 1
            fill = n / float(h * w)
            kind = "square" if fill > 0.9 else ("circle" if fill > 0.65 else "triangle")
            size = "big" if max(h, w) >= 18 else "small"
            found.append({"color": name, "kind": kind, "size": size, "pixels": n,
                          "center": [float(xs.mean()), float(ys.mean())]})
    return found


def check_prompt(prompt: str, img: np.ndarray) -> Dict[str, bool]:
    """Which stated attributes the image shows: colours present, shape count, kinds, sizes,
    position / relation. Objects are matched to blobs greedily by colour (then kind)."""
    want = shapes.parse_caption(prompt)
    blobs = analyse_image(img)
    match = []
    free = list(blobs)
    for o in want["objects"]:
        cands = [b for b in free if b["color"] == o["color"]]
        cands.sort(key=lambda b: (b["kind"] != o["kind"], -b["pixels"]))
        match.append(cands[0] if cands else None)
        if cands:
            free.remove(cands[0])
    ok = all(m is not None for m in match)
    objs = want["objects"]
    res = {"colors": ok, "count": len(blobs) == len(objs)}
    res["kinds"] = ok and all(m["kind"] == o["kind"] for m, o in zip(match, objs))
    res["sizes"] = ok and all(o["size"] is None or m["size"] == o["size"] for m, o in zip(match, objs))
    if not ok:
        res["layout"] = False
    elif want["relation"] is None:
        cx, cy = match[0]["center"]
        near = min(shapes.POSITIONS, key=lambda k: (shapes.POSITIONS[k][0] - cx) ** 2 + (shapes.POSITIONS[k][1] - cy) ** 2)
        res["layout"] = near == want["position"]
    else:
        (ax, ay), (bx, by) = match[0]["center"], match[1]["center"]
        res["layout"] = {"above": ay < by - 8, "below": ay > by + 8, "left of": ax < bx - 8,
                         "right of": ax > bx + 8}[want["relation"]]
    res["all"] = all(res.values())
    return res


def evaluate(model, decoder, n: int, seed: int, held_out: bool = False, **kw) -> Dict:
    rng = np.random.default_rng(seed)
    tot: Dict[str, float] = {}
    for i in range(n):
        sc = shapes.sample_scene(rng, "heldout" if held_out else "train")
        p = shapes.caption(sc, rng)
        img = decode_to_uint8(decoder, sample(model, [p], seed=seed * 1000 + i, **kw))[0]
        for k, v in check_prompt(p, img).items():
            tot[k] = tot.get(k, 0.0) + float(v) / n
    return {k: round(v, 3) for k, v in tot.items()}


# ------------------------------------------------------------------------------------------
# export / torch state
# ------------------------------------------------------------------------------------------
def save_torch_state(path: str, model: Sjd2Transformer, decoder, codebook: np.ndarray,
                     mean: torch.Tensor, std: torch.Tensor, meta: Dict) -> None:
    # float32: the model is small enough, and re-exporting from this file gives the same graphs
    world_export.save_torch_state(path, model, decoder, codebook, mean, std, meta, torch.float32)


load_torch_state = world_export.load_torch_state


def manifest(model: Sjd2Transformer, mean: torch.Tensor, std: torch.Tensor, meta: Dict) -> Dict:
    c = model.config
    return world_export.manifest(
        model, mean, std, name="shapes-demo",
        description="default demo model: text-to-image AR transformer (%d layers, d=%d) trained "
                    "on the procedural shapes world (docs/default-model.md)" % (c.num_layers, c.hidden_size),
        world=shapes, max_prompt_tokens=MAX_PROMPT_TOKENS, sampling=SAMPLING)


def export(out_dir: str, model, decoder, codebook, mean, std, meta: Dict, weights: str = "float32",
           block_size: Optional[int] = None, accuracy_level: Optional[int] = None) -> None:
    """``weights`` int8 / int4: quantized linear layers (pysjd2.quantize); torch_state.pt keeps the
    float32 weights either way."""
    world_export.export(out_dir, model, decoder, codebook, mean, std, meta, manifest(model, mean, std, meta),
                        shapes.WordTokenizer().tokens, {"shapes_world.json": shapes.world_definition()},
                        torch.float32, weights, block_size, accuracy_level)


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------
def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = "train"
    if argv and argv[0] in ("train", "sample", "export", "testdata", "evaluate"):
        cmd = argv.pop(0)
    ap = argparse.ArgumentParser(prog="export_models.py demo")
    ap.add_argument("--out", default=os.path.join(REPO, "onnx"))
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--minutes", type=float, default=None,
                    help="training-time budget; the cosine schedule follows it")
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--work", default=None, help="folder for ckpt.pt, weights.pt and the log (train/demo)")
    ap.add_argument("--init-weights", default=None, help="start a new cosine cycle from these weights: a weights.pt / ckpt.pt of a training run, or a torch_state.pt such as onnx/torch_state.pt")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--window-share", type=float, default=None,
                    help="share of the noisy rows that imitate the window schedule (default %.2f)" % TRAIN["window_share"])
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                    help="CPU training in bf16 autocast: auto = when the CPU has AMX or AVX-512 BF16 (CUDA always uses it)")
    ap.add_argument("--workers", type=int, default=None, help="data worker processes (GPU default: cores - 2)")
    ap.add_argument("--prompts", nargs="*", default=None)
    ap.add_argument("--grid", default=None, help="sample: output PNG path")
    ap.add_argument("--cfg-scale", type=float, default=SAMPLING["cfg_scale"])
    ap.add_argument("--top-k", type=int, default=SAMPLING["top_k"])
    ap.add_argument("--temperature", type=float, default=SAMPLING["temperature"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=40, help="evaluate: prompts per split")
    ap.add_argument("--state", default=None, help="sample/export: torch_state.pt or a train checkpoint")
    from .quantize import add_arguments as add_weight_arguments
    add_weight_arguments(ap)
    args = ap.parse_args(argv)
    resolve_run_args(args)
    torch.manual_seed(0)

    if cmd == "testdata":
        shapes.write_test_data(os.path.join(REPO, "tests", "data", "shapes"))
        os.makedirs(args.out, exist_ok=True)
        shapes.WordTokenizer().write_vocab(os.path.join(args.out, "vocab.txt"))
        shapes.write_world(os.path.join(args.out, "shapes_world.json"))
        return 0

    if cmd in ("sample", "export", "evaluate"):
        model, dec, cb, mean, std, meta = load_state(args)
        if cmd == "evaluate":
            for held in (False, True):
                r = evaluate(model, dec, args.n, args.seed, held, cfg_scale=args.cfg_scale,
                             top_k=args.top_k, temperature=args.temperature)
                print(json.dumps({"held_out": held, "n": args.n, "cfg_scale": args.cfg_scale,
                                  "top_k": args.top_k, "temperature": args.temperature, **r}))
            return 0
        if cmd == "export":
            export(args.out, model, dec, cb, mean, std, meta, args.weights, args.block_size, args.accuracy_level)
            return 0
        prompts = args.prompts if args.prompts else DEFAULT_PROMPTS
        path = args.grid or os.path.join(REPO, "docs", "images", "samples-ar.png")
        sample_grid(model, dec, prompts, path, cfg_scale=args.cfg_scale, top_k=args.top_k,
                    temperature=args.temperature, seed=args.seed)
        print("wrote", path)
        return 0

    model, state = train(args)
    codebook, dec, vq_stats = get_vq(os.path.join(args.work or WORK, "train_log.txt"))
    meta = training_meta(state, vq_stats)
    if not args.no_export:
        export(args.out, model, dec, codebook, state["emb_mean"], state["emb_std"], meta)
    return 0


def training_meta(state: Dict, vq_stats: Dict) -> Dict:
    return world_export.training_meta(state, vq_stats, SAMPLING, TRAIN, MODEL)


def load_state(args):
    path = args.state or os.path.join(args.out, "torch_state.pt")
    ck = torch.load(path, map_location="cpu")
    if "model" in ck:   # a training checkpoint (ckpt.pt or weights.pt)
        tok = shapes.WordTokenizer()
        model = new_model(len(tok.tokens), ck.get("transformer_config"))
        model.load_state_dict(ck["model"])
        cb, dec, vq_stats = get_vq(os.path.join(WORK, "train_log.txt"))
        st = ck["state"]
        return model.eval(), dec, cb, st["emb_mean"], st["emb_std"], training_meta(st, vq_stats)
    return load_torch_state(path)


if __name__ == "__main__":
    sys.exit(main())
