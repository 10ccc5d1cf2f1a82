"""Procedural "texture" world: the entropy world of the second demo model (docs/entropy-world.md).

The shapes world's grammar (six colours, circle / square / triangle, big / small, positions and
relations) on images whose pixels carry real uncertainty, so that the image tokens of a model
trained on it are not predictable from their neighbours the way flat backgrounds are:

* backgrounds: neutral (low-saturation) tones with lighting, and one of six patterns: plain,
  gradient, cloudy (fractal value noise), grainy (fine noise), striped (any angle and period),
  checkered (any cell size and phase);
* objects: one to three, each a distinct palette colour, continuous sizes (small 10-15 px,
  big 20-28 px) and positions, shaded by the scene's light, with a soft drop shadow and a surface
  texture: plain, striped, spotted or mottled; later objects may occlude earlier ones (every object
  keeps at least 75 % of its area visible).

Textures change an object's brightness and saturation but never its hue (blends towards black or
white), and backgrounds are never saturated, so colour stays judgeable by hue
(``texture_eval.py``). Everything is drawn from a seeded ``numpy`` generator and stored in the
scene dict, so ``render(scene)`` is deterministic.
"""
from __future__ import annotations

import json
import math
import re
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import shapes

IMAGE_SIZE = 64
SUPERSAMPLE = 4

COLORS: Dict[str, Tuple[int, int, int]] = dict(shapes.COLORS)
SHAPES = list(shapes.SHAPES)
HELD_OUT = list(shapes.HELD_OUT)
# extent in pixels (circle diameter, square side, triangle base and height), drawn uniformly
SIZE_RANGES: Dict[str, Tuple[float, float]] = {"small": (10.0, 15.0), "big": (20.0, 28.0)}
SIZE_THRESHOLD = 17.5          # the evaluator's boundary between small and big
SIZE_WORDS = dict(shapes.SIZE_WORDS)
SIZE_OMIT_PROBABILITY = 0.15
OBJECT_COUNT_PROBABILITIES = (0.35, 0.40, 0.25)   # one, two, three objects
MIN_VISIBLE = 0.75             # share of an object's area that occluders leave visible

# nine regions on a 3x3 grid of thirds; a single object's centre lies at least REGION_MARGIN px
# inside its region
REGIONS: Dict[str, Tuple[int, int]] = {     # name -> (column, row), 0..2
    "top left": (0, 0), "top": (1, 0), "top right": (2, 0),
    "left": (0, 1), "center": (1, 1), "right": (2, 1),
    "bottom left": (0, 2), "bottom": (1, 2), "bottom right": (2, 2),
}
REGION_MARGIN = 2.0
REGION_PHRASES: Dict[str, List[str]] = {
    "top left": ["at the top left", "in the top left corner"],
    "top": ["at the top"],
    "top right": ["at the top right", "in the top right corner"],
    "left": ["on the left"],
    "center": ["in the center", "in the middle"],
    "right": ["on the right"],
    "bottom left": ["at the bottom left", "in the bottom left corner"],
    "bottom": ["at the bottom"],
    "bottom right": ["at the bottom right", "in the bottom right corner"],
}
# the first object stands in the relation to the second: (axis, sign of second minus first)
RELATIONS: Dict[str, Dict] = {
    "above": {"phrases": ["above", "over"], "axis": 1, "sign": 1},
    "below": {"phrases": ["below", "under"], "axis": 1, "sign": -1},
    "left of": {"phrases": ["to the left of", "left of"], "axis": 0, "sign": 1},
    "right of": {"phrases": ["to the right of", "right of"], "axis": 0, "sign": -1},
}
RELATION_MIN_GAP = 10.0        # centres at least this far apart along the relation's axis
RELATION_MAX_SKEW = 0.6        # and at most this share of that distance along the other axis

