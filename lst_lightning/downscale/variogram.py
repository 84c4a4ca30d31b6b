"""The point-support variogram of a coarse field, by deconvolution of its areal variogram.

Distances are in coarse pixels (a coarse pixel is 1 x 1; the LST grids are regular in degrees, so
pixel units are the grid's own metric). Library: ``gstools`` (a maintained geostatistics toolbox)
gives the covariance models (``Exponential``, ``Spherical``: ``.covariance(h)``), the empirical
variogram of the coarse pixels (``vario_estimate``, cython, with seeded sub-sampling of pairs for
large frames) and the fit of a model to it (``fit_variogram``). pykrige was not used: it krigs
points only and would add nothing here, since area-to-point kriging (kriging.py) is built from the
point covariance by hand.

Deconvolution. The coarse empirical variogram is that of block averages: gamma_V(h) =
C_VV(0) - C_VV(h), C_VV(d) the mean point covariance between two f x f blocks whose centres are d
apart. Each block is discretised by an s x s lattice of points (s = min(f, MAX_LATTICE)); the
pair differences of two such lattices take (2s - 1)^2 values with triangular weights, so C_VV(d)
is one weighted sum per lag. The areal fit (gstools ``fit_variogram`` of the point model on the
coarse variogram) starts a weighted least-squares fit (``scipy.optimize.least_squares``, log
parameters, weights = pair counts) of the point model's sill and length scale such that its
regularised variogram, averaged over directions 0, 22.5, 45 and 67.5 degrees (the empirical bins
pool all directions; a square block's regularisation is not isotropic), matches the coarse one.
No nugget: ATPK's exact conservation and the area-to-point covariances assume a continuous field,
and the residual's micro-scale noise is what the regression did not explain at 1 km anyway.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import gstools as gs
import numpy as np
from scipy import optimize

from lst_lightning.errors import LSTError

MODELS = {"exponential": gs.Exponential, "spherical": gs.Spherical}
MAX_LATTICE = 10  # block discretisation points per side: 100 points a block, beyond that < 0.1 % change
MAX_SAMPLE = 3000  # coarse pixels in the empirical variogram (4.5 M pairs); more are sub-sampled, seed 0
MIN_VALID = 30  # fewer valid coarse pixels: no fit, the default length scale
MIN_BINS = 3
DEFAULT_LEN = 2.0  # coarse pixels; kriging weights depend on the length scale only (no nugget)
MAX_LAG = 8  # coarse pixels: the 5 x 5 neighbourhood spans < 6, beyond the variogram only blurs the fit
DIRECTIONS = np.array([0.0, 0.125, 0.25, 0.375]) * np.pi


@dataclass(frozen=True)
class PointVariogram:
    """A point-support covariance model: ``var`` (K^2) the sill, ``len_scale`` (coarse pixels) as
    gstools defines it (exponential: e-folding distance; spherical: range); ``fitted`` False
    where the frame had too little structure and defaults stand in."""

    model: str
    var: float
    len_scale: float
    fitted: bool = True

    def gs_model(self) -> gs.CovModel:
        return MODELS[self.model](dim=2, var=self.var, len_scale=self.len_scale)

    def covariance(self, h: np.ndarray) -> np.ndarray:
        """Point covariance (K^2) at distances ``h`` (coarse pixels), any shape."""
        return self.gs_model().covariance(np.asarray(h, dtype=np.float64))

    def unit(self) -> "PointVariogram":
        """The same shape with sill 1: kriging weights do not depend on the sill."""
        return PointVariogram(self.model, 1.0, self.len_scale, self.fitted)


def check_model(model: str) -> str:
    if model not in MODELS:
        raise LSTError(f"variogram model {model!r} is unknown; choose from {list(MODELS)}")
    return model


def lattice(n: int) -> np.ndarray:
    """[n] point positions (coarse pixels) of an n-point-per-side lattice of a block, from its centre:
    for n = f, the fine pixel centres."""
    return (np.arange(n) + 0.5) / n - 0.5


def lattice_differences(s: int) -> tuple[np.ndarray, np.ndarray]:
    """([(2s-1)^2, 2] differences u - v of two s x s lattices, [(2s-1)^2] their frequencies)."""
    k = np.arange(-(s - 1), s)
    w1 = (s - np.abs(k)) / s ** 2
    dy, dx = np.meshgrid(k / s, k / s, indexing="ij")
    return np.stack([dy.ravel(), dx.ravel()], -1), np.outer(w1, w1).ravel()


def block_covariance(vario: PointVariogram, d: np.ndarray, s: int) -> np.ndarray:
    """[...] mean point covariance (K^2) between two blocks whose centres differ by ``d`` [..., 2]
    (coarse pixels), each discretised by s x s points."""
    delta, weight = lattice_differences(s)
    dist = np.linalg.norm(np.asarray(d)[..., None, :] + delta, axis=-1)
    return vario.covariance(dist) @ weight


def regularised_variogram(vario: PointVariogram, lags: np.ndarray, s: int) -> np.ndarray:
    """[L] variogram (K^2) of f x f block averages at centre distances ``lags`` [L] (coarse
    pixels), averaged over DIRECTIONS."""
    d = np.asarray(lags)[:, None, None] * np.stack([np.cos(DIRECTIONS), np.sin(DIRECTIONS)], -1)
    c0 = block_covariance(vario, np.zeros(2), s)
    return c0 - block_covariance(vario, d, s).mean(axis=-1)


def empirical_variogram(field: np.ndarray, max_lag: int = MAX_LAG) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centres [B] in coarse pixels, semivariance [B] in K^2, pair counts [B]) of the valid
    pixels of ``field`` [h, w] (NaN = missing), bins one coarse pixel wide up to ``max_lag``."""
    rows, cols = np.nonzero(np.isfinite(field))
    values = field[rows, cols]
    edges = np.arange(0.5, max_lag + 1.0)
    sample = MAX_SAMPLE if values.size > MAX_SAMPLE else None
    centres, gamma, counts = gs.vario_estimate((rows.astype(np.float64), cols.astype(np.float64)), values,
                                               edges, sampling_size=sample, sampling_seed=0,
                                               return_counts=True)
    keep = counts > 0
    return centres[keep], gamma[keep], counts[keep]


