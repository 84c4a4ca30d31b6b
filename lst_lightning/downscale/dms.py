"""Data-mining sharpening in the manner of pyDMS (Gao et al. 2012; Guzinski & Nieto 2019), one frame.

1. Training samples: the coarse pixels with LST and covariates; features = the coarse covariates
   (block means of the fine ones), target = coarse LST, weight = homogeneity (``homogeneity``).
2. A global model (bagged leaf-linear trees, trees.py, at most LEAVES_GLOBAL leaves) on all of
   them, and a local model (at most LEAVES_LOCAL leaves) per ``window`` x ``window`` tile of
   coarse pixels, trained on the tile widened by a quarter of it on each side (Gao's sampling
   window larger than the prediction window); a tile with fewer than MIN_SAMPLES samples has none.
3. Both applied to the fine covariates; blended per fine pixel with its coarse pixel's weight
   w_local = r_global^2 / (r_local^2 + r_global^2), r = coarse LST minus the block mean of that
   model's fine prediction (pyDMS's inverse squared residuals), in T^4 under ``radiance``.
4. Residual correction: the blend conserved to the coarse LST (conserve.py, ``mode``).

Missing data: a void fine covariate takes its block's mean of the others (it predicts as its
coarse pixel); a coarse pixel with NaN LST gives NaN fine pixels; a coarse pixel whose fine
covariates are all void in some band repeats its LST.
"""
from __future__ import annotations

import numpy as np

from lst_lightning.downscale.blocks import Blocks, check_inputs, fill_voids
from lst_lightning.downscale.conserve import check_mode, conserve_canvas
from lst_lightning.downscale.grids import Nesting
from lst_lightning.downscale.trees import Forest, fit_forest
from lst_lightning.errors import LSTError

N_TREES = 10  # scikit-learn BaggingRegressor's default, which pyDMS keeps
LEAVES_GLOBAL, LEAVES_LOCAL = 30, 10  # pyDMS: fewer rules where fewer samples
MIN_SAMPLES = 10  # pyDMS minimumSampleNumber: fewer usable coarse pixels, no model
MIN_LEAF = 10  # pyDMS: min(minimumSampleNumber, 10)
CV_PERCENTILE = 80  # pyDMS: the 80 % most homogeneous pixels keep their full weight, the rest half
DEFAULT_WINDOW = 16  # coarse pixels a side of a local model's tile (pyDMS: the user's choice)
MEAN_FLOOR = 1e-6  # |block mean| below this counts as this (pyDMS sets zero means to 1e-6)


def homogeneity(fine_cov: np.ndarray | list, nesting: Nesting) -> tuple[np.ndarray, np.ndarray]:
    """([H, W] CV, [H, W] weight in [0, 1]) of every coarse pixel, NaN where it has no fine value.

    CV: the mean over covariates of std / |mean| of the finite fine values in the block (population
    std). pyDMS divides by the signed mean and drops CV <= 0; here elevations below sea level are
    valid, and a block whose covariates are all constant (CV 0) takes the frame's smallest positive
    CV instead of being dropped (1/0 would flatten every other weight). Weight: 1/CV scaled to
    [0, 1] over the frame (min-max), halved above the CV_PERCENTILE-th percentile of CV."""
    cov = np.asarray(fine_cov, dtype=np.float64)
    cov = cov[None] if cov.ndim == 2 else cov
    if cov.ndim != 3 or cov.shape[1:] != tuple(nesting.fine.shape):
        raise LSTError(f"homogeneity: fine covariates are {cov.shape}, need [C, {nesting.fine.shape[0]}, "
                       f"{nesting.fine.shape[1]}]")
    blocks = Blocks.of(nesting)
    cv_window = block_cv(blocks.to_canvas(cov), blocks)
    weight = homogeneity_weight(cv_window)
    h, w = nesting.coarse.shape
    cv, wt = np.full((h, w), np.nan), np.full((h, w), np.nan)
    cv[blocks.r0:blocks.r1, blocks.c0:blocks.c1] = cv_window
    wt[blocks.r0:blocks.r1, blocks.c0:blocks.c1] = weight
    return cv, wt


def block_cv(canvas_cov: np.ndarray, blocks: Blocks) -> np.ndarray:
    """[h, w] mean over covariates of each block's std / |mean| (zeros raised as ``homogeneity`` says)."""
    mean = blocks.means(canvas_cov)
    std = np.sqrt(blocks.means((canvas_cov - blocks.repeat(mean)) ** 2))  # two passes: no cancellation
    cv = (std / np.maximum(np.abs(mean), MEAN_FLOOR)).mean(0)
    positive = cv[np.isfinite(cv) & (cv > 0)]
    return np.where(cv == 0, positive.min() if positive.size else 1.0, cv)


def homogeneity_weight(cv: np.ndarray) -> np.ndarray:
    """[h, w] pyDMS's sample weight of each CV (NaN where CV is NaN)."""
    ok = np.isfinite(cv)
    weight = np.full(cv.shape, np.nan)
    if not ok.any():
        return weight
    inv = 1.0 / cv[ok]
    span = inv.max() - inv.min()
    w = (inv - inv.min()) / span if span > 0 else np.ones_like(inv)
    w[cv[ok] >= np.percentile(cv[ok], CV_PERCENTILE)] /= 2  # pyDMS: the threshold's own pixel halves too
    weight[ok] = w
    return weight


def tiles(n: int, size: int) -> list[tuple[slice, slice]]:
    """[(prediction slice, training slice)] along one axis of n coarse pixels: tiles of ``size``,
    each trained on itself plus a quarter of ``size`` on each side."""
    grow = size // 4
    return [(slice(s, min(n, s + size)), slice(max(0, s - grow), min(n, s + size + grow)))
            for s in range(0, n, size)]


