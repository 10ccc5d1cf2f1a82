"""Writes the transformer graph of a ``Sjd2Transformer`` directly with ONNX ops (no tracing).

Same function as the traced graph (docs/model-format.md, transformer contract 2), built for few
kernels per pass and no copy of the KV cache:

* inputs: ``inputs_embeds`` [B,S,D], ``attention_mask`` [B,P+S] int64, ``position_ids`` [B,S],
  ``past_key_values.{i}.key/value`` [B,Hkv,P,Dh], ``noise_levels`` [B,S] (SJD2 models),
  ``window_mask`` [S,S] int64.
* outputs: ``logits`` [B,S,K] and ``new_key_values.{i}.key/value`` [B,Hkv,S,Dh] -- only the new
  rows. The engine writes the rows it keeps into its own cache and binds that cache as the next
  past, rows it has not filled masked out by ``attention_mask`` 0 (a past row is visible iff its
  mask is 1), so the graph only reads the cache.

What makes it lean: the attention mask is computed once per pass; Q, K and V come from one MatMul
(the 1/sqrt(Dh) scale folded into the weights); rotary is ONNX Runtime's ``com.microsoft``
``RotaryEmbedding`` kernel applied to Q and K together, with its cos/sin tables stored as constants
(one kernel a layer instead of Mul/Mul/Add, and no rotate-half weight columns, which were 10 % of
the weights); gate and up projections are one MatMul; all reshapes copy batch and sequence sizes
(Reshape 0), so no Shape/Gather chains; attention is split into a past block (MatMul against the
cache as bound) and a new block, concatenated only as scores (S×(P+S) per head), so the cache is
never copied; the grouped query heads of one KV head form one MatMul of G·S rows.
"""
from __future__ import annotations

import math
from typing import List

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from .transformer import MASK_BIAS, Sjd2Transformer, rotary_cos_sin

OPSET = 17


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy()


