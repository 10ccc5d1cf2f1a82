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
                         extra_cases: Optional[Callable[[nn.Module], List[dict]]] = None, contract: int = 2) -> dict:
    """Writes a complete model folder for a family model and returns the manifest written.
    ``contract`` 2 (default): the transformer returns only the window's new KV rows, so the engine
    keeps the cache on the execution provider's device; 1: it returns the whole present (past + window)."""
    if contract not in (1, 2):
        raise ValueError(f"contract {contract}: 1 or 2")
    model = model.eval()
    vq = vq.eval()
    cfg = model.config
    os.makedirs(out_dir, exist_ok=True)
    m = ox._check_manifest(manifest, cfg, vq)
    grid = (m["image"]["grid_height"], m["image"]["grid_width"])
    n_params = sum(p.numel() for p in model.parameters())
    if self_test is None:
        self_test = n_params < 200_000_000
    print(f"exporting {family_info.get('family', '?')} to {out_dir} ({n_params / 1e6:.1f}M transformer-side parameters)")
    if self_test:
        ox.window_consistency_check(model, seed=parity_seed, tol=1e-5)
    else:
        print("  self-test (float64 copy of the model) skipped for a large model")

    ox.write_tokenizer_files(out_dir, tokenizer_files)

    if fp16:
        # export from weights already rounded to float16, so that the reference outputs below use
        # the weights as stored; only constants the exporter folds from several weights (e.g. the
        # l2-normalised VQ-16 codebook) are rounded a second time, hence tolerance 1e-3
        round_to_fp16_(model)
        round_to_fp16_(vq)
    for key, module, args, names_in, names_out, axes in _graph_specs(model, vq, grid):
        path = os.path.join(out_dir, ox.GRAPH_FILES[key])
        ox._export(module, args, path, names_in, names_out, axes)
        # finalised right away: torch writes per-tensor files for graphs above 2 GB, whose names
        # could collide between graphs
        if key == "transformer" and contract == 2:
            return_new_rows(path)
        summary = finalize_onnx(path, fp16=fp16, external=external_data)
        if summary["external"] or summary["fp16_tensors"]:
            print(f"  {os.path.basename(path)}: {summary['fp16_tensors']} float16 tensors, "
                  f"external data: {summary['external']}")
        if not summary["external"]:
            ox._describe(path)

    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as f:
        f.write(ox._dumps(m) + "\n")

    cases = ox.build_parity_cases(model, vq, grid, seed=parity_seed, max_floats=max_parity_floats, new_rows=contract == 2)
    if extra_cases is not None:
        cases += [as_new_rows(c) if contract == 2 else c for c in extra_cases(model)]
    tol = max(tolerance, 1e-3) if fp16 else tolerance
    with open(os.path.join(out_dir, "parity.json"), "w", encoding="utf-8") as f:
        f.write(ox._dumps({"tolerance": tol, "cases": cases}) + "\n")
    info = dict(family_info)
    info["fp16"] = bool(fp16)
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


def _graph_specs(model, vq, grid):
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
    yield ("transformer", ox._TransformerGraph(model), tuple(args),
           ox.transformer_input_names(L, cfg.noise_conditioning), ox.transformer_output_names(L), axes)
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