def train(x: np.ndarray, y: np.ndarray, w: np.ndarray, ok: np.ndarray, leaves: int, n_trees: int,
          seed: int) -> Forest | None:
    """The forest of the samples ``ok`` [...] of ``x`` [C, ...], ``y`` and ``w`` [...]; None if too few."""
    ok = ok & (w > 0)
    if ok.sum() < max(MIN_SAMPLES, 2 * MIN_LEAF):
        return None
    return fit_forest(x[:, ok].T, y[ok], w[ok], n_trees, leaves, MIN_LEAF, seed)


def predict(forest: Forest, canvas_cov: np.ndarray) -> np.ndarray:
    """[rows, cols] prediction of ``forest`` on the covariate canvas [C, rows, cols]; NaN where a
    covariate is."""
    ok = np.isfinite(canvas_cov).all(0)
    out = np.full(ok.shape, np.nan)
    if ok.any():
        out[ok] = forest.predict(canvas_cov[:, ok].T)
    return out


def local_prediction(canvas_cov: np.ndarray, coarse_cov: np.ndarray, window: np.ndarray, weight: np.ndarray,
                     ok: np.ndarray, blocks: Blocks, size: int, n_trees: int, seed: int) -> np.ndarray:
    """[h * f, w * f] the local models' prediction (NaN in tiles with none)."""
    f, (h, w) = blocks.f, blocks.shape
    out = np.full((h * f, w * f), np.nan)
    for k, (rows, train_r) in enumerate(tiles(h, size)):
        for m, (cols, train_c) in enumerate(tiles(w, size)):
            forest = train(coarse_cov[:, train_r, train_c], window[train_r, train_c], weight[train_r, train_c],
                           ok[train_r, train_c], LEAVES_LOCAL, n_trees, seed + 1000 * (k * 1000 + m + 1))
            if forest is not None:
                fr, fc = slice(rows.start * f, rows.stop * f), slice(cols.start * f, cols.stop * f)
                out[fr, fc] = predict(forest, canvas_cov[:, fr, fc])
    return out


def blend(local: np.ndarray, full: np.ndarray, window: np.ndarray, blocks: Blocks, mode: str) -> np.ndarray:
    """[h * f, w * f]: the local and global predictions blended by their coarse residuals."""
    r_local = window - blocks.means(local)
    r_full = window - blocks.means(full)
    with np.errstate(invalid="ignore", divide="ignore"):
        w_local = np.where(r_local ** 2 + r_full ** 2 > 0, r_full ** 2 / (r_local ** 2 + r_full ** 2), 0.5)
    w_local = blocks.repeat(np.where(np.isfinite(r_local), w_local, 0.0))  # no local model: global alone
    local = np.where(np.isfinite(local), local, full)
    power = 4 if mode == "radiance" else 1  # pyDMS blends temperatures as radiance
    return (w_local * local ** power + (1 - w_local) * full ** power) ** (1 / power)


def dms_sharpen(coarse: np.ndarray, fine_cov: np.ndarray | list, nesting: Nesting,
                window: int | None = DEFAULT_WINDOW, n_trees: int = N_TREES, mode: str = "linear",
                seed: int = 0) -> np.ndarray:
    """[Hf, Wf] float64 fine LST (K) of one frame.

    ``coarse`` [H, W] LST (K, NaN = missing); ``fine_cov`` [C, Hf, Wf] (or a list of [Hf, Wf])
    fine covariates (elevation in m, NDVI, ...; NaN = void); ``window``: coarse pixels a side of a
    local model's tile (None or 0: the global model alone); ``n_trees`` per model; ``mode``:
    ``linear`` or ``radiance`` conservation; ``seed`` of the bootstrap draws. NaN outside the
    coarse grid and where the coarse pixel is missing."""
    cov = check_inputs(coarse, fine_cov, nesting, "DMS")
    check_mode(mode)
    if window is not None and (not isinstance(window, (int, np.integer)) or window < 0):
        raise LSTError(f"DMS: window must be a number of coarse pixels >= 0 (0: no local models), got {window!r}")
    if not isinstance(n_trees, (int, np.integer)) or n_trees < 1:
        raise LSTError(f"DMS: n_trees must be a whole number >= 1, got {n_trees!r}")
    blocks = Blocks.of(nesting)
    raw = blocks.to_canvas(cov)
    canvas_cov = fill_voids(raw, blocks)
    coarse_cov, obs = blocks.means(canvas_cov), blocks.window(coarse)
    weight = homogeneity_weight(block_cv(raw, blocks))
    ok = np.isfinite(obs) & np.isfinite(coarse_cov).all(0) & np.isfinite(weight)
    forest = train(coarse_cov, obs, weight, ok, LEAVES_GLOBAL, n_trees, seed)
    if forest is None:  # too few coarse pixels to learn from: the coarse value stands
        fine = blocks.repeat(obs)
    else:
        full = predict(forest, canvas_cov)
        fine = full
        if window:
            local = local_prediction(canvas_cov, coarse_cov, obs, weight, ok, blocks, window, n_trees, seed)
            fine = blend(local, full, obs, blocks, mode)
    fine = np.where(np.isfinite(fine), fine, blocks.repeat(obs))  # a block with no covariates repeats
    fine = np.where(blocks.repeat(np.isfinite(obs)) & blocks.on_grid, fine, np.nan)
    return blocks.from_canvas(conserve_canvas(fine, obs, blocks, mode))
