"""Procedural "shapes" world for the default demo model.

64x64 RGB images of one or two shapes (circle, square, triangle) in six well separated colours,
two sizes, on a plain or lightly checkered neutral light background, with captions drawn from a
small grammar. Everything is rendered on the fly with numpy + PIL (4x supersampled, box-filtered
down, so edges are anti-aliased).

The world's definition (colours, shapes, sizes, regions, relations, templates, word lists,
held-out colour+shape pairs) is exported by ``world_definition()`` to ``onnx/shapes_world.json``
so the C# evaluator can draw prompts, parse them back and know the colours.
"""
from __future__ import annotations

import json
import math
import re
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64
SUPERSAMPLE = 4

COLORS: Dict[str, Tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "yellow": (235, 205, 20),
    "purple": (135, 40, 175),
    "orange": (245, 125, 15),
}
SHAPES = ["circle", "square", "triangle"]
# size name -> extent in pixels (circle diameter, square side, triangle base and height)
SIZES: Dict[str, int] = {"big": 24, "small": 12}
# neutral light backgrounds (grey levels; no hue, so never the hue of a shape colour)
BACKGROUNDS: List[Tuple[int, int, int]] = [(245, 245, 245), (232, 232, 232), (218, 218, 218)]
TEXTURE_AMPLITUDE = 8      # checker texture: +/- this many levels, 8x8 pixel cells
TEXTURE_PROBABILITY = 0.3
POSITION_JITTER = 3        # pixels, uniform in [-j, j] on each axis

# single-shape position regions: nominal centre (x, y) in pixels, y grows downwards
POSITIONS: Dict[str, Tuple[int, int]] = {
    "left": (16, 32), "right": (48, 32), "top": (32, 16), "bottom": (32, 48), "center": (32, 32),
}
POSITION_PHRASES: Dict[str, List[str]] = {
    "left": ["on the left"],
    "right": ["on the right"],
    "top": ["at the top"],
    "bottom": ["at the bottom"],
    "center": ["in the center", "in the middle"],
}
# two shapes: the first shape (A) stands in this relation to the second (B)
RELATIONS: Dict[str, Dict] = {
    "above": {"phrases": ["above", "over"], "a": (32, 16), "b": (32, 48)},
    "below": {"phrases": ["below", "under"], "a": (32, 48), "b": (32, 16)},
    "left of": {"phrases": ["to the left of", "left of"], "a": (16, 32), "b": (48, 32)},
    "right of": {"phrases": ["to the right of", "right of"], "a": (48, 32), "b": (16, 32)},
}
RELATION_SHIFT = 8         # the pair is shifted together along the other axis by up to +/- this
PAIR_JITTER = 2            # and each shape of a pair by up to +/- this more on each axis
SIZE_WORDS: Dict[str, List[str]] = {"big": ["big", "large"], "small": ["small", "little"]}
SIZE_OMIT_PROBABILITY = 0.15   # caption leaves the size out (the image still has one)
TWO_SHAPE_PROBABILITY = 0.5

# {obj} = "[size] colour shape" (size word optional); {pos} = position phrase; {rel} relation phrase
SINGLE_TEMPLATES = [
    "a {obj} {pos}",
    "there is a {obj} {pos}",
    "{pos} , a {obj}",
    "a {obj} placed {pos}",
]
PAIR_TEMPLATES = [
    "a {obj1} {rel} a {obj2}",
    "there is a {obj1} {rel} a {obj2}",
    "{obj1} {rel} {obj2}",
    "a {obj1} is {rel} a {obj2}",
]

# colour+shape pairs never rendered during training (compositional generalisation test)
HELD_OUT = [("purple", "triangle"), ("orange", "circle")]

SPECIAL_TOKENS = ["[PAD]", "[BOS]", "[BOI]", "[EOI]", "[EOL]", "[UNK]"]
PAD_ID, BOS_ID, BOI_ID, EOI_ID, EOL_ID, UNK_ID = range(6)


# ------------------------------------------------------------------------------------------
# vocabulary / tokenizer
# ------------------------------------------------------------------------------------------
def grammar_words() -> List[str]:
    words = set()
    texts = SINGLE_TEMPLATES + PAIR_TEMPLATES
    for phrases in POSITION_PHRASES.values():
        texts += phrases
    for r in RELATIONS.values():
        texts += r["phrases"]
    for ws in SIZE_WORDS.values():
        texts += ws
    texts += list(COLORS) + SHAPES
    for t in texts:
        t = re.sub(r"\{[a-z0-9]+\}", " ", t)
        words.update(basic_split(t))
    words.update([",", "."])
    return sorted(words)


