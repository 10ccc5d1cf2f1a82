"""Writes the agreement fixture of the engine's TextureEval port (tests/data/texture-eval/):
ground-truth renders, one corruption set of every kind and noisy renders as PNGs, with the Python
evaluator's verdicts in ``cases.json`` and the world in ``texture_world.json``. The C# test
(tests/Sjd2Onnx.Tests/TextureWorld/TextureEvalAgreementTests.cs) requires the same verdicts.

    python -m tools.pysjd2.texture_eval_fixture [--out tests/data/texture-eval]
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Dict, List

import numpy as np
from PIL import Image

from . import texture_eval as te
from . import texture_world as tw

GROUND_TRUTH = 40
CORRUPTIONS_PER_KIND = 5     # 45 corruptions, colour and repaint among them
NOISY = 12                   # renders with pixel noise: verdicts near the thresholds
NOISE_SIGMAS = (8.0, 4.0)    # noise of the k-th noisy render: first + k * step grey levels
SEED = 11


def _case(out_dir: str, name: str, kind: str, prompt: str, img: np.ndarray) -> Dict:
    Image.fromarray(img).save(os.path.join(out_dir, name + ".png"), optimize=True)
    r = te.score(prompt, img)
    return {"file": name + ".png", "kind": kind, "prompt": prompt, "parsed": tw.parse_caption(prompt),
            "verdicts": {a: r[a] for a in te.ATTRIBUTES + ["all"]},
            "objects": len(te.detect(img))}


def _blur(img: np.ndarray) -> np.ndarray:
    """3x3 box blur (edges repeated): soft object borders, as after a VQ round trip."""
    p = np.pad(img.astype(np.float64), ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = img.shape[:2]
    out = sum(p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def build(out_dir: str, ground_truth: int = GROUND_TRUTH, per_kind: int = CORRUPTIONS_PER_KIND, noisy: int = NOISY,
          blurred: int = 0, seed: int = SEED) -> List[Dict]:
    """Writes the fixture; the defaults give the committed one, larger counts a wider check
    (point SJD2_TEXTURE_EVAL_DATA at the folder to run the C# agreement test on it)."""
    os.makedirs(out_dir, exist_ok=True)
    tw.write_world(os.path.join(out_dir, tw.WORLD_FILE))
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(ground_truth):
        sc = tw.sample_scene(rng, "heldout" if k % 10 == 9 else "all")
        cap = tw.caption(sc, rng)
        cases.append(_case(out_dir, "gt_%02d" % k, "ground_truth", cap, tw.render(sc)))
    for kind in te.CORRUPTIONS:
        made = 0
        while made < per_kind:
            sc = tw.sample_scene(rng, "all")
            cap = tw.caption(sc, rng)
            bad = te.corrupt(sc, kind, rng, cap)
            if bad is None:
                continue
            cases.append(_case(out_dir, "%s_%d" % (kind, made), kind, cap, tw.render(bad)))
            made += 1
    for k in range(noisy):
        sc = tw.sample_scene(rng, "all")
        cap = tw.caption(sc, rng)
        sigma = NOISE_SIGMAS[0] + (k % NOISY) * NOISE_SIGMAS[1]
        img = tw.render(sc).astype(np.float64) + rng.normal(0.0, sigma, size=(tw.IMAGE_SIZE, tw.IMAGE_SIZE, 3))
        cases.append(_case(out_dir, "noisy_%02d" % k, "noisy", cap, np.clip(np.round(img), 0, 255).astype(np.uint8)))
    for k in range(blurred):
        sc = tw.sample_scene(rng, "all")
        cap = tw.caption(sc, rng)
        cases.append(_case(out_dir, "blurred_%02d" % k, "blurred", cap, _blur(_blur(tw.render(sc)))))
    with open(os.path.join(out_dir, "cases.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump({"version": te.VERSION, "seed": seed, "cases": cases}, f, indent=1)
        f.write("\n")
    return cases


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="texture_eval_fixture")
    ap.add_argument("--out", default=os.path.join("tests", "data", "texture-eval"))
    ap.add_argument("--ground-truth", type=int, default=GROUND_TRUTH)
    ap.add_argument("--per-kind", type=int, default=CORRUPTIONS_PER_KIND, help="corruptions of each kind")
    ap.add_argument("--noisy", type=int, default=NOISY)
    ap.add_argument("--blurred", type=int, default=0, help="renders blurred twice with a 3x3 box")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    cases = build(args.out, args.ground_truth, args.per_kind, args.noisy, args.blurred, args.seed)
    accepted = sum(c["verdicts"]["all"] for c in cases)
    print("%d cases (%d accepted) in %s" % (len(cases), accepted, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
