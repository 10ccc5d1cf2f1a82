#!/usr/bin/env python3
"""Accuracy against fidelity over a sampling sweep of the default model, drawn with PIL.

Two steps, both run from the repository root with Debian's python3 and python3-pil (which CI
installs; no matplotlib):

  # 1. collect `sjd2 eval --json` reports (one per setting and seed) into one small summary
  python3 tools/plot_cfg_sweep.py collect docs/benchmarks/data/cfg-sweep.json run1.json run2.json ...
  # 2. draw the summary (committed, so a fresh checkout redraws the plot without the runs)
  python3 tools/plot_cfg_sweep.py plot docs/benchmarks/data/cfg-sweep.json docs/images/cfg-sweep.png

A setting is (cfg, temperature, top_k, top_p); reports of several seeds for the same setting are
pooled: accuracy over all their images, fidelity gap as the mean of the reports' gaps.
The text uses PIL's built-in bitmap font, so the PNG is the same on every machine.
"""
from __future__ import annotations

import json
import sys
from typing import Dict, List, Tuple

from PIL import Image, ImageDraw, ImageFont

SPLITS = [("training", "grammar prompts"), ("held_out", "held-out colour+shape pairs")]


def collect(out_path: str, reports: List[str]) -> None:
    settings: Dict[Tuple, Dict] = {}
    evaluators = set()
    for path in reports:
        with open(path, encoding="utf-8") as f:
            r = json.load(f)
        s = r["sampling"]
        key = (s["cfg"], s["temperature"], s["top_k"], s["top_p"])
        evaluators.add(r["evaluator"])
        entry = settings.setdefault(key, {"cfg": key[0], "temperature": key[1], "top_k": key[2], "top_p": key[3],
                                          "seeds": [], "training": [], "held_out": []})
        entry["seeds"].append(r["seed"])
        for split, _ in SPLITS:
            part = r if split == "training" else r["held_out"]
            entry[split].append({"n": part["n"], "overall": part["overall"], "fidelity": part["fidelity"]["score"],
                                 "floor": part["fidelity"]["world_vs_world"]["score"]})
    if len(evaluators) != 1:
        sys.exit("the reports come from different evaluators: %s" % sorted(evaluators))
    rows = []
    for key in sorted(settings):
        e = settings[key]
        row = {k: e[k] for k in ("cfg", "temperature", "top_k", "top_p")}
        row["seeds"] = sorted(e["seeds"])
        for split, _ in SPLITS:
            runs = e[split]
            n = sum(x["n"] for x in runs)
            row[split] = {
                "n": n,
                "accuracy": round(sum(x["overall"] * x["n"] for x in runs) / n, 4),
                "fidelity_gap": round(sum(x["fidelity"] for x in runs) / len(runs), 4),
                "floor": round(sum(x["floor"] for x in runs) / len(runs), 4),
            }
        rows.append(row)
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        json.dump({"evaluator": evaluators.pop(), "model": "onnx (shapes-demo)", "method": "ar",
                   "note": "sjd2 eval --prompts N --seed S --cfg C [--temperature T --top-k K] --json; "
                           "fidelity_gap: 0 = the world's distribution of unstated attributes; floor: "
                           "one world scene per prompt against the same reference",
                   "settings": rows}, f, indent=1)
        f.write("\n")


# ------------------------------------------------------------------------------------------
# drawing
# ------------------------------------------------------------------------------------------
W, H = 1240, 470
COLORS = {"training": (30, 90, 200), "held_out": (220, 110, 20), "fidelity": (40, 150, 60), "floor": (150, 150, 150)}


def text(img: Image.Image, xy, s: str, color=(0, 0, 0), anchor_right=False, scale=2) -> None:
    """Built-in bitmap font, enlarged with nearest-neighbour so it is readable and machine-independent."""
    font = ImageFont.load_default()
    w, h = font.getbbox(s)[2:]
    tile = Image.new("L", (w + 2, h + 2), 0)
    ImageDraw.Draw(tile).text((1, 1), s, fill=255, font=font)
    tile = tile.resize(((w + 2) * scale, (h + 2) * scale), Image.NEAREST)
    x, y = xy
    if anchor_right:
        x -= tile.width
    img.paste(Image.new("RGB", tile.size, color), (int(x), int(y)), tile)