def vocab() -> List[str]:
    return SPECIAL_TOKENS + grammar_words()


_SPLIT = re.compile(r"\w+|[^\w\s]")


def basic_split(text: str) -> List[str]:
    """Lowercase, split on whitespace and punctuation (each punctuation char is its own token)."""
    return _SPLIT.findall(text.lower())


class WordTokenizer:
    """Whole-word WordPiece: unknown words map to [UNK]."""

    def __init__(self, tokens: Optional[List[str]] = None):
        self.tokens = tokens or vocab()
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    def encode(self, text: str) -> List[int]:
        return [self.ids.get(w, UNK_ID) for w in basic_split(text)]

    def write_vocab(self, path: str) -> None:
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for t in self.tokens:
                f.write(t + "\n")


# ------------------------------------------------------------------------------------------
# scenes and captions
# ------------------------------------------------------------------------------------------
def _allowed(color: str, kind: str, held_out_mode: str) -> bool:
    held = (color, kind) in HELD_OUT
    if held_out_mode == "train":
        return not held
    if held_out_mode == "heldout":
        return held
    return True


def _sample_object(rng: np.random.Generator, held_out_mode: str = "train") -> Dict:
    while True:
        color = str(rng.choice(list(COLORS)))
        kind = str(rng.choice(SHAPES))
        if _allowed(color, kind, "train" if held_out_mode == "train" else "all"):
            break
    size = str(rng.choice(list(SIZES)))
    return {"color": color, "kind": kind, "size": size}


def sample_scene(rng: np.random.Generator, held_out_mode: str = "train") -> Dict:
    """held_out_mode: "train" (no held-out pair anywhere), "all", or "heldout" (at least one
    object is a held-out colour+shape pair)."""
    two = rng.random() < TWO_SHAPE_PROBABILITY
    objs = [_sample_object(rng, held_out_mode) for _ in range(2 if two else 1)]
    if held_out_mode == "heldout":
        i = int(rng.integers(len(objs)))
        c, k = HELD_OUT[int(rng.integers(len(HELD_OUT)))]
        objs[i]["color"], objs[i]["kind"] = c, k
    if two:
        # two shapes must be distinguishable: differ in colour or kind
        while objs[0]["color"] == objs[1]["color"] and objs[0]["kind"] == objs[1]["kind"]:
            o = _sample_object(rng, held_out_mode)
            objs[1]["color"], objs[1]["kind"] = o["color"], o["kind"]
        rel = str(rng.choice(list(RELATIONS)))
        r = RELATIONS[rel]
        shift = int(rng.integers(-RELATION_SHIFT, RELATION_SHIFT + 1))
        for o, key in zip(objs, ("a", "b")):
            x, y = r[key]
            if rel in ("above", "below"):
                x += shift
            else:
                y += shift
            o["center"] = [x + int(rng.integers(-PAIR_JITTER, PAIR_JITTER + 1)),
                           y + int(rng.integers(-PAIR_JITTER, PAIR_JITTER + 1))]
        scene = {"objects": objs, "relation": rel, "position": None}
    else:
        pos = str(rng.choice(list(POSITIONS)))
        x, y = POSITIONS[pos]
        j = POSITION_JITTER
        objs[0]["center"] = [x + int(rng.integers(-j, j + 1)), y + int(rng.integers(-j, j + 1))]
        scene = {"objects": objs, "relation": None, "position": pos}
    scene["background"] = int(rng.integers(len(BACKGROUNDS)))
    scene["texture"] = bool(rng.random() < TEXTURE_PROBABILITY)
    return scene


def _obj_phrase(o: Dict, rng: np.random.Generator, omit_size: bool) -> str:
    words = []
    if not omit_size:
        words.append(str(rng.choice(SIZE_WORDS[o["size"]])))
    words += [o["color"], o["kind"]]
    return " ".join(words)


def caption(scene: Dict, rng: np.random.Generator, template: Optional[str] = None) -> str:
    objs = scene["objects"]
    if scene["relation"] is None:
        t = template or str(rng.choice(SINGLE_TEMPLATES))
        return t.format(obj=_obj_phrase(objs[0], rng, rng.random() < SIZE_OMIT_PROBABILITY),
                        pos=str(rng.choice(POSITION_PHRASES[scene["position"]])))
    t = template or str(rng.choice(PAIR_TEMPLATES))
    return t.format(obj1=_obj_phrase(objs[0], rng, rng.random() < SIZE_OMIT_PROBABILITY),
                    obj2=_obj_phrase(objs[1], rng, rng.random() < SIZE_OMIT_PROBABILITY),
                    rel=str(rng.choice(RELATIONS[scene["relation"]]["phrases"])))


