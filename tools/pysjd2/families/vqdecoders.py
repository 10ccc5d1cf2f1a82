"""VQ decoders of the families (codes [B,h,w] int64 -> image [B,3,H,W] in [-1, 1]), our own code
written from the upstream architectures, with the upstream parameter names so that checkpoints load
name for name. Only the decoding half exists (embedding lookup, post-quant conv, decoder); encoder
weights in a checkpoint are ignored.

* ``Vq16Decoder``: LlamaGen's VQ-16 (also Janus-Pro's ``gen_vision_model``): l2-normalised codebook
  (``codebook_l2_norm``), ``post_quant_conv``, decoder with ``conv_in``, ``mid`` [res, attn, res],
  ``conv_blocks`` (coarsest level first, attention blocks in that level, nearest x2 upsampling
  between levels), GroupNorm(32, eps 1e-6) + swish + ``conv_out``.
* ``ChameleonVqganDecoder``: taming-transformers style decoder of Chameleon's VQGAN (``mid.block_1``,
  ``mid.attn_1``, ``mid.block_2``, ``up[i].block/attn/upsample``), plain codebook.
* ``MovqDecoder``: Emu3's MoVQ (Emu3VisionVQ) decoder for a single frame: spatially conditioned
  GroupNorm (``SpatialNorm`` with ``conv_y``/``conv_b`` from the quantised latents), a temporal
  stack of causal 3-D convolutions with BatchNorm3d in front of the 2-D decoder, and two temporal
  x2 upsamplings. Upstream decodes 1 latent frame into ``temporal_downsample_factor`` (4) frames and
  returns the first for an image; every temporal operation is causal (zero padding in front only),
  so frame 0 depends on latent frame 0 alone and we run the 2-D decoder on that frame only.
"""
from __future__ import annotations

import math
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def swish(x):
    return x * torch.sigmoid(x)


def group_norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=c, eps=1e-6, affine=True)


def spatial_attention(x, q, k, v, channels: int):
    """Single-head attention over the h·w positions of [B,C,h,w] maps; scale 1/sqrt(C)."""
    b, c, h, w = q.shape
    qf = q.flatten(2).permute(0, 2, 1)                            # [B,hw,C]
    kf = k.flatten(2)                                             # [B,C,hw]
    attn = torch.softmax(torch.bmm(qf, kf) * (channels ** -0.5), dim=2)
    vf = v.flatten(2)
    return torch.bmm(vf, attn.permute(0, 2, 1)).reshape(q.shape)


# ------------------------------------------------------------------------------------------------
# VQ-16 (LlamaGen, Janus-Pro)
# ------------------------------------------------------------------------------------------------
class Vq16ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1 = group_norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2 = group_norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class Vq16Attn(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.channels = c
        self.norm = group_norm(c)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        h = self.norm(x)
        return x + self.proj_out(spatial_attention(x, self.q(h), self.k(h), self.v(h), self.channels))


class _Upsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Vq16Level(nn.Module):
    pass


class Vq16Inner(nn.Module):
    def __init__(self, z_channels: int, ch: int, ch_mult: Sequence[int], num_res_blocks: int):
        super().__init__()
        n = len(ch_mult)
        self.num_res_blocks = num_res_blocks
        block_in = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, 1, 1)
        self.mid = nn.ModuleList([Vq16ResBlock(block_in, block_in), Vq16Attn(block_in), Vq16ResBlock(block_in, block_in)])
        self.conv_blocks = nn.ModuleList()
        for i_level in reversed(range(n)):
            lvl = _Vq16Level()
            lvl.res = nn.ModuleList()
            lvl.attn = nn.ModuleList()
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks + 1):
                lvl.res.append(Vq16ResBlock(block_in, block_out))
                block_in = block_out
                if i_level == n - 1:
                    lvl.attn.append(Vq16Attn(block_in))
            if i_level != 0:
                lvl.upsample = _Upsample(block_in)
            self.conv_blocks.append(lvl)
        self.norm_out = group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, 3, 3, 1, 1)

    def forward(self, z):
        h = self.conv_in(z)
        for m in self.mid:
            h = m(h)
        for i, lvl in enumerate(self.conv_blocks):
            for j in range(self.num_res_blocks + 1):
                h = lvl.res[j](h)
                if len(lvl.attn) > 0:
                    h = lvl.attn[j](h)
            if i != len(self.conv_blocks) - 1:
                h = lvl.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class _Quantize(nn.Module):
    def __init__(self, n: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n, dim)