BACKGROUNDS = ["plain", "gradient", "cloudy", "grainy", "striped", "checkered"]
TEXTURES = ["plain", "striped", "spotted", "mottled"]
TEXTURE_WORD_PROBABILITY = 0.6       # a textured object's phrase names its texture
BACKGROUND_WORD_PROBABILITY = 0.4    # the caption names the background pattern

SINGLE_TEMPLATES = list(shapes.SINGLE_TEMPLATES)
PAIR_TEMPLATES = list(shapes.PAIR_TEMPLATES)
TRIPLE_TEMPLATES = [
    "a {obj1} {rel} a {obj2} and a {obj3} {pos}",
    "there is a {obj1} {rel} a {obj2} and a {obj3} {pos}",
    "{obj1} {rel} {obj2} , {obj3} {pos}",
]
BACKGROUND_SUFFIX = "{text} , {bg} background"

SPECIAL_TOKENS = list(shapes.SPECIAL_TOKENS)
PAD_ID, BOS_ID, BOI_ID, EOI_ID, EOL_ID, UNK_ID = range(6)
MAX_PROMPT_TOKENS = 40


# ------------------------------------------------------------------------------------------
# vocabulary
# ------------------------------------------------------------------------------------------
def grammar_words() -> List[str]:
    texts = SINGLE_TEMPLATES + PAIR_TEMPLATES + TRIPLE_TEMPLATES + [BACKGROUND_SUFFIX]
    for phs in REGION_PHRASES.values():
        texts += phs
    for r in RELATIONS.values():
        texts += r["phrases"]
    for ws in SIZE_WORDS.values():
        texts += ws
    texts += list(COLORS) + SHAPES + TEXTURES + BACKGROUNDS
    words = set()
    for t in texts:
        words.update(shapes.basic_split(re.sub(r"\{[a-z0-9]+\}", " ", t)))
    words.update([",", "."])
    return sorted(words)


def vocab() -> List[str]:
    return SPECIAL_TOKENS + grammar_words()


def tokenizer() -> shapes.WordTokenizer:
    return shapes.WordTokenizer(vocab())


