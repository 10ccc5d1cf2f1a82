"""Llama-style decoder used by the Sjd2Onnx exporters and trainers.

The module follows the ONNX contract in docs/model-format.md:

* inputs: ``inputs_embeds`` [B,S,D], ``attention_mask`` [B,P+S] int64 (1 real, 0 pad),
  ``position_ids`` [B,S] int64, ``past_key_values`` (L pairs of [B,Hkv,P,Dh]; P may be 0),
  optional ``noise_levels`` [B,S] float (SJD2 models), optional ``window_mask`` [S,S] int64
  (tree attention: 1 = new token i may attend new token j; absent = causal, j <= i).
* outputs: ``logits`` [B,S,K] over image codes only and ``presents`` (L pairs of
  [B,Hkv,P+S,Dh] = concat(past, new) along the sequence axis).

Causality is built explicitly from the positions inside the window: new token i sees every
cached position p with attention_mask[b,p]==1 and new token j when j<=i (or, with a
``window_mask``, when window_mask[i,j]==1) and attention_mask[b,P+j]==1. Nothing relies on
``is_causal``. Masked scores get a large negative bias (-1e9, not -inf). Additionally every
token sees its own key: that changes nothing for real tokens and makes a padding token
(attention_mask 0, output never used) attend to itself only, so no row is ever fully masked
and padding outputs are identical for full pass, prefix-then-window and token-by-token.

Training (no cache): call ``model.training_forward(inputs_embeds, attention_mask,
position_ids, noise_levels)`` or equivalently ``model(inputs_embeds, attention_mask,
position_ids, None, noise_levels)`` -- ``past_key_values=None`` means P = 0.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

KV = Tuple[torch.Tensor, torch.Tensor]

MASK_BIAS = -1e9


@dataclass
class TransformerConfig:
    text_vocab_size: int
    codebook_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int          # grouped-query attention when < num_heads
    head_dim: int
    ffn_size: int
    max_sequence_length: int
    rope_theta: float = 10000.0
    noise_conditioning: bool = False   # True: forward takes noise_levels (SJD2 models)

    def __post_init__(self) -> None:
        if self.num_heads % self.num_kv_heads != 0:
            raise ValueError("num_heads must be a multiple of num_kv_heads")
        if self.head_dim % 2 != 0:
            raise ValueError("head_dim must be even (rotary embeddings)")

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "TransformerConfig":
        names = {f.name for f in fields(TransformerConfig)}
        return TransformerConfig(**{k: v for k, v in d.items() if k in names})


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = (x * x).mean(dim=-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * self.weight


def rotary_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float):
    """cos/sin tables [B,1,S,Dh] for integer positions [B,S]."""
    half = head_dim // 2
    inv_freq = 1.0 / (theta ** (torch.arange(0, half, dtype=torch.float32, device=position_ids.device)
                                * 2.0 / head_dim))
    angles = position_ids.to(torch.float32).unsqueeze(-1) * inv_freq  # [B,S,half]
    angles = torch.cat([angles, angles], dim=-1)                       # [B,S,Dh]
    return angles.cos().unsqueeze(1), angles.sin().unsqueeze(1)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + rotate_half(x) * sin


def window_attention_bias(attention_mask: torch.Tensor, num_new: torch.Tensor,
                          window_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Additive bias [B,1,1,S,T] (T = P+S) for a window of S new tokens after P cached ones.

    ``num_new`` is any tensor whose first dimension has length S (used only for its shape-free
    index ramp, so the exported graph stays dynamic in B, S and P, including P = 0).
    ``window_mask`` [S,S] (1 = new token i sees new token j) replaces the causal rule inside the
    window (tree attention: one pass verifies several branches of drafts); cached keys stay
    visible to every new token.
    """
    ones_t = torch.ones_like(attention_mask[0])               # [T] int64
    ones_s = torch.ones_like(num_new)                         # [S] int64
    key_idx = torch.cumsum(ones_t, dim=0) - 1                 # 0..T-1
    query_idx = torch.cumsum(ones_s, dim=0) - 1               # 0..S-1
    total_t = ones_t.sum()
    total_s = ones_s.sum()
    # key t visible to query i  <=>  t <= P + i  <=>  t - T <= i - S
    key_rel = (key_idx - total_t).unsqueeze(0)                # [1,T]
    query_rel = (query_idx - total_s).unsqueeze(1)            # [S,1]
    causal = key_rel <= query_rel                             # [S,T]
    if window_mask is not None:
        # new key j = t - P sits at key_rel = j - S; cached keys (key_rel < -S) stay visible
        is_new = key_rel >= -total_s                          # [1,T]
        new_idx = (key_rel + total_s).clamp(min=0).expand(query_rel.shape[0], -1)  # [S,T]
        in_window = torch.gather(window_mask, 1, new_idx) == 1
        causal = (is_new & in_window) | (~is_new & causal)
    itself = key_rel == query_rel                             # [S,T] the token's own key
    real = attention_mask == 1                                # [B,T]
    # A real token never sees padding. A padding token (whose output nobody reads) sees only
    # itself, so its output does not depend on the window split either.
    allowed = (causal.unsqueeze(0) & real.unsqueeze(1)) | itself.unsqueeze(0)  # [B,S,T]
    zero = torch.zeros((), dtype=torch.float32, device=attention_mask.device)
    neg = torch.full((), MASK_BIAS, dtype=torch.float32, device=attention_mask.device)
    bias = torch.where(allowed, zero, neg)
    return bias.unsqueeze(1).unsqueeze(1)                     # [B,1,1,S,T]


class Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.num_kv_heads = cfg.num_kv_heads
        self.head_dim = cfg.head_dim
        self.groups = cfg.num_heads // cfg.num_kv_heads
        d = cfg.hidden_size
        self.q_proj = nn.Linear(d, cfg.num_heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(d, cfg.num_kv_heads * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(d, cfg.num_kv_heads * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.num_heads * cfg.head_dim, d, bias=False)

    def forward(self, x, cos, sin, bias, past: Optional[KV]):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q = apply_rotary(q, cos, sin)
        k = apply_rotary(k, cos, sin)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        if self.training and x.is_cuda and past is None and hasattr(F, "scaled_dot_product_attention"):
            # GPU training: the fused kernel computes the same function as the explicit path
            # below (query head h uses KV head h // groups), in the autocast dtype.
            kr = k.repeat_interleave(self.groups, dim=1).to(v.dtype)
            vr = v.repeat_interleave(self.groups, dim=1)
            out = F.scaled_dot_product_attention(q.to(v.dtype), kr, vr, attn_mask=bias[:, 0].to(v.dtype))
            return self.o_proj(out.transpose(1, 2).reshape(b, s, self.num_heads * self.head_dim)), present
        # grouped-query attention by broadcasting: q [B,Hkv,G,S,Dh] against k/v [B,Hkv,1,T,Dh]
        qg = q.reshape(b, self.num_kv_heads, self.groups, s, self.head_dim)
        scores = torch.matmul(qg, k.unsqueeze(2).transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        scores = scores + bias
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v.unsqueeze(2))                   # [B,Hkv,G,S,Dh]
        out = out.reshape(b, self.num_heads, s, self.head_dim).transpose(1, 2)
        out = out.reshape(b, s, self.num_heads * self.head_dim)
        return self.o_proj(out), present


class SwiGLU(nn.Module):
    def __init__(self, d: int, ffn: int):
        super().__init__()
        self.gate_proj = nn.Linear(d, ffn, bias=False)
        self.up_proj = nn.Linear(d, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.hidden_size)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.hidden_size)
        self.mlp = SwiGLU(cfg.hidden_size, cfg.ffn_size)

    def forward(self, x, cos, sin, bias, past):
        h, present = self.attn(self.attn_norm(x), cos, sin, bias, past)
        x = x + h
        x = x + self.mlp(self.mlp_norm(x))
        return x, present


class NoiseConditioning(nn.Module):
    """Maps σ [B,S] to an additive embedding [B,S,D]; last layer zero-initialised."""

    NUM_FREQS = 4

    def __init__(self, d: int):
        super().__init__()
        freqs = torch.tensor([math.pi * (2.0 ** i) for i in range(self.NUM_FREQS)], dtype=torch.float32)
        self.register_buffer("freqs", freqs, persistent=False)
        n_feat = 1 + 2 * self.NUM_FREQS
        self.fc1 = nn.Linear(n_feat, d)
        self.fc2 = nn.Linear(d, d)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def features(self, sigma: torch.Tensor) -> torch.Tensor:
        s = sigma.to(torch.float32).unsqueeze(-1)              # [B,S,1]
        ang = s * self.freqs                                   # [B,S,F]
        return torch.cat([s, ang.sin(), ang.cos()], dim=-1)

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.silu(self.fc1(self.features(sigma))))


