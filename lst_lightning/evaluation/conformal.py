"""Per-sample prediction intervals by split conformal prediction, per band.

The interval of a prediction is ``pred ± q_band * s(x)``: ``s(x)`` is how large the model's error
tends to be for these inputs (a small LightGBM regression of the absolute error on the window's
summary: its scalars and each patch channel's spread), ``q_band`` the conformal quantile of
``|error| / s`` on calibration samples. The validation part gives both, split by frame (a date's
overpass) so that no frame both fits the scale and calibrates it: half of the validation frames
fit ``s``, the other half calibrate ``q`` (normalised split conformal, Papadopoulos et al. 2002; Lei et al. 2018). Under
exchangeability of calibration and new samples the coverage is at least ``level``; the test
part's empirical coverage says whether held-out dates and blocks are exchangeable enough. The
validation part has also chosen the network's epoch or the trees' count, a mild optimism the test
coverage shows too. With too few validation samples for the split, ``s`` = 1 (a constant width
per band, calibrated on every validation sample).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import lightgbm as lgb
import numpy as np

from lst_lightning.data.io.formats import FRAME_BANDS
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.predictions import take

INTERVALS_FILE = "intervals.joblib"
MIN_SPLIT = 400  # calibration samples a band needs on each side of the date split for the scale model
MAX_FIT = 20_000  # samples the scale model is fitted on (a subsample beyond)
FLOOR_K = 0.02  # smallest scale (K): no interval collapses to a point


def check_level(level) -> float:
    if not isinstance(level, (int, float)) or isinstance(level, bool) or not 0 < level < 1:
        raise LSTError(f"intervals: the nominal coverage must be a number in (0, 1) (e.g. 0.9), or null for none; "
                       f"got {level!r}")
    return float(level)


def window_summary(batch: dict) -> np.ndarray:
    """[n, S + 2C] float32: the scalars, and each patch channel's mean and standard deviation."""
    patch = np.asarray(batch["patch"], dtype=np.float32).reshape(len(batch["patch"]), batch["patch"].shape[1], -1)
    return np.concatenate([np.asarray(batch["scalars"], dtype=np.float32), patch.mean(-1), patch.std(-1)], 1)


