"""CPU-cheap VQ image tokenizer for the shapes world.

* Encoder: nearest centroid of a k-means codebook over 4x4x3 pixel patches (pixels in [-1,1]);
  64x64 image -> 16x16 code map (downsampling 4).
* Decoder (``VqDecoder``): codes [B,16,16] int64 -> image [B,3,64,64] in [-1,1]. It starts from
  the centroid patch of each code (an embedding initialised with the k-means centroids) and adds a
  small conv-net residual that looks at the 3x3 neighbourhood of codes (so edges that a single
  patch centroid blurs can be sharpened from context); trained a few minutes with MSE.
"""
from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import shapes

PATCH = 4
GRID = shapes.IMAGE_SIZE // PATCH


def to_unit(images_u8: np.ndarray) -> np.ndarray:
    """uint8 [N,64,64,3] -> float32 [N,64,64,3] in [-1,1]."""
    return images_u8.astype(np.float32) / 127.5 - 1.0


def patches(images_unit: np.ndarray) -> np.ndarray:
    """[N,64,64,3] -> [N,16,16,48] (patch pixels row-major, channel last)."""
    n = images_unit.shape[0]
    x = images_unit.reshape(n, GRID, PATCH, GRID, PATCH, 3).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, GRID, GRID, PATCH * PATCH * 3)


def _sqdist(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return (x * x).sum(1, keepdim=True) - 2.0 * x @ c.T + (c * c).sum(1).unsqueeze(0)


def kmeans(data: np.ndarray, k: int, iters: int = 30, seed: int = 0, log=print) -> np.ndarray:
    """Plain Lloyd k-means (torch, chunked); dead codes are re-seeded at the worst-fitted points."""
    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(data)
    n = x.shape[0]
    c = x[torch.randperm(n, generator=g)[:k]].clone()
    for it in range(iters):
        assign = torch.empty(n, dtype=torch.long)
        err = torch.empty(n)
        for s in range(0, n, 65536):
            d = _sqdist(x[s:s + 65536], c)
            e, a = d.min(1)
            assign[s:s + 65536] = a
            err[s:s + 65536] = e
        sums = torch.zeros_like(c).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).float()
        live = counts > 0
        c[live] = sums[live] / counts[live].unsqueeze(1)
        dead = int((~live).sum())
        if dead:
            worst = torch.topk(err, dead).indices
            c[~live] = x[worst]
        if log and (it % 5 == 0 or it == iters - 1):
            log("kmeans it %d mse %.5f dead %d" % (it, float(err.mean()), dead))
    return c.numpy()


def encode(images_u8: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """uint8 [N,64,64,3] -> int64 codes [N,16,16]."""
    p = torch.from_numpy(patches(to_unit(images_u8)).reshape(-1, PATCH * PATCH * 3))
    c = torch.from_numpy(codebook)
    out = torch.empty(p.shape[0], dtype=torch.long)
    for s in range(0, p.shape[0], 65536):
        out[s:s + 65536] = _sqdist(p[s:s + 65536], c).argmin(1)
    return out.view(images_u8.shape[0], GRID, GRID).numpy()


class VqDecoder(nn.Module):
    def __init__(self, codebook_size: int, width: int = 96, feat: int = 64):
        super().__init__()
        self.codebook_size = codebook_size
        self.centroids = nn.Embedding(codebook_size, PATCH * PATCH * 3)
        self.features = nn.Embedding(codebook_size, feat)
        self.conv1 = nn.Conv2d(feat, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = nn.Conv2d(width, width, 3, padding=1)
        self.out = nn.Conv2d(width, PATCH * PATCH * 3, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @staticmethod
    def _patches_to_image(p: torch.Tensor) -> torch.Tensor:
        # p [B,16,16,48] (4x4x3 row-major, channel last) -> [B,3,64,64]
        b = p.shape[0]
        x = p.reshape(b, GRID, GRID, PATCH, PATCH, 3).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, 3, GRID * PATCH, GRID * PATCH)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        base = self.centroids(codes)                           # [B,16,16,48]
        f = self.features(codes).permute(0, 3, 1, 2)           # [B,F,16,16]
        h = F.gelu(self.conv1(f))
        h = h + F.gelu(self.conv2(h))
        h = h + F.gelu(self.conv3(h))
        res = self.out(h).permute(0, 2, 3, 1)                  # [B,16,16,48]
        img = self._patches_to_image(base + res)
        return torch.clamp(img, -1.0, 1.0)


def psnr(a_unit: np.ndarray, b_unit: np.ndarray) -> float:
    """PSNR in dB for images in [-1,1] (peak-to-peak 2), computed on 8-bit-equivalent scale."""
    mse = float(np.mean((a_unit - b_unit) ** 2))
    return 10.0 * math.log10(4.0 / max(mse, 1e-12))


def build_vq(codebook_size: int = 512, n_images: int = 6000, kmeans_iters: int = 30,
             decoder_minutes: float = 4.0, seed: int = 0, log=print):
    """Returns (codebook [K,48] float32, decoder, stats dict)."""
    rng = np.random.default_rng(seed)
    t0 = time.time()
    imgs, _, _ = shapes.sample_batch(rng, n_images, "all")
    p = patches(to_unit(imgs)).reshape(-1, PATCH * PATCH * 3)
    # many patches are identical plain background: deduplicate but keep counts via weights is
    # not needed for k-means quality here; sub-sample instead
    sel = rng.choice(p.shape[0], min(p.shape[0], 400000), replace=False)
    codebook = kmeans(p[sel], codebook_size, kmeans_iters, seed, log)
    log("kmeans done in %.0fs" % (time.time() - t0))

    test_imgs, _, _ = shapes.sample_batch(np.random.default_rng(seed + 999), 500, "all")
    test_codes = torch.from_numpy(encode(test_imgs, codebook))
    test_unit = to_unit(test_imgs).transpose(0, 3, 1, 2)

    dec = VqDecoder(codebook_size)
    with torch.no_grad():
        dec.centroids.weight.copy_(torch.from_numpy(codebook))
    with torch.no_grad():
        base = dec(test_codes).numpy()
    psnr_kmeans = psnr(base, test_unit)
    log("held-out PSNR, centroids only: %.2f dB" % psnr_kmeans)

    opt = torch.optim.AdamW(dec.parameters(), lr=2e-3, weight_decay=0.0)
    t1 = time.time()
    step = 0
    while time.time() - t1 < decoder_minutes * 60:
        bi, _, _ = shapes.sample_batch(rng, 64, "all")
        codes = torch.from_numpy(encode(bi, codebook))
        target = torch.from_numpy(to_unit(bi).transpose(0, 3, 1, 2).copy())
        loss = F.mse_loss(dec(codes), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            log("decoder step %d mse %.5f (%.1f dB)" % (step, float(loss), 10 * math.log10(4 / float(loss))))
    dec.eval()
    with torch.no_grad():
        rec = dec(test_codes).numpy()
    psnr_dec = psnr(rec, test_unit)
    log("held-out PSNR, trained decoder: %.2f dB (%d steps)" % (psnr_dec, step))
    stats = {"codebook_size": codebook_size, "psnr_centroids_db": round(psnr_kmeans, 2),
             "psnr_decoder_db": round(psnr_dec, 2), "decoder_steps": step,
             "heldout_images": 500, "train_images_kmeans": n_images}
    return codebook, dec, stats
