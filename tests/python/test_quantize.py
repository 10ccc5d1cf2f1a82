"""pysjd2.quantize: block quantization, MatMulNBits packing, and the graph rewrite.

    /usr/bin/python3 -m unittest tests/python/test_quantize.py -v

The packed layout is decoded here independently of the packer (low bits first, [N, k_blocks, blob]),
so a packing mistake fails; the rewrite must keep the function of the graph (its MatMulNBits weights,
dequantized by the formula of the operator, equal the rounded PyTorch weights).
"""
from __future__ import annotations

import os
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from pysjd2 import quantize as qz  # noqa: E402


def unpack(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Codes from bytes, low bits first."""
    per = 8 // bits
    mask = (1 << bits) - 1
    out = np.zeros(packed.shape[:-1] + (packed.shape[-1] * per,), np.int64)
    for j in range(per):
        out[..., j::per] = (packed.astype(np.int64) >> (bits * j)) & mask
    return out[..., :count]


def dequantize(b: np.ndarray, scales: np.ndarray, zps: np.ndarray, bits: int, block: int, k: int) -> np.ndarray:
    """The operator's formula, (code - zero_point) * scale, from the packed inputs; [N, K]."""
    n, nb, _ = b.shape
    codes = unpack(b, bits, block)                              # [N, nb, block]
    zp = unpack(zps, bits, nb)                                  # [N, nb]
    w = (codes - zp[:, :, None]).astype(np.float32) * scales.reshape(n, nb)[:, :, None]
    return w.reshape(n, nb * block)[:, :k]


class BlockQuantization(unittest.TestCase):
    def test_round_trip_error_within_half_a_step(self):
        rng = np.random.default_rng(0)
        w = rng.standard_normal((24, 100)).astype(np.float32)   # K = 100: a partial last block
        for bits in (4, 8):
            for block in (16, 32, 64):
                codes, scales, zps, values = qz.quantize_rows(w, bits, block)
                nb = -(-100 // block)
                self.assertEqual(codes.shape, (24, nb, block))
                self.assertLessEqual(int(codes.max()), 2 ** bits - 1)
                step = np.repeat(scales, block, axis=1)[:, :100]
                self.assertTrue(np.all(np.abs(values - w) <= step / 2 + 1e-6), (bits, block))

    def test_zero_is_exact_and_zero_blocks_stay_zero(self):
        w = np.zeros((3, 64), np.float32)
        w[0, :32] = np.linspace(-1, 2, 32)
        values = qz.quantize_rows(w, 4, 32)[3]
        self.assertTrue(np.all(values[1:] == 0))
        self.assertTrue(np.all(values[0, 32:] == 0))

    def test_packed_layout_decodes_to_the_values(self):
        rng = np.random.default_rng(1)
        w = rng.standard_normal((5, 96)).astype(np.float32)
        for bits in (4, 8):
            codes, scales, zps, values = qz.quantize_rows(w, bits, 32)
            b = qz.pack(codes, bits)
            self.assertEqual(b.shape, (5, 3, 32 * bits // 8))
            z = qz.pack(zps, bits)
            self.assertEqual(z.shape, (5, -(-3 * bits // 8)))
            np.testing.assert_array_equal(dequantize(b, scales, z, bits, 32, 96), values)

    def test_four_bit_low_nibble_first(self):
        self.assertEqual(qz.pack(np.array([[1, 2, 3]], np.uint8), 4).tolist(), [[0x21, 0x03]])


class GraphRewrite(unittest.TestCase):
    def test_linear_layers_become_matmulnbits_with_the_rounded_weights(self):
        import onnx
        from onnx import numpy_helper

        class Tiny(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.ModuleDict({"up": nn.Linear(64, 48, bias=False)})])
                self.lm_head = nn.Linear(48, 7, bias=False)
                self.other = nn.Linear(7, 7, bias=False)      # not a decoder layer or the head

            def forward(self, x):
                return self.other(self.lm_head(self.layers[0]["up"](x)))

        torch.manual_seed(0)
        model = Tiny().eval()
        before = model.layers[0]["up"].weight.detach().clone()
        book = qz.quantize_linears_(model, 4, 32)
        self.assertFalse(torch.equal(before, model.layers[0]["up"].weight), "weights were not rounded")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "g.onnx")
            torch.onnx.export(model, (torch.randn(1, 3, 64),), path, input_names=["x"], output_names=["y"], opset_version=17)
            self.assertEqual(qz.to_matmul_nbits(path, book)["matmul_nbits"], 2)
            m = onnx.load(path)
            onnx.checker.check_model(m)
            inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
            nbits = [n for n in m.graph.node if n.op_type == "MatMulNBits"]
            self.assertEqual(sorted(n.op_type for n in m.graph.node if n.op_type.startswith("MatMul")),
                             ["MatMul", "MatMulNBits", "MatMulNBits"])
            expected = {48: model.layers[0]["up"].weight.detach().numpy(), 7: model.lm_head.weight.detach().numpy()}
            for n in nbits:
                attrs = {a.name: a.i for a in n.attribute}
                w = dequantize(inits[n.input[1]], inits[n.input[2]], inits[n.input[3]], 4, attrs["block_size"], attrs["K"])
                np.testing.assert_array_equal(w, expected[attrs["N"]])


if __name__ == "__main__":
    unittest.main()
