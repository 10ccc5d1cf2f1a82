"""SJD2 noise levels shared by training and the engine's window schedule (Decoding/WindowRamp.cs).

The engine feeds a window of D drafts: the first clean, the others on a Karras ramp from sigma_min
(next to the clean front) to sigma_max at the end of a ramp of max(D, MINIMUM_SPAN) positions, one
level per noisy position: a draft's level depends on its distance from the front, and a narrow
window feeds only the ramp's low-noise start.
Training rows that imitate it put exactly that ramp on a random stretch of the image after clean
context, for window sizes drawn over the range the engine uses.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def karras_grid(steps: int, sigma_min: float, sigma_max: float, rho: float) -> np.ndarray:
    """``steps`` levels from sigma_max (index 0) down to sigma_min, as Sjd2Spec.SigmaGrid()."""
    i = np.arange(steps, dtype=np.float64)
    a, b = sigma_max ** (1.0 / rho), sigma_min ** (1.0 / rho)
    t = i / (steps - 1) if steps > 1 else np.zeros_like(i)
    return ((a + t * (b - a)) ** rho).astype(np.float32)


MINIMUM_SPAN = 64   # WindowRamp.MinimumSpan


def window_ramp(drafts: int, sigma_min: float, sigma_max: float, rho: float,
                levels: Optional[int] = None) -> np.ndarray:
    """sigma fed at draft positions 1..drafts (entry 0 is position 1, always clean)."""
    out = np.zeros(drafts, dtype=np.float32)
    if drafts < 2:
        return out
    noisy = max(drafts, MINIMUM_SPAN) - 1   # at least 63 levels' worth of positions
    count = levels or noisy
    grid = karras_grid(count, sigma_min, sigma_max, rho)
    for k in range(drafts - 1):
        index = int(np.floor((noisy - 1 - k) * (count - 1) / (noisy - 1) + 0.5))
        out[k + 1] = grid[index]
    return out


def window_segment(rng: np.random.Generator, slots: int, sigma_min: float, sigma_max: float, rho: float,
                   window_min: int, window_max: int) -> np.ndarray:
    """Noise levels [slots] for one training row: clean, then a window ramp of a random size at a
    random place (cut off where the image ends, as the engine's last windows are)."""
    lv = np.zeros(slots, dtype=np.float32)
    drafts = int(rng.integers(window_min, window_max + 1)) - 1   # a window feeds an anchor + drafts
    start = int(rng.integers(1, slots - 1))                       # first draft; slot 0 stays context
    ramp = window_ramp(drafts, sigma_min, sigma_max, rho)
    end = min(slots, start + drafts)
    lv[start:end] = ramp[:end - start]
    return lv
