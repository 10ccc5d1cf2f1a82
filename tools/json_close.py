#!/usr/bin/env python3
"""Compare two JSON files, numbers within a tolerance.

Exports write reference outputs (parity.json, reference.json) computed by PyTorch on the
exporting machine; their last digits depend on which BLAS kernels the CPU runs (they differed in
the 6th-7th digit between an AMD EPYC and an Intel Xeon build machine; CFG-mixed logits amplify
it). The graphs must reproduce byte for byte; these numbers within rel/abs 1e-4, the tolerance
the ONNX graphs are checked against them with.

Usage: json_close.py A B   (exit 0 when close, 1 with the first difference otherwise)
"""
from __future__ import annotations

import json
import math
import sys
from typing import Any, Optional

TOLERANCE = 1e-4


def first_difference(a: Any, b: Any, path: str = "$") -> Optional[str]:
    """None when ``a`` and ``b`` have the same structure and numbers within TOLERANCE."""
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or a is None:
        return None if a == b else f"{path}: {a!r} != {b!r}"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            return None
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        if sorted(a) != sorted(b):
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    return f"{path}: {type(a).__name__} != {type(b).__name__}"


def files_close(path_a: str, path_b: str) -> Optional[str]:
    with open(path_a, encoding="utf-8") as fa, open(path_b, encoding="utf-8") as fb:
        return first_difference(json.load(fa), json.load(fb))


if __name__ == "__main__":
    diff = files_close(sys.argv[1], sys.argv[2])
    if diff:
        print(f"{sys.argv[1]} and {sys.argv[2]} differ at {diff}")
    sys.exit(1 if diff else 0)