class Vq16Decoder(nn.Module):
    def __init__(self, codebook_size: int = 16384, codebook_embed_dim: int = 8, codebook_l2_norm: bool = True,
                 z_channels: int = 256, ch: int = 128, ch_mult: Sequence[int] = (1, 1, 2, 2, 4),
                 num_res_blocks: int = 2):
        super().__init__()
        self.l2_norm = codebook_l2_norm
        self.quantize = _Quantize(codebook_size, codebook_embed_dim)
        self.post_quant_conv = nn.Conv2d(codebook_embed_dim, z_channels, 1)
        self.decoder = Vq16Inner(z_channels, ch, ch_mult, num_res_blocks)
        self.scale = 2 ** (len(ch_mult) - 1)

    def forward(self, codes):
        table = self.quantize.embedding.weight
        if self.l2_norm:
            table = F.normalize(table, p=2, dim=-1)
        z = F.embedding(codes, table).permute(0, 3, 1, 2)          # [B,C,h,w]
        return self.decoder(self.post_quant_conv(z))


# ------------------------------------------------------------------------------------------------
# Chameleon VQGAN (Lumina-mGPT), taming-transformers names
# ------------------------------------------------------------------------------------------------
class _Mid(nn.Module):
    pass


class _Up(nn.Module):
    pass


class ChameleonInner(nn.Module):
    def __init__(self, z_channels: int, ch: int, ch_mult: Sequence[int], num_res_blocks: int,
                 attn_resolutions: Sequence[int], resolution: int, out_ch: int = 3):
        super().__init__()
        n = len(ch_mult)
        self.n = n
        self.num_res_blocks = num_res_blocks
        block_in = ch * ch_mult[-1]
        curr_res = resolution // 2 ** (n - 1)
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, 1, 1)
        self.mid = _Mid()
        self.mid.block_1 = Vq16ResBlock(block_in, block_in)
        self.mid.attn_1 = Vq16Attn(block_in)
        self.mid.block_2 = Vq16ResBlock(block_in, block_in)
        ups: List[nn.Module] = []
        for i_level in reversed(range(n)):
            up = _Up()
            up.block = nn.ModuleList()
            up.attn = nn.ModuleList()
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks + 1):
                up.block.append(Vq16ResBlock(block_in, block_out))
                block_in = block_out
                if curr_res in attn_resolutions:
                    up.attn.append(Vq16Attn(block_in))
            if i_level != 0:
                up.upsample = _Upsample(block_in)
                curr_res *= 2
            ups.insert(0, up)
        self.up = nn.ModuleList(ups)
        self.norm_out = group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, out_ch, 3, 1, 1)

    def forward(self, z):
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        for i_level in reversed(range(self.n)):
            up = self.up[i_level]
            for j in range(self.num_res_blocks + 1):
                h = up.block[j](h)
                if len(up.attn) > 0:
                    h = up.attn[j](h)
            if i_level != 0:
                h = up.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class ChameleonVqganDecoder(nn.Module):
    def __init__(self, n_embed: int = 8192, embed_dim: int = 256, z_channels: int = 256, ch: int = 128,
                 ch_mult: Sequence[int] = (1, 1, 2, 2, 4), num_res_blocks: int = 2,
                 attn_resolutions: Sequence[int] = (), resolution: int = 512, out_ch: int = 3):
        super().__init__()
        self.quantize = _Quantize(n_embed, embed_dim)
        self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)
        self.decoder = ChameleonInner(z_channels, ch, ch_mult, num_res_blocks, attn_resolutions, resolution, out_ch)
        self.scale = 2 ** (len(ch_mult) - 1)

    def forward(self, codes):
        z = self.quantize.embedding(codes).permute(0, 3, 1, 2)
        return self.decoder(self.post_quant_conv(z))