@dataclass
class Intervals:
    """Fitted intervals: ``halfwidth(batch, band)`` in K for samples of the layout they were fitted on."""

    level: float
    quantiles: dict[int, float]  # band index -> conformal quantile of |error| / scale
    scale_model: object | None = None  # LightGBM regressor of |error| from window_summary + band
    n_calibration: dict[int, int] = field(default_factory=dict)

    def scale(self, batch: dict, band: np.ndarray) -> np.ndarray:
        if self.scale_model is None:
            return np.ones(len(band))
        x = np.concatenate([window_summary(batch), band[:, None].astype(np.float32)], 1)
        return np.maximum(self.scale_model.predict(x), FLOOR_K)

    def halfwidth(self, batch: dict, band: np.ndarray) -> np.ndarray:
        """[n] K: the interval's half-width of each sample (NaN for a band never calibrated)."""
        q = np.array([self.quantiles.get(int(b), np.nan) for b in range(len(FRAME_BANDS))])
        return q[band] * self.scale(batch, band)

    def save(self, path: Path) -> Path:
        joblib.dump(self, path)
        return path


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ceil((n + 1) level)-th smallest score (infinite when n is too small for the level)."""
    n = scores.size
    rank = math.ceil((n + 1) * level)
    return float(np.sort(scores)[rank - 1]) if 0 < rank <= n else float("inf")


def fit_intervals(pred: np.ndarray, batch: dict, band: np.ndarray, level: float, seed: int = 0) -> Intervals:
    """Intervals from validation predictions ``pred`` of ``batch`` (observed samples only)."""
    keep = np.asarray(batch["observed"], dtype=bool)
    error = np.abs(np.asarray(batch["target"], dtype=np.float64) - pred)[keep]
    band, frame = band[keep], np.asarray(batch["frame"])[keep]
    batch = take(batch, keep)
    frames = np.unique(frame)
    fits = np.isin(frame, np.random.default_rng(seed).permutation(frames)[: frames.size // 2])
    counts = [min((fits & (band == b)).sum(), (~fits & (band == b)).sum()) for b in np.unique(band)]
    model = None
    if frames.size >= 4 and min(counts, default=0) >= MIN_SPLIT:
        model = _fit_scale(batch, band, error, fits, seed)
        calibrate = ~fits
    else:
        calibrate = np.ones(error.size, dtype=bool)
    out = Intervals(level, {}, model)
    scores = error / out.scale(batch, band)
    for b in np.unique(band[calibrate]):
        rows = calibrate & (band == b)
        out.quantiles[int(b)] = conformal_quantile(scores[rows], level)
        out.n_calibration[int(b)] = int(rows.sum())
    return out


def _fit_scale(batch: dict, band: np.ndarray, error: np.ndarray, fits: np.ndarray, seed: int):
    rows = np.flatnonzero(fits)
    if rows.size > MAX_FIT:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_FIT, replace=False))
    x = np.concatenate([window_summary(take(batch, rows)), band[rows, None].astype(np.float32)], 1)
    # the median absolute error for these inputs (L1 objective): a scale robust to a few outliers
    model = lgb.LGBMRegressor(objective="l1", n_estimators=60, num_leaves=15, learning_rate=0.1,
                          min_child_samples=50, random_state=seed, n_jobs=1, verbose=-1)
    return model.fit(x, error[rows])


def coverage_by(inside: np.ndarray, width: np.ndarray, parts: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """{part: (coverage %, mean half-width K)} of the samples each part's mask selects (a part that
    selects none is left out): ``inside`` says which targets fell in their interval."""
    return {name: (float(100 * inside[rows].mean()), float(np.mean(width[rows])))
            for name, rows in parts.items() if rows.any()}


def coverage_metrics(intervals: Intervals, pred: np.ndarray, batch: dict, band: np.ndarray) -> dict[str, float]:
    """Empirical coverage (%) and mean half-width (K) on observed samples, pooled and per band."""
    keep = np.asarray(batch["observed"], dtype=bool)
    width = intervals.halfwidth(batch, band)
    inside = np.abs(np.asarray(batch["target"], dtype=np.float64) - pred) <= width
    parts = {"": keep, **{f"band/{FRAME_BANDS[b]}/": keep & (band == b) for b in np.unique(band)}}
    out = {"level_pct": 100 * intervals.level}
    for name, (coverage, halfwidth) in coverage_by(inside, width, parts).items():
        out[f"{name}coverage_pct"], out[f"{name}halfwidth_k"] = coverage, halfwidth
    return out


def interval_results(val: tuple[dict, np.ndarray], test: tuple[dict, np.ndarray], gatherer, level: float,
                     out: Path, seed: int) -> dict[str, float]:
    """Fit the intervals on the validation part's (batch, prediction), save them as
    ``intervals.joblib`` in ``out``, and return their figures on the test part's as
    ``intervals/<key>`` (coverage %, half-width K, pooled and per band)."""
    (val_batch, val_pred), (test_batch, test_pred) = val, test
    intervals = fit_intervals(val_pred, val_batch, gatherer.band_index[val_batch["frame"]], level, seed)
    intervals.save(out / INTERVALS_FILE)
    figures = coverage_metrics(intervals, test_pred, test_batch, gatherer.band_index[test_batch["frame"]])
    return {f"intervals/{k}": v for k, v in figures.items()}


def load_intervals(run_dir: Path) -> Intervals | None:
    """A run's fitted intervals, or None when it has none (trained with intervals=null, or before)."""
    path = Path(run_dir) / INTERVALS_FILE
    return joblib.load(path) if path.is_file() else None
