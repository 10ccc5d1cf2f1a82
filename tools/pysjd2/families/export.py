"""Writes a family model folder: the four graphs (pysjd2.onnx_export's wrappers and export),
model.json, tokenizer files, parity.json, family.json, and optionally float16 weights / external
data files.

Large models: ``torch.onnx.export`` writes graphs above 2 GB with one external file per tensor;
``finalize_onnx`` then rewrites every graph tensor by tensor (never holding the whole model in a
protobuf): weights stay inline for small graphs, or move into one ``<graph>.onnx.data`` file next to
the graph (``external_data``, forced above ~1.5 GB), and with ``fp16`` float weights are stored as
float16 with a ``Cast`` to float32 in front of their consumers (the graph still computes in float32
and keeps the contract's float32 inputs and outputs; ONNX Runtime widens the weights once when it
loads the session). ONNX Runtime reads external data itself, relative to the graph file; the engine
passes file paths to ``InferenceSession`` and never loads weights into managed memory.
"""
from __future__ import annotations

import json
import os
import pathlib
from typing import Callable, Dict, List, Optional, Union

import numpy as np
import torch
import torch.nn as nn

from .. import onnx_export as ox

EXTERNAL_THRESHOLD = 1.5 * 2 ** 30      # bytes of weights above which a graph's data goes external


def _tensor_bytes(t, base_dir: str) -> bytes:
    from onnx import TensorProto, numpy_helper
    if t.data_location == TensorProto.EXTERNAL:
        info = {e.key: e.value for e in t.external_data}
        path = os.path.join(base_dir, info["location"])
        offset = int(info.get("offset", 0))
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(int(info["length"])) if "length" in info else f.read()
    if t.raw_data:
        return t.raw_data
    return numpy_helper.to_array(t).tobytes()


def finalize_onnx(path: str, fp16: bool = False, external: Optional[bool] = None, min_fp16_elements: int = 16) -> dict:
    """Rewrites the graph at ``path``: optional float16 weight storage, one external data file.
    ``external`` None = only when the weights exceed EXTERNAL_THRESHOLD. Returns a summary."""
    import onnx
    from onnx import TensorProto, helper

    base = os.path.dirname(os.path.abspath(path))
    m = onnx.load(path, load_external_data=False)
    old_files = {e.value for t in m.graph.initializer if t.data_location == TensorProto.EXTERNAL
                 for e in t.external_data if e.key == "location"}
    elem_size = {TensorProto.FLOAT: 4, TensorProto.FLOAT16: 2, TensorProto.INT64: 8, TensorProto.INT32: 4,
                 TensorProto.DOUBLE: 8, TensorProto.BOOL: 1, TensorProto.INT8: 1, TensorProto.UINT8: 1}
    total = sum(int(np.prod(t.dims)) * elem_size.get(t.data_type, 4) for t in m.graph.initializer)
    if fp16:
        total = sum(int(np.prod(t.dims)) * (2 if t.data_type == TensorProto.FLOAT else elem_size.get(t.data_type, 4))
                    for t in m.graph.initializer)
    use_external = external if external is not None else total > EXTERNAL_THRESHOLD
    data_name = os.path.basename(path) + ".data"
    data_path = os.path.join(base, data_name)
    tmp_path = data_path + ".tmp"
    out = open(tmp_path, "wb") if use_external else None
    casts = []
    n_fp16 = 0
    try:
        for t in m.graph.initializer:
            raw = _tensor_bytes(t, base)
            n = int(np.prod(t.dims)) if len(t.dims) else 1
            if fp16 and t.data_type == TensorProto.FLOAT and n >= min_fp16_elements:
                raw = np.frombuffer(raw, dtype="<f4").astype("<f2").tobytes()
                t.data_type = TensorProto.FLOAT16
                original = t.name
                t.name = original + "__fp16"
                casts.append(helper.make_node("Cast", [t.name], [original], to=TensorProto.FLOAT,
                                              name=original + "__cast"))
                n_fp16 += 1
            del t.external_data[:]
            t.ClearField("float_data")
            t.ClearField("int64_data")
            t.ClearField("int32_data")
            t.ClearField("double_data")
            if out is not None and len(raw) >= 1024:
                offset = out.tell()
                out.write(raw)
                pad = (-out.tell()) % 64
                out.write(b"\0" * pad)
                t.ClearField("raw_data")
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(raw)))):
                    e = t.external_data.add()
                    e.key, e.value = k, v
            else:
                t.data_location = TensorProto.DEFAULT
                t.raw_data = raw
    finally:
        if out is not None:
            out.close()
    if casts:
        nodes = list(m.graph.node)
        del m.graph.node[:]
        m.graph.node.extend(casts + nodes)
    for f in old_files:
        p = os.path.join(base, f)
        if os.path.exists(p) and f != data_name:
            os.remove(p)
    if use_external:
        os.replace(tmp_path, data_path)
    elif os.path.exists(data_path):
        os.remove(data_path)
    onnx.save(m, path)
    onnx.checker.check_model(path)
    return {"external": use_external, "fp16_tensors": n_fp16, "weight_bytes": total}


