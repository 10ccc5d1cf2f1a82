"""Our PyTorch re-implementation of the families' decoder-only transformers, with the graph
contract of docs/model-format.md (same signature as ``pysjd2.transformer.Sjd2Transformer``, so
``pysjd2.onnx_export`` exports it unchanged).

Parameter names follow the upstream checkpoints so that loading is a name-for-name copy:

* ``HfLlamaLayer``: Hugging Face Llama / Chameleon / Emu3 names (``self_attn.q_proj``, ``mlp.gate_proj``,
  ``input_layernorm``, ...); Chameleon adds ``self_attn.q_norm`` / ``k_norm`` (LayerNorm over the head
  dimension with per-shard weight and bias of shape [model_parallel_size, head_dim]) and optionally
  swin-norm ordering.
* ``LlamaGenLayer``: LlamaGen names (``attention.wqkv`` fused q/k/v, ``attention.wo``,
  ``feed_forward.w1/w2/w3``, ``attention_norm``, ``ffn_norm``).

Rotary embeddings:

* ``Rope1D``: rotate-half RoPE (Hugging Face convention) of the integer ``position_ids``, with
  optional linear scaling (position / factor).
* ``Rope2DLlamaGen``: LlamaGen's 2-D RoPE, computed inside the graph from ``position_ids``. LlamaGen
  indexes a table by absolute position: the first ``first_image_position`` (= cls_token_num, 120)
  positions are caption slots whose cos and sin are **zero** (their queries and keys become zero
  vectors, exactly as upstream's zero-filled table does), and image token i at position
  ``first_image_position + i`` gets row ``i // grid_w`` and column ``i % grid_w``: the first half of
  each head's rotary pairs turns by row·f_k, the second half by column·f_k with
  f_k = base^(-2k / (head_dim/2)), k < head_dim/4. Pairs are interleaved (x[2k], x[2k+1]), as in
  LlamaGen's ``apply_rotary_emb``. The engine feeds these absolute positions because the manifest
  sets ``sequence.first_image_position``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, asdict
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..transformer import NoiseConditioning, SwiGLU, window_attention_bias

KV = Tuple[torch.Tensor, torch.Tensor]


@dataclass
class FamilyConfig:
    """What pysjd2.onnx_export reads (the first block) plus the family-specific switches."""
    text_vocab_size: int
    codebook_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    ffn_size: int
    max_sequence_length: int
    rope_theta: float = 10000.0
    noise_conditioning: bool = False
    # family switches
    family: str = ""
    layer_style: str = "hf"            # "hf" (Llama/Chameleon/Emu3 names) or "llamagen"
    rms_eps: float = 1e-6
    qk_norm: bool = False              # Chameleon qk-LayerNorm
    qk_norm_shards: int = 1            # rows of q_norm.weight: model_parallel_size (Lumina's copy) or num_heads (HF)
    k_norm_shards: int = 0             # rows of k_norm.weight (0: qk_norm_shards, capped at num_kv_heads)
    swin_norm: bool = False            # Chameleon 30B ordering (norm after attention / MLP)
    rope: str = "1d"                   # "1d" (rotate-half) or "llamagen2d"
    rope_scaling_factor: float = 1.0   # linear RoPE scaling
    first_image_position: int = 0      # llamagen2d: cls_token_num
    grid_width: int = 0                # llamagen2d: image tokens per row
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.num_heads % self.num_kv_heads != 0:
            raise ValueError("num_heads must be a multiple of num_kv_heads")
        if self.head_dim % 2 != 0:
            raise ValueError("head_dim must be even (rotary embeddings)")

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Rope1D(nn.Module):
    def __init__(self, head_dim: int, theta: float, scaling_factor: float = 1.0):
        super().__init__()
        inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.scaling = float(scaling_factor)

    def forward(self, position_ids):
        pos = position_ids.to(torch.float32)
        if self.scaling != 1.0:
            pos = pos / self.scaling
        ang = pos.unsqueeze(-1) * self.inv_freq                 # [B,S,Dh/2]
        ang = torch.cat([ang, ang], dim=-1)                     # [B,S,Dh]
        return ang.cos().unsqueeze(1), ang.sin().unsqueeze(1)  # [B,1,S,Dh]

    @staticmethod
    def apply(x, cos, sin):                                     # x [B,H,S,Dh]
        return x * cos + rotate_half(x) * sin


class Rope2DLlamaGen(nn.Module):
    def __init__(self, head_dim: int, theta: float, first_image_position: int, grid_width: int):
        super().__init__()
        half = head_dim // 2
        freqs = 1.0 / (theta ** (torch.arange(0, half, 2)[: half // 2].float() / half))
        self.register_buffer("freqs", freqs, persistent=False)  # [Dh/4]
        self.first = int(first_image_position)
        self.width = int(grid_width)

    def forward(self, position_ids):
        idx = position_ids - self.first                          # image index (negative: caption slot)
        is_image = (idx >= 0).to(torch.float32).unsqueeze(-1)     # [B,S,1]
        idx = idx.clamp(min=0)
        row = torch.div(idx, self.width, rounding_mode="floor")
        col = idx - row * self.width
        ang = torch.cat([row.to(torch.float32).unsqueeze(-1) * self.freqs,
                         col.to(torch.float32).unsqueeze(-1) * self.freqs], dim=-1)   # [B,S,Dh/2]
        return (ang.cos() * is_image).unsqueeze(1), (ang.sin() * is_image).unsqueeze(1)  # [B,1,S,Dh/2]

    @staticmethod
    def apply(x, cos, sin):                                     # x [B,H,S,Dh], pairs interleaved
        xs = x.reshape(*x.shape[:-1], -1, 2)
        x0, x1 = xs[..., 0], xs[..., 1]
        out = torch.stack([x0 * cos - x1 * sin, x1 * cos + x0 * sin], dim=-1)
        return out.flatten(-2)


def attend(q, k, v, past: Optional[KV], bias, num_heads: int, num_kv_heads: int, head_dim: int):
    """q [B,H,S,Dh], k/v [B,Hkv,S,Dh] (rotated) -> output [B,S,H·Dh], present (k, v) with the past."""
    if past is not None:
        k = torch.cat([past[0], k], dim=2)
        v = torch.cat([past[1], v], dim=2)
    b, s = q.shape[0], q.shape[2]
    h, dh = num_heads, head_dim
    groups = h // num_kv_heads
    qg = q.reshape(b, num_kv_heads, groups, s, dh)
    scores = torch.matmul(qg, k.unsqueeze(2).transpose(-1, -2)) * (1.0 / math.sqrt(dh)) + bias
    probs = torch.softmax(scores, dim=-1)
    out = torch.matmul(probs, v.unsqueeze(2))                    # [B,Hkv,G,S,Dh]
    out = out.reshape(b, h, s, dh).transpose(1, 2).reshape(b, s, h * dh)
    return out, (k, v)


class ChameleonQKNorm(nn.Module):
    """LayerNorm over the head dimension without affine, then per-head weight and bias taken from
    [shards, head_dim] parameters repeated over each shard's heads (Chameleon / Lumina-mGPT)."""

    def __init__(self, shards: int, heads: int, head_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(shards, head_dim))
        self.bias = nn.Parameter(torch.zeros(shards, head_dim))
        self.per_shard = heads // shards
        self.head_dim = head_dim

    def forward(self, x):                                        # x [B,S,H,Dh]
        # LayerNorm without affine, written out (torch 1.13 exports F.layer_norm without a weight
        # as an invalid LayerNormalization node)
        mean = x.mean(-1, keepdim=True)
        xc = x - mean
        x = xc * torch.rsqrt((xc * xc).mean(-1, keepdim=True) + 1e-5)
        w = self.weight.repeat_interleave(self.per_shard, dim=0)
        b = self.bias.repeat_interleave(self.per_shard, dim=0)
        return x * w + b