def panel(img, box, title, xs_label, ys_label, x_range, y_range, series, labels=None):
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=(0, 0, 0))
    text(img, (x0, y0 - 44), title)
    text(img, ((x0 + x1) / 2 - 40, y1 + 26), xs_label)
    text(img, (x0 - 8, y0 - 22), ys_label, anchor_right=False)

    def px(x, y):
        return (x0 + (x - x_range[0]) / (x_range[1] - x_range[0]) * (x1 - x0),
                y1 - (y - y_range[0]) / (y_range[1] - y_range[0]) * (y1 - y0))
    for k in range(6):
        v = y_range[0] + k * (y_range[1] - y_range[0]) / 5
        _, yy = px(x_range[0], v)
        draw.line([(x0, yy), (x1, yy)], fill=(225, 225, 225))
        text(img, (x0 - 6, yy - 8), "%.1f" % v, anchor_right=True)
    for xv in labels or []:
        xx, _ = px(xv, y_range[0])
        draw.line([(xx, y1), (xx, y1 + 5)], fill=(0, 0, 0))
        text(img, (xx - 8, y1 + 6), ("%g" % xv))
    for name, pts, color, dashed in series:
        pts = [px(x, y) for x, y in pts]
        for a, b in zip(pts, pts[1:]):
            if dashed:
                n = 12
                for i in range(0, n, 2):
                    p = (a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n)
                    q = (a[0] + (b[0] - a[0]) * (i + 1) / n, a[1] + (b[1] - a[1]) * (i + 1) / n)
                    draw.line([p, q], fill=color, width=2)
            else:
                draw.line([a, b], fill=color, width=3)
        for p in pts:
            draw.ellipse([p[0] - 4, p[1] - 4, p[0] + 4, p[1] + 4], fill=color)
    return px


def plot(summary_path: str, png_path: str) -> None:
    with open(summary_path, encoding="utf-8") as f:
        summary = json.load(f)
    # the CFG sweep: settings at the default temperature and top-k of the sweep
    rows = [r for r in summary["settings"] if r["temperature"] == 1 and r["top_k"] == 8 and r["top_p"] == 1]
    rows.sort(key=lambda r: r["cfg"])
    cfgs = [r["cfg"] for r in rows]
    img = Image.new("RGB", (W, H), (255, 255, 255))
    text(img, (20, 8), "shapes-demo, AR, top-k 8, temperature 1, %s" % summary["evaluator"])
    series = []
    for split, name in SPLITS:
        series.append((name, [(r["cfg"], r[split]["accuracy"]) for r in rows], COLORS[split], False))
    series.append(("fidelity gap, grammar", [(r["cfg"], r["training"]["fidelity_gap"]) for r in rows], COLORS["fidelity"], False))
    series.append(("fidelity gap, held-out", [(r["cfg"], r["held_out"]["fidelity_gap"]) for r in rows], COLORS["fidelity"], True))
    series.append(("floor (world vs world)", [(r["cfg"], (r["training"]["floor"] + r["held_out"]["floor"]) / 2) for r in rows], COLORS["floor"], True))
    lo, hi = min(cfgs) - 0.25, max(cfgs) + 0.25
    panel(img, (90, 100, 560, 390), "accuracy and fidelity gap against CFG scale", "CFG scale", "", (lo, hi), (0, 1), series, labels=cfgs)
    # legend
    y = 100
    for name, _, color, dashed in series:
        ImageDraw.Draw(img).line([(600, y + 9), (640, y + 9)], fill=color, width=2 if dashed else 3)
        text(img, (650, y), name)
        y += 26
    notes = ["accuracy: share of images right in every",
             "stated attribute (higher is better)",
             "fidelity gap: mean distance of what prompts",
             "leave free (size, jitter, pair shift, shade,",
             "texture, count) to the world's (0 = the same)",
             "images per point and split: %s" % ", ".join(sorted({str(r["training"]["n"]) for r in rows}))]
    for i, line in enumerate(notes):
        text(img, (600, y + 10 + 24 * i), line)
    img.save(png_path, optimize=True)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "plot":
        plot(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