def parse_caption(text: str) -> Optional[Dict]:
    """Inverse of caption(): attributes stated by a prompt (size None when not stated)."""
    words = basic_split(text)
    s = " ".join(words)
    size_of = {w: k for k, ws in SIZE_WORDS.items() for w in ws}
    obj_re = r"(?:(%s) )?(%s) (%s)" % ("|".join(size_of), "|".join(COLORS), "|".join(SHAPES))
    objs = [{"size": size_of.get(m.group(1)) if m.group(1) else None, "color": m.group(2),
             "kind": m.group(3)} for m in re.finditer(obj_re, s)]
    if len(objs) == 2:
        for rel, r in RELATIONS.items():
            for ph in sorted(r["phrases"], key=len, reverse=True):
                if re.search(r"(?:^| )%s(?: |$)" % re.escape(ph), s):
                    # "left of" is a substring of "to the left of": same relation, fine
                    return {"objects": objs, "relation": rel, "position": None}
        return None
    if len(objs) == 1:
        for pos, phs in POSITION_PHRASES.items():
            for ph in phs:
                if ph in s:
                    return {"objects": objs, "relation": None, "position": pos}
    return None


# ------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------
_CANVAS_CACHE: Dict[Tuple[int, bool], Image.Image] = {}


def _canvas(background: int, texture: bool) -> Image.Image:
    """The supersampled background (plain or checker), built once per kind: rendering it per
    image dominated the data loader's time."""
    key = (background, bool(texture))
    if key not in _CANVAS_CACHE:
        n = IMAGE_SIZE * SUPERSAMPLE
        img = np.empty((n, n, 3), dtype=np.int16)
        img[:] = np.array(BACKGROUNDS[background], dtype=np.int16)
        if texture:
            cell = 8 * SUPERSAMPLE
            yy, xx = np.mgrid[0:n, 0:n]
            checker = ((yy // cell + xx // cell) % 2) * 2 - 1
            img += (checker[..., None] * TEXTURE_AMPLITUDE).astype(np.int16)
        _CANVAS_CACHE[key] = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return _CANVAS_CACHE[key]


def render(scene: Dict) -> np.ndarray:
    """uint8 [64,64,3]."""
    ss = SUPERSAMPLE
    pil = _canvas(scene["background"], bool(scene.get("texture"))).copy()
    draw = ImageDraw.Draw(pil)
    for o in scene["objects"]:
        cx, cy = o["center"][0] * ss, o["center"][1] * ss
        h = SIZES[o["size"]] * ss / 2.0
        col = COLORS[o["color"]]
        if o["kind"] == "circle":
            draw.ellipse([cx - h, cy - h, cx + h - 1, cy + h - 1], fill=col)
        elif o["kind"] == "square":
            draw.rectangle([cx - h, cy - h, cx + h - 1, cy + h - 1], fill=col)
        else:  # upward isosceles triangle, base = height = size
            draw.polygon([(cx, cy - h), (cx + h - 1, cy + h - 1), (cx - h, cy + h - 1)], fill=col)
    small = pil.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BOX)
    return np.asarray(small, dtype=np.uint8)


def sample_batch(rng: np.random.Generator, n: int, held_out_mode: str = "train"):
    scenes = [sample_scene(rng, held_out_mode) for _ in range(n)]
    images = np.stack([render(s) for s in scenes])
    caps = [caption(s, rng) for s in scenes]
    return images, caps, scenes


def labels_for(scene: Dict, prompt: str) -> Dict:
    return {
        "prompt": prompt,
        "shapes": [{"color": o["color"], "kind": o["kind"], "size": o["size"],
                    "center": list(o["center"])} for o in scene["objects"]],
        "relation": scene["relation"],
        "position": scene["position"],
        "background": list(BACKGROUNDS[scene["background"]]),
        "texture": scene["texture"],
    }


# ------------------------------------------------------------------------------------------
# world definition for the C# evaluator
# ------------------------------------------------------------------------------------------
def world_definition() -> Dict:
    return {
        "name": "shapes",
        "version": 1,
        "image_size": IMAGE_SIZE,
        "colors": {k: list(v) for k, v in COLORS.items()},
        "shapes": SHAPES,
        "sizes_px": SIZES,
        "size_note": "extent in pixels: circle diameter, square side, triangle base and height "
                     "(upward isosceles triangle)",
        "size_words": SIZE_WORDS,
        "size_omit_probability": SIZE_OMIT_PROBABILITY,
        "backgrounds": [list(b) for b in BACKGROUNDS],
        "texture": {"kind": "checker", "cell_px": 8, "amplitude": TEXTURE_AMPLITUDE,
                    "probability": TEXTURE_PROBABILITY},
        "positions": {k: {"center": list(v), "phrases": POSITION_PHRASES[k]}
                      for k, v in POSITIONS.items()},
        "position_jitter_px": POSITION_JITTER,
        "relations": {k: {"phrases": v["phrases"], "first_center": list(v["a"]),
                          "second_center": list(v["b"])} for k, v in RELATIONS.items()},
        "relation_shift_px": RELATION_SHIFT,
        "pair_jitter_px": PAIR_JITTER,
        "relation_note": "the first-mentioned shape stands in the relation to the second; the pair "
                         "is shifted together by up to +/-%d px along the other axis, each shape "
                         "by +/-%d px more" % (RELATION_SHIFT, PAIR_JITTER),
        "two_shape_probability": TWO_SHAPE_PROBABILITY,
        "templates": {"single": SINGLE_TEMPLATES, "pair": PAIR_TEMPLATES},
        "template_note": "{obj} = [size word] colour shape (size word optional); {pos} = a "
                         "position phrase; {rel} = a relation phrase; tokens are separated by "
                         "spaces, ',' is its own token",
        "held_out": [{"color": c, "kind": k} for c, k in HELD_OUT],
        "held_out_note": "these colour+shape pairs never appear in training images or captions",
        "vocab": vocab(),
        "special_tokens": SPECIAL_TOKENS,
        "tokenization": "lowercase; split into runs of word characters and single punctuation "
                        "characters; whole-word lookup in vocab.txt; unknown -> [UNK]",
    }


def write_world(path: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(world_definition(), f, indent=1)
        f.write("\n")


def write_test_data(out_dir: str, n: int = 200, seed: int = 1234) -> None:
    """Ground-truth PNGs + labels.json + token_ids.json for the C# evaluator's tests."""
    import os
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = []
    for i in range(n):
        mode = "heldout" if i % 10 == 9 else "train"
        scene = sample_scene(rng, mode)
        prompt = caption(scene, rng)
        name = "%03d.png" % i
        Image.fromarray(render(scene)).save(os.path.join(out_dir, name), optimize=True)
        lab = labels_for(scene, prompt)
        lab["file"] = name
        labels.append(lab)
    with open(os.path.join(out_dir, "labels.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(labels, f, indent=1)
        f.write("\n")
    tok = WordTokenizer()
    caps = []
    # every template with every phrase variant at least once, then random ones
    for t in SINGLE_TEMPLATES:
        for pos, phs in POSITION_PHRASES.items():
            for ph in phs:
                for omit in (False, True):
                    sc = sample_scene(rng, "all")
                    while sc["relation"] is not None:
                        sc = sample_scene(rng, "all")
                    o = sc["objects"][0]
                    caps.append(t.format(obj=_obj_phrase(o, rng, omit), pos=ph))
    for t in PAIR_TEMPLATES:
        for rel, r in RELATIONS.items():
            for ph in r["phrases"]:
                sc = sample_scene(rng, "all")
                while sc["relation"] is None:
                    sc = sample_scene(rng, "all")
                caps.append(t.format(obj1=_obj_phrase(sc["objects"][0], rng, False),
                                     obj2=_obj_phrase(sc["objects"][1], rng, rng.random() < 0.3),
                                     rel=ph))
    caps += ["", "A Big RED Circle on the left.", "a big pink circle", "a small red hexagon!"]
    tok_out = [{"text": c, "ids": tok.encode(c)} for c in caps]
    with open(os.path.join(out_dir, "token_ids.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump({"vocab": "onnx/vocab.txt", "note": "ids exclude [BOS]/[BOI]; the model's "
                   "sequence is [BOS] ids [BOI] codes", "captions": tok_out}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    for _ in range(10):
        s = sample_scene(rng)
        c = caption(s, rng)
        print(c, "->", parse_caption(c)["relation"] or parse_caption(c)["position"])
