"""Baselines a network must beat, trained and evaluated on the same samples and splits.

Chosen like a network (``python train.py model=ridge``), they go through the same ``run_training``
path: the same ``LSTDataModule`` and split, training samples drawn from its train part
(``model.train_samples``, with the seed), the same fixed val/test index sets, the same metrics
(``predictions.part_metrics``), results.json keys and MLflow logging. Each fitted baseline is saved
with joblib (``baseline.joblib``, the run's "checkpoint") so ``lst-evaluate`` can load it.

==========  ===================================================================================
trivial     always 0: the centre pixel equals the window mean
ridge       DisTrad-style linear regression on the network's features (standardised), optionally
            one fit per stratum (``by``: band = day/night, season = DJF/MAM/JJA/SON); the learned
            lapse-rate physics floor
lightgbm    gradient-boosted trees on the same features, early-stopped on the validation set;
            the data-mining sharpener used in practice
coarse      label-free: per frame, regress window-mean LST on window-mean elevation (+ lat/lon)
            over the non-overlapping k x k cells of the whole grid (what a coarse sensor sees),
            then apply that lapse rate to the 1 km elevation difference of the centre pixel.
            It uses no fine labels, only inputs, so it shows what the 1 km labels add.
==========  ===================================================================================

A baseline maps gathered numpy batches (``data/sampling.py``) to K: ``fit(train, val, gatherer)``
and ``predict(batch, gatherer)``; ``gatherer`` gives the frame table and the cache.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import joblib
import lightgbm as lgb
import numpy as np
from tqdm import tqdm

from lst_lightning.data.facts.seasons import SEASONS, season_index
from lst_lightning.errors import LSTError
from lst_lightning.models.linear import RidgePath
from lst_lightning.targets import build, target_class

log = logging.getLogger(__name__)

BASELINE_FILE = "baseline.joblib"


def design(batch: dict) -> np.ndarray:
    """The network's inputs as one flat row per sample: scalars, then the patch channels."""
    n = batch["scalars"].shape[0]
    return np.concatenate([batch["scalars"], batch["patch"].reshape(n, -1)], axis=1)


def strata(batch: dict, gatherer, by: tuple[str, ...]) -> np.ndarray:
    """Integer stratum per sample: band (0 night, 1 day) and/or season (0 DJF .. 3 SON)."""
    frame = batch["frame"]
    code = np.zeros(frame.shape, dtype=np.int64)
    if "band" in by:
        code = code * 2 + gatherer.band_index[frame]
    if "season" in by:
        code = code * 4 + season_index(gatherer.month[frame] + 1)  # gatherer months are 0-based
    return code


class Baseline:
    """A baseline's capabilities, declared here for every kind (config: ``model.baseline._target_``)."""

    needs_labels = True  # False: fitted without training samples
    # False: fitted per frame of one archive (its frames and grid): not over a pool of archives, not
    # on another grid, and its MLflow Model names each row's frame by (date, band)
    frame_free = True

    @property
    def strata(self) -> tuple[str, ...]:
        """The frame context its predictions depend on: "band" (day/night), "season"."""
        return ()

    def fit(self, train: dict | None, val: dict, gatherer) -> None:
        pass

    def predict(self, batch: dict, gatherer) -> np.ndarray:
        raise NotImplementedError


class Trivial(Baseline):
    """Always 0 K."""

    needs_labels = False

    def predict(self, batch: dict, gatherer) -> np.ndarray:
        return np.zeros(batch["target"].shape[0])


