"""ATPRK: area-to-point regression kriging (Wang, Shi, Atkinson et al. 2015, 2016) of one frame.

fine LST = regression trend + ATPK of the coarse regression residuals:

(a) per frame, least squares of coarse LST on the coarse covariates (elevation, NDVI, ...; each
    the block mean of its fine one) with an intercept, applied to the fine covariates (the TsHARP
    trend of ``sharpening.regression_sharpen``);
(b) the coarse residuals (observed minus trend) downscaled by area-to-point kriging (kriging.py)
    with the point variogram deconvolved from their coarse variogram (variogram.py);
(c) their sum. Since the trend's block mean is the coarse trend (the coarse covariates are block
    means) and ATPK conserves each residual exactly, (c) averages back to the coarse LST; the
    final conservation (conserve.py) is then a float-level no-op in ``linear`` mode, covers the
    blocks the fine grid only partly covers, and in ``radiance`` mode makes the block mean of T^4
    equal the coarse T^4 instead.

Missing data: a coarse pixel with NaN LST gives NaN fine pixels and is left out of the regression,
the variogram and its neighbours' kriging; a void fine covariate takes its block's mean of the
others (so it predicts as its coarse pixel's covariate, and the coarse covariate is unchanged); a
coarse pixel whose fine covariates are all void has no trend: its fine pixels repeat its LST.
"""
from __future__ import annotations

import numpy as np

from lst_lightning.downscale.blocks import Blocks, check_inputs, fill_voids
from lst_lightning.downscale.conserve import check_mode, conserve_canvas
from lst_lightning.downscale.grids import Nesting
from lst_lightning.downscale.kriging import DEFAULT_NEIGHBOURHOOD, atpk_canvas, check_neighbourhood
from lst_lightning.downscale.sharpening import MIN_PIXELS
from lst_lightning.downscale.variogram import PointVariogram, check_model, fit_point_variogram


def design(cov: np.ndarray) -> np.ndarray:
    """[..., 1 + C] regression design (intercept first) of covariates [C, ...]."""
    return np.concatenate([np.ones((1,) + cov.shape[1:]), cov], 0).transpose(tuple(range(1, cov.ndim)) + (0,))


def fit_trend(window: np.ndarray, coarse_cov: np.ndarray) -> np.ndarray:
    """[1 + C] least-squares coefficients (K, K per covariate unit) of the coarse LST ``window``
    [h, w] (K) on ``coarse_cov`` [C, h, w]; with fewer than max(MIN_PIXELS, C + 2) usable pixels,
    the intercept alone (the frame mean), and NaN when no pixel is usable."""
    x = design(coarse_cov)
    ok = np.isfinite(window) & np.isfinite(x).all(-1)
    beta = np.zeros(x.shape[-1])
    if ok.sum() >= max(MIN_PIXELS, x.shape[-1] + 1):
        return np.linalg.lstsq(x[ok], window[ok], rcond=None)[0]
    beta[0] = np.mean(window[ok]) if ok.any() else np.nan
    return beta


def atprk(coarse: np.ndarray, fine_cov: np.ndarray | list, nesting: Nesting,
          neighbourhood: int = DEFAULT_NEIGHBOURHOOD, model: str = "exponential",
          mode: str = "linear") -> np.ndarray:
    """[Hf, Wf] float64 fine LST (K) of one frame.

    ``coarse`` [H, W] LST (K, NaN = missing) on ``nesting.coarse``; ``fine_cov`` [C, Hf, Wf] (or a
    list of C [Hf, Wf]) covariates on ``nesting.fine`` (elevation in m, NDVI, ...; NaN = void);
    ``neighbourhood``: coarse pixels a side of the kriging neighbourhood (odd); ``model``:
    ``exponential`` or ``spherical`` point variogram; ``mode``: ``linear`` or ``radiance``
    conservation. NaN outside the coarse grid and where the coarse pixel is missing."""
    fine, _ = atprk_parts(coarse, fine_cov, nesting, neighbourhood, model, mode)
    return fine


def atprk_parts(coarse: np.ndarray, fine_cov: np.ndarray | list, nesting: Nesting,
                neighbourhood: int = DEFAULT_NEIGHBOURHOOD, model: str = "exponential",
                mode: str = "linear") -> tuple[np.ndarray, PointVariogram]:
    """``atprk`` and the point variogram its residuals were kriged with (for reports)."""
    cov = check_inputs(coarse, fine_cov, nesting, "ATPRK")
    check_neighbourhood(neighbourhood)
    check_model(model)
    check_mode(mode)
    blocks = Blocks.of(nesting)
    on_grid = blocks.on_grid
    canvas_cov = fill_voids(blocks.to_canvas(cov), blocks)
    coarse_cov = blocks.means(canvas_cov)
    window = blocks.window(coarse)
    beta = fit_trend(window, coarse_cov)
    residual = window - design(coarse_cov) @ beta
    vario = fit_point_variogram(residual, nesting.f, model)
    fine = design(canvas_cov) @ beta + atpk_canvas(residual, blocks, vario, neighbourhood)
    # no covariate in the whole block: no trend; the coarse value stands (NaN if missing)
    fine = np.where(np.isfinite(fine), fine, blocks.repeat(window))
    fine = conserve_canvas(np.where(on_grid, fine, np.nan), window, blocks, mode)
    return blocks.from_canvas(fine), vario
