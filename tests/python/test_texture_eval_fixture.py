"""The TextureEval agreement fixture (tests/data/texture-eval/) is current: the committed world file
is ``texture_world.world_definition()`` and the Python evaluator still gives the committed verdicts
on every image, so the C# agreement test compares against today's Python evaluator.

    /usr/bin/python3 -m pytest tests/python -q -k texture_eval_fixture
    (regenerate: /usr/bin/python3 -m tools.pysjd2.texture_eval_fixture)
"""
from __future__ import annotations

import json
import os
import sys
import unittest

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from pysjd2 import texture_eval as te, texture_world as tw  # noqa: E402

DATA = os.path.join(ROOT, "tests", "data", "texture-eval")


class TextureEvalFixtureTests(unittest.TestCase):
    def test_world_file_is_the_world_definition(self):
        with open(os.path.join(DATA, tw.WORLD_FILE), encoding="utf-8") as f:
            assert json.load(f) == json.loads(json.dumps(tw.world_definition()))

    def test_python_verdicts_are_current(self):
        with open(os.path.join(DATA, "cases.json"), encoding="utf-8") as f:
            fixture = json.load(f)
        assert fixture["version"] == te.VERSION
        for c in fixture["cases"]:
            img = np.asarray(Image.open(os.path.join(DATA, c["file"])).convert("RGB"))
            r = te.score(c["prompt"], img)
            assert {a: r[a] for a in te.ATTRIBUTES + ["all"]} == c["verdicts"], c["file"]
            assert tw.parse_caption(c["prompt"]) == c["parsed"], c["file"]


if __name__ == "__main__":
    unittest.main()
