"""A small numpy interpreter for the exported transformer graphs that computes float16 nodes in
float16, as a GPU does.

ONNX Runtime's CPU provider runs float16 nodes in float32 (it inserts casts around them and then
removes the pairs it finds redundant), so a float16 graph that overflows on CUDA can look fine on
the CPU. Here every elementwise operator on float16 tensors rounds its result to float16 (values
past 65504 become inf, as on the device); matrix products and reductions accumulate in float32 and
round their result, as cuBLAS and ONNX Runtime's CUDA reductions do. With ``strict=False`` every
float16 tensor is read as float32 instead: the same graph and weights, computed in float32.

Only the operators the family exporters emit are implemented; anything else raises.
"""
import math
from typing import Dict, List

import numpy as np
import onnx
from onnx import numpy_helper

_DTYPES = {1: np.float32, 10: np.float16, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class Fp16Interpreter:
    def __init__(self, path: str, strict: bool = True):
        self.model = onnx.load(path)
        self.strict = strict
        self.values: Dict[str, np.ndarray] = {}
        for t in self.model.graph.initializer:
            self.values[t.name] = self._float(numpy_helper.to_array(t))

    def _float(self, a: np.ndarray) -> np.ndarray:
        if not self.strict and a.dtype == np.float16:
            return a.astype(np.float32)
        return a

    def _dtype(self, onnx_type: int):
        dt = _DTYPES[onnx_type]
        return np.float32 if (dt is np.float16 and not self.strict) else dt

    def run(self, feeds: Dict[str, np.ndarray], outputs: List[str]) -> Dict[str, np.ndarray]:
        env = dict(self.values)
        for name, value in feeds.items():
            env[name] = self._float(value)
        for node in self.model.graph.node:
            ins = [env[i] if i else None for i in node.input]
            outs = self._op(node, ins)
            for name, value in zip(node.output, outs):
                env[name] = value
        return {name: env[name] for name in outputs}

    def _op(self, node, x):  # noqa: C901 (one branch per operator)
        op = node.op_type
        a = x[0] if x else None
        if op == "Constant":
            t = _attr(node, "value")
            if t is not None:
                return [self._float(numpy_helper.to_array(t))]
            if _attr(node, "value_float") is not None:
                return [np.array(_attr(node, "value_float"), np.float32)]
            if _attr(node, "value_int") is not None:
                return [np.array(_attr(node, "value_int"), np.int64)]
            return [np.array(_attr(node, "value_ints"), np.int64)]
        if op in ("Add", "Sub", "Mul", "Div", "Pow"):
            b = x[1]
            if op == "Pow":
                r = np.power(a, b.astype(a.dtype))
            else:
                r = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)
                if np.issubdtype(a.dtype, np.integer) and op == "Div":
                    r = (a // b).astype(a.dtype)
            return [r.astype(a.dtype)]
        if op == "MatMul":
            if np.issubdtype(a.dtype, np.floating):
                return [np.matmul(a.astype(np.float32), x[1].astype(np.float32)).astype(a.dtype)]
            return [np.matmul(a, x[1])]
        if op in ("ReduceMean", "ReduceSum", "ReduceMax"):
            axes = _attr(node, "axes")
            if axes is None and len(x) > 1 and x[1] is not None:
                axes = x[1].tolist()
            axes = tuple(axes) if axes is not None else None
            keep = bool(_attr(node, "keepdims", 1))
            acc = a.astype(np.float32) if a.dtype == np.float16 else a
            f = {"ReduceMean": np.mean, "ReduceSum": np.sum, "ReduceMax": np.max}[op]
            return [f(acc, axis=axes, keepdims=keep).astype(a.dtype)]
        if op == "Softmax":
            axis = _attr(node, "axis", -1)
            e = np.exp(a - a.max(axis=axis, keepdims=True))
            s = e.astype(np.float32).sum(axis=axis, keepdims=True)
            return [(e.astype(np.float32) / s).astype(a.dtype)]
        unary = {"Sqrt": np.sqrt, "Neg": np.negative, "Cos": np.cos, "Sin": np.sin, "Exp": np.exp, "Tanh": np.tanh,
                 "Reciprocal": np.reciprocal, "Not": np.logical_not, "Identity": lambda v: v}
        if op in unary:
            return [unary[op](a).astype(a.dtype)]
        if op == "Sigmoid":
            return [(1 / (1 + np.exp(-a))).astype(a.dtype)]
        if op == "Erf":
            return [np.vectorize(math.erf)(a.astype(np.float64)).astype(a.dtype)]
        if op == "Cast":
            return [a.astype(self._dtype(_attr(node, "to")))]
        if op == "Clip":
            lo = x[1] if len(x) > 1 and x[1] is not None else None
            hi = x[2] if len(x) > 2 and x[2] is not None else None
            r = a
            if lo is not None:
                r = np.maximum(r, lo.astype(a.dtype))
            if hi is not None:
                r = np.minimum(r, hi.astype(a.dtype))
            return [r.astype(a.dtype)]
        compare = {"Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
                   "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or}
        if op in compare:
            return [compare[op](a, x[1])]
        if op == "Where":
            return [np.where(a, x[1], x[2]).astype(np.result_type(x[1], x[2]))]
        if op == "Shape":
            return [np.array(a.shape, np.int64)]
        if op == "Gather":
            return [np.take(a, x[1], axis=_attr(node, "axis", 0))]
        if op == "GatherElements":
            return [np.take_along_axis(a, x[1], axis=_attr(node, "axis", 0))]
        if op == "Unsqueeze":
            axes = _attr(node, "axes")
            axes = list(x[1]) if axes is None else list(axes)
            r = a
            for ax in sorted(int(v) % (r.ndim + len(axes)) for v in axes):
                r = np.expand_dims(r, ax)
            return [r]
        if op == "Squeeze":
            axes = _attr(node, "axes")
            axes = (list(x[1]) if len(x) > 1 and x[1] is not None else None) if axes is None else list(axes)
            return [np.squeeze(a, axis=tuple(int(v) for v in axes) if axes is not None else None)]
        if op == "Concat":
            return [np.concatenate(x, axis=_attr(node, "axis"))]
        if op == "Reshape":
            shape = [int(d) if d != 0 else a.shape[i] for i, d in enumerate(x[1])]
            return [a.reshape(shape)]
        if op == "Transpose":
            return [np.transpose(a, _attr(node, "perm"))]
        if op == "Slice":
            starts, ends = x[1], x[2]
            axes = x[3] if len(x) > 3 and x[3] is not None else range(len(starts))
            steps = x[4] if len(x) > 4 and x[4] is not None else [1] * len(starts)
            index = [slice(None)] * a.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                index[int(ax)] = slice(int(s), int(max(min(e, 2 ** 62), -(2 ** 62))), int(st))
            return [a[tuple(index)]]
        if op == "ConstantOfShape":
            t = _attr(node, "value")
            v = numpy_helper.to_array(t) if t is not None else np.zeros(1, np.float32)
            v = self._float(v)
            return [np.full(tuple(int(d) for d in a), v.reshape(-1)[0], dtype=v.dtype)]
        if op == "Expand":
            shape = np.broadcast_shapes(a.shape, tuple(int(d) for d in x[1]))
            return [np.broadcast_to(a, shape).copy()]
        if op == "CumSum":
            axis = int(x[1])
            r = a
            if _attr(node, "reverse", 0):
                r = np.flip(r, axis)
            c = np.cumsum(r, axis=axis)
            if _attr(node, "exclusive", 0):
                c = c - r
            if _attr(node, "reverse", 0):
                c = np.flip(c, axis)
            return [c.astype(a.dtype)]
        if op == "Range":
            return [np.arange(a, x[1], x[2]).astype(a.dtype)]
        if op == "Split":
            axis = _attr(node, "axis", 0)
            sizes = _attr(node, "split")
            if sizes is None and len(x) > 1 and x[1] is not None:
                sizes = list(x[1])
            if sizes is None:
                return np.split(a, len(node.output), axis=axis)
            return np.split(a, np.cumsum([int(v) for v in sizes])[:-1], axis=axis)
        if op in ("Max", "Min"):
            f = np.maximum if op == "Max" else np.minimum
            r = x[0]
            for v in x[1:]:
                r = f(r, v)
            return [r.astype(a.dtype)]
        raise NotImplementedError(f"fp16_eval: operator {op} is not implemented")
