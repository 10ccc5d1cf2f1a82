"""Exports a Sjd2Transformer + VQ decoder to a model folder (docs/model-format.md).

``export_model_folder`` writes:

* ``text_embedding.onnx``  input_ids [B,S] int64 -> inputs_embeds [B,S,D]
* ``image_embedding.onnx`` image_codes [B,S] int64 -> inputs_embeds [B,S,D]
* ``transformer.onnx``     inputs_embeds, attention_mask, position_ids, past_key_values.{i}.key/value
                           [, noise_levels] [, window_mask] -> logits, present.{i}.key/value (dynamic B, S, P)
* ``vq_decoder.onnx``      codes [B,h,w] int64 -> image [B,3,H,W] (dynamic B)
* ``model.json``, the tokenizer files, and ``parity.json`` (PyTorch reference outputs that
  ``sjd2 parity --model DIR`` replays through ONNX Runtime).

The transformer is traced with a non-empty cache (P = 3). The graph is nevertheless valid for
P = 0: the attention mask is derived from cumulative sums over the ``attention_mask`` and
``position_ids`` inputs (no shape is baked in) and the cache enters through ``Concat``, which
accepts an empty past. parity.json case 0 is a P = 0 prefill so that ``sjd2 parity`` proves it.

parity.json format::

    {"tolerance": 1e-4,
     "cases": [{"graph": "transformer", "name": "...",
                "inputs":  {NAME: {"dtype": "float32"|"int64", "shape": [...], "data": [...]}},
                "outputs": {NAME: {"dtype": "float32", "shape": [...], "data": [...]}}}]}

Every case lists all graph inputs. The outputs listed are the ones to compare; for small
models that is every graph output. For large models the middle layers' ``present`` outputs
may be left out to keep the file small (the checker must compare only the outputs listed).
"""
from __future__ import annotations

import copy
import json
import math
import os
import pathlib
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from .transformer import Sjd2Transformer

OPSET = 17

GRAPH_FILES = {
    "text_embedding": "text_embedding.onnx",
    "image_embedding": "image_embedding.onnx",
    "transformer": "transformer.onnx",
    "vq_decoder": "vq_decoder.onnx",
}


# ---------------------------------------------------------------------------------------------
# Wrappers with the contract's flat signatures
# ---------------------------------------------------------------------------------------------
class _TextEmbedding(nn.Module):
    def __init__(self, model: Sjd2Transformer):
        super().__init__()
        self.embed = model.text_embed

    def forward(self, input_ids):
        return self.embed(input_ids)


class _ImageEmbedding(nn.Module):
    def __init__(self, model: Sjd2Transformer):
        super().__init__()
        self.embed = model.image_embed

    def forward(self, image_codes):
        return self.embed(image_codes)


class _TransformerGraph(nn.Module):
    """``window_mask=True`` adds the tree-attention input (every exporter writes it; family
    exports leave it out only with ``--no-window-mask``)."""

    def __init__(self, model: Sjd2Transformer, window_mask: bool = False):
        super().__init__()
        self.model = model
        self.num_layers = model.config.num_layers
        self.noise = model.config.noise_conditioning
        self.window_mask = window_mask

    def forward(self, inputs_embeds, attention_mask, position_ids, *rest):
        n = 2 * self.num_layers
        flat = rest[:n]
        past = [(flat[2 * i], flat[2 * i + 1]) for i in range(self.num_layers)]
        noise_levels = rest[n] if self.noise else None
        if self.window_mask:
            logits, presents = self.model(inputs_embeds, attention_mask, position_ids, past, noise_levels,
                                          rest[-1])
        else:
            logits, presents = self.model(inputs_embeds, attention_mask, position_ids, past, noise_levels)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


class _VqGraph(nn.Module):
    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, codes):
        return self.decoder(codes)


def transformer_input_names(num_layers: int, noise: bool, window_mask: bool = False) -> List[str]:
    names = ["inputs_embeds", "attention_mask", "position_ids"]
    for i in range(num_layers):
        names += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
    if noise:
        names.append("noise_levels")
    if window_mask:
        names.append("window_mask")
    return names


