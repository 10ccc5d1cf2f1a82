"""VQ decoders in the layout of the real checkpoints, for comparing ours with the upstream classes.

The committed tiny exports shrink the VQ decoders to one or two levels; the real checkpoints have
five (VQ-16, Chameleon's VQGAN) or four (MoVQ) levels with two residual blocks each, attention at
chosen levels and channel counts that change between levels. ``LAYOUTS`` keeps that structure with
32 base channels (GroupNorm's 32 groups need at least 32), so that a swapped upsampling order, a
wrong attention level or a mis-wired residual block shows in the pixels.

Weights come from ``numpy.random.RandomState`` (whose stream numpy keeps stable across versions), in
the order of our module's parameters, so that the reference environment (torch 2.6, numpy 2) and
Debian 12's python (torch 1.13, numpy 1.24) build the same decoder. ``hf_state_dict`` renames our
parameters to the names of the upstream class:

* Janus-Pro: transformers' ``JanusVQVAE`` (``decoder.up.{i}.block.{j}``, ``decoder.mid.block_1``);
* Lumina-mGPT: Chameleon's own ``VQModel`` (chameleon/inference/vqgan.py, which Lumina-mGPT copies;
  transformers' ``ChameleonVQVAE`` has no decoder) -- the same names as ours;
* Emu3: transformers' ``Emu3VQVAE`` (``decoder.middle_block``, ``decoder.up_block.up.{i}``, attention
  as ``q_proj``/``k_proj``/``v_proj``/``out_proj`` linears with a separate ``attn_norm(s)``).
"""
from __future__ import annotations

import math
import re
from typing import Dict

import numpy as np
import torch
import torch.nn as nn

from .vqdecoders import ChameleonVqganDecoder, MovqDecoder, Vq16Decoder

LAYOUTS: Dict[str, dict] = {
    # VQ-16 of Janus-Pro (transformers' JanusVQVAEConfig defaults: 128 base channels, 1,1,2,2,4, two res
    # blocks, attention at the coarsest level, 8-dimensional l2-normalised codebook, 256 latent channels)
    "janus-pro": {"codebook_size": 64, "embed_dim": 8, "z_channels": 32, "ch": 32, "ch_mult": [1, 1, 2, 2, 4],
                  "num_res_blocks": 2, "grid": [2, 2], "seed": 31},
    # Chameleon's VQGAN (vqgan.yaml: 128 base channels, 1,1,2,2,4, two res blocks, 256 latent and
    # embedding channels); attention at the 4x4 level here so that the up-path attention is exercised
    "lumina-mgpt": {"n_embed": 64, "embed_dim": 16, "z_channels": 32, "ch": 32, "ch_mult": [1, 1, 2, 2, 4],
                    "num_res_blocks": 2, "attn_resolutions": [4], "resolution": 32, "grid": [2, 3], "seed": 32},
    # Emu3's MoVQ (Emu3VQVAEConfig defaults: 256 base channels, 1,2,2,4, two res blocks, attention at
    # level 3, 4 latent channels, temporal factor 4)
    "emu3": {"codebook_size": 64, "embed_dim": 4, "z_channels": 4, "ch": 32, "ch_mult": [1, 2, 2, 4],
             "num_res_blocks": 2, "attn_resolutions": [3], "temporal_downsample_factor": 4, "grid": [3, 4],
             "seed": 33},
}


def build(family: str) -> nn.Module:
    """Our decoder for the family's layout, weights filled from the layout's seed."""
    c = LAYOUTS[family]
    if family == "janus-pro":
        vq = Vq16Decoder(codebook_size=c["codebook_size"], codebook_embed_dim=c["embed_dim"], codebook_l2_norm=True,
                         z_channels=c["z_channels"], ch=c["ch"], ch_mult=c["ch_mult"], num_res_blocks=c["num_res_blocks"])
    elif family == "lumina-mgpt":
        vq = ChameleonVqganDecoder(n_embed=c["n_embed"], embed_dim=c["embed_dim"], z_channels=c["z_channels"], ch=c["ch"],
                                   ch_mult=c["ch_mult"], num_res_blocks=c["num_res_blocks"],
                                   attn_resolutions=c["attn_resolutions"], resolution=c["resolution"])
    elif family == "emu3":
        vq = MovqDecoder(codebook_size=c["codebook_size"], embed_dim=c["embed_dim"], z_channels=c["z_channels"],
                         ch=c["ch"], ch_mult=c["ch_mult"], num_res_blocks=c["num_res_blocks"],
                         attn_resolutions=c["attn_resolutions"], temporal_downsample_factor=c["temporal_downsample_factor"])
    else:
        raise KeyError(family)
    fill(vq, np.random.RandomState(c["seed"]))
    return vq.eval()