@torch.no_grad()
def round_to_fp16_(module: nn.Module, min_elements: int = 16) -> None:
    """Rounds float parameters with at least ``min_elements`` entries to float16 precision in place
    (what finalize_onnx(fp16=True) stores)."""
    for p in module.parameters():
        if p.dtype == torch.float32 and p.numel() >= min_elements:
            p.copy_(p.half().float())


def export_family_folder(out_dir: str, model: nn.Module, vq: nn.Module, manifest: dict,
                         tokenizer_files: Dict[str, Union[str, bytes, pathlib.Path]], family_info: dict,
                         parity_seed: int = 0, tolerance: float = 1e-4, self_test: Optional[bool] = None,
                         max_parity_floats: int = 60000, fp16: bool = False, external_data: Optional[bool] = None,
                         extra_cases: Optional[Callable[[nn.Module], List[dict]]] = None, contract: int = 2,
                         window_mask: bool = True, weights: str = "float32", block_size: Optional[int] = None,
                         accuracy_level: Optional[int] = None) -> dict:
    """Writes a complete model folder for a family model and returns the manifest written.
    ``contract`` 2 (default): the transformer returns only the window's new KV rows, so the engine
    keeps the cache on the execution provider's device; 1: it returns the whole present (past + window).
    ``window_mask`` (default): the transformer takes the tree-attention input (PAC's draft trees);
    without it the engine decodes PAC as chains. ``weights`` int8 / int4: the transformer's linear
    layers as MatMulNBits (pysjd2.quantize), the model's weights rounded to the stored values first so
    that the self-tests and parity.json use them (the caller's model is rounded in place)."""
    from .. import quantize as qz
    if contract not in (1, 2):
        raise ValueError(f"contract {contract}: 1 or 2")
    bits = qz.check_format(weights)
    if bits is not None and fp16:
        raise ValueError("--weights int8/int4 and --fp16 exclude each other")
    model = model.eval()
    vq = vq.eval()
    cfg = model.config
    os.makedirs(out_dir, exist_ok=True)
    m = ox._check_manifest(manifest, cfg, vq)
    book = None
    m.pop("weights", None)          # e.g. a manifest copied from a quantized folder
    if bits is not None:
        block_size = block_size or qz.DEFAULT_BLOCK_SIZE
        accuracy_level = qz.DEFAULT_ACCURACY_LEVEL if accuracy_level is None else accuracy_level
        qz.check_block_size(block_size)
        book = qz.quantize_linears_(model, bits, block_size)
        m["weights"] = qz.manifest_entry(weights, block_size, accuracy_level)
        print(f"  weights: {weights} (block {block_size}, accuracy level {accuracy_level}), {book.weights} rounded")
    grid = (m["image"]["grid_height"], m["image"]["grid_width"])
    n_params = sum(p.numel() for p in model.parameters())
    if self_test is None:
        self_test = n_params < 200_000_000
    print(f"exporting {family_info.get('family', '?')} to {out_dir} ({n_params / 1e6:.1f}M transformer-side parameters)")
    if self_test:
        ox.window_consistency_check(model, seed=parity_seed, tol=1e-5)
        if window_mask:
            ox.tree_consistency_check(model, seed=parity_seed, tol=1e-5)
    else:
        print("  self-test (float64 copy of the model) skipped for a large model")

    ox.write_tokenizer_files(out_dir, tokenizer_files)

    if fp16:
        # export from weights already rounded to float16, so that the reference outputs below use
        # the weights as stored; only constants the exporter folds from several weights (e.g. the
        # l2-normalised VQ-16 codebook) are rounded a second time, hence tolerance 1e-3
        round_to_fp16_(model)
        round_to_fp16_(vq)
    for key, module, args, names_in, names_out, axes in _graph_specs(model, vq, grid, window_mask):
        path = os.path.join(out_dir, ox.GRAPH_FILES[key])
        ox._export(module, args, path, names_in, names_out, axes)
        # finalised right away: torch writes per-tensor files for graphs above 2 GB, whose names
        # could collide between graphs
        fp16_compute = fp16 and key == "transformer" and contract == 2
        if key == "transformer" and contract == 2:
            return_new_rows(path)
        if key == "transformer" and book is not None:
            print(f"  transformer.onnx: {qz.to_matmul_nbits(path, book, accuracy_level)['matmul_nbits']} MatMulNBits")
        if fp16_compute:
            # contract 2 with --fp16: the transformer computes in float16 with a float16 KV cache
            to_fp16_compute(path)
        summary = finalize_onnx(path, fp16=fp16 and not fp16_compute, external=external_data)
        if summary["external"] or summary["fp16_tensors"]:
            print(f"  {os.path.basename(path)}: {summary['fp16_tensors']} float16 tensors, "
                  f"external data: {summary['external']}")
        if not summary["external"]:
            ox._describe(path)

    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as f:
        f.write(ox._dumps(m) + "\n")

    cases = ox.build_parity_cases(model, vq, grid, seed=parity_seed, max_floats=max_parity_floats,
                                  window_mask=window_mask, new_rows=contract == 2)
    if extra_cases is not None:
        extra = [with_causal_window_mask(c) if window_mask else c for c in extra_cases(model)]
        cases += [as_new_rows(c) if contract == 2 else c for c in extra]
    # float16 weights: 1e-3 (storage only); float16 compute (contract 2): 1e-2 (the tiny families
    # measure 2-5e-3 against the float32 reference computed with the same float16-rounded weights)
    tol = (max(tolerance, 1e-2) if contract == 2 else max(tolerance, 1e-3)) if fp16 else tolerance
    with open(os.path.join(out_dir, "parity.json"), "w", encoding="utf-8") as f:
        f.write(ox._dumps({"tolerance": tol, "cases": cases}) + "\n")
    info = dict(family_info)
    info["fp16"] = bool(fp16)
    if bits is not None:
        info["weights"] = weights
    with open(os.path.join(out_dir, "family.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(info, indent=2) + "\n")
    print(f"  parity.json: {len(cases)} cases, {os.path.getsize(os.path.join(out_dir, 'parity.json'))} bytes")
    return m


def return_new_rows(path: str) -> None:
    """Turns a traced contract-1 transformer graph into contract 2 in place: each ``present.{i}.*``
    output is ``Concat(past_key_values.{i}.*, new rows, axis=2)``; the new rows become the output
    ``new_key_values.{i}.*`` [B,H,S,Dh] and the present stays internal (attention still reads it)."""
    import onnx
    from onnx import helper

    m = onnx.load(path, load_external_data=False)
    g = m.graph
    producer = {o: n for n in g.node for o in n.output}
    outputs = []
    for out in g.output:
        if not out.name.startswith("present."):
            outputs.append(out)
            continue
        node = producer.get(out.name)
        past = out.name.replace("present.", "past_key_values.")
        axis = next((a.i for a in node.attribute if a.name == "axis"), None) if node is not None else None
        if node is None or node.op_type != "Concat" or list(node.input[:1]) != [past] or len(node.input) != 2 or axis not in (2, -2):
            raise ValueError(f"{out.name} is not Concat({past}, new rows, axis=2); cannot return new rows only")
        name = out.name.replace("present.", "new_key_values.")
        g.node.append(helper.make_node("Identity", [node.input[1]], [name], name=f"{name}.identity"))
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in out.type.tensor_type.shape.dim]
        dims[2] = "sequence"
        outputs.append(helper.make_tensor_value_info(name, out.type.tensor_type.elem_type, dims))
    del g.output[:]
    g.output.extend(outputs)
    onnx.save(m, path)


def as_new_rows(case: dict) -> dict:
    """A contract-1 transformer parity case (``present.*`` outputs) as its contract-2 form: the
    last S rows of each present (S = the window, inputs_embeds' second dimension)."""
    if case.get("graph") != "transformer":
        return case
    s = case["inputs"]["inputs_embeds"]["shape"][1]
    outputs = {}
    for name, t in case["outputs"].items():
        if not name.startswith("present."):
            outputs[name] = t
            continue
        b, h, total, d = t["shape"]
        rows = t["data"].array.reshape(b, h, total, d)[:, :, total - s:, :]
        outputs[name.replace("present.", "new_key_values.")] = dict(t, shape=[b, h, s, d], data=ox._Data(rows, t["data"].exact))
    return dict(case, outputs=outputs)


def upgrade_folder(model_dir: str) -> bool:
    """Converts a model folder with a contract-1 transformer (``present.*`` outputs) to contract 2
    in place: the graph (``return_new_rows``) and parity.json's transformer cases. Returns False
    when the folder is already contract 2."""
    import onnx

    graph = os.path.join(model_dir, ox.GRAPH_FILES["transformer"])
    outputs = [o.name for o in onnx.load(graph, load_external_data=False).graph.output]
    if not any(n.startswith("present.") for n in outputs):
        return False
    return_new_rows(graph)
    parity = os.path.join(model_dir, "parity.json")
    if os.path.exists(parity):
        with open(parity, encoding="utf-8") as f:
            doc = json.load(f)

        def data(t: dict, exact: bool) -> dict:
            dtype = np.int64 if t["dtype"] == "int64" else np.float32
            return dict(t, data=ox._Data(np.asarray(t["data"], dtype=dtype).reshape(t["shape"]), exact))
        # inputs were written exactly (shortest float32 text), outputs with 7 significant digits
        cases = [as_new_rows(dict(c, inputs={k: data(t, True) for k, t in c["inputs"].items()},
                                  outputs={k: data(t, False) for k, t in c["outputs"].items()}))
                 for c in doc["cases"]]
        with open(parity, "w", encoding="utf-8") as f:
            f.write(ox._dumps(dict(doc, cases=cases)) + "\n")
    return True


def with_causal_window_mask(case: dict) -> dict:
    """A transformer parity case for a graph with the window_mask input: the causal mask of its
    window (the case's logits are those of an ordinary chain)."""
    if case.get("graph") != "transformer" or "window_mask" in case["inputs"]:
        return case
    s = case["inputs"]["inputs_embeds"]["shape"][1]
    return dict(case, inputs=dict(case["inputs"], window_mask=ox._tensor(ox.causal_window_mask(s))))


def _graph_specs(model, vq, grid, window_mask: bool = True):
    """(graph key, module, example args, input names, output names, dynamic axes) for the four
    graphs; the same wrappers and traces as pysjd2.onnx_export.export_graphs."""
    cfg = model.config
    L = cfg.num_layers
    b, p, s = 2, 3, 4
    ids = torch.ones(b, s, dtype=torch.long)
    seq_axes = {0: "batch", 1: "sequence"}
    yield ("text_embedding", ox._TextEmbedding(model), (ids,), ["input_ids"], ["inputs_embeds"],
           {"input_ids": seq_axes, "inputs_embeds": seq_axes})
    yield ("image_embedding", ox._ImageEmbedding(model), (ids,), ["image_codes"], ["inputs_embeds"],
           {"image_codes": seq_axes, "inputs_embeds": seq_axes})
    args = [torch.randn(b, s, cfg.hidden_size), torch.ones(b, p + s, dtype=torch.long),
            torch.arange(p, p + s).unsqueeze(0).repeat(b, 1)]
    for _ in range(2 * L):
        args.append(torch.randn(b, cfg.num_kv_heads, p, cfg.head_dim))
    if cfg.noise_conditioning:
        args.append(torch.zeros(b, s))
    axes = {"inputs_embeds": seq_axes, "attention_mask": {0: "batch", 1: "total_sequence"},
            "position_ids": seq_axes, "logits": seq_axes}
    for i in range(L):
        for kind in ("key", "value"):
            axes[f"past_key_values.{i}.{kind}"] = {0: "batch", 2: "past_sequence"}
            axes[f"present.{i}.{kind}"] = {0: "batch", 2: "total_sequence"}
    if cfg.noise_conditioning:
        axes["noise_levels"] = seq_axes
    if window_mask:
        args.append(ox.causal_window_mask(s))
        axes["window_mask"] = {0: "sequence", 1: "sequence"}
    yield ("transformer", ox._TransformerGraph(model, window_mask), tuple(args),
           ox.transformer_input_names(L, cfg.noise_conditioning, window_mask), ox.transformer_output_names(L), axes)
    h, w = grid
    yield ("vq_decoder", ox._VqGraph(vq), (torch.zeros(2, h, w, dtype=torch.long),), ["codes"], ["image"],
           {"codes": {0: "batch"}, "image": {0: "batch"}})


def transformer_case(model, name: str, positions: torch.Tensor, mask: torch.Tensor, past_len: int,
                     seed: int = 0, keep_layers=None) -> dict:
    """A parity case with explicit position ids (e.g. LlamaGen's absolute image positions)."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    b, s = positions.shape
    x = ox._quantise(torch.randn(b, s, cfg.hidden_size, generator=g))
    past = [(ox._quantise(torch.randn(b, cfg.num_kv_heads, past_len, cfg.head_dim, generator=g)),
             ox._quantise(torch.randn(b, cfg.num_kv_heads, past_len, cfg.head_dim, generator=g)))
            for _ in range(cfg.num_layers)]
    nl = torch.zeros(b, s) if cfg.noise_conditioning else None
    with torch.no_grad():
        logits, presents = model(x, mask, positions, past, nl)
    inputs = {"inputs_embeds": ox._tensor(x, True), "attention_mask": ox._tensor(mask), "position_ids": ox._tensor(positions)}
    for i, (k, v) in enumerate(past):
        inputs[f"past_key_values.{i}.key"] = ox._tensor(k, True)
        inputs[f"past_key_values.{i}.value"] = ox._tensor(v, True)
    if nl is not None:
        inputs["noise_levels"] = ox._tensor(nl, True)
    outputs = {"logits": ox._tensor(logits)}
    for i, (k, v) in enumerate(presents):
        if keep_layers is None or i in keep_layers:
            outputs[f"present.{i}.key"] = ox._tensor(k)
            outputs[f"present.{i}.value"] = ox._tensor(v)
    return {"graph": "transformer", "name": name, "inputs": inputs, "outputs": outputs}


def text_case(model, name: str, ids: torch.Tensor) -> dict:
    with torch.no_grad():
        out = model.text_embed(ids)
    return {"graph": "text_embedding", "name": name, "inputs": {"input_ids": ox._tensor(ids)},
            "outputs": {"inputs_embeds": ox._tensor(out)}}


# ---------------------------------------------------------------------------------------------
# float16 compute (contract 2 with --fp16)
# ---------------------------------------------------------------------------------------------
_NON_FLOAT_OUT = {"Shape", "Size", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or",
                  "Not", "Xor", "ArgMax", "ArgMin", "NonZero", "IsNaN", "IsInf"}
_FP16_MAX = 65504.0


def to_fp16_compute(path: str) -> dict:
    """Rewrites a contract-2 transformer graph at ``path`` to compute in float16: weights and the KV
    cache (``past_key_values`` inputs, ``new_key_values`` outputs) are float16, ``inputs_embeds`` and
    ``noise_levels`` stay float32 at the contract and ``logits`` come back as float32.

    Float32 islands are kept where float16 would lose the value: everything computed from integer
    tensors (position ids -> rotary angles -> cos/sin, masks -> attention bias) and from the noise
    levels stays float32 until it meets a float16 activation, where it is clipped to the float16
    range and cast (an attention bias of -1e9 becomes -65504, not -inf, so a fully masked padding row
    stays finite). Weights used in both precisions are stored in both."""
    import onnx
    from onnx import TensorProto as TP, helper, numpy_helper

    F32, F16 = TP.FLOAT, TP.FLOAT16
    base = os.path.dirname(os.path.abspath(path))
    m = onnx.load(path, load_external_data=False)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    kind: Dict[str, str] = {}          # tensor -> "i" (not float), "c" (float constant), "f32", "f16"
    for t in g.initializer:
        kind[t.name] = "c" if t.data_type == F32 else "i"
    nodes: List = []
    made: Dict[tuple, str] = {}
    constant_values: Dict[str, np.ndarray] = {}

    def fp16_copy(name: str) -> str:
        key = (name, "c16")
        if key not in made:
            out = f"{name}__fp16"
            value = constant_values[name] if name in constant_values else \
                np.frombuffer(_tensor_bytes(inits[name], base), dtype="<f4").reshape(list(inits[name].dims))
            value = np.clip(value, -_FP16_MAX, _FP16_MAX).astype(np.float16)
            if name in inits:
                g.initializer.append(numpy_helper.from_array(value, out))
            else:
                nodes.append(helper.make_node("Constant", [], [out], value=numpy_helper.from_array(value, out), name=out))
            made[key] = out
            kind[out] = "f16"
        return made[key]

    def cast(name: str, to: int, limit: float = _FP16_MAX) -> str:
        key = (name, to)
        if key not in made:
            out = f"{name}__{'fp16' if to == F16 else 'fp32'}"
            src = name
            if to == F16:   # clip first: float32 values beyond the float16 range must not become inf
                lo, hi = f"{out}__lo", f"{out}__hi"
                nodes.append(helper.make_node("Constant", [], [lo], value=numpy_helper.from_array(np.array(-limit, np.float32), lo), name=lo))
                nodes.append(helper.make_node("Constant", [], [hi], value=numpy_helper.from_array(np.array(limit, np.float32), hi), name=hi))
                src = f"{out}__clipped"
                nodes.append(helper.make_node("Clip", [name, lo, hi], [src], name=src))
            nodes.append(helper.make_node("Cast", [src], [out], to=to, name=out))
            made[key] = out
            kind[out] = "f16" if to == F16 else "f32"
        return made[key]

    embeds_fp16 = None
    for vi in g.input:
        tt = vi.type.tensor_type
        if tt.elem_type != F32:
            kind[vi.name] = "i"
        elif vi.name.startswith("past_key_values."):
            tt.elem_type = F16
            kind[vi.name] = "f16"
        else:
            kind[vi.name] = "f32"
            if vi.name == "inputs_embeds":    # the residual stream starts in float16
                embeds_fp16 = cast(vi.name, F16)

    # A float32 island inside the float16 graph, where float16 would overflow on a device: the
    # RMSNorm up to the division by the RMS (x*x past |x| = 256 is inf in float16; ONNX Runtime's
    # fused normalisation kernels compute it in float32 too). Its float16 inputs are cast up
    # (exactly) and the normalised values cast back.
    consumers: Dict[str, List[str]] = {}
    for node in g.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node.op_type)
    squares = {n.output[0] for n in g.node
               if ((n.op_type == "Mul" and len(n.input) == 2 and n.input[0] == n.input[1]) or n.op_type == "Pow")
               and consumers.get(n.output[0]) == ["ReduceMean"]}

    norm_chain = set(squares)   # the variance, its epsilon, square root and reciprocal, in float32

    def float32_island(node) -> bool:
        if node.output[0] in squares:
            return True
        if any(i in norm_chain for i in node.input):
            if node.op_type in ("ReduceMean", "Add", "Sqrt", "Reciprocal"):
                norm_chain.update(node.output)
            return True             # the division by the RMS too: the normalised values are cast back
        return False

    for node in g.node:
        ins = list(node.input)
        if embeds_fp16 is not None:
            ins = [embeds_fp16 if i == "inputs_embeds" else i for i in ins]
        if node.op_type == "Constant":
            attr = node.attribute[0]
            if attr.name == "value" and attr.t.data_type == F32:
                kind[node.output[0]] = "c"
                constant_values[node.output[0]] = numpy_helper.to_array(attr.t)
            else:
                kind[node.output[0]] = "i" if attr.name != "value_float" else "c"
                if attr.name == "value_float":
                    constant_values[node.output[0]] = np.array(attr.f, np.float32)
            nodes.append(node)
            continue
        floats = [i for i in ins if i and kind.get(i, "i") != "i"]
        if node.op_type == "Cast":
            to = next(a.i for a in node.attribute if a.name == "to")
            mode = "f32" if to == F32 else "f16" if to == F16 else "i"
            node.ClearField("input")
            node.input.extend(ins)
            nodes.append(node)
            kind[node.output[0]] = mode
            continue
        mode = "f16" if any(kind[i] == "f16" for i in floats) else ("f32" if floats else None)
        if mode == "f16" and float32_island(node):
            mode = "f32"
            ins = [cast(i, F32) if i and kind.get(i) == "f16" else i for i in ins]
        if mode == "f16":
            # An attention bias added to float16 scores: clipped to half the float16 range, so
            # that bias + score stays finite (a -65504 bias plus a score below -16 rounds to -inf,
            # and a fully masked row of -inf is NaN after the softmax).
            limit = _FP16_MAX / 2 if node.op_type == "Add" and "Softmax" in consumers.get(node.output[0], []) else _FP16_MAX
            ins = [(fp16_copy(i) if kind[i] == "c" else cast(i, F16, limit) if kind[i] == "f32" else i)
                   if i and kind.get(i, "i") != "i" else i for i in ins]
        node.ClearField("input")
        node.input.extend(ins)
        nodes.append(node)
        if node.op_type == "ConstantOfShape":
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            out_kind = "f32" if value is None or value.data_type == F32 else "i"
        elif node.op_type in _NON_FLOAT_OUT or mode is None:
            out_kind = "i"
        else:
            out_kind = mode
        for o in node.output:
            kind[o] = out_kind

    # outputs: logits back to float32, new KV rows in float16
    producers = {o: n for n in nodes for o in n.output}
    outputs = []
    for out in g.output:
        tt = out.type.tensor_type
        if out.name == "logits" and kind.get("logits") == "f16":
            inner = "logits__fp16_out"
            for o_i, o in enumerate(producers["logits"].output):
                if o == "logits":
                    producers["logits"].output[o_i] = inner
            for n in nodes:
                for i_i, i in enumerate(n.input):
                    if i == "logits":
                        n.input[i_i] = inner
            nodes.append(helper.make_node("Cast", [inner], ["logits"], to=F32, name="logits__to_fp32"))
        elif out.name.startswith("new_key_values."):
            if kind.get(out.name) == "f32":
                raise ValueError(f"{out.name} is computed in float32; cannot store the KV cache in float16")
            tt.elem_type = F16
        outputs.append(out)
    del g.output[:]
    g.output.extend(outputs)
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    dropped = len(g.initializer) - len(keep)
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.save(m, path)
    return {"fp16_initializers": sum(t.data_type == F16 for t in keep), "dropped_fp32": dropped}
