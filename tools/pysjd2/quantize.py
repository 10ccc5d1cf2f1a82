"""8- and 4-bit weights: the transformer's linear layers as ONNX Runtime's ``com.microsoft``
``MatMulNBits`` (docs/quantization.md).

Correct by construction, in two steps:

1. ``quantize_linears_`` rounds the PyTorch model's linear weights (attention, MLP, the image head) in
   place to their block-quantized values: each output row of a weight ``W`` [N, K] is cut into blocks
   of ``block_size`` along K; a block with minimum ``lo`` and maximum ``hi`` (both widened to include
   0) gets ``scale = (hi - lo) / (2^bits - 1)``, ``zero_point = round(-lo / scale)``, codes
   ``q = clip(round(w / scale) + zero_point, 0, 2^bits - 1)`` and the value ``(q - zero_point) * scale``.
   The self-tests and ``parity.json`` are then computed by the PyTorch model with exactly the weights
   the graph holds. It returns a ``Codebook`` that maps each rounded row back to its codes.
2. ``to_matmul_nbits`` rewrites an exported graph: every ``MatMul`` whose right operand is a float
   initializer [K, N] whose N columns are all rows the codebook knows becomes ``MatMulNBits`` with
   those codes; other MatMuls (attention scores, the SJD2 noise embedding) stay float.

Accuracy level 4 (the default) lets ONNX Runtime round each input row of these nodes to int8 per
block of ``block_size`` (scale = max |x| / 127) and multiply in integers where the CPU has such
kernels. That rounding is a choice of the kernel, not of the export, and it flips with the last bit
of an input, so parity.json is the float reference (the rounded weights, float inputs) and
`sjd2 parity` replays it through the transformer at level 0. ``emulate_int8_inputs_`` reproduces
the int8 rounding in PyTorch for quality measurements (tools/quant_kl.py).

``MatMulNBits`` layout (ONNX Runtime contrib operator): ``B`` uint8 [N, k_blocks, block_size·bits/8],
codes packed along K, low bits first (4-bit: element 2j in the low nibble of byte j); ``scales``
float [N, k_blocks]; ``zero_points`` uint8 [N, ceil(k_blocks·bits/8)], packed the same way. A last
block shorter than ``block_size`` is padded with zeros (code ``zero_point``).
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

# weight format -> bits; float32 means no quantization
FORMATS: Dict[str, Optional[int]] = {"float32": None, "int8": 8, "int4": 4}
# block size: ONNX Runtime's common choice, not compared here; accuracy level 4: `sjd2 bench --passes`
# on random-weight LlamaGen GPT-B (docs/quantization.md)
DEFAULT_BLOCK_SIZE = 32
DEFAULT_ACCURACY_LEVEL = 4


def quantize_rows(w: np.ndarray, bits: int, block_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Block quantization of ``w`` [N, K] along K. Returns (codes uint8 [N, k_blocks, block_size],
    scales float32 [N, k_blocks], zero points uint8 [N, k_blocks], values float32 [N, K])."""
    w = np.ascontiguousarray(w, dtype=np.float32)
    n, k = w.shape
    nb = -(-k // block_size)
    levels = np.float32(2 ** bits - 1)
    padded = np.zeros((n, nb * block_size), np.float32)
    padded[:, :k] = w
    blocks = padded.reshape(n, nb, block_size)
    lo = np.minimum(blocks.min(axis=2), np.float32(0))
    hi = np.maximum(blocks.max(axis=2), np.float32(0))
    scale = ((hi - lo) / levels).astype(np.float32)
    scale[scale == 0] = np.float32(1)         # an all-zero block: any scale, code = zero point
    zp = np.clip(np.rint(-lo / scale), 0, levels).astype(np.float32)
    q = np.clip(np.rint(blocks / scale[:, :, None]) + zp[:, :, None], 0, levels).astype(np.float32)
    values = ((q - zp[:, :, None]) * scale[:, :, None]).astype(np.float32).reshape(n, -1)[:, :k]
    return q.astype(np.uint8), scale, zp.astype(np.uint8), np.ascontiguousarray(values)


def pack(codes: np.ndarray, bits: int) -> np.ndarray:
    """Packs uint8 codes along the last axis, low bits first (8 // bits codes a byte)."""
    if bits == 8:
        return codes.astype(np.uint8)
    per = 8 // bits
    c = codes.astype(np.uint8)
    pad = (-c.shape[-1]) % per
    if pad:
        c = np.concatenate([c, np.zeros(c.shape[:-1] + (pad,), np.uint8)], axis=-1)
    c = c.reshape(c.shape[:-1] + (-1, per))
    out = np.zeros(c.shape[:-1], np.uint8)
    for j in range(per):
        out |= (c[..., j] << (bits * j)).astype(np.uint8)
    return out


class Codebook:
    """Rounded weight rows (bytes of a float32 row of length K) -> their codes, scales and zero points."""

    def __init__(self, bits: int, block_size: int) -> None:
        self.bits = bits
        self.block_size = block_size
        self.rows: Dict[bytes, Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.weights = 0

    def add(self, values: np.ndarray, codes: np.ndarray, scales: np.ndarray, zps: np.ndarray) -> None:
        for i in range(values.shape[0]):
            self.rows[values[i].tobytes()] = (codes[i], scales[i], zps[i])

    def lookup(self, matrix_kn: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(codes [N, k_blocks, block], scales [N, k_blocks], zero points [N, k_blocks]) for a graph
        weight [K, N] whose columns are all known rows; None when none is; an error when only some are."""
        cols = np.ascontiguousarray(matrix_kn.T, dtype=np.float32)
        found = [self.rows.get(cols[j].tobytes()) for j in range(cols.shape[0])]
        hits = sum(f is not None for f in found)
        if hits == 0:
            return None
        if hits != len(found):
            raise ValueError(f"a weight [{matrix_kn.shape[0]}, {matrix_kn.shape[1]}] mixes quantized and float columns "
                             f"({hits} of {len(found)} known)")
        return (np.stack([f[0] for f in found]), np.stack([f[1] for f in found]), np.stack([f[2] for f in found]))


def _linears(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The linear layers that are quantized: every nn.Linear of the decoder layers and the image head
    (``lm_head`` or ``head``, an nn.Linear, a module of them, or a row-selection head with a 2-D weight)."""
    out = [(f"layers.{n}", m) for n, m in model.layers.named_modules() if isinstance(m, nn.Linear)]
    head = getattr(model, "lm_head", None) or getattr(model, "head", None)
    if head is None:
        raise ValueError("the model has no lm_head / head to quantize")
    if isinstance(head, nn.Linear) or (not list(head.children()) and getattr(head, "weight", None) is not None
                                       and head.weight.dim() == 2):
        out.append(("head", head))
    else:
        out += [(f"head.{n}", m) for n, m in head.named_modules() if isinstance(m, nn.Linear)]
    return out


@torch.no_grad()
def quantize_linears_(model: nn.Module, bits: int, block_size: int, q_scale: Optional[float] = None) -> Codebook:
    """Rounds the linear weights of ``model`` in place (module docstring) and returns their codebook.
    ``q_scale``: the attention scale a graph folds into the query projection (pysjd2.onnx_graph); its
    scaled rows are registered too, with scaled block scales."""
    book = Codebook(bits, block_size)
    for name, m in _linears(model):
        w = m.weight.detach().cpu().to(torch.float32).numpy()
        codes, scales, zps, values = quantize_rows(w, bits, block_size)
        m.weight.copy_(torch.from_numpy(values).to(m.weight.dtype))
        book.add(values, codes, scales, zps)
        book.weights += values.size
        if q_scale is not None and name.endswith("q_proj"):
            s = np.float32(q_scale)
            book.add(values * s, codes, (scales * s).astype(np.float32), zps)
    return book


def _int8_blocks(x: torch.Tensor, block_size: int) -> torch.Tensor:
    """``x`` [..., K] as accuracy level 4 feeds it to the kernel: each block of ``block_size`` along K
    rounded to 255 levels symmetric about 0 (scale = max |x| / 127), back in float."""
    k = x.shape[-1]
    pad = (-k) % block_size
    xp = torch.nn.functional.pad(x, (0, pad)) if pad else x
    b = xp.reshape(*xp.shape[:-1], -1, block_size)
    amax = b.abs().amax(-1, keepdim=True)
    scale = amax / 127.0
    inv = torch.where(amax > 0, 127.0 / amax, torch.zeros_like(amax))
    q = torch.round(b * inv).clamp(-127, 127)
    return (q * scale).reshape(xp.shape)[..., :k]


def emulate_int8_inputs_(model: nn.Module, block_size: int) -> None:
    """Makes every quantized linear layer of ``model`` round its input as accuracy level 4 does, so
    that the PyTorch reference computes what the graph computes (up to ties and summation order)."""
    for _name, m in _linears(model):
        m.register_forward_pre_hook(lambda _m, args: (_int8_blocks(args[0], block_size),) + tuple(args[1:]))


def to_matmul_nbits(path: str, book: Codebook, accuracy_level: int = DEFAULT_ACCURACY_LEVEL) -> dict:
    """Rewrites the graph at ``path`` in place (module docstring). Returns a summary."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(path)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    nodes, replaced, dropped = [], 0, set()
    for node in g.node:
        if node.op_type != "MatMul":
            nodes.append(node)
            continue
        b_name = node.input[1]
        weight = None
        if b_name in inits and inits[b_name].data_type == TensorProto.FLOAT and len(inits[b_name].dims) == 2:
            weight = numpy_helper.to_array(inits[b_name])
        elif b_name in producers and producers[b_name].op_type == "Transpose":
            t = producers[b_name]
            perm = [a.ints for a in t.attribute if a.name == "perm"]
            src = t.input[0]
            if src in inits and len(inits[src].dims) == 2 and (not perm or list(perm[0]) == [1, 0]):
                weight = numpy_helper.to_array(inits[src]).T
        found = book.lookup(weight) if weight is not None else None
        if found is None:
            nodes.append(node)
            continue
        codes, scales, zps = found
        k, n = weight.shape
        prefix = node.name or node.output[0]
        names = [f"{prefix}_q{book.bits}", f"{prefix}_scales", f"{prefix}_zero_points"]
        g.initializer.extend([numpy_helper.from_array(pack(codes, book.bits), names[0]),
                              numpy_helper.from_array(scales.astype(np.float32), names[1]),
                              numpy_helper.from_array(pack(zps, book.bits), names[2])])
        nodes.append(helper.make_node("MatMulNBits", [node.input[0]] + names, list(node.output), name=prefix + "_nbits",
                                      domain="com.microsoft", K=k, N=n, bits=book.bits, block_size=book.block_size,
                                      accuracy_level=accuracy_level))
        dropped.add(b_name)
        replaced += 1
    del g.node[:]
    g.node.extend(nodes)
    # weights and transposes no longer read by any node
    while True:
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        dead = [n for n in g.node if n.op_type == "Transpose" and not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(m, path)
    return {"matmul_nbits": replaced}


def manifest_entry(fmt: str, block_size: int, accuracy_level: int) -> dict:
    """The ``weights`` section of model.json for a quantized export (float32 exports have none)."""
    return {"format": fmt, "bits": FORMATS[fmt], "block_size": block_size, "accuracy_level": accuracy_level,
            "operator": "com.microsoft.MatMulNBits",
            "layers": "transformer linear layers (attention, MLP, image head); embeddings and VQ decoder float32"}


def check_format(fmt: str) -> Optional[int]:
    if fmt not in FORMATS:
        raise ValueError(f"--weights {fmt}: one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


def add_arguments(p) -> None:
    """``--weights``, ``--block-size``, ``--accuracy-level`` for an exporter's argument parser."""
    p.add_argument("--weights", choices=list(FORMATS), default="float32",
                   help="transformer linear-layer weights: float32 (default), int8 or int4 (MatMulNBits)")
    p.add_argument("--block-size", type=int, default=DEFAULT_BLOCK_SIZE,
                   help=f"quantization block along the input dimension, a power of two >= 16 (default {DEFAULT_BLOCK_SIZE})")
    p.add_argument("--accuracy-level", type=int, choices=(0, 1, 4), default=DEFAULT_ACCURACY_LEVEL,
                   help="MatMulNBits accuracy_level: 0/1 float32 compute, 4 int8 compute where the CPU has it "
                        f"(default {DEFAULT_ACCURACY_LEVEL})")


def check_block_size(block_size: int) -> None:
    if block_size < 16 or block_size & (block_size - 1):
        raise ValueError(f"--block-size {block_size}: a power of two, at least 16")


def graph_bytes(folder: str, files: Iterable[str]) -> Dict[str, int]:
    out = {}
    for f in files:
        p = os.path.join(folder, f)
        out[f] = os.path.getsize(p) + (os.path.getsize(p + ".data") if os.path.exists(p + ".data") else 0)
    return out