def codes(family: str) -> torch.Tensor:
    """A fixed code grid [1, h, w] for the layout."""
    c = LAYOUTS[family]
    h, w = c["grid"]
    k = c.get("codebook_size", c.get("n_embed"))
    return torch.from_numpy(np.random.RandomState(c["seed"] + 1000).randint(0, k, size=(1, h, w)).astype(np.int64))


def fill(module: nn.Module, rs: np.random.RandomState) -> None:
    """The distribution of common.init_random (N(0, 1/fan_in) for convolutions and matrices, norm
    scales near 1, small biases, mildly random BatchNorm statistics), drawn from ``rs``."""
    def normal(shape):
        return torch.from_numpy(rs.standard_normal(size=tuple(shape)).astype(np.float32))

    with torch.no_grad():
        for mod_name, mod in module.named_modules():
            for name, p in list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False)):
                if not p.dtype.is_floating_point:
                    continue
                if isinstance(mod, nn.Embedding):
                    p.copy_(normal(p.shape))
                elif isinstance(mod, nn.BatchNorm3d):
                    if name == "running_var":
                        p.copy_(torch.from_numpy((0.5 + rs.random_sample(size=tuple(p.shape))).astype(np.float32)))
                    else:
                        p.copy_((1.0 if name == "weight" else 0.0) + 0.1 * normal(p.shape))
                elif isinstance(mod, nn.GroupNorm):
                    p.copy_((1.0 if name == "weight" else 0.0) + 0.1 * normal(p.shape))
                elif p.dim() >= 2:
                    p.copy_(normal(p.shape) / math.sqrt(p[0].numel()))
                else:
                    p.copy_(0.1 * normal(p.shape))


def _janus_name(n: str) -> str:
    n = re.sub(r"^decoder\.mid\.0\.", "decoder.mid.block_1.", n)
    n = re.sub(r"^decoder\.mid\.1\.", "decoder.mid.attn_1.", n)
    n = re.sub(r"^decoder\.mid\.2\.", "decoder.mid.block_2.", n)
    n = re.sub(r"^decoder\.conv_blocks\.(\d+)\.res\.", r"decoder.up.\1.block.", n)
    return re.sub(r"^decoder\.conv_blocks\.(\d+)\.", r"decoder.up.\1.", n)


_EMU3_ATTN = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "proj_out": "out_proj"}


def _emu3_entry(n: str, t: torch.Tensor):
    n = n.replace("decoder.mid.", "decoder.middle_block.", 1)
    n = re.sub(r"^decoder\.up\.", "decoder.up_block.up.", n)
    m = re.match(r"^(decoder\.middle_block)\.attn_1\.norm\.(.*)$", n)
    if m:
        return f"{m.group(1)}.attn_norm.{m.group(2)}", t
    m = re.match(r"^(decoder\.up_block\.up\.\d+)\.attn\.(\d+)\.norm\.(.*)$", n)
    if m:
        return f"{m.group(1)}.attn_norms.{m.group(2)}.{m.group(3)}", t
    m = re.match(r"^(.*\.attn(?:_1|\.\d+))\.(q|k|v|proj_out)\.(weight|bias)$", n)
    if m:
        # 1x1 convolutions over channels are the linear maps of transformers' attention block
        return f"{m.group(1)}.{_EMU3_ATTN[m.group(2)]}.{m.group(3)}", t.reshape(t.shape[0], -1) if t.dim() == 4 else t
    return n, t


def hf_state_dict(family: str, vq: nn.Module) -> Dict[str, torch.Tensor]:
    """Our decoder's weights under the upstream class's names (decoder half only)."""
    sd = {k: v for k, v in vq.state_dict().items()}
    if family == "janus-pro":
        return {_janus_name(k): v for k, v in sd.items()}
    if family == "lumina-mgpt":
        return dict(sd)
    if family == "emu3":
        return dict(_emu3_entry(k, v) for k, v in sd.items())
    raise KeyError(family)