def causal_window_mask(s: int) -> torch.Tensor:
    """The window_mask [S,S] that makes a window an ordinary causal chain."""
    return torch.tril(torch.ones(s, s, dtype=torch.long))


def transformer_output_names(num_layers: int) -> List[str]:
    names = ["logits"]
    for i in range(num_layers):
        names += [f"present.{i}.key", f"present.{i}.value"]
    return names


# ---------------------------------------------------------------------------------------------
# PyTorch self-test: full pass == prefix-then-window == token-by-token
# ---------------------------------------------------------------------------------------------
def _row_positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(-1) - 1).clamp(min=0)


@torch.no_grad()
def _window_diffs(model: Sjd2Transformer, dtype: torch.dtype, seed: int, seq_len: int, split: int):
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    b, s = 2, min(seq_len, cfg.max_sequence_length)
    split = max(1, min(split, s - 1))
    x = torch.randn(b, s, cfg.hidden_size, generator=g).to(dtype)
    mask = torch.ones(b, s, dtype=torch.long)
    mask[1, :min(3, s - 1)] = 0
    pos = _row_positions(mask)
    nl = None
    if cfg.noise_conditioning:
        nl = torch.rand(b, s, generator=g).to(dtype)
        nl[:, :split] = 0.0

    def sl(t, a, e):
        return None if t is None else t[:, a:e]

    def empty():
        return [(k.to(dtype), v.to(dtype)) for k, v in model.empty_past(b)]

    full, full_presents = model(x, mask, pos, empty(), nl)
    l1, p1 = model(x[:, :split], mask[:, :split], pos[:, :split], None, sl(nl, 0, split))
    l2, _ = model(x[:, split:], mask, pos[:, split:], p1, sl(nl, split, s))
    window = torch.cat([l1, l2], dim=1)
    past = empty()
    steps = []
    for t in range(s):
        lt, past = model(x[:, t:t + 1], mask[:, :t + 1], pos[:, t:t + 1], past, sl(nl, t, t + 1))
        steps.append(lt)
    token = torch.cat(steps, dim=1)
    d_window = (full - window).abs().max().item()
    d_token = (full - token).abs().max().item()
    d_kv = max(max((k1 - k2).abs().max().item(), (v1 - v2).abs().max().item())
               for (k1, v1), (k2, v2) in zip(full_presents, past))
    return d_window, d_token, d_kv, full.abs().max().item()


def window_consistency_check(model: Sjd2Transformer, seed: int = 0, seq_len: int = 12,
                             split: int = 7, tol: float = 1e-5) -> float:
    """Full pass vs prefix-then-window vs token-by-token on a left-padded batch of 2 with noise
    levels (when the model has them); compares logits (padding rows included) and KV caches.

    Asserted in float64 (where any difference is a logic error, not rounding) against ``tol``;
    the float32 differences are printed and must stay below ``tol`` relative to max |logit|."""
    model64 = copy.deepcopy(model).double()
    d64 = _window_diffs(model64, torch.float64, seed, seq_len, split)
    d32 = _window_diffs(model, torch.float32, seed, seq_len, split)
    print(f"  self-test (PyTorch) full vs prefix+window / token-by-token / KV: float64 "
          f"{d64[0]:.2g} / {d64[1]:.2g} / {d64[2]:.2g}; float32 {d32[0]:.3g} / {d32[1]:.3g} / "
          f"{d32[2]:.3g} (max |logit| {d32[3]:.3g})")
    worst64 = max(d64[:3])
    if not worst64 < tol:
        raise AssertionError(f"window consistency failed in float64: max diff {worst64} >= {tol}")
    worst32 = max(d32[:3])
    if not worst32 < tol * max(1.0, d32[3]):
        raise AssertionError(f"window consistency failed in float32: max diff {worst32}")
    return worst32


