#!/usr/bin/env python3
"""Compare two ONNX graphs: the same structure exactly, weights equal up to float rounding.

The tiny test models scale their output head by a bisection on forward passes of the model
(tools/pysjd2/tiny.py: mean top-1 probability against a target). Those passes run PyTorch's
CPU kernels, whose last bits depend on the CPU: on an AMD EPYC (AVX2) build machine the head of
tests/models/micro-sjd2 came out 3e-8 away from the committed Intel Xeon (AVX-512) export. Every
node, attribute, input, output and weight name, shape and type must match; weight values within
1e-6 of the larger magnitude (far below the 1e-4 the graphs are checked against PyTorch with).

Usage: onnx_close.py A B   (exit 0 when close, 1 with the first difference otherwise)
"""
from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import numpy_helper

TOLERANCE = 1e-6


def first_difference(path_a: str, path_b: str) -> str | None:
    a, b = onnx.load(path_a), onnx.load(path_b)
    weights_a = {t.name: numpy_helper.to_array(t) for t in a.graph.initializer}
    weights_b = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
    if weights_a.keys() != weights_b.keys():
        return f"weights differ in names: {sorted(weights_a.keys() ^ weights_b.keys())}"
    for name, wa in weights_a.items():
        wb = weights_b[name]
        if wa.dtype != wb.dtype or wa.shape != wb.shape:
            return f"{name}: {wa.dtype}{wa.shape} != {wb.dtype}{wb.shape}"
        if wa.dtype.kind == "f":
            scale = max(1.0, float(np.max(np.abs(wa))) if wa.size else 0.0)
            if wa.size and float(np.max(np.abs(wa.astype(np.float64) - wb.astype(np.float64)))) > TOLERANCE * scale:
                return f"{name}: values differ by more than {TOLERANCE} (relative)"
        elif not np.array_equal(wa, wb):
            return f"{name}: values differ"
    # Everything but the weights' values must be identical.
    del a.graph.initializer[:]
    del b.graph.initializer[:]
    if a.SerializeToString() != b.SerializeToString():
        return "graphs differ outside their weights (nodes, inputs, outputs or metadata)"
    return None


def main() -> int:
    difference = first_difference(sys.argv[1], sys.argv[2])
    if difference is not None:
        print(f"{sys.argv[1]} and {sys.argv[2]}: {difference}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
