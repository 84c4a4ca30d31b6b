"""Small synthetic nested grids and fields for the sharpening baselines' tests (ATPRK, DMS,
conservation), with brute-force block statistics to check the vectorised ones against."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from lst_lightning.data.io.grid import Grid
from lst_lightning.downscale.grids import Nesting, nest

COARSE_DEG = 0.012  # coarse pixel side (degrees); fine = COARSE_DEG / f


def nested(f: int, coarse_shape: tuple[int, int], fine_shape: tuple[int, int] | None = None,
           row0: int = 0, col0: int = 0) -> Nesting:
    """A fine grid at factor f starting row0 / col0 fine pixels inside a coarse grid of
    ``coarse_shape`` (default fine shape: exactly the coarse grid's)."""
    coarse = Grid.from_corner(10.0, 45.0, COARSE_DEG, COARSE_DEG, coarse_shape)
    d = COARSE_DEG / f
    shape = fine_shape or (coarse_shape[0] * f, coarse_shape[1] * f)
    return nest(Grid.from_corner(10.0 + col0 * d, 45.0 - row0 * d, d, d, shape), coarse)


def block_members(nesting: Nesting):
    """Yield (r, c, fine row indices, fine col indices) of every coarse pixel with fine pixels."""
    hf, wf = nesting.fine.shape
    cr, cc = nesting.coarse_rows(np.arange(hf)), nesting.coarse_cols(np.arange(wf))
    h, w = nesting.coarse.shape
    for r in range(h):
        for c in range(w):
            rows, cols = np.nonzero(cr == r)[0], np.nonzero(cc == c)[0]
            if rows.size and cols.size:
                yield r, c, rows, cols


def brute_block_means(fine: np.ndarray, nesting: Nesting) -> np.ndarray:
    """[H, W] mean of the finite fine values of each coarse pixel, by a loop over coarse pixels."""
    out = np.full(nesting.coarse.shape, np.nan)
    for r, c, rows, cols in block_members(nesting):
        v = fine[np.ix_(rows, cols)]
        if np.isfinite(v).any():
            out[r, c] = np.nanmean(v)
    return out


def covariates(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """[2, *shape]: an elevation (m) with hills of ~15 fine pixels and an NDVI in [0, 1] with
    patches of ~4: both vary inside a coarse pixel."""
    z = 1000 + 4000 * ndimage.gaussian_filter(rng.normal(size=shape), 6)
    ndvi = np.clip(0.45 + 1.5 * ndimage.gaussian_filter(rng.normal(size=shape), 2), 0.0, 1.0)
    return np.stack([z, ndvi])
