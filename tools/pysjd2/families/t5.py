"""A T5 encoder (our code) with Hugging Face ``T5EncoderModel`` parameter names, for LlamaGen's
FLAN-T5 text features (``shared``, ``encoder.block.{i}.layer.0.SelfAttention.{q,k,v,o}``, the
relative attention bias of block 0, ``layer.0.layer_norm``, ``layer.1.DenseReluDense.wi_0/wi_1/wo``
(gated GELU, tanh approximation) or ``wi/wo`` (ReLU), ``layer.1.layer_norm``,
``encoder.final_layer_norm``).

T5 details kept: no 1/sqrt(d) attention scaling, RMS layer norm without mean or bias, a bucketed
bidirectional relative position bias computed once (block 0) and shared by every layer, padding
masked with the dtype's minimum. Positions are relative, so left padding (what the engine feeds)
gives the same features for the real tokens as upstream's right padding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class T5Config:
    vocab_size: int = 32128
    d_model: int = 2048
    d_kv: int = 64
    d_ff: int = 5120
    num_layers: int = 24
    num_heads: int = 32
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "gated-gelu"

    @staticmethod
    def from_hf(d: dict) -> "T5Config":
        return T5Config(**{k: d[k] for k in T5Config.__dataclass_fields__ if k in d})

    @property
    def gated(self) -> bool:
        return self.feed_forward_proj.startswith("gated-")

    @property
    def act(self) -> str:
        return self.feed_forward_proj.split("-")[-1]


class T5LayerNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps))


def _act(name: str, x):
    if name in ("gelu_new", "gelu"):   # HF maps "gated-gelu" to gelu_new (tanh approximation)
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))
    if name == "relu":
        return F.relu(x)
    raise ValueError(f"T5 activation {name} is not supported")


class T5Attention(nn.Module):
    def __init__(self, c: T5Config, has_bias: bool):
        super().__init__()
        inner = c.num_heads * c.d_kv
        self.h, self.dk = c.num_heads, c.d_kv
        self.q = nn.Linear(c.d_model, inner, bias=False)
        self.k = nn.Linear(c.d_model, inner, bias=False)
        self.v = nn.Linear(c.d_model, inner, bias=False)
        self.o = nn.Linear(inner, c.d_model, bias=False)
        if has_bias:
            self.relative_attention_bias = nn.Embedding(c.relative_attention_num_buckets, c.num_heads)

    def forward(self, x, bias):
        b, s, _ = x.shape

        def heads(t):
            return t.view(b, s, self.h, self.dk).transpose(1, 2)
        scores = torch.matmul(heads(self.q(x)), heads(self.k(x)).transpose(-1, -2)) + bias
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, heads(self.v(x))).transpose(1, 2).reshape(b, s, self.h * self.dk)
        return self.o(out)


class _SelfAttnLayer(nn.Module):
    def __init__(self, c: T5Config, has_bias: bool):
        super().__init__()
        self.SelfAttention = T5Attention(c, has_bias)
        self.layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)


class _DenseGated(nn.Module):
    def __init__(self, c: T5Config):
        super().__init__()
        self.wi_0 = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.wi_1 = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.wo = nn.Linear(c.d_ff, c.d_model, bias=False)
        self.act = c.act

    def forward(self, x):
        return self.wo(_act(self.act, self.wi_0(x)) * self.wi_1(x))


class _Dense(nn.Module):
    def __init__(self, c: T5Config):
        super().__init__()
        self.wi = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.wo = nn.Linear(c.d_ff, c.d_model, bias=False)
        self.act = c.act

    def forward(self, x):
        return self.wo(_act(self.act, self.wi(x)))


class _FfLayer(nn.Module):
    def __init__(self, c: T5Config):
        super().__init__()
        self.DenseReluDense = _DenseGated(c) if c.gated else _Dense(c)
        self.layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)


class T5Block(nn.Module):
    def __init__(self, c: T5Config, has_bias: bool):
        super().__init__()
        self.layer = nn.ModuleList([_SelfAttnLayer(c, has_bias), _FfLayer(c)])

    def forward(self, x, bias):
        att, ff = self.layer
        x = x + att.SelfAttention(att.layer_norm(x), bias)
        return x + ff.DenseReluDense(ff.layer_norm(x))


class _Stack(nn.Module):
    def __init__(self, c: T5Config):
        super().__init__()
        self.block = nn.ModuleList([T5Block(c, i == 0) for i in range(c.num_layers)])
        self.final_layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)


def relative_position_bucket(rel, num_buckets: int, max_distance: int):
    """Bidirectional T5 buckets of key_position − query_position."""
    num_buckets //= 2
    buckets = (rel > 0).to(torch.int64) * num_buckets
    rel = rel.abs()
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.to(torch.float32).clamp(min=1.0) / max_exact)
                         / math.log(max_distance / max_exact) * (num_buckets - max_exact)).to(torch.int64)
    large = torch.clamp(large, max=num_buckets - 1)
    return buckets + torch.where(is_small, rel, large)


class T5Encoder(nn.Module):
    """ids [B,S], mask [B,S] (1 real) -> last_hidden_state [B,S,d_model]."""

    def __init__(self, c: T5Config):
        super().__init__()
        self.config = c
        self.shared = nn.Embedding(c.vocab_size, c.d_model)
        self.encoder = _Stack(c)

    def forward(self, ids, mask):
        c = self.config
        x = self.shared(ids)
        ones = torch.ones_like(ids[0])
        pos = torch.cumsum(ones, 0) - 1                          # 0..S-1 without shape constants
        rel = pos.unsqueeze(0) - pos.unsqueeze(1)                 # [q, k] = k - q
        buckets = relative_position_bucket(rel, c.relative_attention_num_buckets, c.relative_attention_max_distance)
        bias = self.encoder.block[0].layer[0].SelfAttention.relative_attention_bias(buckets)   # [S,S,H]
        bias = bias.permute(2, 0, 1).unsqueeze(0)                 # [1,H,S,S]
        neg = torch.finfo(torch.float32).min
        bias = bias + (1.0 - mask[:, None, None, :].to(torch.float32)) * neg
        for blk in self.encoder.block:
            x = blk(x, bias)
        return self.encoder.final_layer_norm(x)