# ------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------
def region_of(x: float, y: float) -> str:
    col = min(2, max(0, int(x * 3 // IMAGE_SIZE)))
    row = min(2, max(0, int(y * 3 // IMAGE_SIZE)))
    return next(k for k, v in REGIONS.items() if v == (col, row))


def relation_holds(rel: str, a: Tuple[float, float], b: Tuple[float, float], min_gap: float,
                   max_skew: float) -> bool:
    r = RELATIONS[rel]
    d = (b[0] - a[0], b[1] - a[1])
    main = d[r["axis"]] * r["sign"]
    return main >= min_gap and abs(d[1 - r["axis"]]) <= max_skew * main


def coverage(kind: str, cx: float, cy: float, size: float, ss: int = SUPERSAMPLE) -> np.ndarray:
    """Anti-aliased coverage [64,64] in [0,1] of an upright shape (ss x ss samples a pixel),
    evaluated over the shape's bounding box only."""
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    h = size / 2.0
    x0, x1 = max(0, int(math.floor(cx - h)) - 1), min(IMAGE_SIZE, int(math.ceil(cx + h)) + 1)
    y0, y1 = max(0, int(math.floor(cy - h)) - 1), min(IMAGE_SIZE, int(math.ceil(cy + h)) + 1)
    if x0 >= x1 or y0 >= y1:
        return out
    c = (np.arange(IMAGE_SIZE * ss, dtype=np.float32) + 0.5) / ss
    x, y = c[None, x0 * ss:x1 * ss], c[y0 * ss:y1 * ss, None]
    if kind == "circle":
        m = (x - cx) ** 2 + (y - cy) ** 2 <= h * h
    elif kind == "square":
        m = (np.abs(x - cx) <= h) & (np.abs(y - cy) <= h)
    else:   # upward isosceles triangle, base = height = size
        depth = y - (cy - h)
        m = (depth >= 0) & (depth <= size) & (np.abs(x - cx) <= depth / 2.0)
    out[y0:y1, x0:x1] = m.reshape(y1 - y0, ss, x1 - x0, ss).mean((1, 3), dtype=np.float32)
    return out


# ------------------------------------------------------------------------------------------
# scenes
# ------------------------------------------------------------------------------------------
def _allowed(color: str, kind: str, mode: str) -> bool:
    held = (color, kind) in HELD_OUT
    return not held if mode == "train" else True


def _texture_params(rng: np.random.Generator) -> Dict:
    kind = str(rng.choice(TEXTURES))
    p: Dict = {"kind": kind, "seed": int(rng.integers(1 << 30))}
    if kind == "striped":
        p.update(angle=float(rng.uniform(0, math.pi)), period=float(rng.uniform(3.0, 6.0)),
                 depth=float(rng.uniform(0.25, 0.45)), light=bool(rng.random() < 0.35),
                 phase=float(rng.uniform(0, 1)))
    elif kind == "spotted":
        p.update(spots=int(rng.integers(3, 9)), depth=float(rng.uniform(0.3, 0.45)),
                 light=bool(rng.random() < 0.5))
    elif kind == "mottled":
        p.update(depth=float(rng.uniform(0.2, 0.35)))
    return p


def _sample_object(rng: np.random.Generator, used_colors: List[str], mode: str) -> Dict:
    while True:
        color = str(rng.choice(list(COLORS)))
        kind = str(rng.choice(SHAPES))
        if color not in used_colors and _allowed(color, kind, mode):
            break
    size_name = str(rng.choice(list(SIZE_RANGES)))
    lo, hi = SIZE_RANGES[size_name]
    jitter = rng.integers(-6, 7, size=3)
    rgb = [int(np.clip(v + j, 0, 255)) for v, j in zip(COLORS[color], jitter)]
    return {"color": color, "kind": kind, "size": size_name, "extent": float(rng.uniform(lo, hi)),
            "rgb": rgb, "texture": _texture_params(rng)}


def _centre_range(extent: float) -> Tuple[float, float]:
    h = extent / 2.0
    return h + 1.0, IMAGE_SIZE - 1.0 - h


def _centre_in_region(rng: np.random.Generator, region: str, extent: float) -> Optional[List[float]]:
    lo, hi = _centre_range(extent)
    col, row = REGIONS[region]
    third = IMAGE_SIZE / 3.0
    out = []
    for i in (col, row):
        a = max(lo, i * third + REGION_MARGIN)
        b = min(hi, (i + 1) * third - REGION_MARGIN)
        if a > b:
            return None
        out.append(float(rng.uniform(a, b)))
    return out


def _visible_ok(objs: List[Dict]) -> bool:
    """Every object keeps MIN_VISIBLE of its area in front of the later (nearer) ones."""
    covs = [coverage(o["kind"], o["center"][0], o["center"][1], o["extent"], 1) for o in objs]
    for i, c in enumerate(covs):
        front = np.zeros_like(c)
        for c2 in covs[i + 1:]:
            front = np.maximum(front, c2)
        if (c * (1 - front)).sum() < MIN_VISIBLE * c.sum():
            return False
    return True


def sample_scene(rng: np.random.Generator, held_out_mode: str = "train") -> Dict:
    """held_out_mode: "train" (no held-out colour+shape pair), "all", or "heldout" (one object is
    a held-out pair)."""
    n = int(rng.choice([1, 2, 3], p=OBJECT_COUNT_PROBABILITIES))
    while True:
        objs: List[Dict] = []
        for _ in range(n):
            objs.append(_sample_object(rng, [o["color"] for o in objs], held_out_mode))
        if held_out_mode == "heldout":
            c, k = HELD_OUT[int(rng.integers(len(HELD_OUT)))]
            i = int(rng.integers(n))
            if any(o["color"] == c for j, o in enumerate(objs) if j != i):
                continue
            objs[i]["color"], objs[i]["kind"] = c, k
            jitter = rng.integers(-6, 7, size=3)
            objs[i]["rgb"] = [int(np.clip(v + j, 0, 255)) for v, j in zip(COLORS[c], jitter)]
        scene = _place(rng, objs)
        if scene is not None:
            break
    light = float(rng.uniform(0, 2 * math.pi))
    scene["light"] = {"angle": light, "strength": float(rng.uniform(0.0, 0.12)),
                      "shade": float(rng.uniform(0.12, 0.28))}
    tone = float(rng.uniform(120, 235))
    tint = rng.integers(-5, 6, size=3)
    bg = {"kind": str(rng.choice(BACKGROUNDS)), "rgb": [float(tone + t) for t in tint],
          "seed": int(rng.integers(1 << 30)), "amplitude": float(rng.uniform(10, 30)),
          "angle": float(rng.uniform(0, math.pi)), "period": float(rng.uniform(4, 12)),
          "phase": [float(v) for v in rng.uniform(0, 1, size=2)]}
    scene["background"] = bg
    return scene


def _place(rng: np.random.Generator, objs: List[Dict]) -> Optional[Dict]:
    """Positions for the objects (single: a region; pair: a relation; third: a region) and a
    drawing order, or None when no placement is found quickly (the caller redraws the objects)."""
    for _ in range(200):
        scene: Dict = {"objects": objs, "relation": None, "position": None, "third_position": None}
        if len(objs) == 1:
            region = str(rng.choice(list(REGIONS)))
            c = _centre_in_region(rng, region, objs[0]["extent"])
            if c is None:
                continue
            objs[0]["center"] = c
            scene["position"] = region
        else:
            rel = str(rng.choice(list(RELATIONS)))
            a, b = objs[0], objs[1]
            for o in (a, b):
                lo, hi = _centre_range(o["extent"])
                o["center"] = [float(v) for v in rng.uniform(lo, hi, size=2)]
            gap = max(RELATION_MIN_GAP, 0.4 * (a["extent"] + b["extent"]))
            if not relation_holds(rel, a["center"], b["center"], gap, RELATION_MAX_SKEW):
                continue
            scene["relation"] = rel
            if len(objs) == 3:
                region = str(rng.choice(list(REGIONS)))
                c = _centre_in_region(rng, region, objs[2]["extent"])
                if c is None:
                    continue
                objs[2]["center"] = c
                scene["third_position"] = region
        order = [int(i) for i in rng.permutation(len(objs))]
        if not _visible_ok([objs[i] for i in order]):
            continue
        scene["order"] = order
        return scene
    return None


# ------------------------------------------------------------------------------------------
# captions
# ------------------------------------------------------------------------------------------
def _obj_phrase(o: Dict, rng: np.random.Generator) -> str:
    words = []
    if rng.random() >= SIZE_OMIT_PROBABILITY:
        words.append(str(rng.choice(SIZE_WORDS[o["size"]])))
    words.append(o["color"])
    if o["texture"]["kind"] != "plain" and rng.random() < TEXTURE_WORD_PROBABILITY:
        words.append(o["texture"]["kind"])
    words.append(o["kind"])
    return " ".join(words)


def caption(scene: Dict, rng: np.random.Generator) -> str:
    objs = scene["objects"]
    if len(objs) == 1:
        text = str(rng.choice(SINGLE_TEMPLATES)).format(
            obj=_obj_phrase(objs[0], rng), pos=str(rng.choice(REGION_PHRASES[scene["position"]])))
    else:
        rel = str(rng.choice(RELATIONS[scene["relation"]]["phrases"]))
        if len(objs) == 2:
            text = str(rng.choice(PAIR_TEMPLATES)).format(
                obj1=_obj_phrase(objs[0], rng), obj2=_obj_phrase(objs[1], rng), rel=rel)
        else:
            text = str(rng.choice(TRIPLE_TEMPLATES)).format(
                obj1=_obj_phrase(objs[0], rng), obj2=_obj_phrase(objs[1], rng), rel=rel,
                obj3=_obj_phrase(objs[2], rng),
                pos=str(rng.choice(REGION_PHRASES[scene["third_position"]])))
    if rng.random() < BACKGROUND_WORD_PROBABILITY:
        text = BACKGROUND_SUFFIX.format(text=text, bg=scene["background"]["kind"])
    return text


def parse_caption(text: str) -> Optional[Dict]:
    """Attributes a prompt states: objects (colour, kind, size or None, texture or None), relation
    of the first two, region of a single or third object, background pattern or None."""
    s = " ".join(shapes.basic_split(text))
    size_of = {w: k for k, ws in SIZE_WORDS.items() for w in ws}
    obj_re = r"(?:(%s) )?(%s) (?:(%s) )?(%s)" % ("|".join(size_of), "|".join(COLORS),
                                                 "|".join(TEXTURES), "|".join(SHAPES))
    objs = [{"size": size_of.get(m.group(1)) if m.group(1) else None, "color": m.group(2),
             "texture": m.group(3), "kind": m.group(4)} for m in re.finditer(obj_re, s)]
    bg = re.search(r", (%s) background$" % "|".join(BACKGROUNDS), s)
    out = {"objects": objs, "relation": None, "position": None, "third_position": None,
           "background": bg.group(1) if bg else None}

    def region_in(part: str) -> Optional[str]:
        best = None
        for reg, phs in REGION_PHRASES.items():
            for ph in phs:
                if re.search(r"(?:^| )%s(?: |$)" % re.escape(ph), part):
                    if best is None or len(ph) > best[1]:
                        best = (reg, len(ph))
        return best[0] if best else None

    if len(objs) == 1:
        out["position"] = region_in(s)
        return out if out["position"] else None
    if len(objs) in (2, 3):
        rel_part = s
        if len(objs) == 3:
            m3 = list(re.finditer(obj_re, s))[2]
            rel_part, tail = s[:m3.start()], s[m3.end():]
            out["third_position"] = region_in(tail)
            if out["third_position"] is None:
                return None
        for rel, r in RELATIONS.items():
            for ph in sorted(r["phrases"], key=len, reverse=True):
                if re.search(r"(?:^| )%s(?: |$)" % re.escape(ph), rel_part):
                    out["relation"] = rel
                    return out
    return None


# ------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------
_YY, _XX = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32) + 0.5
_INTERP: Dict[int, np.ndarray] = {}


def _interp_matrix(g: int) -> np.ndarray:
    """[64,g] smoothstep interpolation from a g-point lattice spanning the image."""
    if g not in _INTERP:
        t = (np.arange(IMAGE_SIZE) + 0.5) / IMAGE_SIZE * (g - 1)
        i0 = np.minimum(np.floor(t).astype(int), g - 2)
        f = t - i0
        f = f * f * (3 - 2 * f)
        m = np.zeros((IMAGE_SIZE, g), dtype=np.float32)
        m[np.arange(IMAGE_SIZE), i0] = 1 - f
        m[np.arange(IMAGE_SIZE), i0 + 1] = f
        _INTERP[g] = m
    return _INTERP[g]


def value_noise(rng: np.random.Generator, octaves=((4, 1.0), (8, 0.5), (16, 0.25))) -> np.ndarray:
    """Fractal value noise [64,64], roughly in [-1,1]: lattices of random values, smoothly
    interpolated, summed with falling weights."""
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    total = 0.0
    for g, w in octaves:
        m = _interp_matrix(g + 1)
        out += w * (m @ rng.uniform(-1, 1, size=(g + 1, g + 1)).astype(np.float32) @ m.T)
        total += w
    return out / total


def _stripes(angle: float, period: float, phase: float, sharp: float = 3.0) -> np.ndarray:
    u = _XX * math.cos(angle) + _YY * math.sin(angle)
    return 0.5 + 0.5 * np.tanh(sharp * np.sin(2 * math.pi * (u / period + phase))) / math.tanh(sharp)


def _background(scene: Dict) -> np.ndarray:
    bg = scene["background"]
    rng = np.random.default_rng(bg["seed"])
    kind, amp = bg["kind"], bg["amplitude"]
    if kind == "plain":
        pat = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    elif kind == "gradient":
        u = ((_XX - 32) * math.cos(bg["angle"]) + (_YY - 32) * math.sin(bg["angle"])) / 32.0
        pat = amp * 1.2 * u
    elif kind == "cloudy":
        pat = amp * 1.5 * value_noise(rng)
    elif kind == "grainy":
        pat = amp * (0.6 * value_noise(rng, ((8, 1.0), (16, 1.0))) +
                     0.35 * rng.standard_normal((IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32))
    elif kind == "striped":
        pat = amp * (2 * _stripes(bg["angle"], bg["period"], bg["phase"][0]) - 1)
    else:   # checkered
        cell = bg["period"]
        cx = np.floor(_XX / cell + bg["phase"][0]).astype(int)
        cy = np.floor(_YY / cell + bg["phase"][1]).astype(int)
        pat = amp * (((cx + cy) % 2) * 2 - 1).astype(np.float32)
    light = scene["light"]
    lit = 1 + light["strength"] * ((_XX - 32) * math.cos(light["angle"]) +
                                   (_YY - 32) * math.sin(light["angle"])) / 32.0
    rgb = np.array(bg["rgb"], dtype=np.float32)
    return (rgb[None, None, :] + pat[..., None]) * lit[..., None]


def _surface(o: Dict, scene: Dict) -> np.ndarray:
    """Brightness factor [64,64] of an object's surface: the scene's light across the object
    times its texture; below 1 blends towards black, above 1 towards white (hue unchanged)."""
    tex = o["texture"]
    light = scene["light"]
    cx, cy = o["center"]
    h = o["extent"] / 2.0
    u = ((_XX - cx) * math.cos(light["angle"]) + (_YY - cy) * math.sin(light["angle"])) / h
    b = 1 + light["shade"] * np.clip(u, -1.2, 1.2) * 0.8
    rng = np.random.default_rng(tex["seed"])
    kind = tex["kind"]
    if kind == "striped":
        s = _stripes(tex["angle"], tex["period"], tex["phase"])
        b = b * (1 + tex["depth"] * s) if tex["light"] else b * (1 - tex["depth"] * s)
    elif kind == "spotted":
        m = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        for _ in range(tex["spots"]):
            sx, sy = cx + rng.uniform(-h, h), cy + rng.uniform(-h, h)
            r = rng.uniform(1.0, max(1.5, h * 0.3))
            d = np.sqrt((_XX - sx) ** 2 + (_YY - sy) ** 2)
            m = np.maximum(m, np.clip(r + 0.5 - d, 0, 1))
        b = b * (1 + tex["depth"] * m) if tex["light"] else b * (1 - tex["depth"] * m)
    elif kind == "mottled":
        b = b * (1 + tex["depth"] * value_noise(rng, ((6, 1.0), (12, 0.6))) * 1.4)
    return b


def _paint(rgb: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Colour under brightness b: b <= 1 scales towards black, b > 1 blends towards white (at
    most 35 %), both keep the hue."""
    b = b[..., None]
    dark = rgb * np.minimum(b, 1.0)
    white = np.clip(b - 1.0, 0.0, 0.35)
    return dark + (255.0 - dark) * white


def _blur(a: np.ndarray, axis: int) -> np.ndarray:
    """[1,2,1]/4 along an axis, zero beyond the border."""
    p = np.pad(a, [(1, 1) if i == axis else (0, 0) for i in range(2)])
    lo = p[:-2] if axis == 0 else p[:, :-2]
    mid = p[1:-1] if axis == 0 else p[:, 1:-1]
    hi = p[2:] if axis == 0 else p[:, 2:]
    return 0.25 * lo + 0.5 * mid + 0.25 * hi


def render(scene: Dict) -> np.ndarray:
    """uint8 [64,64,3]."""
    img = _background(scene)
    objs = [scene["objects"][i] for i in scene["order"]]
    covs = [coverage(o["kind"], o["center"][0], o["center"][1], o["extent"]) for o in objs]
    light = scene["light"]
    # soft drop shadows on the background, away from the light
    dx = -math.cos(light["angle"]) * 2.0
    dy = -math.sin(light["angle"]) * 2.0
    shadow = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    for o in objs:
        c = coverage(o["kind"], o["center"][0] + dx, o["center"][1] + dy, o["extent"] + 2.0, 1)
        shadow = np.maximum(shadow, c)
    shadow = _blur(_blur(shadow, 0), 1)
    img = img * (1 - 0.22 * shadow[..., None])
    for o, c in zip(objs, covs):
        col = _paint(np.array(o["rgb"], dtype=np.float32), _surface(o, scene))
        img = img * (1 - c[..., None]) + col * c[..., None]
    for d in scene.get("overlays", ()):   # flat discs on top: only the evaluator's corruption set uses them
        c = coverage("circle", d["center"][0], d["center"][1], 2.0 * d["radius"])
        img = img * (1 - c[..., None]) + np.array(d["rgb"], dtype=np.float32) * c[..., None]
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def sample_batch(rng: np.random.Generator, n: int, held_out_mode: str = "train"):
    scenes = [sample_scene(rng, held_out_mode) for _ in range(n)]
    images = np.stack([render(s) for s in scenes])
    caps = [caption(s, rng) for s in scenes]
    return images, caps, scenes


def world_definition() -> Dict:
    """The world's grammar and constants, for evaluators and model folders."""
    return {
        "name": "texture", "version": 1, "image_size": IMAGE_SIZE,
        "colors": {k: list(v) for k, v in COLORS.items()}, "shapes": SHAPES,
        "size_ranges_px": {k: list(v) for k, v in SIZE_RANGES.items()},
        "size_threshold_px": SIZE_THRESHOLD, "size_words": SIZE_WORDS,
        "size_omit_probability": SIZE_OMIT_PROBABILITY,
        "object_count_probabilities": list(OBJECT_COUNT_PROBABILITIES),
        "texture_word_probability": TEXTURE_WORD_PROBABILITY,
        "background_word_probability": BACKGROUND_WORD_PROBABILITY,
        "regions": {k: {"column_row": list(v), "phrases": REGION_PHRASES[k]} for k, v in REGIONS.items()},
        "relations": {k: {"phrases": v["phrases"], "axis": "xy"[v["axis"]], "sign": v["sign"]}
                      for k, v in RELATIONS.items()},
        "backgrounds": BACKGROUNDS, "textures": TEXTURES,
        "templates": {"single": SINGLE_TEMPLATES, "pair": PAIR_TEMPLATES, "triple": TRIPLE_TEMPLATES,
                      "background_suffix": BACKGROUND_SUFFIX},
        "held_out": [{"color": c, "kind": k} for c, k in HELD_OUT],
        "vocab": vocab(), "special_tokens": SPECIAL_TOKENS, "max_prompt_tokens": MAX_PROMPT_TOKENS,
    }


WORLD_FILE = "texture_world.json"


def write_world(path: str) -> None:
    """Writes ``world_definition()`` as the model folder's ``texture_world.json`` (read by the
    engine's TextureEval, src/Sjd2Onnx.TextureWorld)."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(world_definition(), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    import time
    rng = np.random.default_rng(0)
    t0 = time.time()
    imgs, caps, _ = sample_batch(rng, 200)
    print("%.2f ms per image" % ((time.time() - t0) / 200 * 1000))
    tok = tokenizer()
    print(len(tok.tokens), "tokens; longest caption", max(len(tok.encode(c)) for c in caps))
    for c in caps[:10]:
        print(c, "->", parse_caption(c))
