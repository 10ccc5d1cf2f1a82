"""float16 transformer graphs (``--fp16``, contract 2) computed as a GPU computes them.

ONNX Runtime's CPU provider runs float16 nodes in float32, so no engine test on the CPU sees a
float16 overflow. These tests evaluate the committed float16 export with ``fp16_eval`` (every
float16 operator rounds to float16; products and reductions accumulate in float32) and compare it
with the same graph and weights computed in float32.
"""
import os
import sys
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from pysjd2.fp16_eval import Fp16Interpreter  # noqa: E402

FP16_MODELS = [os.path.join(ROOT, "tests", "models", "families", f) for f in ("janus-pro-fp16", "lumina-mgpt-fp16", "emu3-fp16")]
# The float16 export's logits against float32 with the same (float16-rounded) weights: 1.2e-2 at
# unit-scale activations; 5e-2 is the tolerance the family references use for float16 compute.
TOLERANCE = 5e-2


def feeds_for(graph, scale, batch=2, window=5, past=3, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for vi in graph.input:
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if vi.name == "inputs_embeds":
            feeds[vi.name] = (rng.standard_normal((batch, window, dims[2])) * scale).astype(np.float32)
        elif vi.name == "attention_mask":
            mask = np.ones((batch, past + window), np.int64)
            mask[1, :2] = 0                                   # a left-padded row
            feeds[vi.name] = mask
        elif vi.name == "position_ids":
            pos = np.arange(past, past + window)
            feeds[vi.name] = np.stack([pos, np.maximum(0, pos - 2)]).astype(np.int64)
        elif vi.name.startswith("past_key_values."):
            feeds[vi.name] = rng.standard_normal((batch, dims[1], past, dims[3])).astype(np.float16)
        elif vi.name == "window_mask":
            feeds[vi.name] = np.tril(np.ones((window, window), np.int64))
        elif vi.name == "noise_levels":
            feeds[vi.name] = np.zeros((batch, window), np.float32)
    return feeds


class Float16Transformer(unittest.TestCase):
    paths = [os.path.join(folder, "transformer.onnx") for folder in FP16_MODELS]

    def logits(self, path, scale):
        graph = onnx.load(path, load_external_data=False).graph
        feeds = feeds_for(graph, scale)
        self.assertGreater(np.abs(feeds["inputs_embeds"]).max(), 0.9 * scale)
        with np.errstate(over="ignore", invalid="ignore"):
            device = Fp16Interpreter(path, strict=True).run(feeds, ["logits"])["logits"]
        reference = Fp16Interpreter(path, strict=False).run(feeds, ["logits"])["logits"]
        return device, reference

    def test_activations_past_300_stay_finite_and_close_to_float32(self):
        for path in self.paths:
            for scale in (1.0, 400.0):                        # x*x overflows float16 past |x| = 256
                device, reference = self.logits(path, scale)
                where = f"{os.path.basename(os.path.dirname(path))}, scale {scale}"
                self.assertTrue(np.isfinite(device).all(), f"{where}: inf or NaN in float16 logits")
                diff = float(np.abs(device - reference).max())
                self.assertLess(diff, TOLERANCE, f"{where}: float16 logits {diff:.3g} from float32")

    def test_variance_is_computed_in_float32(self):
        for path in self.paths:
            self.assert_variance_in_float32(path)

    def assert_variance_in_float32(self, path):
        model = onnx.shape_inference.infer_shapes(onnx.load(path, load_external_data=False))
        types = {vi.name: vi.type.tensor_type.elem_type for vi in list(model.graph.value_info) + list(model.graph.input)}
        producer = {o: n for n in model.graph.node for o in n.output}

        def square(name):
            n = producer.get(name)
            return n is not None and (n.op_type == "Pow" or (n.op_type == "Mul" and n.input[0] == n.input[1]))

        # the variance: a mean of squares (a LayerNorm's mean of the values themselves is harmless)
        norms = [n for n in model.graph.node if n.op_type == "ReduceMean" and square(n.input[0])]
        self.assertTrue(norms)
        for node in norms:
            self.assertEqual(types.get(node.input[0]), TensorProto.FLOAT, f"{node.name} reads float16")

    def test_attention_bias_leaves_room_below_it(self):
        for path in self.paths:
            self.assert_bias_clipped(path)

    def assert_bias_clipped(self, path):
        # A bias of -65504 plus a float16 score below -16 rounds to -inf, and a fully masked row of
        # -inf is NaN after the softmax: the bias is clipped to half the float16 range.
        graph = onnx.load(path, load_external_data=False).graph
        producer = {o: n for n in graph.node for o in n.output}

        def constant(name):
            return float(numpy_helper.to_array(producer[name].attribute[0].t))

        softmaxes = [n for n in graph.node if n.op_type == "Softmax"]
        self.assertTrue(softmaxes)
        for softmax in softmaxes:
            add = producer[softmax.input[0]]
            self.assertEqual(add.op_type, "Add")
            clips = [producer[producer[i].input[0]] for i in add.input
                     if i in producer and producer[i].op_type == "Cast" and producer[i].input[0] in producer]
            clips = [c for c in clips if c.op_type == "Clip"]
            self.assertEqual(len(clips), 1, f"{softmax.name}: no clipped bias")
            self.assertGreaterEqual(constant(clips[0].input[1]), -32768.0)


class Interpreter(unittest.TestCase):
    def test_float16_products_overflow_as_on_a_device(self):
        graph = helper.make_graph(
            [helper.make_node("Mul", ["x", "x"], ["sq"]), helper.make_node("ReduceMean", ["sq"], ["y"], axes=[-1])],
            "square", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 2])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 1])])
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"sjd2-square-{os.getpid()}.onnx")
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
        try:
            x = np.array([[300.0, 1.0]], np.float16)
            with np.errstate(over="ignore"):
                self.assertTrue(np.isinf(Fp16Interpreter(path, strict=True).run({"x": x}, ["y"])["y"]).all())
            self.assertAlmostEqual(float(Fp16Interpreter(path, strict=False).run({"x": x}, ["y"])["y"][0, 0]), 45000.5, places=1)
        finally:
            os.remove(path)


if __name__ == "__main__":
    unittest.main()