class HfAttention(nn.Module):
    def __init__(self, cfg: FamilyConfig):
        super().__init__()
        d, h, hk, dh = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.h, self.hk, self.dh = h, hk, dh
        self.q_proj = nn.Linear(d, h * dh, bias=False)
        self.k_proj = nn.Linear(d, hk * dh, bias=False)
        self.v_proj = nn.Linear(d, hk * dh, bias=False)
        self.o_proj = nn.Linear(h * dh, d, bias=False)
        if cfg.qk_norm:
            self.q_norm = ChameleonQKNorm(cfg.qk_norm_shards, h, dh)
            self.k_norm = ChameleonQKNorm(cfg.k_norm_shards or min(cfg.qk_norm_shards, hk), hk, dh)
        else:
            self.q_norm = self.k_norm = None

    def forward(self, x, rope, cos, sin, bias, past):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.h, self.dh)
        k = self.k_proj(x).view(b, s, self.hk, self.dh)
        v = self.v_proj(x).view(b, s, self.hk, self.dh).transpose(1, 2)
        if self.q_norm is not None:
            q = self.q_norm(q)
            k = self.k_norm(k)
        q = rope.apply(q.transpose(1, 2), cos, sin)
        k = rope.apply(k.transpose(1, 2), cos, sin)
        out, present = attend(q, k, v, past, bias, self.h, self.hk, self.dh)
        return self.o_proj(out), present


