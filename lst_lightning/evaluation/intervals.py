"""Uncertainty of cross-validated figures: a mean over folds with its t interval, and the paired
comparison of two models on the same folds (their per-fold differences, so that what the folds
share, an easy or a hard test part, cancels out)."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

LEVEL = 0.95


def mean_interval(values, level: float = LEVEL) -> dict[str, float]:
    """{n, mean, std, low, high, half_width} of per-fold values: Student's t interval of the mean
    (n - 1 degrees of freedom); the bounds are NaN with fewer than two finite values."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    mean = float(x.mean()) if n else float("nan")
    if n < 2:
        return {"n": n, "mean": mean, "std": float("nan"), "low": float("nan"), "high": float("nan"),
                "half_width": float("nan")}
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n))
    return {"n": n, "mean": mean, "std": std, "low": mean - half, "high": mean + half, "half_width": half}


def paired_difference(a, b, level: float = LEVEL) -> dict[str, float | bool]:
    """a - b fold by fold (same folds, same order): the mean difference, its interval, and whether
    the interval excludes 0 (``differs``: the folds agree on the sign beyond their spread)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired comparison needs the same folds: {a.size} vs {b.size} values")
    out = mean_interval(a - b, level)
    out["differs"] = bool(out["n"] >= 2 and (out["low"] > 0 or out["high"] < 0))
    return out