class _Builder:
    def __init__(self) -> None:
        self.nodes: List[onnx.NodeProto] = []
        self.inits: List[onnx.TensorProto] = []
        self.count = 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: List[str], name: str, n_out: int = 1, **attrs) -> object:
        self.count += 1
        outs = [name] if n_out == 1 else [f"{name}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=f"n{self.count}_{name}", **attrs))
        return outs[0] if n_out == 1 else outs


def build_transformer_graph(model: Sjd2Transformer) -> onnx.ModelProto:
    cfg = model.config
    L, D, Hq, Hkv, Dh = cfg.num_layers, cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    G = Hq // Hkv
    K = cfg.codebook_size
    g = _Builder()
    i64 = lambda name, values: g.const(name, np.asarray(values, dtype=np.int64))  # noqa: E731
    f32 = lambda name, values: g.const(name, np.asarray(values, dtype=np.float32))  # noqa: E731

    # ---- constants shared by all layers ---------------------------------------------------
    c_axis_last = i64("axis_last", [-1])
    c_zero_i = i64("zero_i64", [0])
    c_one_i = i64("one_i64", [1])
    c_big_end = i64("end_max", [np.iinfo(np.int64).max])
    c_two = f32("two", 2.0)
    c_zero_f = f32("zero_f", 0.0)
    c_neg = f32("mask_bias", MASK_BIAS)
    c_eps = f32("rms_eps", model.norm.eps)
    shape_bs_hkv_dh = i64("shape_bs_hkv_dh", [0, 0, Hkv, Dh])
    shape_bs_hkv_g_dh = i64("shape_bs_hkv_g_dh", [0, 0, Hkv, G, Dh])
    shape_b_hkv_gs_dh = i64("shape_b_hkv_gs_dh", [0, 0, -1, Dh])
    shape_b_hkv_g_s_dh = i64("shape_b_hkv_g_s_dh", [0, 0, G, -1, Dh])
    shape_bs_flat = i64("shape_bs_flat", [0, 0, -1])
    split_qk_v = i64("split_qk_v", [(Hq + Hkv) * Dh, Hkv * Dh])
    split_q_k = i64("split_q_k", [Hq * Dh, Hkv * Dh])
    split_ffn = i64("split_gate_up", [cfg.ffn_size, cfg.ffn_size])

    # ---- per-pass work: sizes, rotary tables, attention bias, noise embedding --------------
    past_len = g.op("Shape", ["past_key_values.0.key"], "past_len", start=2, end=3)       # [1] = P
    x = "inputs_embeds"
    if cfg.noise_conditioning:
        ne = model.noise_embed
        sigma = g.op("Unsqueeze", ["noise_levels", c_axis_last], "sigma")                  # [B,S,1]
        ang = g.op("Mul", [sigma, f32("noise_freqs", _np(ne.freqs))], "noise_angles")
        feats = g.op("Concat", [sigma, g.op("Sin", [ang], "noise_sin"), g.op("Cos", [ang], "noise_cos")],
                     "noise_features", axis=-1)
        h = g.op("Add", [g.op("MatMul", [feats, f32("noise_fc1_w", _np(ne.fc1.weight).T)], "noise_fc1"),
                         f32("noise_fc1_b", _np(ne.fc1.bias))], "noise_fc1_b_add")
        h = g.op("Mul", [h, g.op("Sigmoid", [h], "noise_sig")], "noise_silu")
        h = g.op("Add", [g.op("MatMul", [h, f32("noise_fc2_w", _np(ne.fc2.weight).T)], "noise_fc2"),
                         f32("noise_fc2_b", _np(ne.fc2.bias))], "noise_fc2_b_add")
        x = g.op("Add", [x, h], "x_noisy")

    # Rotary tables for every position the model allows (the engine refuses longer sequences), from
    # the PyTorch model's own function; the kernel takes one half of its duplicated [cos, cos] rows.
    positions = torch.arange(cfg.max_sequence_length).unsqueeze(0)
    cos, sin = (t[0, 0, :, :Dh // 2] for t in rotary_cos_sin(positions, Dh, cfg.rope_theta))
    rope_cos, rope_sin = f32("rope_cos", _np(cos)), f32("rope_sin", _np(sin))              # [T_max, Dh/2]

    # Visibility: past key t iff attention_mask[b,t]; new key j for new query i iff
    # (window_mask[i,j] and attention_mask[b,P+j]) or j == i.
    real = g.op("Equal", ["attention_mask", c_one_i], "real")                              # [B,T]
    real_past = g.op("Slice", [real, c_zero_i, past_len, c_one_i], "real_past")             # [B,P]
    real_new = g.op("Slice", [real, past_len, c_big_end, c_one_i], "real_new")              # [B,S]
    in_window = g.op("Equal", ["window_mask", c_one_i], "in_window")                       # [S,S]
    itself = g.op("Equal", [g.op("EyeLike", ["window_mask"], "eye"), c_one_i], "itself")
    new_ok = g.op("Or", [g.op("And", [in_window, g.op("Unsqueeze", [real_new, c_one_i], "real_new3")],
                              "new_and"), itself], "new_visible")                           # [B,S,S]
    bias_past = g.op("Where", [g.op("Unsqueeze", [real_past, c_one_i], "real_past3"), c_zero_f, c_neg],
                     "bias_past")                                                          # [B,1,P]
    bias_new = g.op("Where", [new_ok, c_zero_f, c_neg], "bias_new")                        # [B,S,S]
    # [B,S,P]: broadcast the past part over the queries by adding the new part's zero row sums.
    s_zero = g.op("Mul", [g.op("ReduceSum", [bias_new, c_axis_last], "bias_rows", keepdims=1), c_zero_f],
                  "zero_rows")                                                             # [B,S,1] zeros
    bias = g.op("Concat", [g.op("Add", [bias_past, s_zero], "bias_past_full"), bias_new], "bias_bst", axis=-1)
    bias = g.op("Unsqueeze", [bias, c_one_i], "bias_b1st")                                 # [B,1,S,T]
    bias = g.op("Tile", [bias, i64("tile_groups", [1, 1, G, 1])], "bias_groups")            # [B,1,G·S,T]

    def rms(inp: str, weight: torch.Tensor, name: str) -> str:
        # Pow/ReduceMean/Add/Sqrt/Div/Mul: the pattern ONNX Runtime fuses into one kernel.
        var = g.op("ReduceMean", [g.op("Pow", [inp, c_two], f"{name}_sq")], f"{name}_var", axes=[-1], keepdims=1)
        std = g.op("Sqrt", [g.op("Add", [var, c_eps], f"{name}_var_eps")], f"{name}_std")
        return g.op("Mul", [g.op("Div", [inp, std], f"{name}_div"), f32(f"{name}_w", _np(weight))], name)

    scale = 1.0 / math.sqrt(Dh)
    outputs = []
    for i, layer in enumerate(model.layers):
        a = layer.attn
        wq = _np(a.q_proj.weight).T * np.float32(scale)                                    # [D, Hq·Dh]
        wk = _np(a.k_proj.weight).T
        w_qkv = np.concatenate([wq, wk, _np(a.v_proj.weight).T], axis=1)
        hn = rms(x, layer.attn_norm.weight, f"l{i}_attn_norm")
        qkv = g.op("MatMul", [hn, f32(f"l{i}_w_qkv", w_qkv)], f"l{i}_qkv")
        qk, v = g.op("Split", [qkv, split_qk_v], f"l{i}_split_qkv", n_out=2, axis=-1)
        # Q and K heads side by side [B,S,(Hq+Hkv)·Dh]: the kernel takes the head size from the
        # tables (2 × Dh/2) and rotates every head of a token by that token's position.
        qk = g.op("RotaryEmbedding", [qk, "position_ids", rope_cos, rope_sin], f"l{i}_qk_rope",
                  domain="com.microsoft", interleaved=0)
        q, k = g.op("Split", [qk, split_q_k], f"l{i}_split_qk", n_out=2, axis=-1)
        new_k = g.op("Transpose", [g.op("Reshape", [k, shape_bs_hkv_dh], f"l{i}_k4")], f"new_key_values.{i}.key",
                     perm=[0, 2, 1, 3])                                                     # [B,Hkv,S,Dh]
        new_v = g.op("Transpose", [g.op("Reshape", [v, shape_bs_hkv_dh], f"l{i}_v4")], f"new_key_values.{i}.value",
                     perm=[0, 2, 1, 3])
        outputs += [new_k, new_v]
        q = g.op("Transpose", [g.op("Reshape", [q, shape_bs_hkv_g_dh], f"l{i}_q5")], f"l{i}_q_heads",
                 perm=[0, 2, 3, 1, 4])                                                      # [B,Hkv,G,S,Dh]
        q = g.op("Reshape", [q, shape_b_hkv_gs_dh], f"l{i}_q_rows")                        # [B,Hkv,G·S,Dh]
        past_k, past_v = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
        s_past = g.op("MatMul", [q, g.op("Transpose", [past_k], f"l{i}_past_kt", perm=[0, 1, 3, 2])], f"l{i}_s_past")
        s_new = g.op("MatMul", [q, g.op("Transpose", [new_k], f"l{i}_new_kt", perm=[0, 1, 3, 2])], f"l{i}_s_new")
        scores = g.op("Add", [g.op("Concat", [s_past, s_new], f"l{i}_scores", axis=-1), bias], f"l{i}_scores_b")
        probs = g.op("Softmax", [scores], f"l{i}_probs", axis=-1)                            # [B,Hkv,G·S,T]
        p_past = g.op("Slice", [probs, c_zero_i, past_len, c_axis_last], f"l{i}_p_past")
        p_new = g.op("Slice", [probs, past_len, c_big_end, c_axis_last], f"l{i}_p_new")
        attn = g.op("Add", [g.op("MatMul", [p_past, past_v], f"l{i}_o_past"),
                            g.op("MatMul", [p_new, new_v], f"l{i}_o_new")], f"l{i}_o")       # [B,Hkv,G·S,Dh]
        attn = g.op("Transpose", [g.op("Reshape", [attn, shape_b_hkv_g_s_dh], f"l{i}_o5")], f"l{i}_o_tokens",
                    perm=[0, 3, 1, 2, 4])                                                   # [B,S,Hkv,G,Dh]
        attn = g.op("Reshape", [attn, shape_bs_flat], f"l{i}_o_flat")
        x = g.op("Add", [x, g.op("MatMul", [attn, f32(f"l{i}_w_o", _np(a.o_proj.weight).T)], f"l{i}_o_proj")],
                 f"l{i}_x_attn")
        m = layer.mlp
        hn = rms(x, layer.mlp_norm.weight, f"l{i}_mlp_norm")
        w_gu = np.concatenate([_np(m.gate_proj.weight).T, _np(m.up_proj.weight).T], axis=1)
        gate, up = g.op("Split", [g.op("MatMul", [hn, f32(f"l{i}_w_gate_up", w_gu)], f"l{i}_gate_up"), split_ffn],
                        f"l{i}_split_gu", n_out=2, axis=-1)
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate], f"l{i}_gate_sig")], f"l{i}_silu"), up],
                   f"l{i}_act")
        x = g.op("Add", [x, g.op("MatMul", [act, f32(f"l{i}_w_down", _np(m.down_proj.weight).T)], f"l{i}_down")],
                 f"l{i}_x_mlp")
    hn = rms(x, model.norm.weight, "final_norm")
    g.op("MatMul", [hn, f32("w_lm_head", _np(model.lm_head.weight).T)], "logits")

    def tensor(name, elem, dims):
        return helper.make_tensor_value_info(name, elem, dims)

    inputs = [tensor("inputs_embeds", TensorProto.FLOAT, ["batch", "sequence", D]),
              tensor("attention_mask", TensorProto.INT64, ["batch", "total_sequence"]),
              tensor("position_ids", TensorProto.INT64, ["batch", "sequence"])]
    for i in range(L):
        for kind in ("key", "value"):
            inputs.append(tensor(f"past_key_values.{i}.{kind}", TensorProto.FLOAT, ["batch", Hkv, "past_sequence", Dh]))
    if cfg.noise_conditioning:
        inputs.append(tensor("noise_levels", TensorProto.FLOAT, ["batch", "sequence"]))
    inputs.append(tensor("window_mask", TensorProto.INT64, ["sequence", "sequence"]))
    outs = [tensor("logits", TensorProto.FLOAT, ["batch", "sequence", K])]
    for name in outputs:
        outs.append(tensor(name, TensorProto.FLOAT, ["batch", Hkv, "sequence", Dh]))
    graph = helper.make_graph(g.nodes, "sjd2_transformer", inputs, outs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
                          producer_name="pysjd2.onnx_graph")
    m.ir_version = 8
    return m