class HfLlamaLayer(nn.Module):
    def __init__(self, cfg: FamilyConfig):
        super().__init__()
        self.self_attn = HfAttention(cfg)
        self.mlp = SwiGLU(cfg.hidden_size, cfg.ffn_size)  # gate/up/down_proj: the Hugging Face names
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        self.swin = cfg.swin_norm

    def forward(self, x, rope, cos, sin, bias, past):
        if self.swin:   # Chameleon swin-norm: normalise the sub-layer outputs
            h, present = self.self_attn(x, rope, cos, sin, bias, past)
            x = x + self.input_layernorm(h)
            return x + self.post_attention_layernorm(self.mlp(x)), present
        h, present = self.self_attn(self.input_layernorm(x), rope, cos, sin, bias, past)
        x = x + h
        return x + self.mlp(self.post_attention_layernorm(x)), present


class LlamaGenAttention(nn.Module):
    def __init__(self, cfg: FamilyConfig):
        super().__init__()
        d, h, hk, dh = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.h, self.hk, self.dh = h, hk, dh
        self.wqkv = nn.Linear(d, (h + 2 * hk) * dh, bias=False)
        self.wo = nn.Linear(h * dh, d, bias=False)

    def forward(self, x, rope, cos, sin, bias, past):
        b, s, _ = x.shape
        q, k, v = self.wqkv(x).split([self.h * self.dh, self.hk * self.dh, self.hk * self.dh], dim=-1)
        q = rope.apply(q.view(b, s, self.h, self.dh).transpose(1, 2), cos, sin)
        k = rope.apply(k.view(b, s, self.hk, self.dh).transpose(1, 2), cos, sin)
        v = v.view(b, s, self.hk, self.dh).transpose(1, 2)
        out, present = attend(q, k, v, past, bias, self.h, self.hk, self.dh)
        return self.wo(out), present


class LlamaGenFeedForward(nn.Module):
    def __init__(self, d: int, ffn: int):
        super().__init__()
        self.w1 = nn.Linear(d, ffn, bias=False)
        self.w3 = nn.Linear(d, ffn, bias=False)
        self.w2 = nn.Linear(ffn, d, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class LlamaGenLayer(nn.Module):
    def __init__(self, cfg: FamilyConfig):
        super().__init__()
        self.attention = LlamaGenAttention(cfg)
        self.feed_forward = LlamaGenFeedForward(cfg.hidden_size, cfg.ffn_size)
        self.attention_norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        self.ffn_norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)

    def forward(self, x, rope, cos, sin, bias, past):
        h, present = self.attention(self.attention_norm(x), rope, cos, sin, bias, past)
        x = x + h
        return x + self.feed_forward(self.ffn_norm(x)), present


