"""What a fine-scale prediction must beat, from the coarse field alone (and the fine DEM).

* ``repeat``: each fine pixel takes its coarse pixel's value (the trivial answer);
* ``interpolate``: bilinear (order 1) or bicubic (order 3) spline interpolation of the coarse field
  at the fine pixel centres; a gap in the coarse field is filled from its nearest valid pixel for
  the interpolation only, the fine pixels of a missing coarse pixel stay missing;
* ``conservative_spline``: the bicubic spline whose mean over each coarse pixel's f x f fine pixels
  is the coarse value (the interpolating spline's is not: adding it, then a block correction of
  the rest, left steps at every coarse pixel edge);
* ``regression_sharpen``: TsHARP / DisTrad-style thermal sharpening: per frame, a least-squares fit
  of coarse LST on coarse elevation (and NDVI when given) over the frame's valid coarse pixels,
  applied to the fine elevation, plus each coarse pixel's residual (so the fine pixels of a coarse
  pixel average back to it when the fine covariates average to the coarse ones).
"""
from __future__ import annotations

import numpy as np
from scipy import linalg, ndimage

from lst_lightning.downscale.grids import Nesting
from lst_lightning.downscale.tiles import upsample

MIN_PIXELS = 10  # fewer valid coarse pixels in a frame: no regression (the repeat answer)


def repeat(coarse: np.ndarray, nesting: Nesting) -> np.ndarray:
    hf, wf = nesting.fine.shape
    return upsample(np.asarray(coarse, dtype=np.float32), nesting, np.arange(hf), np.arange(wf), np.nan)


def interpolate(coarse: np.ndarray, nesting: Nesting, order: int, rows: slice | None = None,
                cols: slice | None = None) -> np.ndarray:
    """Spline interpolation of order 1 or 3 of ``coarse`` [H, W] (NaN = missing) at the fine pixels
    ``rows`` x ``cols`` (default: the whole fine grid)."""
    return sample(spline(coarse, order), nesting, rows, cols)


def spline(coarse: np.ndarray, order: int) -> tuple[np.ndarray | None, np.ndarray, int]:
    """(spline coefficients, missing mask, order) of a coarse field: computed once, sampled per tile."""
    coarse = np.asarray(coarse, dtype=np.float64)
    missing = ~np.isfinite(coarse)
    if missing.all():
        return None, missing, order
    if missing.any():
        nearest = ndimage.distance_transform_edt(missing, return_distances=False, return_indices=True)
        coarse = coarse[tuple(nearest)]
    coeffs = ndimage.spline_filter(coarse, order, mode="nearest") if order > 1 else coarse
    return coeffs, missing, order


def conservative_spline(coarse: np.ndarray, f: int) -> tuple[np.ndarray | None, np.ndarray, int]:
    """A ``spline`` (order 3, for ``sample``) of ``coarse`` [H, W] whose mean over the f x f fine
    pixel centres of each coarse pixel equals its value (gaps filled from the nearest valid pixel).
    The block mean of a sampled spline is separable in its coefficients (``block_weights`` along each
    axis), so the coefficients solve two banded systems."""
    coarse = np.asarray(coarse, dtype=np.float64)
    missing = ~np.isfinite(coarse)
    if missing.all():
        return None, missing, 3
    if missing.any():
        nearest = ndimage.distance_transform_edt(missing, return_distances=False, return_indices=True)
        coarse = coarse[tuple(nearest)]
    rows = linalg.solve_banded((2, 2), block_weights(coarse.shape[0], f), coarse)
    coeffs = linalg.solve_banded((2, 2), block_weights(coarse.shape[1], f), rows.T).T
    return coeffs, missing, 3


def block_weights(n: int, f: int) -> np.ndarray:
    """(5, n) banded form (``scipy.linalg.solve_banded``, 2 diagonals each side) of the matrix that
    maps n cubic B-spline coefficients to the means of the spline over the f fine pixel centres of
    each of the n coarse pixels, as ``sample`` evaluates it (coefficients beyond the ends take the
    end ones: ``map_coordinates``' nearest mode)."""
    offsets = (np.arange(f) + 0.5) / f - 0.5  # fine pixel centres in a coarse pixel, from its centre
    banded = np.zeros((5, n))
    i = np.arange(n)
    for d in range(-2, 3):  # coefficient j = i + d (clamped) weighs w in the mean of coarse pixel i
        j = np.clip(i + d, 0, n - 1)
        np.add.at(banded, (2 + i - j, j), _cubic_bspline(offsets - d).mean())
    return banded


def _cubic_bspline(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1, 2 / 3 - x ** 2 + x ** 3 / 2, np.where(x < 2, (2 - x) ** 3 / 6, 0.0))


def sample(fitted: tuple, nesting: Nesting, rows: slice | None = None, cols: slice | None = None) -> np.ndarray:
    """A ``spline`` evaluated at the fine pixels ``rows`` x ``cols``; NaN where the own coarse pixel
    is missing or outside the coarse grid."""
    coeffs, missing, order = fitted
    hf, wf = nesting.fine.shape
    rows, cols = rows or slice(0, hf), cols or slice(0, wf)
    r, c = np.arange(rows.start, rows.stop), np.arange(cols.start, cols.stop)
    if coeffs is None:
        return np.full((r.size, c.size), np.nan, dtype=np.float32)
    # fine pixel centres in coarse pixel coordinates (coarse centre i at i)
    y = (r + nesting.row0 + 0.5) / nesting.f - 0.5
    x = (c + nesting.col0 + 0.5) / nesting.f - 0.5
    yy, xx = np.meshgrid(y, x, indexing="ij")
    out = ndimage.map_coordinates(coeffs, [yy, xx], order=order, mode="nearest", prefilter=False)
    own = upsample(np.where(missing, np.nan, 0.0), nesting, r, c, np.nan)
    return (out + own).astype(np.float32)


def regression_sharpen(coarse: np.ndarray, coarse_cov: list[np.ndarray], fine_cov: list[np.ndarray],
                       nesting: Nesting) -> np.ndarray:
    """[Hf, Wf] TsHARP-style sharpening of one frame: ``coarse`` [H, W] LST, the covariates at both
    scales (elevation first; each coarse one the block mean of its fine one)."""
    x = np.stack([np.ones_like(coarse, dtype=np.float64)] + [np.asarray(c, np.float64) for c in coarse_cov], -1)
    ok = np.isfinite(coarse) & np.isfinite(x).all(axis=-1)
    if ok.sum() < max(MIN_PIXELS, x.shape[-1] + 2):
        return repeat(coarse, nesting)
    beta = np.linalg.lstsq(x[ok], coarse[ok].astype(np.float64), rcond=None)[0]
    residual = np.where(ok, coarse - x @ beta, np.nan)
    fine_x = np.stack([np.ones(nesting.fine.shape)] + [np.asarray(c, np.float64) for c in fine_cov], -1)
    return (fine_x @ beta + repeat(residual, nesting)).astype(np.float32)