def fit_point_variogram(field: np.ndarray, f: int, model: str = "exponential") -> PointVariogram:
    """The point-support variogram of ``field`` [h, w] (coarse block means of a fine field, K;
    NaN = missing) at nesting factor ``f``: the areal fit, then the deconvolution above. Falls back
    to sill = the field's variance and DEFAULT_LEN where there are too few pixels or no variance."""
    check_model(model)
    field = np.asarray(field, dtype=np.float64)
    valid = np.isfinite(field)
    var = float(np.var(field[valid])) if valid.any() else 0.0
    default = PointVariogram(model, max(var, 1e-12), DEFAULT_LEN, fitted=False)
    max_lag = min(MAX_LAG, max(field.shape) // 2)
    if valid.sum() < MIN_VALID or var < 1e-12 or max_lag < 2:
        return default
    lags, gamma, counts = empirical_variogram(field, max_lag)
    if lags.size < MIN_BINS or not np.all(np.isfinite(gamma)):
        return default
    areal = areal_fit(model, lags, gamma, counts, var)
    return deconvolve(areal, lags, gamma, counts, min(f, MAX_LATTICE), max_lag)


def areal_fit(model: str, lags: np.ndarray, gamma: np.ndarray, counts: np.ndarray, var: float) -> PointVariogram:
    """The point model fitted directly to the coarse variogram (gstools): the deconvolution's start."""
    cov = MODELS[model](dim=2, var=var, len_scale=float(lags.mean()))
    cov.set_arg_bounds(len_scale=[0.05, 1e3])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # curve_fit's covariance warnings say nothing about the fit itself
            cov.fit_variogram(lags, gamma, nugget=False, weights=counts.astype(np.float64), loss="linear")
    except (RuntimeError, ValueError):  # no convergence: start from the field's variance
        return PointVariogram(model, var, DEFAULT_LEN)
    return PointVariogram(model, float(cov.var), float(cov.len_scale))


def deconvolve(start: PointVariogram, lags: np.ndarray, gamma: np.ndarray, counts: np.ndarray, s: int,
               max_lag: float) -> PointVariogram:
    """The point model whose regularised variogram best matches ``gamma`` (weighted by ``counts``)."""
    w = np.sqrt(counts / counts.sum())
    scale = float(gamma.max())

    def misfit(p: np.ndarray) -> np.ndarray:
        trial = PointVariogram(start.model, float(np.exp(p[0])), float(np.exp(p[1])))
        return w * (regularised_variogram(trial, lags, s) - gamma) / scale

    lo = np.log([1e-6 * scale, 0.05])
    hi = np.log([1e3 * scale, 100.0 * max_lag])
    p0 = np.clip(np.log([max(start.var, 1e-6 * scale), start.len_scale]), lo + 1e-9, hi - 1e-9)
    fit = optimize.least_squares(misfit, p0, bounds=(lo, hi), x_scale=1.0)
    return PointVariogram(start.model, float(np.exp(fit.x[0])), float(np.exp(fit.x[1])))