@torch.no_grad()
def _tree_diff(model: Sjd2Transformer, dtype: torch.dtype, seed: int, prefix: int, s: int) -> float:
    """Max |logit| difference between one tree pass (example_tree_mask, positions by depth) and
    feeding each tree token's root path as an ordinary causal chain after the same prefix."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed + 1)
    b = 2
    x = torch.randn(b, prefix + s, cfg.hidden_size, generator=g).to(dtype)
    mask = torch.ones(b, prefix + s, dtype=torch.long)
    mask[1, :2] = 0
    pos = _row_positions(mask)
    nl = torch.zeros(b, prefix + s, dtype=dtype) if cfg.noise_conditioning else None

    def sl(t, a, e):
        return None if t is None else t[:, a:e]

    _, past = model(x[:, :prefix], mask[:, :prefix], pos[:, :prefix], None, sl(nl, 0, prefix))
    tree = example_tree_mask(s)
    depth = tree.sum(dim=1) - 1
    tree_pos = pos[:, prefix - 1:prefix] + 1 + depth.unsqueeze(0)
    tree_logits, _ = model(x[:, prefix:], mask, tree_pos, past, sl(nl, prefix, prefix + s), tree)
    worst = 0.0
    for i in range(s):
        path = [j for j in range(s) if tree[i, j] == 1]      # root .. i, ascending = by depth
        xs = x[:, prefix:][:, path]
        chain, _ = model(xs, mask[:, :prefix + len(path)], tree_pos[:, path], past,
                         None if nl is None else nl[:, prefix:][:, path])
        worst = max(worst, (chain[:, -1] - tree_logits[:, i]).abs().max().item())
    return worst


def tree_consistency_check(model: Sjd2Transformer, seed: int = 0, prefix: int = 5, s: int = 6,
                           tol: float = 1e-5) -> float:
    """A tree pass (window_mask) gives each token the logits of its root path fed as a chain;
    asserted in float64 against ``tol``."""
    d64 = _tree_diff(copy.deepcopy(model).double(), torch.float64, seed, prefix, s)
    d32 = _tree_diff(model, torch.float32, seed, prefix, s)
    print(f"  self-test (PyTorch) tree pass vs root-path chains: float64 {d64:.2g}; float32 {d32:.3g}")
    if not d64 < tol:
        raise AssertionError(f"tree consistency failed in float64: max diff {d64} >= {tol}")
    return d32


# ---------------------------------------------------------------------------------------------
# parity.json helpers
# ---------------------------------------------------------------------------------------------
class _Data:
    """A flat tensor to be written compactly into JSON."""

    def __init__(self, array: np.ndarray, exact: bool):
        self.array = array
        self.exact = exact

    def render(self) -> str:
        flat = self.array.reshape(-1)
        if flat.dtype == np.int64:
            items = (str(int(v)) for v in flat)
        elif self.exact:
            # shortest text that parses back to the same float32
            items = (np.format_float_positional(v, unique=True, trim="-") for v in flat.astype(np.float32))
        else:
            items = ("%.7g" % float(v) for v in flat)
        return "[" + ",".join(items) + "]"


def _tensor(t: Union[torch.Tensor, np.ndarray], exact: bool = False) -> dict:
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    if a.dtype == np.int64:
        dtype = "int64"
    else:
        a = a.astype(np.float32)
        dtype = "float32"
    return {"dtype": dtype, "shape": list(a.shape), "data": _Data(a, exact)}


def _dumps(obj, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(obj, _Data):
        return obj.render()
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        parts = [f'{pad}  {json.dumps(k)}: {_dumps(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(parts) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list, _Data)) for v in obj):
        parts = [f"{pad}  {_dumps(v, indent + 1)}" for v in obj]
        return "[\n" + ",\n".join(parts) + "\n" + pad + "]"
    return json.dumps(obj)


def _quantise(t: torch.Tensor, decimals: int = 4) -> torch.Tensor:
    """Rounds random inputs so they are short in JSON and exactly representable as written."""
    return torch.from_numpy(np.round(t.numpy().astype(np.float64), decimals).astype(np.float32))


def example_tree_mask(s: int) -> torch.Tensor:
    """A window_mask [S,S] for a small tree: token 0 the root, then alternately a child of the
    previous token and a sibling of it (so both the chain and the branch rules are exercised)."""
    parent = [-1] + [j - 1 if j % 2 == 1 else max(j - 2, 0) for j in range(1, s)]
    mask = torch.zeros(s, s, dtype=torch.long)
    for i in range(s):
        j = i
        while j >= 0:
            mask[i, j] = 1
            j = parent[j]
    return mask


def _transformer_case(model: Sjd2Transformer, g: torch.Generator, name: str, b: int, p: int,
                      s: int, pad: int, noisy: bool, keep_layers: Optional[Sequence[int]],
                      window_mask: Optional[torch.Tensor] = None, new_rows: bool = False) -> dict:
    cfg = model.config
    total = p + s
    mask = torch.ones(b, total, dtype=torch.long)
    if b > 1 and pad > 0:
        mask[b - 1, :min(pad, total - 1)] = 0
    pos = _row_positions(mask)[:, p:]
    x = _quantise(torch.randn(b, s, cfg.hidden_size, generator=g))
    past = []
    for _ in range(cfg.num_layers):
        k = _quantise(torch.randn(b, cfg.num_kv_heads, p, cfg.head_dim, generator=g))
        v = _quantise(torch.randn(b, cfg.num_kv_heads, p, cfg.head_dim, generator=g))
        past.append((k, v))
    nl = None
    if cfg.noise_conditioning:
        if noisy:
            # noise levels rising along the window, as SJD2 feeds them (first slot clean)
            ramp = torch.linspace(0.0, 1.0, s).unsqueeze(0).repeat(b, 1)
            nl = _quantise((ramp * (0.8 + 0.2 * torch.rand(b, 1, generator=g))).clamp(0, 1))
        else:
            nl = torch.zeros(b, s)
    with torch.no_grad():
        if window_mask is None:   # a graph without the tree-attention input
            logits, presents = model(x, mask, pos, past, nl)
        else:
            logits, presents = model(x, mask, pos, past, nl, window_mask)
    inputs = {"inputs_embeds": _tensor(x, True), "attention_mask": _tensor(mask),
              "position_ids": _tensor(pos)}
    for i, (k, v) in enumerate(past):
        inputs[f"past_key_values.{i}.key"] = _tensor(k, True)
        inputs[f"past_key_values.{i}.value"] = _tensor(v, True)
    if nl is not None:
        inputs["noise_levels"] = _tensor(nl, True)
    if window_mask is not None:
        inputs["window_mask"] = _tensor(window_mask)
    outputs = {"logits": _tensor(logits)}
    for i, (k, v) in enumerate(presents):
        if keep_layers is None or i in keep_layers:
            if new_rows:
                outputs[f"new_key_values.{i}.key"] = _tensor(k[:, :, p:])
                outputs[f"new_key_values.{i}.value"] = _tensor(v[:, :, p:])
            else:
                outputs[f"present.{i}.key"] = _tensor(k)
                outputs[f"present.{i}.value"] = _tensor(v)
    return {"graph": "transformer", "name": name, "inputs": inputs, "outputs": outputs}


def _case_floats(case: dict) -> int:
    n = 0
    for group in ("inputs", "outputs"):
        for t in case[group].values():
            n += int(np.prod(t["shape"])) if t["shape"] else 1
    return n


def build_parity_cases(model: Sjd2Transformer, vq_decoder: nn.Module, grid: Tuple[int, int],
                       seed: int = 0, max_floats: int = 60000, window_mask: bool = False,
                       new_rows: bool = False) -> List[dict]:
    """``window_mask``: the graph has the tree-attention input; the prefill case feeds the causal
    mask and the window case a tree. ``new_rows``: the graph returns new_key_values (contract 2)."""
    cfg = model.config
    L = cfg.num_layers
    cases: List[dict] = []

    def gen(k: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed * 1000 + k)

    # text / image embeddings (B=2, S=3)
    g = gen(1)
    ids = torch.randint(0, cfg.text_vocab_size, (2, 3), generator=g)
    codes = torch.randint(0, cfg.codebook_size, (2, 3), generator=g)
    with torch.no_grad():
        cases.append({"graph": "text_embedding", "name": "B=2 S=3",
                      "inputs": {"input_ids": _tensor(ids)},
                      "outputs": {"inputs_embeds": _tensor(model.text_embed(ids))}})
        cases.append({"graph": "image_embedding", "name": "B=2 S=3",
                      "inputs": {"image_codes": _tensor(codes)},
                      "outputs": {"inputs_embeds": _tensor(model.image_embed(codes))}})

    # transformer: (a) prefill P=0, (b) window over a cache; shrink for large models
    plans = [(None, 6, 4), (None, 4, 3), ([0, L - 1], 6, 4), ([0, L - 1], 4, 3),
             ([0, L - 1], 3, 2), ([L - 1], 2, 2)]
    for keep, p, s in plans:
        tcases = [
            _transformer_case(model, gen(2), "prefill B=2 P=0 S=5 (row 1 left-padded by 2)",
                              2, 0, 5, 2, False, keep, causal_window_mask(5) if window_mask else None, new_rows),
            _transformer_case(model, gen(3), f"window B=2 P={p} S={s} (row 1 left-padded by 2)"
                              + (", rising noise levels" if cfg.noise_conditioning else "")
                              + (", tree window_mask" if window_mask else ""),
                              2, p, s, 2, True, keep, example_tree_mask(s) if window_mask else None, new_rows),
        ]
        if sum(_case_floats(c) for c in tcases) <= max_floats * 0.8:
            break
    cases += tcases

    # vq decoder (B=2 unless the image is large)
    h, w = grid
    g = gen(4)
    with torch.no_grad():
        probe = vq_decoder(torch.zeros(1, h, w, dtype=torch.long))
    vb = 2 if probe.numel() * 2 <= max_floats * 0.2 else 1
    codes = torch.randint(0, cfg.codebook_size, (vb, h, w), generator=g)
    with torch.no_grad():
        image = vq_decoder(codes)
    cases.append({"graph": "vq_decoder", "name": f"B={vb}",
                  "inputs": {"codes": _tensor(codes)}, "outputs": {"image": _tensor(image)}})
    return cases


# ---------------------------------------------------------------------------------------------
# ONNX export
# ---------------------------------------------------------------------------------------------
def _export(module: nn.Module, args: tuple, path: str, input_names, output_names, dynamic_axes):
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13 warns about shape inference of scalar constants; harmless here
        warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
        torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True,
                          export_params=True)


def _describe(path: str) -> None:
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)

    def fmt(vi):
        t = vi.type.tensor_type
        dims = [d.dim_param if d.dim_param else str(d.dim_value) for d in t.shape.dim]
        return f"{vi.name} {onnx.TensorProto.DataType.Name(t.elem_type).lower()}[{','.join(dims)}]"

    print(f"  {os.path.basename(path)}: {os.path.getsize(path)} bytes, checker OK, opset "
          f"{m.opset_import[0].version}")
    print("    in : " + "; ".join(fmt(v) for v in m.graph.input))
    print("    out: " + "; ".join(fmt(v) for v in m.graph.output))


def export_graphs(out_dir: str, transformer: Sjd2Transformer, vq_decoder: nn.Module,
                  grid: Tuple[int, int], window_mask: bool = False, lean: bool = False) -> None:
    """``lean``: the transformer graph is written op by op (onnx_graph.py, contract 2: window_mask,
    new_key_values); otherwise traced (contract 1, plus window_mask when asked)."""
    cfg = transformer.config
    L = cfg.num_layers
    tmp_b, tmp_p, tmp_s = 2, 3, 4

    ids = torch.zeros(tmp_b, tmp_s, dtype=torch.long)
    _export(_TextEmbedding(transformer), (ids,), os.path.join(out_dir, GRAPH_FILES["text_embedding"]),
            ["input_ids"], ["inputs_embeds"],
            {"input_ids": {0: "batch", 1: "sequence"}, "inputs_embeds": {0: "batch", 1: "sequence"}})
    _export(_ImageEmbedding(transformer), (ids,), os.path.join(out_dir, GRAPH_FILES["image_embedding"]),
            ["image_codes"], ["inputs_embeds"],
            {"image_codes": {0: "batch", 1: "sequence"}, "inputs_embeds": {0: "batch", 1: "sequence"}})

    in_names = transformer_input_names(L, cfg.noise_conditioning, window_mask)
    out_names = transformer_output_names(L)
    args = [torch.randn(tmp_b, tmp_s, cfg.hidden_size),
            torch.ones(tmp_b, tmp_p + tmp_s, dtype=torch.long),
            torch.arange(tmp_p, tmp_p + tmp_s).unsqueeze(0).repeat(tmp_b, 1)]
    for _ in range(2 * L):
        args.append(torch.randn(tmp_b, cfg.num_kv_heads, tmp_p, cfg.head_dim))
    if cfg.noise_conditioning:
        args.append(torch.zeros(tmp_b, tmp_s))
    if window_mask:
        args.append(causal_window_mask(tmp_s))
    axes = {"inputs_embeds": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "total_sequence"},
            "position_ids": {0: "batch", 1: "sequence"},
            "logits": {0: "batch", 1: "sequence"}}
    for i in range(L):
        for kind in ("key", "value"):
            axes[f"past_key_values.{i}.{kind}"] = {0: "batch", 2: "past_sequence"}
            axes[f"present.{i}.{kind}"] = {0: "batch", 2: "total_sequence"}
    if cfg.noise_conditioning:
        axes["noise_levels"] = {0: "batch", 1: "sequence"}
    if window_mask:
        axes["window_mask"] = {0: "sequence", 1: "sequence"}
    if lean:
        import onnx
        from .onnx_graph import build_transformer_graph
        onnx.save(build_transformer_graph(transformer), os.path.join(out_dir, GRAPH_FILES["transformer"]))
    else:
        _export(_TransformerGraph(transformer, window_mask), tuple(args),
                os.path.join(out_dir, GRAPH_FILES["transformer"]), in_names, out_names, axes)

    h, w = grid
    codes = torch.zeros(2, h, w, dtype=torch.long)
    _export(_VqGraph(vq_decoder), (codes,), os.path.join(out_dir, GRAPH_FILES["vq_decoder"]),
            ["codes"], ["image"], {"codes": {0: "batch"}, "image": {0: "batch"}})


def _check_manifest(manifest: dict, cfg, vq_decoder: nn.Module) -> dict:
    m = json.loads(json.dumps(manifest))  # deep copy, JSON-clean
    m.setdefault("format", "sjd2onnx-model")
    m.setdefault("format_version", 1)
    t = m.setdefault("transformer", {})
    expected = {"hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers,
                "num_kv_heads": cfg.num_kv_heads, "head_dim": cfg.head_dim,
                "max_sequence_length": cfg.max_sequence_length}
    for k, v in expected.items():
        if k in t and t[k] != v:
            raise ValueError(f"manifest transformer.{k}={t[k]} but the model has {v}")
        t[k] = v
    img = m["image"]
    if img["codebook_size"] != cfg.codebook_size:
        raise ValueError("manifest image.codebook_size differs from the model's")
    with torch.no_grad():
        probe = vq_decoder(torch.zeros(1, img["grid_height"], img["grid_width"], dtype=torch.long))
    if list(probe.shape) != [1, 3, img["height"], img["width"]]:
        raise ValueError(f"vq decoder gives {list(probe.shape)}, manifest says "
                         f"[1,3,{img['height']},{img['width']}]")
    has_sjd2 = m.get("sjd2") is not None
    if has_sjd2 != bool(cfg.noise_conditioning):
        raise ValueError("manifest sjd2 section and the model's noise conditioning disagree")
    if has_sjd2 and (len(m["sjd2"]["embedding_mean"]) != cfg.hidden_size
                     or len(m["sjd2"]["embedding_std"]) != cfg.hidden_size):
        raise ValueError("sjd2 embedding_mean/std must have hidden_size entries")
    m["graphs"] = dict(GRAPH_FILES)
    return m


def write_tokenizer_files(out_dir, tokenizer_files):
    """Writes {file name: text | bytes | pathlib.Path} into the model folder."""
    for name, content in tokenizer_files.items():
        if isinstance(content, pathlib.Path):
            data = content.read_bytes()
        elif isinstance(content, str):
            data = content.encode("utf-8")
        else:
            data = bytes(content)
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)


def export_model_folder(out_dir: str, transformer: Sjd2Transformer, vq_decoder: nn.Module,
                        manifest: dict, tokenizer_files: Dict[str, Union[str, bytes, pathlib.Path]],
                        parity_seed: int = 0, tolerance: float = 1e-4,
                        self_test_tol: float = 1e-5, window_mask: bool = True, lean: bool = True,
                        weights: str = "float32", block_size: Optional[int] = None,
                        accuracy_level: Optional[int] = None) -> dict:
    """Writes a complete model folder and returns the manifest written.

    ``weights`` int8 / int4: the transformer's linear layers as MatMulNBits (pysjd2.quantize); the
    self-tests and parity.json use a copy of the model with the same rounded weights.

    ``manifest``: the model.json content; ``graphs`` is filled in, ``transformer`` dimensions are
    filled from / checked against the model, ``sjd2`` must match ``noise_conditioning``.
    ``tokenizer_files``: file name -> str (text, written UTF-8), bytes, or pathlib.Path (copied).
    """
    from . import quantize as qz
    transformer = transformer.eval()
    vq_decoder = vq_decoder.eval()
    cfg = transformer.config
    os.makedirs(out_dir, exist_ok=True)
    m = _check_manifest(manifest, cfg, vq_decoder)
    grid = (m["image"]["grid_height"], m["image"]["grid_width"])
    bits = qz.check_format(weights)
    book = None
    m.pop("weights", None)
    if bits is not None:
        block_size = block_size or qz.DEFAULT_BLOCK_SIZE
        accuracy_level = qz.DEFAULT_ACCURACY_LEVEL if accuracy_level is None else accuracy_level
        qz.check_block_size(block_size)
        transformer = copy.deepcopy(transformer)
        book = qz.quantize_linears_(transformer, bits, block_size, q_scale=1.0 / math.sqrt(cfg.head_dim) if lean else None)
        m["weights"] = qz.manifest_entry(weights, block_size, accuracy_level)

    print(f"exporting to {out_dir}")
    window_consistency_check(transformer, seed=parity_seed, tol=self_test_tol)
    if window_mask:
        tree_consistency_check(transformer, seed=parity_seed, tol=self_test_tol)

    write_tokenizer_files(out_dir, tokenizer_files)

    export_graphs(out_dir, transformer, vq_decoder, grid, window_mask, lean)
    if book is not None:
        done = qz.to_matmul_nbits(os.path.join(out_dir, GRAPH_FILES["transformer"]), book, accuracy_level)
        print(f"  transformer.onnx: {done['matmul_nbits']} MatMulNBits ({weights}, block {block_size}, "
              f"accuracy level {accuracy_level}), {book.weights} weights")
    for key in ("text_embedding", "image_embedding", "transformer", "vq_decoder"):
        _describe(os.path.join(out_dir, GRAPH_FILES[key]))

    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as f:
        f.write(_dumps(m) + "\n")

    cases = build_parity_cases(transformer, vq_decoder, grid, seed=parity_seed, window_mask=window_mask or lean,
                               new_rows=lean)
    with open(os.path.join(out_dir, "parity.json"), "w", encoding="utf-8") as f:
        f.write(_dumps({"tolerance": tolerance, "cases": cases}) + "\n")
    print(f"  parity.json: {len(cases)} cases ({', '.join(c['graph'] + ' ' + c['name'] for c in cases)}), "
          f"{os.path.getsize(os.path.join(out_dir, 'parity.json'))} bytes")
    return m