class FamilyTransformer(nn.Module):
    """Decoder with the contract's interface.

    ``text_embed`` / ``image_embed``: modules mapping ids [B,S] (text vocabulary / codes 0..K-1) to
    [B,S,D]; ``head``: module mapping the final normalised hidden state [B,S,D] to logits over the K
    codes only. ``norm``: the final RMSNorm. The layers live in ``layers``.
    """

    def __init__(self, cfg: FamilyConfig, text_embed: nn.Module, image_embed: nn.Module, head: nn.Module):
        super().__init__()
        self.config = cfg
        self.text_embed = text_embed
        self.image_embed = image_embed
        self.head = head
        layer_cls = LlamaGenLayer if cfg.layer_style == "llamagen" else HfLlamaLayer
        self.layers = nn.ModuleList([layer_cls(cfg) for _ in range(cfg.num_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        if cfg.rope == "llamagen2d":
            self.rope = Rope2DLlamaGen(cfg.head_dim, cfg.rope_theta, cfg.first_image_position, cfg.grid_width)
        else:
            self.rope = Rope1D(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling_factor)
        self.noise_embed = NoiseConditioning(cfg.hidden_size) if cfg.noise_conditioning else None

    def enable_noise_conditioning(self) -> None:
        """Adds the SJD2 noise-level input (zero-initialised output layer: the model is unchanged)."""
        if self.noise_embed is None:
            self.noise_embed = NoiseConditioning(self.config.hidden_size)
            self.config.noise_conditioning = True

    def embed_text(self, ids):
        return self.text_embed(ids)

    def embed_image(self, codes):
        return self.image_embed(codes)

    def empty_past(self, batch: int) -> List[KV]:
        c = self.config
        z = torch.zeros(batch, c.num_kv_heads, 0, c.head_dim)
        return [(z, z) for _ in range(c.num_layers)]

    def hidden_states(self, inputs_embeds, attention_mask, position_ids, noise_levels=None):
        """Final normalised hidden states [B,S,D] of a full pass without a cache (references)."""
        x = inputs_embeds
        if self.noise_embed is not None and noise_levels is not None:
            x = x + self.noise_embed(noise_levels)
        cos, sin = self.rope(position_ids)
        bias = window_attention_bias(attention_mask, position_ids[0])
        for layer in self.layers:
            x, _ = layer(x, self.rope, cos, sin, bias, None)
        return self.norm(x)

    def forward(self, inputs_embeds, attention_mask, position_ids, past_key_values: Optional[Sequence[KV]] = None,
                noise_levels=None, window_mask=None):
        """``window_mask`` [S,S] (optional): tree attention inside the window, as in
        ``pysjd2.transformer.window_attention_bias``; each node's ``position_ids`` is its depth."""
        x = inputs_embeds
        if self.noise_embed is not None:
            if noise_levels is None:
                noise_levels = torch.zeros(x.shape[:2], dtype=x.dtype, device=x.device)
            x = x + self.noise_embed(noise_levels)
        cos, sin = self.rope(position_ids)
        bias = window_attention_bias(attention_mask, position_ids[0], window_mask)
        presents: List[KV] = []
        for i, layer in enumerate(self.layers):
            past = past_key_values[i] if past_key_values is not None else None
            x, present = layer(x, self.rope, cos, sin, bias, past)
            presents.append(present)
        return self.head(self.norm(x)), presents

    def training_forward(self, inputs_embeds, attention_mask=None, position_ids=None, noise_levels=None):
        b, s, _ = inputs_embeds.shape
        if attention_mask is None:
            attention_mask = torch.ones(b, s, dtype=torch.long)
        if position_ids is None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        logits, _ = self.forward(inputs_embeds, attention_mask, position_ids, None, noise_levels)
        return logits


class RowSelectEmbedding(nn.Module):
    """Embedding whose table is a row selection of a bigger one (image codes inside a text vocabulary):
    row c is ``source[index[c]]``. Used for Emu3 (offset) and Lumina-mGPT (permutation)."""

    def __init__(self, num: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num, dim))

    def forward(self, ids):
        return F.embedding(ids, self.weight)


class RowSelectHead(nn.Module):
    """Output head over image codes only: logits[c] = h · W[index[c]]."""

    def __init__(self, num: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num, dim))

    def forward(self, h):
        return F.linear(h, self.weight)
