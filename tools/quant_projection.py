#!/usr/bin/env python3
"""Projected per-image time of larger models on this CPU, per weight format and decoding method,
from measured parts (docs/benchmarks/quantization.md, "Projection"):

* the AR pass of random-weight LlamaGen GPT-B per format (``--ar FORMAT=MS``), scaled by the
  number of linear-layer weights (a pass reads and multiplies every weight once per token);
* the cost of a W-token pass relative to the AR pass, per format, from ``sjd2 bench --passes
  --json`` files of GPT-B (``--curve FORMAT=FILE``), taken as independent of the model's size;
* the step compression of each method and window measured on the default model
  (``--compression METHOD:W=X``);
* the VQ decode time per model (``--vq MODEL=S``).

Not modelled: attention and KV-cache reads (they grow with the image: at 576 tokens they add
roughly a third to an int4 pass of a 1 B model), and step compression that differs by model.

    /usr/bin/python3 tools/quant_projection.py --ar float32=37.5 --ar int8=23.2 --ar int4=10.5 \\
        --curve float32=F32.json --curve int8=INT8.json --curve int4=INT4.json \\
        --compression sjd++:4=1.76 --compression sjd++:16=3.80 --compression pac:4=2.15 --compression pac:16=3.95
"""
from __future__ import annotations

import argparse
import json
import sys

GPT_B_WEIGHTS = 97.5e6          # linear weights of LlamaGen GPT-B (12 layers, d 768, FFN 2048, head 16384)
# name: (linear weights, image tokens, VQ decode seconds)
MODELS = {
    "LlamaGen-XL (256 px)": (752.5e6, 256, 1.2),     # 36 layers, d 1280, FFN 3584, head 16384
    "Janus-Pro-1B (384 px)": (1271e6, 576, 2.7),     # 24 layers, d 2048, FFN 5632, gen head 2048-2048-16384
}


def pairs(values, cast):
    out = {}
    for v in values or []:
        k, _, x = v.partition("=")
        out[k] = cast(x)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ar", action="append", required=True, help="FORMAT=MS: GPT-B AR pass")
    ap.add_argument("--curve", action="append", required=True, help="FORMAT=FILE: bench --passes --json of GPT-B")
    ap.add_argument("--compression", action="append", required=True, help="METHOD:W=X step compression")
    ap.add_argument("--vq", action="append", help="MODEL=S: VQ decode seconds (default: the table in this file)")
    args = ap.parse_args()
    ar = pairs(args.ar, float)
    ratios = {}
    for fmt, path in pairs(args.curve, str).items():
        with open(path, encoding="utf-8") as f:
            rows = json.load(f)["passes"]
        one = next(r["median_ms"] for r in rows if r["window"] == 1)
        ratios[fmt] = {r["window"]: r["median_ms"] / one for r in rows}
    comp = {}
    for k, x in pairs(args.compression, float).items():
        method, _, w = k.partition(":")
        comp[(method, int(w))] = x
    vq = pairs(args.vq, float)
    print("| model | format | AR pass | AR image | best method | its speedup | its image |")
    print("|---|---|---|---|---|---|---|")
    for name, (weights, tokens, vq_s) in MODELS.items():
        vq_s = vq.get(name, vq_s)
        for fmt, ms in ar.items():
            scale = weights / GPT_B_WEIGHTS
            pass_ms = ms * scale
            ar_s = tokens * pass_ms / 1e3
            best = max(((c / ratios[fmt][w], m, w) for (m, w), c in comp.items() if w in ratios[fmt]), default=None)
            if best is None:
                continue
            speed, method, w = best
            print(f"| {name} | {fmt} | {pass_ms:.0f} ms | {ar_s + vq_s:.1f} s | {method} W={w} "
                  f"(compression {comp[(method, w)]:.2f}, pass {ratios[fmt][w]:.2f}× AR) | {speed:.2f}× | "
                  f"{ar_s / speed + vq_s:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
