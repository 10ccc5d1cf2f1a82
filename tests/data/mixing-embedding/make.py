"""Writes mixing_embedding.onnx: an image-embedding graph whose rows depend on their neighbours
(a table lookup followed by a running sum along the sequence), which the engine must not
tabulate. Run with Debian's python3 (onnx 1.12): python3 tests/data/mixing-embedding/make.py"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

table = numpy_helper.from_array(np.arange(32, dtype=np.float32).reshape(8, 4) / 8.0, "table")
axis = numpy_helper.from_array(np.array(1, dtype=np.int64), "axis")
graph = helper.make_graph(
    [helper.make_node("Gather", ["table", "image_codes"], ["rows"], axis=0),
     helper.make_node("CumSum", ["rows", "axis"], ["inputs_embeds"])],
    "mixing_embedding",
    [helper.make_tensor_value_info("image_codes", TensorProto.INT64, ["batch", "sequence"])],
    [helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "sequence", 4])],
    [table, axis])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="sjd2onnx-tests")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(os.path.dirname(os.path.abspath(__file__)), "mixing_embedding.onnx"))