class Ridge(Baseline):
    """Standardised ridge regression, one fit per stratum (and a global fit for rare strata), safe
    on real archives (``models/linear.py``): inputs clamped to their training range, a solver that
    neither warns nor fails on collinear columns, missing inputs at the column mean.

    ``alpha``: "auto" (candidates spanning each stratum's own scale), a number, or a list of
    candidates: the one with the lowest validation MSE is kept (as the network keeps its best
    validation checkpoint). ``clip_inputs``: each input clamped to its training quantiles
    ``clip_inputs`` and ``1 - clip_inputs`` (0 = min/max, null = no clamp).
    """

    def __init__(self, alpha: str | float | list[float] = "auto", by: tuple[str, ...] | list[str] = ("band", "season"),
                 min_samples: int = 200, clip_inputs: float | None = 0.0):
        unknown = sorted(set(by) - {"band", "season"})
        if unknown:
            raise LSTError(f"model.baseline.by: unknown {unknown}; choose from band, season")
        self.alphas = None if alpha == "auto" else _check_alphas(alpha)
        if clip_inputs is not None and not 0.0 <= float(clip_inputs) < 0.5:
            raise LSTError(f"model.baseline.clip_inputs: the share of training values outside the clamp, in each "
                           f"tail, must be in [0, 0.5) (0 = training min/max; null = no clamp), got {clip_inputs}")
        self.by, self.min_samples = tuple(by), int(min_samples)
        self.clip = None if clip_inputs is None else float(clip_inputs)
        self.alpha: float | None = None
        self.models: dict = {}

    @property
    def strata(self) -> tuple[str, ...]:
        return self.by

    def fit(self, train: dict, val: dict, gatherer) -> None:
        x, y, code = design(train), train["target"], strata(train, gatherer, self.by)
        paths = {None: RidgePath(x, y, self.clip)}
        for s in np.unique(code) if self.by else ():
            if (code == s).sum() >= self.min_samples:
                paths[int(s)] = RidgePath(x[code == s], y[code == s], self.clip)
        grids = {s: path.auto_alphas() if self.alphas is None else self.alphas for s, path in paths.items()}
        # one choice for every stratum (for 'auto' the same share of each stratum's own scale), on the
        # whole validation set: choices per stratum, on its few validation dates, did worse on h18v04
        xv, code_v = design(val), strata(val, gatherer, self.by)
        pred = np.empty((len(xv), len(grids[None])))
        for s in np.unique(code_v):
            keep, fit = code_v == s, int(s) if int(s) in paths else None
            pred[keep] = paths[fit].predictions(grids[fit], xv[keep])
        best = int(np.argmin(np.mean((pred - val["target"][:, None]) ** 2, axis=0)))
        self.models = {s: path.fit(grids[s][best]) for s, path in paths.items()}
        self.alpha = self.models[None].alpha
        log.info(f"ridge: candidate {best + 1} of {len(grids[None])} (lowest validation MSE); alpha "
                 + ", ".join(f"{self._name(s)} {m.alpha:.3g}" for s, m in self.models.items()))

    def _name(self, code: int | None) -> str:
        if code is None:
            return "all"
        season = SEASONS[code % 4] if "season" in self.by else ""
        band = ("night", "day")[(code // 4 if season else code) % 2] if "band" in self.by else ""
        return "-".join(filter(None, (band, season)))

    def predict(self, batch: dict, gatherer) -> np.ndarray:
        x, code = design(batch), strata(batch, gatherer, self.by)
        out = np.empty(x.shape[0])
        for s in np.unique(code):
            keep = code == s
            out[keep] = self.models.get(int(s) if self.by else None, self.models[None]).predict(x[keep])
        return out


def _check_alphas(alpha) -> list[float]:
    try:
        alphas = [float(a) for a in (alpha if isinstance(alpha, (list, tuple)) else [alpha])]
    except (TypeError, ValueError):
        alphas = []
    if not alphas or not all(a >= 0 for a in alphas):
        raise LSTError(f"model.baseline.alpha: needs 'auto' or numbers >= 0, got {alpha}")
    return alphas


class LightGBM(Baseline):
    """LightGBM regression on the network's features, early-stopped on the validation set."""

    def __init__(self, n_estimators: int = 500, learning_rate: float = 0.05, num_leaves: int = 63,
                 min_child_samples: int = 50, subsample: float = 0.8, colsample_bytree: float = 0.8,
                 early_stopping_rounds: int = 30, n_jobs: int = 0, seed: int = 0, log_every: int = 100):
        self.params = dict(n_estimators=int(n_estimators), learning_rate=float(learning_rate),
                           num_leaves=int(num_leaves), min_child_samples=int(min_child_samples),
                           subsample=float(subsample), subsample_freq=1, colsample_bytree=float(colsample_bytree),
                           n_jobs=int(n_jobs) or len(os.sched_getaffinity(0)), random_state=int(seed), verbose=-1)
        self.early_stopping_rounds, self.log_every = int(early_stopping_rounds), int(log_every)
        self.model = None

    def fit(self, train: dict, val: dict, gatherer) -> None:
        self.model = lgb.LGBMRegressor(**self.params)
        callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        if self.log_every:
            callbacks.append(lgb.log_evaluation(self.log_every))
        self.model.fit(design(train), train["target"], eval_X=(design(val),), eval_y=(val["target"],),
                       eval_metric="l2", callbacks=callbacks)
        log.info(f"lightgbm: {self.model.best_iteration_ or self.params['n_estimators']} trees "
                 f"(early stopping on val)")

    def predict(self, batch: dict, gatherer) -> np.ndarray:
        return self.model.predict(design(batch))


class Coarse(Baseline):
    """Label-free: the coarse-scale LST-elevation relation of each frame, applied at 1 km."""

    needs_labels = False
    frame_free = False  # its slopes are per frame of the archive it was fitted on

    def __init__(self, covariates: tuple[str, ...] | list[str] = ("lat", "lon"), min_cells: int = 8):
        unknown = sorted(set(covariates) - {"lat", "lon"})
        if unknown:
            raise LSTError(f"model.baseline.covariates: unknown {unknown}; choose from lat, lon")
        self.covariates, self.min_cells = tuple(covariates), int(min_cells)
        self.slope_k_per_m: np.ndarray | None = None

    def fit(self, train: dict | None, val: dict, gatherer) -> None:
        cache, k, grid = gatherer.cache, gatherer.cache.k, gatherer.cache.grid
        rows, cols = np.arange(k // 2, gatherer.height, k), np.arange(k // 2, gatherer.width, k)
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        elev = cache.elev_mean[rr, cc].ravel()
        extra = {"lat": np.repeat(grid.lat[rows].astype(np.float32), cols.size),
                 "lon": np.tile(grid.lon[cols].astype(np.float32), rows.size)}
        columns = [np.ones_like(elev), elev] + [extra[c] - extra[c].mean() for c in self.covariates]
        x = np.stack(columns, axis=1).astype(np.float64)
        means = cache.window_mean
        slopes = np.full(len(cache.meta["frames"]), np.nan)
        for f in tqdm(range(slopes.size), desc="coarse lapse rate per frame", leave=False, mininterval=2):
            y = np.asarray(means[f][rr, cc], dtype=np.float64).ravel()
            ok = np.isfinite(y) & np.isfinite(elev)
            if ok.sum() >= max(self.min_cells, x.shape[1] + 2):
                slopes[f] = np.linalg.lstsq(x[ok], y[ok], rcond=None)[0][1]
        # frames with too few coarse cells take their band's median slope (still label-free)
        for band in np.unique(gatherer.band_index):
            same = gatherer.band_index == band
            fill = np.nanmedian(slopes[same]) if np.isfinite(slopes[same]).any() else 0.0
            slopes[same & ~np.isfinite(slopes)] = fill
        self.slope_k_per_m = slopes

    def predict(self, batch: dict, gatherer) -> np.ndarray:
        return self.predict_rows(batch["frame"], centre_elev_diff(gatherer.cache, batch["row"], batch["col"]))

    def predict_rows(self, frame: np.ndarray, centre_diff: np.ndarray) -> np.ndarray:
        """The frame's lapse rate (K/m) times the centre pixel's elevation difference (m)."""
        return self.slope_k_per_m[frame] * centre_diff


def centre_elev_diff(cache, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """The centre pixel's elevation minus its window's mean (m): the DEM minus the window mean
    (what the elev_diff group's centre column holds)."""
    return np.asarray(cache.dem[row, col], dtype=np.float32) - np.asarray(cache.elev_mean[row, col], dtype=np.float32)


def build_baseline(settings: dict, seed: int) -> Baseline:
    """The baseline of a ``model.baseline`` config (its ``_target_``); LightGBM gets the run's seed."""
    settings = dict(settings)
    if target_class(settings, "model.baseline", Baseline) is LightGBM:
        settings.setdefault("seed", seed)
    return build(settings, "model.baseline", Baseline)


def save_baseline(model: Baseline, layout, path: Path) -> Path:
    """joblib file of the fitted baseline and its feature layout, written atomically."""
    tmp = path.with_suffix(".tmp")
    joblib.dump({"baseline": model, **layout.to_json()}, tmp)
    tmp.replace(path)
    return path


def load_baseline(path: Path) -> dict:
    """{"baseline", "k", "groups"} from a ``baseline.joblib``; LSTError if it is not one."""
    try:
        saved = joblib.load(path)
    except FileNotFoundError:
        raise LSTError(f"baseline file {path} does not exist") from None
    except Exception as err:  # noqa: BLE001 - any unpickling failure means the same to the user
        raise LSTError(f"{path}: not a saved baseline ({type(err).__name__}: {err})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("baseline"), Baseline):
        raise LSTError(f"{path}: not a saved baseline (no 'baseline' entry)")
    return saved
