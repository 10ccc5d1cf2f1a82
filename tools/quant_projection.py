#!/usr/bin/env python3
"""Projected per-image time of LlamaGen-XL and Janus-Pro-1B on this CPU, per weight format and
decoding method, from measured parts (docs/benchmarks/quantization.md, "Projection"):

* pass-cost curves of two random-weight LlamaGen sizes that bracket the targets, GPT-L and GPT-1B
  (``sjd2 bench --passes --json``, windows 1 ... 64 at cache 256 and 1024), per format
  (``--curve SIZE:FORMAT=FILE``);
* a target's pass at window W and cache c, interpolated (or, past GPT-1B, extrapolated) linearly in
  the number of linear-layer weights between the two measured sizes at the same W and c, so the
  fixed per-pass work is the measured one, not scaled with the model;
* the cache a target's image is generated at, on average (prompt + half the image tokens), between
  the two measured cache lengths, linearly;
* the step compression of each method and window measured on the default model at real-model
  entropy (``--compression METHOD:W=X``), taken to carry over;
* the VQ decode time per target (``--vq MODEL=S``, default the table below).

    /usr/bin/python3 tools/quant_projection.py \\
        --curve GPT-L:float32=L-F32.json --curve GPT-L:int8=L-INT8.json --curve GPT-L:int4=L-INT4.json \\
        --curve GPT-1B:float32=1B-F32.json --curve GPT-1B:int8=1B-INT8.json --curve GPT-1B:int4=1B-INT4.json \\
        --compression sjd++:4=1.76 --compression sjd++:16=3.80 --compression pac:4=2.15 --compression pac:16=3.95
"""
from __future__ import annotations

import argparse
import json
import sys


def linear_weights(layers: int, d: int, ffn: int, head: int) -> float:
    """Weights of a LLaMA-style decoder's linear layers: Q, K, V, O, gate, up, down, and the image head."""
    return layers * (4 * d * d + 3 * d * ffn) + head


# The measured sizes (export_models.py llamagen --random-size SIZE): layers, width, FFN (LlamaGen's
# 8/3 · d rounded up to 256), 16 384-code head.
MEASURED = {
    "GPT-L": linear_weights(24, 1024, 2816, 1024 * 16384),
    "GPT-1B": linear_weights(22, 2048, 5632, 2048 * 16384),
}
# name: (linear weights, image tokens, prompt tokens, VQ decode seconds)
TARGETS = {
    "LlamaGen-XL (256 px)": (linear_weights(36, 1280, 3584, 1280 * 16384), 256, 120, 1.2),
    # Janus-Pro-1B's language model (24 layers, d 2048, FFN 5632) and its generation head 2048-2048-16384
    "Janus-Pro-1B (384 px)": (linear_weights(24, 2048, 5632, 2048 * 2048 + 2048 * 16384), 576, 40, 2.7),
}


def pairs(values, cast):
    out = {}
    for v in values or []:
        k, _, x = v.partition("=")
        out[k] = cast(x)
    return out


def load_curve(path: str) -> dict:
    """{(window, cache length): median ms} of a bench --passes --json file."""
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)["passes"]
    return {(r["window"], r["cache_length"]): r["median_ms"] for r in rows}


def at_cache(curve: dict, window: int, cache: float) -> float:
    """The pass at `cache`, linear between the two measured cache lengths nearest to it."""
    lengths = sorted(c for (w, c) in curve if w == window)
    lo = max([c for c in lengths if c <= cache], default=lengths[0])
    hi = min([c for c in lengths if c >= cache], default=lengths[-1])
    if lo == hi:
        return curve[(window, lo)]
    f = (cache - lo) / (hi - lo)
    return curve[(window, lo)] * (1 - f) + curve[(window, hi)] * f


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--curve", action="append", required=True, help="SIZE:FORMAT=FILE (SIZE GPT-L or GPT-1B)")
    ap.add_argument("--compression", action="append", required=True, help="METHOD:W=X step compression")
    ap.add_argument("--vq", action="append", help="MODEL=S: VQ decode seconds (default: the table in this file)")
    args = ap.parse_args()
    curves: dict = {}
    for key, path in pairs(args.curve, str).items():
        size, _, fmt = key.partition(":")
        if size not in MEASURED:
            ap.error(f"--curve {key}: the size must be one of {', '.join(MEASURED)}")
        curves.setdefault(fmt, {})[size] = load_curve(path)
    comp = {}
    for k, x in pairs(args.compression, float).items():
        method, _, w = k.partition(":")
        comp[(method, int(w))] = x
    vq = pairs(args.vq, float)
    small, large = MEASURED["GPT-L"], MEASURED["GPT-1B"]
    print("| model | format | AR pass | AR image | best method | its speed-up | its image |")
    print("|---|---|---|---|---|---|---|")
    for name, (weights, tokens, prompt, vq_s) in TARGETS.items():
        vq_s = vq.get(name, vq_s)
        cache = prompt + tokens / 2
        f = (weights - small) / (large - small)
        for fmt, by_size in curves.items():
            if set(by_size) != set(MEASURED):
                continue
            windows = sorted({w for (w, _) in by_size["GPT-L"]} & {w for (w, _) in by_size["GPT-1B"]})

            def pass_ms(w: int) -> float:
                lo, hi = at_cache(by_size["GPT-L"], w, cache), at_cache(by_size["GPT-1B"], w, cache)
                return lo + (hi - lo) * f

            one = pass_ms(1)
            ar_s = tokens * one / 1e3
            best = max(((c / (pass_ms(w) / one), m, w) for (m, w), c in comp.items() if w in windows), default=None)
            if best is None:
                continue
            speed, method, w = best
            print(f"| {name} | {fmt} | {one:.0f} ms | {ar_s + vq_s:.1f} s | {method} W={w} "
                  f"(compression {comp[(method, w)]:.2f}, pass {pass_ms(w) / one:.2f}× AR) | {speed:.2f}× | "
                  f"{ar_s / speed + vq_s:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