class Sjd2Transformer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.config = cfg
        d = cfg.hidden_size
        self.text_embed = nn.Embedding(cfg.text_vocab_size, d)
        self.image_embed = nn.Embedding(cfg.codebook_size, d)
        self.noise_embed = NoiseConditioning(d) if cfg.noise_conditioning else None
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_layers)])
        self.norm = RMSNorm(d)
        self.lm_head = nn.Linear(d, cfg.codebook_size, bias=False)
        self.reset_parameters()

    def reset_parameters(self, std: float = 0.02) -> None:
        for name, p in self.named_parameters():
            if name.startswith("noise_embed."):
                continue
            if p.dim() >= 2:
                nn.init.normal_(p, mean=0.0, std=std)
            elif name.endswith("weight"):   # norms
                nn.init.ones_(p)

    # ---- helpers -------------------------------------------------------------------------
    def embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        return self.text_embed(ids)

    def embed_image(self, codes: torch.Tensor) -> torch.Tensor:
        return self.image_embed(codes)

    def empty_past(self, batch: int) -> List[KV]:
        c = self.config
        z = torch.zeros(batch, c.num_kv_heads, 0, c.head_dim)
        return [(z, z) for _ in range(c.num_layers)]

    # ---- main pass -----------------------------------------------------------------------
    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor, past_key_values: Optional[Sequence[KV]] = None,
                noise_levels: Optional[torch.Tensor] = None,
                window_mask: Optional[torch.Tensor] = None):
        x = inputs_embeds
        if self.noise_embed is not None:
            if noise_levels is None:
                noise_levels = torch.zeros(x.shape[:2], dtype=x.dtype, device=x.device)
            x = x + self.noise_embed(noise_levels)
        cos, sin = rotary_cos_sin(position_ids, self.config.head_dim, self.config.rope_theta)
        bias = window_attention_bias(attention_mask, position_ids[0], window_mask)
        presents: List[KV] = []
        for i, layer in enumerate(self.layers):
            past = past_key_values[i] if past_key_values is not None else None
            x, present = layer(x, cos, sin, bias, past)
            presents.append(present)
        logits = self.lm_head(self.norm(x))
        return logits, presents

    def training_forward(self, inputs_embeds: torch.Tensor,
                         attention_mask: Optional[torch.Tensor] = None,
                         position_ids: Optional[torch.Tensor] = None,
                         noise_levels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Full-sequence pass without a cache (P = 0); returns logits [B,S,K].

        Defaults: attention_mask all ones; position_ids = cumsum(mask) - 1 (clamped at 0), which
        counts only real tokens for left-padded rows, as the engine does.
        """
        b, s, _ = inputs_embeds.shape
        if attention_mask is None:
            attention_mask = torch.ones(b, s, dtype=torch.long, device=inputs_embeds.device)
        if position_ids is None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        logits, _ = self.forward(inputs_embeds, attention_mask, position_ids, None, noise_levels)
        return logits