# ------------------------------------------------------------------------------------------------
# Emu3 MoVQ (Emu3VisionVQ), one frame
# ------------------------------------------------------------------------------------------------
class CausalConv3d(nn.Module):
    """Conv3d with 'same' spatial padding and causal temporal padding (2 frames of zeros in front,
    kernel 3 in time), named ``conv`` inside as upstream."""

    def __init__(self, cin: int, cout: int, kernel=(3, 1, 1), stride=(1, 1, 1)):
        super().__init__()
        if isinstance(kernel, int):
            kernel = (kernel,) * 3
        if isinstance(stride, int):
            stride = (stride,) * 3
        pad = []
        for k, s in list(zip(kernel[1:], stride[1:]))[::-1]:
            p = k - s
            pad += [p // 2 + p % 2, p // 2]
        pad += [2, 0]
        self.padding = tuple(pad)
        self.conv = nn.Conv3d(cin, cout, kernel, stride=stride)

    def forward(self, x):                                         # [B,C,T,H,W]
        return self.conv(F.pad(x, self.padding))


class TemporalResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.norm1 = nn.BatchNorm3d(c)
        self.conv1 = CausalConv3d(c, c, (3, 3, 3))
        self.norm2 = nn.BatchNorm3d(c)
        self.conv2 = CausalConv3d(c, c, (3, 3, 3))

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        return x + h


class TemporalUpsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = CausalConv3d(c, c, (3, 3, 3))

    def forward(self, x):                                         # [B,C,T,H,W] -> [B,C,2T,H,W]
        # nearest x2 in time: frames f0 f0 f1 f1 ... (torch.repeat_interleave exports wrongly in 1.13)
        x = torch.stack([x, x], dim=3).flatten(2, 3)
        return self.conv(x)


class SpatialNorm(nn.Module):
    def __init__(self, f: int, zq: int):
        super().__init__()
        self.norm_layer = group_norm(f)
        self.conv_y = nn.Conv2d(zq, f, 1)
        self.conv_b = nn.Conv2d(zq, f, 1)

    def forward(self, x, zq):
        zq = F.interpolate(zq, size=x.shape[-2:], mode="nearest")
        return self.norm_layer(x) * self.conv_y(zq) + self.conv_b(zq)


class MovqResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, zq: int):
        super().__init__()
        self.norm1 = SpatialNorm(cin, zq)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2 = SpatialNorm(cout, zq)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, zq):
        h = self.conv1(swish(self.norm1(x, zq)))
        h = self.conv2(swish(self.norm2(h, zq)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class MovqAttn(nn.Module):
    def __init__(self, c: int, zq: int):
        super().__init__()
        self.channels = c
        self.norm = SpatialNorm(c, zq)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x, zq):
        h = self.norm(x, zq)
        return x + self.proj_out(spatial_attention(x, self.q(h), self.k(h), self.v(h), self.channels))


class MovqInner(nn.Module):
    def __init__(self, z_channels: int, embed_dim: int, ch: int, ch_mult: Sequence[int], num_res_blocks: int,
                 attn_resolutions: Sequence[int], temporal_downsample_factor: int, out_channels: int = 3):
        super().__init__()
        n = len(ch_mult)
        self.n = n
        self.num_res_blocks = num_res_blocks
        zq = embed_dim
        block_in = ch * ch_mult[-1]
        self.time_res_stack = nn.Sequential(*[TemporalResBlock(z_channels) for _ in range(num_res_blocks)])
        self.time_conv = nn.ModuleList([TemporalUpsample(z_channels)
                                        for _ in range(int(math.log2(temporal_downsample_factor)))])
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, 1, 1)
        self.mid = _Mid()
        self.mid.block_1 = MovqResBlock(block_in, block_in, zq)
        self.mid.attn_1 = MovqAttn(block_in, zq)
        self.mid.block_2 = MovqResBlock(block_in, block_in, zq)
        ups: List[nn.Module] = []
        for i_level in reversed(range(n)):
            up = _Up()
            up.block = nn.ModuleList()
            up.attn = nn.ModuleList()
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks + 1):
                up.block.append(MovqResBlock(block_in, block_out, zq))
                block_in = block_out
                if i_level in attn_resolutions:    # upstream compares the level index
                    up.attn.append(MovqAttn(block_in, zq))
            if i_level != 0:
                up.upsample = _Upsample(block_in)
            ups.insert(0, up)
        self.up = nn.ModuleList(ups)
        self.norm_out = SpatialNorm(block_in, zq)
        self.conv_out = nn.Conv2d(block_in, out_channels, 3, 1, 1)

    def forward(self, z, zq):
        """z, zq: [B,C,1,h,w] (z after post_quant_conv, zq the raw codebook vectors); both go through
        the temporal stack as one batch (upstream concatenates them along the batch axis)."""
        b = z.shape[0]
        x = torch.cat([z, zq], dim=0)
        x = self.time_res_stack(x)
        for conv in self.time_conv:
            x = swish(conv(x))
        x = x[:, :, 0]                                            # frame 0 of the upsampled clip
        h, zq2 = x[:b], x[b:]
        h = self.conv_in(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h, zq2), zq2), zq2)
        for i_level in reversed(range(self.n)):
            up = self.up[i_level]
            for j in range(self.num_res_blocks + 1):
                h = up.block[j](h, zq2)
                if len(up.attn) > 0:
                    h = up.attn[j](h, zq2)
            if i_level != 0:
                h = up.upsample(h)
        return self.conv_out(swish(self.norm_out(h, zq2)))


class MovqDecoder(nn.Module):
    def __init__(self, codebook_size: int = 32768, embed_dim: int = 4, z_channels: int = 4, ch: int = 256,
                 ch_mult: Sequence[int] = (1, 2, 2, 4), num_res_blocks: int = 2, attn_resolutions: Sequence[int] = (3,),
                 temporal_downsample_factor: int = 4, out_channels: int = 3):
        super().__init__()
        if z_channels != embed_dim:
            raise ValueError("MoVQ decoding concatenates z and zq along the batch: z_channels must equal embed_dim")
        self.quantize = _Quantize(codebook_size, embed_dim)
        self.post_quant_conv = CausalConv3d(embed_dim, z_channels)
        self.decoder = MovqInner(z_channels, embed_dim, ch, ch_mult, num_res_blocks, attn_resolutions,
                                 temporal_downsample_factor, out_channels)
        self.scale = 2 ** (len(ch_mult) - 1)

    def forward(self, codes):
        q = self.quantize.embedding(codes).permute(0, 3, 1, 2).unsqueeze(2)   # [B,C,1,h,w]
        return self.decoder(self.post_quant_conv(q), q)
