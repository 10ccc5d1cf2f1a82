"""How much uncertainty a world's image tokens carry, measured before any transformer is trained.

Each world gets a quickly fitted k-means codebook on 4x4 patches (as the demo tokenizers start),
its images are encoded to 16x16 code maps, and the entropy of a code given its left and upper
neighbours is estimated two ways:

* plug-in: the empirical conditional entropy on the fitting images (biased low: sparse contexts
  look deterministic);
* held-out cross-entropy of an interpolated (Witten-Bell) model, uniform -> unigram -> left ->
  (left, up), fitted on one half of the images and scored on the other (biased high).

The true value lies between the two. Also reported: the held-out top-1 accuracy of that model
(how often the most likely code given the two neighbours is the actual one), the quantity a
drafter with only local context would live on.

    /usr/bin/python3 -m pysjd2.texture_entropy --images 4000 --codebook 512   (from tools/)
"""
from __future__ import annotations

import argparse
import json
import math
import time
from typing import Callable, Dict

import numpy as np

from . import shapes, texture_world, vq


def _keys_counts(keys: np.ndarray):
    u, c = np.unique(keys, return_counts=True)
    return u, c


def _lookup(sorted_keys: np.ndarray, counts: np.ndarray, q: np.ndarray) -> np.ndarray:
    i = np.searchsorted(sorted_keys, q)
    i = np.minimum(i, len(sorted_keys) - 1)
    return np.where(sorted_keys[i] == q, counts[i], 0)


def conditional_entropy(codes_fit: np.ndarray, codes_test: np.ndarray, k: int) -> Dict[str, float]:
    """codes [N,16,16]; entropies in nats per code over positions with a left and an upper
    neighbour."""
    def triples(c):
        x = c[:, 1:, 1:].reshape(-1).astype(np.int64)
        left = c[:, 1:, :-1].reshape(-1).astype(np.int64)
        up = c[:, :-1, 1:].reshape(-1).astype(np.int64)
        return x, left, up

    x, l, u = triples(codes_fit)
    out: Dict[str, float] = {}
    # plug-in estimates on the fitting half
    px = np.bincount(x, minlength=k) / len(x)
    out["H_marginal_plugin"] = float(-(px[px > 0] * np.log(px[px > 0])).sum())
    for name, ctx in (("H_given_left_plugin", l), ("H_given_left_up_plugin", l * k + u)):
        _, joint = _keys_counts(ctx * k + x)
        _, cctx = _keys_counts(ctx)
        n = len(x)
        out[name] = float(-(joint / n * np.log(joint / n)).sum() + (cctx / n * np.log(cctx / n)).sum())

    # Witten-Bell interpolated model fitted on the first half, scored on the second
    xt, lt, ut = triples(codes_test)
    uni = (np.bincount(x, minlength=k) + 0.5) / (len(x) + 0.5 * k)
    p = uni[xt]
    levels = [(l, lt), (l * k + u, lt * k + ut)]
    model_pred = None
    for ctx, ctx_t in levels:
        jk, jc = _keys_counts(ctx * k + x)
        ck, cc = _keys_counts(ctx)
        types_k, types_c = _keys_counts(jk // k)           # distinct codes seen per context
        c_joint = _lookup(jk, jc, ctx_t * k + xt)
        c_ctx = _lookup(ck, cc, ctx_t)
        t_ctx = _lookup(types_k, types_c, ctx_t)
        denom = c_ctx + t_ctx
        p = np.where(denom > 0, (c_joint + t_ctx * p) / np.maximum(denom, 1), p)
        model_pred = (jk, jc)
    out["H_given_left_up_heldout"] = float(-np.log(p).mean())
    # top-1: the most frequent code after (left, up) in the fitting half, else after left
    jk, jc = model_pred
    ctx_of = jk // k
    order = np.lexsort((-jc, ctx_of))                      # per context, most frequent first
    first = np.ones(len(order), dtype=bool)
    first[1:] = ctx_of[order][1:] != ctx_of[order][:-1]
    best_ctx, best_code = ctx_of[order][first], (jk % k)[order][first]
    q = lt * k + ut
    i = np.minimum(np.searchsorted(best_ctx, q), len(best_ctx) - 1)
    hit = (best_ctx[i] == q) & (best_code[i] == xt)
    out["top1_accuracy_heldout"] = float(hit.mean())
    out["unseen_context_share_heldout"] = float((best_ctx[i] != q).mean())
    return {kk: round(v, 4) for kk, v in out.items()}


def measure(name: str, sample: Callable, n_images: int, k: int, seed: int = 0, log=print) -> Dict:
    rng = np.random.default_rng(seed)
    t0 = time.time()
    imgs = sample(rng, n_images)
    t_render = time.time() - t0
    half = n_images // 2
    p = vq.patches(vq.to_unit(imgs[:half])).reshape(-1, vq.PATCH * vq.PATCH * 3)
    sel = rng.choice(p.shape[0], min(p.shape[0], 150000), replace=False)
    codebook = vq.kmeans(p[sel], k, 15, seed, None)
    codes = vq.encode(imgs, codebook)
    rec = codebook[codes.reshape(-1)].reshape(n_images, 16, 16, vq.PATCH, vq.PATCH, 3)
    rec = rec.transpose(0, 1, 3, 2, 4, 5).reshape(n_images, 64, 64, 3)
    res = {"world": name, "images": n_images, "codebook": k,
           "psnr_centroids_db": round(vq.psnr(rec, vq.to_unit(imgs)), 2),
           "codes_used": int(len(np.unique(codes))),
           **conditional_entropy(codes[:half], codes[half:], k),
           "seconds": round(time.time() - t0, 1), "render_ms_per_image": round(1000 * t_render / n_images, 2)}
    log(json.dumps(res))
    return res


WORLDS = {
    "shapes": lambda rng, n: shapes.sample_batch(rng, n, "all")[0],
    "texture": lambda rng, n: texture_world.sample_batch(rng, n, "all")[0],
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="texture_entropy")
    ap.add_argument("--images", type=int, default=4000)
    ap.add_argument("--codebook", type=int, nargs="+", default=[512])
    ap.add_argument("--worlds", nargs="+", default=list(WORLDS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    results = [measure(w, WORLDS[w], args.images, k, args.seed) for k in args.codebook for w in args.worlds]
    if args.json:
        with open(args.json, "w", encoding="utf-8", newline="\n") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
