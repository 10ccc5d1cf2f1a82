"""TextureEval: judges images of the entropy world (texture_world.py) against their prompts, in
the spirit of ShapesEval v2 (src/Sjd2Onnx.Shapes/ShapesEvaluator.cs) but robust to texture,
shading and occlusion.

* Colour by hue: the world's textures and light blend an object's colour towards black or white,
  which keeps its hue, and its backgrounds are never saturated. A pixel with saturation
  >= SAT_MIN and value >= VAL_MIN belongs to the object whose palette hue is nearest; the rest is
  background. A red striped circle is therefore red and one region.
* Objects: per colour, the 8-connected regions of at least MIN_AREA pixels. Regions of one
  colour split by an occluder are one object when a single shape fits their union.
* Shape and size by template fitting with occlusion: for each kind, the upright shape (centre,
  extent) that best overlaps the region, where pixels of other colours (possible occluders) are
  neither counted for nor against it. Kind = best fit, accepted when its IoU >= MIN_IOU; extent
  small below the world's threshold (17.5 px), big above.
* Placement from the fitted centres: a single or third object's region of the 3x3 grid of thirds;
  a relation along its axis by at least RELATION_MIN_GAP px and at least as far as along the
  other axis.
* Count: exactly the objects the prompt names, no stray ones.

Validation (``validate``): ground-truth renders with their own captions must be accepted, and a
corruption set (one object's colour, shape, size or position changed, an object removed or
added) must be rejected; tests/python/test_texture_eval.py asserts the targets.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import texture_world as tw

VERSION = "TextureEval v1"
SAT_MIN = 0.3
VAL_MIN = 0.2
MIN_AREA = 6            # smaller specks of a colour are ignored
MIN_OBJECT_AREA = 30    # a small triangle (10 px) covers about 50
MIN_IOU = 0.8
MERGE_IOU = 0.8
OCCLUDER_WEIGHT = 0.4   # a template pixel on another colour counts this much against the fit
RELATION_MIN_GAP = 4.0
ATTRIBUTES = ["count", "color", "shape", "size", "position", "relation"]


def _hue(rgb) -> float:
    import colorsys
    return colorsys.rgb_to_hsv(*[c / 255.0 for c in rgb])[0] * 360.0


PALETTE = list(tw.COLORS)
HUES = np.array([_hue(tw.COLORS[c]) for c in PALETTE], dtype=np.float32)


def hsv(img: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 [H,W,3] -> hue in degrees, saturation, value in [0,1]."""
    x = img.astype(np.float32) / 255.0
    mx, mn = x.max(-1), x.min(-1)
    d = mx - mn
    s = np.where(mx > 0, d / np.maximum(mx, 1e-6), 0.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    dd = np.maximum(d, 1e-6)
    h = np.where(mx == r, ((g - b) / dd) % 6, np.where(mx == g, (b - r) / dd + 2, (r - g) / dd + 4)) * 60.0
    return np.where(d > 0, h, 0.0), s, mx


def color_labels(img: np.ndarray) -> np.ndarray:
    """[H,W] palette index of each saturated pixel, -1 for background."""
    h, s, v = hsv(img)
    dist = np.abs(h[..., None] - HUES[None, None, :])
    dist = np.minimum(dist, 360.0 - dist)
    lab = dist.argmin(-1)
    return np.where((s >= SAT_MIN) & (v >= VAL_MIN), lab, -1)


def components(mask: np.ndarray) -> List[np.ndarray]:
    """8-connected components of a boolean mask, as boolean masks (label propagation: every
    pixel takes the smallest label among its neighbours until nothing changes)."""
    H, W = mask.shape
    big = H * W + 1
    lab = np.where(mask, np.arange(H * W).reshape(H, W), big)
    while True:
        p = np.pad(lab, 1, constant_values=big)
        m = lab.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                m = np.minimum(m, p[dy:dy + H, dx:dx + W])
        m = np.where(mask, m, big)
        if np.array_equal(m, lab):
            break
        lab = m
    return [lab == v for v in np.unique(lab[mask])]


_YC, _XC = np.mgrid[0:tw.IMAGE_SIZE, 0:tw.IMAGE_SIZE].astype(np.float32) + 0.5


def _templates(kind: str, xs: np.ndarray, ys: np.ndarray, cx: np.ndarray, cy: np.ndarray,
               s: np.ndarray) -> np.ndarray:
    """[C,h,w] boolean templates at pixel centres for C candidates (centres, extents)."""
    x = xs[None] - cx[:, None, None]
    y = ys[None] - cy[:, None, None]
    h = (s / 2.0)[:, None, None]
    if kind == "circle":
        return x * x + y * y <= h * h
    if kind == "square":
        return (np.abs(x) <= h) & (np.abs(y) <= h)
    depth = y + h
    return (depth >= 0) & (depth <= 2 * h) & (np.abs(x) <= depth / 2.0)


def fit_shape(mask: np.ndarray, ignore: np.ndarray) -> Dict:
    """Best upright shape per kind for a region; template pixels on ``ignore`` (other colours,
    possible occluders) count OCCLUDER_WEIGHT against it instead of 1:
    {"kind", "iou", "center", "extent", "ious"}."""
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    bx, by, s0 = (x0 + x1) / 2.0, (y0 + y1) / 2.0, float(max(x1 - x0, y1 - y0))
    pad = 8
    cx0, cx1 = max(0, x0 - pad), min(tw.IMAGE_SIZE, x1 + pad)
    cy0, cy1 = max(0, y0 - pad), min(tw.IMAGE_SIZE, y1 + pad)
    m = mask[cy0:cy1, cx0:cx1]
    other = ignore[cy0:cy1, cx0:cx1] & ~m
    xs_c, ys_c = _XC[cy0:cy1, cx0:cx1], _YC[cy0:cy1, cx0:cx1]
    area = float(m.sum())

    def score(kind, cands):
        cx, cy, s = (np.array(v, dtype=np.float32) for v in zip(*cands))
        t = _templates(kind, xs_c, ys_c, cx, cy, s)
        inter = (t & m[None]).sum((1, 2))
        hidden = (t & other[None]).sum((1, 2))
        outside = t.sum((1, 2)) - inter - hidden
        return inter / np.maximum(area + outside + OCCLUDER_WEIGHT * hidden, 1)

    best_all = {}
    for kind in tw.SHAPES:
        # a triangle's bounding box centre is its centre too (base = height)
        grid = [(bx + dx, by + dy, s0 + ds) for ds in range(-2, 9, 2) for dx in (-4, -2, 0, 2, 4)
                for dy in (-4, -2, 0, 2, 4)]
        sc = score(kind, grid)
        i = int(sc.argmax())
        cx, cy, s = grid[i]
        fine = [(cx + dx, cy + dy, s + ds) for ds in (-1, -0.5, 0, 0.5, 1) for dx in (-1, -0.5, 0, 0.5, 1)
                for dy in (-1, -0.5, 0, 0.5, 1)]
        sf = score(kind, fine)
        j = int(sf.argmax())
        best_all[kind] = (float(sf[j]), fine[j])
    kind = max(best_all, key=lambda k: best_all[k][0])
    iou, (cx, cy, s) = best_all[kind]
    return {"kind": kind, "iou": round(iou, 3), "center": [float(cx), float(cy)], "extent": float(s),
            "ious": {k: round(v[0], 3) for k, v in best_all.items()}}


def _erode(mask: np.ndarray) -> np.ndarray:
    """3x3 erosion (outside the image counts as set, so a shape at the border keeps its interior)."""
    p = np.pad(mask, 1, constant_values=True)
    H, W = mask.shape
    out = mask.copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out &= p[dy:dy + H, dx:dx + W]
    return out


def detect(img: np.ndarray) -> List[Dict]:
    """The objects in an image: colour, kind, fitted centre and extent, IoU, pixels."""
    lab = color_labels(img)
    sat = lab >= 0
    found = []
    for ci, name in enumerate(PALETTE):
        mask = lab == ci
        if mask.sum() < MIN_AREA:
            continue
        # a region without interior is the anti-aliased seam of two other colours (red against
        # yellow mixes to orange) or a speck, not an object
        comps = [c for c in components(mask) if c.sum() >= MIN_AREA and _erode(c).sum() >= 2]
        if not comps:
            continue
        ignore = sat & ~mask
        union = np.any(comps, axis=0)
        groups = [union]
        if len(comps) > 1:
            f = fit_shape(union, ignore)
            if f["iou"] < MERGE_IOU:
                groups = comps
        for g in groups:
            n = int(g.sum())
            if n < MIN_OBJECT_AREA:
                found.append({"color": name, "kind": None, "iou": 0.0, "pixels": n, "center": None,
                              "extent": None, "fragment": True})
                continue
            f = fit_shape(g, ignore)
            f.update(color=name, pixels=n, fragment=False)
            found.append(f)
    return found


def _size_of(extent: float) -> str:
    return "big" if extent > tw.SIZE_THRESHOLD else "small"


def score(prompt: str, img: np.ndarray) -> Dict:
    """Per-attribute verdicts (True / False, None when the prompt states nothing of that kind) and
    ``all``. Raises ValueError for a prompt outside the world's grammar."""
    want = tw.parse_caption(prompt)
    if want is None:
        raise ValueError("not a texture-world prompt: %r" % prompt)
    found = detect(img)
    objs = want["objects"]
    by_color = {}
    for f in found:
        if not f["fragment"]:
            by_color.setdefault(f["color"], []).append(f)
    match = [max(by_color.get(o["color"], []), key=lambda f: f["pixels"], default=None) for o in objs]
    res: Dict[str, Optional[bool]] = {}
    res["count"] = len(found) == len(objs)
    res["color"] = all(m is not None for m in match)
    res["shape"] = res["color"] and all(m["kind"] == o["kind"] and m["iou"] >= MIN_IOU for m, o in zip(match, objs))
    res["size"] = res["color"] and all(o["size"] is None or _size_of(m["extent"]) == o["size"]
                                       for m, o in zip(match, objs))
    res["position"] = None
    res["relation"] = None
    placed = []
    if want["position"] is not None:
        placed.append((0, want["position"]))
    if want["third_position"] is not None:
        placed.append((2, want["third_position"]))
    if placed:
        res["position"] = all(match[i] is not None and tw.region_of(*match[i]["center"]) == reg for i, reg in placed)
    if want["relation"] is not None:
        a, b = match[0], match[1]
        res["relation"] = a is not None and b is not None and tw.relation_holds(
            want["relation"], a["center"], b["center"], RELATION_MIN_GAP, 1.0)
    res["all"] = all(v for v in res.values() if v is not None)
    return res


# ------------------------------------------------------------------------------------------
# validation: ground truth and corruptions
# ------------------------------------------------------------------------------------------
CORRUPTIONS = ["color", "shape", "size", "position", "relation", "missing", "extra", "repaint", "fragment"]


def _other(values, current, rng):
    return str(rng.choice([v for v in values if v != current]))


def corrupt(scene: Dict, kind: str, rng: np.random.Generator, caption: Optional[str] = None) -> Optional[Dict]:
    """A copy of the scene with one defect its caption rules out, or None when this scene cannot
    take that defect (e.g. no relation to swap in a single-object scene, no stated size)."""
    sc = copy.deepcopy(scene)
    objs = sc["objects"]
    i = int(rng.integers(len(objs)))
    if kind == "size":
        stated = [k for k, o in enumerate(tw.parse_caption(caption)["objects"]) if o["size"]] if caption else list(range(len(objs)))
        if not stated:
            return None
        i = int(rng.choice(stated))
    o = objs[i]
    if kind == "color":
        used = {x["color"] for x in objs}
        o["color"] = str(rng.choice([c for c in tw.COLORS if c not in used]))
        o["rgb"] = list(tw.COLORS[o["color"]])
    elif kind == "shape":
        o["kind"] = _other(tw.SHAPES, o["kind"], rng)
    elif kind == "size":
        o["size"] = _other(list(tw.SIZE_RANGES), o["size"], rng)
        lo, hi = tw.SIZE_RANGES[o["size"]]
        o["extent"] = float(rng.uniform(lo, hi))
        lo_c, hi_c = tw._centre_range(o["extent"])
        o["center"] = [float(np.clip(v, lo_c, hi_c)) for v in o["center"]]
    elif kind == "position":
        if sc["position"] is None and sc["third_position"] is None:
            return None
        j, key = (0, "position") if sc["position"] is not None else (2, "third_position")
        region = _other(list(tw.REGIONS), sc[key], rng)
        c = tw._centre_in_region(rng, region, objs[j]["extent"])
        if c is None:
            return None
        objs[j]["center"] = c
    elif kind == "relation":
        if sc["relation"] is None:
            return None
        objs[0]["center"], objs[1]["center"] = objs[1]["center"], objs[0]["center"]
    elif kind == "missing":
        if len(objs) == 1:
            return None
        del objs[i]
        sc["order"] = [k - (k > i) for k in sc["order"] if k != i]
    elif kind == "extra":
        extra = tw._sample_object(rng, [x["color"] for x in objs], "all")
        lo, hi = tw._centre_range(extra["extent"])
        for _ in range(100):
            extra["center"] = [float(v) for v in rng.uniform(lo, hi, size=2)]
            if tw._visible_ok(objs + [extra]) and tw._visible_ok([extra] + objs):
                break
        else:
            return None
        objs.append(extra)
        sc["order"] = sc["order"] + [len(objs) - 1]
    elif kind == "repaint":
        # a disc of a colour not in the scene over a quarter of one object's area
        used = {x["color"] for x in objs}
        col = str(rng.choice([c for c in tw.COLORS if c not in used]))
        h = o["extent"] / 2.0
        r = math.sqrt(0.25 * tw.coverage(o["kind"], o["center"][0], o["center"][1], o["extent"], 2).sum() / math.pi)
        ang = rng.uniform(0, 2 * math.pi)
        dist = rng.uniform(0, 0.3 * h)
        y_off = 0.25 * h if o["kind"] == "triangle" else 0.0    # a triangle's bulk is below its centre
        sc["overlays"] = [{"center": [o["center"][0] + dist * math.cos(ang), o["center"][1] + y_off + dist * math.sin(ang)],
                           "radius": r, "rgb": list(tw.COLORS[col])}]
    elif kind == "fragment":
        # a stray disc (32-60 px) of a colour the prompt names, away from the objects
        r = math.sqrt(rng.uniform(32, 60) / math.pi)
        occupied = np.max([tw.coverage(x["kind"], x["center"][0], x["center"][1], x["extent"] + 6, 1) for x in objs], axis=0)
        for _ in range(100):
            c = [float(v) for v in rng.uniform(r + 1, tw.IMAGE_SIZE - 1 - r, size=2)]
            if (tw.coverage("circle", c[0], c[1], 2 * r, 1) * occupied).sum() == 0:
                break
        else:
            return None
        sc["overlays"] = [{"center": c, "radius": r, "rgb": list(objs[i]["rgb"])}]
    if kind in ("size", "shape", "position", "relation") and not tw._visible_ok([objs[k] for k in sc["order"]]):
        return None
    return sc


def validate(n: int = 200, corruptions_per_kind: int = 60, seed: int = 5) -> Dict:
    """Accuracy on ground-truth renders (their own captions) and rejection on the corruption set."""
    rng = np.random.default_rng(seed)
    gt_ok, per_attr = 0, {a: [0, 0] for a in ATTRIBUTES}
    failures = []
    for k in range(n):
        sc = tw.sample_scene(rng, "heldout" if k % 10 == 9 else "all")
        cap = tw.caption(sc, rng)
        r = score(cap, tw.render(sc))
        gt_ok += r["all"]
        for a in ATTRIBUTES:
            if r[a] is not None:
                per_attr[a][0] += bool(r[a])
                per_attr[a][1] += 1
        if not r["all"] and len(failures) < 10:
            failures.append({"caption": cap, "result": r})
    out = {"version": VERSION, "ground_truth": {"n": n, "accepted": gt_ok, "accuracy": round(gt_ok / n, 4),
                                                 "per_attribute": {a: round(v[0] / max(1, v[1]), 4) for a, v in per_attr.items()},
                                                 "failures": failures},
           "corruptions": {}}
    for kind in CORRUPTIONS:
        acc = tot = 0
        while tot < corruptions_per_kind:
            sc = tw.sample_scene(rng, "all")
            cap = tw.caption(sc, rng)
            bad = corrupt(sc, kind, rng, cap)
            if bad is None:
                continue
            tot += 1
            acc += score(cap, tw.render(bad))["all"]
        out["corruptions"][kind] = {"n": tot, "accepted": acc, "accepted_share": round(acc / tot, 4)}
    return out


def validate_tokenizer(vq_path: str, n: int = 200, seed: int = 6) -> Dict:
    """Ground truth after a VQ round trip (encode with the codebook, decode with the trained
    decoder): the best a model using that tokenizer can score."""
    import torch
    from . import demo_train
    from .texture_train import load_vq
    codebook, dec, stats = load_vq(vq_path)
    rng = np.random.default_rng(seed)
    scenes = [tw.sample_scene(rng, "heldout" if k % 10 == 9 else "all") for k in range(n)]
    caps = [tw.caption(sc, rng) for sc in scenes]
    imgs = np.stack([tw.render(sc) for sc in scenes])
    with torch.no_grad():
        codes = demo_train.encode_images(torch.from_numpy(imgs), codebook).view(n, 16, 16)
        rec = ((dec(codes).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    per_attr = {a: [0, 0] for a in ATTRIBUTES}
    ok = 0
    for cap, img in zip(caps, rec):
        r = score(cap, img)
        ok += r["all"]
        for a in ATTRIBUTES:
            if r[a] is not None:
                per_attr[a][0] += bool(r[a])
                per_attr[a][1] += 1
    return {"version": VERSION, "tokenizer": stats, "n": n, "accepted": ok, "accuracy": round(ok / n, 4),
            "per_attribute": {a: round(v[0] / max(1, v[1]), 4) for a, v in per_attr.items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="texture_eval")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--corruptions", type=int, default=100)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--vq", default=None, help="a training folder (vq.pt): score ground truth after a VQ round trip instead")
    args = ap.parse_args(argv)
    if args.vq:
        print(json.dumps(validate_tokenizer(args.vq, args.n), indent=1))
        return 0
    print(json.dumps(validate(args.n, args.corruptions, args.seed), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
