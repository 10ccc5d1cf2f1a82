#!/usr/bin/env python3
"""Projected per-image time of LlamaGen-XL and Janus-Pro-1B on this CPU, per weight format and
decoding method, from measured parts (docs/benchmarks/quantization.md, "Projection"):

* pass-cost curves of random-weight LlamaGen sizes (``sjd2 bench --passes --json``, windows 1 ... 64)
  per format: ``--curve SIZE:FORMAT=FILE`` with SIZE GPT-B, GPT-L or GPT-1B, several files allowed;
* a target's pass at window W and cache 256: a straight line in the number of linear-layer weights
  through the sizes measured at that W (least squares for three), so the fixed per-pass work is
  the measured one, not scaled with the model; where GPT-1B is measured too, ``--check`` prints its
  pass as the line through the smaller sizes predicts it against the measurement;
* the target's mean cache (prompt + half the image): the line's pass times the ratio of the
  passes at that cache and at 256 of the largest size measured at cache 1024 in that format
  (linear between 256 and 1024);
* the step compression of each method and window measured on the default model at real-model
  entropy (``--compression METHOD:W=X``), taken to carry over;
* the VQ decode time per target (``--vq MODEL=S``, default the table below).

    /usr/bin/python3 tools/quant_projection.py \\
        --curve GPT-B:int4=B-INT4.json --curve GPT-L:int4=L-INT4.json --curve GPT-1B:int4=1B-INT4.json ... \\
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
    "GPT-B": linear_weights(12, 768, 2048, 768 * 16384),
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


def line(points):
    """Least-squares (intercept, slope) through [(x, y)]; two points give the line through them."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return my - slope * mx, slope


def at_size(by_size: dict, sizes, window: int, weights: float, cache: int = 256) -> float:
    points = [(MEASURED[s], by_size[s][(window, cache)]) for s in sizes if (window, cache) in by_size.get(s, {})]
    if len(points) < 2:
        raise KeyError(window)
    a, b = line(points)
    return a + b * weights


def cache_factor(by_size: dict, window: int, cache: float) -> float:
    """Pass at `cache` over the pass at 256, from the largest size measured at 256 and 1024."""
    for size in sorted(by_size, key=lambda s: -MEASURED[s]):
        c = by_size[size]
        if (window, 256) in c and (window, 1024) in c:
            f = (cache - 256) / (1024 - 256)
            return (c[(window, 256)] * (1 - f) + c[(window, 1024)] * f) / c[(window, 256)]
    return 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--curve", action="append", required=True, help="SIZE:FORMAT=FILE (SIZE GPT-B, GPT-L or GPT-1B)")
    ap.add_argument("--compression", action="append", required=True, help="METHOD:W=X step compression")
    ap.add_argument("--vq", action="append", help="MODEL=S: VQ decode seconds (default: the table in this file)")
    ap.add_argument("--check", action="store_true", help="print GPT-1B's pass predicted from the smaller sizes against its measurement")
    args = ap.parse_args()
    curves: dict = {}
    for v in args.curve:
        key, _, path = v.partition("=")
        size, _, fmt = key.partition(":")
        if size not in MEASURED:
            ap.error(f"--curve {key}: the size must be one of {', '.join(MEASURED)}")
        curves.setdefault(fmt, {}).setdefault(size, {}).update(load_curve(path))
    comp = {}
    for k, x in pairs(args.compression, float).items():
        method, _, w = k.partition(":")
        comp[(method, int(w))] = x
    vq = pairs(args.vq, float)
    if args.check:
        print("| format | W | GPT-1B pass predicted from GPT-B and GPT-L | measured |")
        print("|---|---|---|---|")
        for fmt, by_size in curves.items():
            for (w, c), ms in sorted(by_size.get("GPT-1B", {}).items()):
                if c != 256:
                    continue
                try:
                    predicted = at_size(by_size, ["GPT-B", "GPT-L"], w, MEASURED["GPT-1B"])
                except KeyError:
                    continue
                print(f"| {fmt} | {w} | {predicted:.0f} ms | {ms:.0f} ms |")
        print()
    print("| model | format | AR pass | AR image | best method | its speed-up | its image |")
    print("|---|---|---|---|---|---|---|")
    for name, (weights, tokens, prompt, vq_s) in TARGETS.items():
        vq_s = vq.get(name, vq_s)
        cache = prompt + tokens / 2
        for fmt, by_size in curves.items():
            sizes = list(by_size)

            def pass_ms(w: int) -> float:
                return at_size(by_size, sizes, w, weights) * cache_factor(by_size, w, cache)

            try:
                one = pass_ms(1)
            except KeyError:
                continue
            ar_s = tokens * one / 1e3
            options = []
            for (m, w), c in comp.items():
                try:
                    options.append((c / (pass_ms(w) / one), m, w))
                except KeyError:
                    pass
            if not options:
                continue
            speed, method, w = max(options)
            print(f"| {name} | {fmt} | {one:.0f} ms | {ar_s + vq_s:.1f} s | {method} W={w} "
                  f"(compression {comp[(method, w)]:.2f}, pass {pass_ms(w) / one:.2f}× AR) | {speed:.2f}× | "
                  f"{ar_s / speed + vq_s:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
