"""The ridge baseline's linear algebra, made safe for real archives.

What a plain standardised ridge did on a real year of day + night MODIS (5 folds): a night MSE
improvement of -86 % (one fold far worse than predicting 0), 40 ``LinAlgWarning`` lines per run and
alpha at the top of its grid in 3 folds of 5. Three causes, three remedies:

* extrapolation: a held-out date warmer (or a lapse steeper) than any training one moves a linear
  model without bound. Each input column is clamped to its training quantiles ``clip`` and
  ``1 - clip`` (0 = min/max) first, as the networks' ``model.clip_inputs`` does.
* collinear columns (the 81 elevation differences sum to 0; the 81 NDVI cells move together):
  the normal equations are singular, and a Cholesky solve warns and loses digits. ``RidgePath``
  solves through the eigendecomposition of the Gram matrix instead: exact for any alpha > 0, no
  warning, and one decomposition serves every candidate alpha.
* a grid too narrow: the default candidates span the Gram matrix's own scale (``auto``: its
  largest eigenvalue x 1e-8 .. 10, half-decade steps), from nearly no shrinkage to nearly the
  stratum's mean; the old grid (0.1 .. 1000) chose its top in 3 folds of 5.

A missing input (NaN: NDVI outside its windows) counts as the column's training mean. The algebra
runs on one BLAS thread: a multi-threaded product sums in another order, and a fold fitted in a
``cv_jobs`` worker (one core) would differ in the last digits from the same fold fitted alone.
"""
from __future__ import annotations

import functools

import numpy as np
from threadpoolctl import ThreadpoolController

AUTO_GRID = np.logspace(-8, 1, 19)  # x the largest eigenvalue of the standardised Gram matrix
_CHUNK = 65536  # rows standardised at once: bounds the float64 copies on 200 000-sample fits
_CONSTANT = 1e-12  # a column with a spread this small (relative) is constant: scale 1


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread():
    """Context: numpy's BLAS on one thread (the same sums whatever the process's thread count)."""
    return _blas().limit(limits=1, user_api="blas")


class RidgeFit:
    """One fitted ridge: ``predict(x)`` clamps, standardises and applies the coefficients."""

    def __init__(self, lo, hi, mean, scale, coef, intercept, alpha):
        self.lo, self.hi, self.mean, self.scale = lo, hi, mean, scale
        self.coef, self.intercept, self.alpha = coef, float(intercept), float(alpha)

    def predict(self, x: np.ndarray) -> np.ndarray:
        with one_blas_thread():
            return standardise(x, self.lo, self.hi, self.mean, self.scale) @ self.coef + self.intercept


def standardise(x: np.ndarray, lo, hi, mean, scale) -> np.ndarray:
    """``x`` clamped to [lo, hi], centred and scaled, float64; missing values become 0 (the mean)."""
    z = (np.clip(np.asarray(x, dtype=np.float64), lo, hi) - mean) / scale
    z[~np.isfinite(z)] = 0.0
    return z


def column_bounds(x: np.ndarray, clip: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column: its ``clip`` and ``1 - clip`` quantiles over the finite values (+-inf when none
    or when ``clip`` is None: no clamp)."""
    if clip is None:
        return np.full(x.shape[1], -np.inf), np.full(x.shape[1], np.inf)
    with np.errstate(all="ignore"):
        if clip == 0:
            lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        else:
            lo, hi = np.nanquantile(x, [clip, 1 - clip], axis=0)
    empty = ~np.isfinite(lo)
    return np.where(empty, -np.inf, lo).astype(np.float64), np.where(empty, np.inf, hi).astype(np.float64)


class RidgePath:
    """A ridge fit of ``x`` [N, D] -> ``y`` [N] for any alpha, from one eigendecomposition."""

    def __init__(self, x: np.ndarray, y: np.ndarray, clip: float | None = 0.0):
        self.lo, self.hi = column_bounds(x, clip)
        with np.errstate(all="ignore"):
            clamped = np.clip(x, self.lo, self.hi)
            self.mean = np.nan_to_num(np.nanmean(clamped, axis=0, dtype=np.float64))
            spread = np.nan_to_num(np.nanstd(clamped, axis=0, dtype=np.float64))
        del clamped
        self.scale = np.where(spread > _CONSTANT * np.maximum(1.0, np.abs(self.mean)), spread, 1.0)
        self.y_mean = float(np.mean(y))
        gram, xty = np.zeros((x.shape[1],) * 2), np.zeros(x.shape[1])
        with one_blas_thread():
            for start in range(0, x.shape[0], _CHUNK):
                z = standardise(x[start:start + _CHUNK], self.lo, self.hi, self.mean, self.scale)
                gram += z.T @ z
                xty += z.T @ (np.asarray(y[start:start + _CHUNK], dtype=np.float64) - self.y_mean)
            eigval, self.eigvec = np.linalg.eigh(gram)
        self.eigval = np.maximum(eigval, 0.0)  # rounding can leave the null directions slightly < 0
        self.proj = self.eigvec.T @ xty

    def auto_alphas(self) -> list[float]:
        top = float(self.eigval.max()) or 1.0
        return [top * g for g in AUTO_GRID]

    def coef(self, alpha: float) -> np.ndarray:
        """Coefficients on the standardised columns; alpha 0 = least squares on the non-null directions."""
        denom = self.eigval + alpha
        keep = denom > 1e-12 * max(float(self.eigval.max()), 1e-300)
        weights = np.divide(self.proj, denom, out=np.zeros_like(self.proj), where=keep)
        return self.eigvec @ weights

    def fit(self, alpha: float) -> RidgeFit:
        with one_blas_thread():
            return RidgeFit(self.lo, self.hi, self.mean, self.scale, self.coef(alpha), self.y_mean, alpha)

    def predictions(self, alphas: list[float], x: np.ndarray) -> np.ndarray:
        """[N, len(alphas)]: the prediction of every candidate fit, in one product."""
        with one_blas_thread():
            coefs = np.stack([self.coef(a) for a in alphas], axis=1)
            return standardise(x, self.lo, self.hi, self.mean, self.scale) @ coefs + self.y_mean
