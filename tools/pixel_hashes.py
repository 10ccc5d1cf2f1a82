#!/usr/bin/env python3
"""Pixel hashes of a fixed list of `sjd2 generate` commands: a refactor or an engine change that
must leave every image as it was is checked by running this before and after and comparing.

    python3 tools/pixel_hashes.py SJD2 > before.txt      # SJD2: the sjd2 executable (or sjd2.dll)
    python3 tools/pixel_hashes.py SJD2 --check before.txt

Each line: the command's arguments, then the SHA-256 of the decoded RGB pixels of each image it
wrote (PNG metadata is left out: it names the engine's version). Needs Pillow.
"""
import hashlib
import os
import subprocess
import sys
import tempfile

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = "a red circle above a blue square"
METHODS = ["ar", "sjd", "sjd++", "pac", "sjd2"]


def commands():
    """(model folder, arguments, images written): 48 images across the default and the test models."""
    for method in METHODS:
        yield "onnx", ["--method", method, "--seed", "0", "--count", "4"], 4
        yield "tests/models/tiny", ["--method", method, "--seed", "5", "--count", "2", "--cfg", "3"], 2
        yield "tests/models/tiny", ["--method", method, "--seed", "9", "--count", "2", "--cfg", "1", "--temperature", "2", "--top-k", "0"], 2
    yield "onnx", ["--method", "sjd++", "--seed", "3", "--cfg", "3", "--top-k", "100", "--temperature", "1.5"], 1
    yield "onnx", ["--method", "sjd2", "--seed", "3", "--window", "64", "--kv", "exact"], 1
    yield "tests/models/tiny-eol", ["--method", "sjd++", "--seed", "1"], 1
    yield "tests/models/micro-sjd2", ["--method", "sjd2", "--seed", "1"], 1
    for family in ["llamagen", "lumina-mgpt", "emu3", "janus-pro"]:
        yield f"tests/models/families/{family}", ["--method", "sjd++", "--seed", "2"], 1


def run(sjd2, model, args, count, folder):
    out = os.path.join(folder, "image.png")
    exe = ["dotnet", sjd2] if sjd2.endswith(".dll") else [sjd2]
    subprocess.run(exe + ["generate", PROMPT if "families" not in model else "a red circle", "--out", out, "--quiet",
                          "--model", os.path.join(ROOT, model)] + args, check=True)
    names = ["image.png"] if count == 1 else [f"image-{i}.png" for i in range(1, count + 1)]
    hashes = []
    for name in names:
        path = os.path.join(folder, name)
        hashes.append(hashlib.sha256(Image.open(path).convert("RGB").tobytes()).hexdigest()[:16])
        os.remove(path)
    return hashes


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sjd2 = sys.argv[1]
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        for model, args, count in commands():
            lines.append(f"{model} {' '.join(args)}: {' '.join(run(sjd2, model, args, count, folder))}")
    if len(sys.argv) == 4 and sys.argv[2] == "--check":
        with open(sys.argv[3], encoding="utf-8") as f:
            expected = f.read().splitlines()
        changed = [f"  was {a}\n  now {b}" for a, b in zip(expected, lines) if a != b]
        images = sum(len(line.split(": ")[1].split()) for line in lines)
        if changed or len(expected) != len(lines):
            sys.exit(f"{len(changed)} of {len(lines)} commands changed their images:\n" + "\n".join(changed))
        print(f"all {images} images of {len(lines)} commands unchanged")
        return
    print("\n".join(lines))


if __name__ == "__main__":
    main()
