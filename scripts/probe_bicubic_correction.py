"""Probe: does a learned correction on top of conserved bicubic interpolation transfer one scale down?

    python scripts/probe_bicubic_correction.py ../shared/data/real_dev/h18v04/lst \
        --dem ../shared/data/real_dev/h18v04/dem.tif --ndvi ../shared/data/real_dev/h18v04/ndvi.tif \
        --pixel-size-m 926.6 --hours night=22.5,day=10.5

The archive's pixels are the truth. Its LST aggregated by f (the "coarse" archive, complete blocks
only) is interpolated back by the conservative bicubic spline (downscale/sharpening.py); the
correction model (LightGBM) predicts each pixel's departure from that surface (``departure``: a
target it can always set to 0) from the departures of elevation, NDVI and slope illumination from
their own conserved bicubic surfaces, topographic position, band, day of year and the frame's
lapse rate. Two ways to train it: with the archive's labels ("native": what labels at the target
scale would give) and one scale up ("one scale up": the coarse archive aggregated by f again,
learning f^2 -> f, the only option below the archive's pixels). Each is applied f -> 1 and scored
against the real pixels with its mean departure per coarse pixel removed (so the result stays
conserved), next to conserved bicubic itself. K folds: a fold's test part is one date group x one
block group, its training part the other dates x the other blocks. RMSE per band, mean over the
folds with its 95 % interval, and the paired difference to conserved bicubic.
"""
from __future__ import annotations

import argparse
import sys

import lightgbm as lgb
import numpy as np
from scipy import ndimage

from lst_lightning.data.facts.solar import incidence_cosine
from lst_lightning.data.facts.terrain import slope_aspect
from lst_lightning.data.io.aggregate import block_mean
from lst_lightning.data.io.archive import open_archive
from lst_lightning.data.io.formats import FRAME_BANDS, observed, raw_to_kelvin
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.rasters import read_dem, read_raster
from lst_lightning.downscale.grids import Nesting
from lst_lightning.downscale.sharpening import conservative_spline, sample
from lst_lightning.errors import LSTError, exit_on_user_error
from lst_lightning.evaluation.intervals import mean_interval, paired_difference

FEATURES = ("elevation departure", "elevation", "NDVI departure", "NDVI", "band", "day of year", "lapse rate",
            "bicubic LST", "row", "col", "illumination departure", "illumination", "TPI 3 px", "TPI 7 px")
MAX_TRAIN = 1_000_000


def spline_surface(coarse: np.ndarray, f: int) -> np.ndarray:
    """[H f, W f] the conservative bicubic spline of ``coarse`` [H, W] at the fine pixel centres (its
    block means are ``coarse``; no steps at block edges)."""
    h, w = coarse.shape

    def grid(rows, cols):
        return Grid(lat=np.arange(rows, dtype=float), lon=np.arange(cols, dtype=float))

    nesting = Nesting(grid(h * f, w * f), grid(h, w), f, 0, 0)
    return sample(conservative_spline(coarse, f), nesting).astype(np.float64)


def departure(field: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """(field cropped to whole f x f blocks, its departure from the conserved bicubic surface of its
    own block means): the correction model's target; 0 where the field is such a surface."""
    coarse = block_mean(field, f)
    crop = field[:coarse.shape[0] * f, :coarse.shape[1] * f]
    return crop, crop - spline_surface(coarse, f)


def remove_block_mean(pred: np.ndarray, rows: np.ndarray, cols: np.ndarray, f: int) -> np.ndarray:
    """``pred`` at pixels (rows, cols) less its mean over each f x f block's pixels: a correction that
    leaves every coarse mean as it was."""
    _, block = np.unique(np.stack([rows // f, cols // f]), axis=1, return_inverse=True)
    block = block.ravel()
    return pred - (np.bincount(block, weights=pred) / np.bincount(block))[block]


class Scale:
    """The static inputs of one scale (s = 1: the archive's pixels; s = f: the coarse archive's)."""

    def __init__(self, dem: np.ndarray, ndvi: np.ndarray, lat: np.ndarray, pixel_m: float, f: int):
        self.f = f
        self.dem, self.ddem = departure(dem, f)
        self.ndvi = [departure(n, f) for n in ndvi]
        shape = self.dem.shape
        self.lat = np.broadcast_to(lat[:shape[0], None], shape)
        self.slope, self.aspect = slope_aspect(self.dem, pixel_m, pixel_m)
        self.tpi = [self.dem - ndimage.uniform_filter(self.dem, n, mode="nearest") for n in (3, 7)]

    def rows(self, lst: np.ndarray, band: int, doy: int, lapse: float, hour: float):
        """(X, departure target, rows, cols) of one frame's pixels that have a value."""
        crop, target = departure(lst, self.f)
        r, c = np.nonzero(np.isfinite(target))
        ndvi, dndvi = self.ndvi[min(len(self.ndvi) - 1, (doy - 1) * len(self.ndvi) // 366)]
        cos_i = incidence_cosine(self.slope, self.aspect, self.lat, doy, hour).astype(np.float64)
        if FRAME_BANDS[band] == "night":
            cos_i = np.zeros_like(cos_i)
        _, dcos = departure(cos_i, self.f)
        x = np.stack([self.ddem[r, c], self.dem[r, c], np.nan_to_num(dndvi[r, c]), ndvi[r, c],
                      np.full(r.size, band), np.full(r.size, doy), np.full(r.size, lapse), (crop - target)[r, c],
                      r / crop.shape[0], c / crop.shape[1], dcos[r, c], cos_i[r, c], self.tpi[0][r, c],
                      self.tpi[1][r, c]], 1).astype(np.float32)
        return x, target[r, c], r, c


def within(field: np.ndarray, coarse: np.ndarray, f: int) -> np.ndarray:
    """``field`` cropped to the f x f blocks of ``coarse`` (its block means), NaN in the blocks that
    are missing there: the pixels whose coarse pixel exists."""
    crop = field[:coarse.shape[0] * f, :coarse.shape[1] * f]
    return np.where(np.kron(np.isfinite(coarse), np.ones((f, f))) > 0, crop, np.nan)


def parse_hours(text: str) -> dict[str, float]:
    try:
        hours = {k.strip(): float(v) for k, v in (item.split("=") for item in text.split(","))}
    except ValueError:
        raise LSTError(f"--hours {text}: expected band=hour pairs, e.g. night=22.5,day=10.5") from None
    if set(hours) != set(FRAME_BANDS):
        raise LSTError(f"--hours {text}: give the hour of each band ({', '.join(FRAME_BANDS)})")
    return hours


def frames(archive):
    """(date index, band index, doy, LST K [H, W] with NaN where not observed) of every frame."""
    labels = archive.frames
    dates = sorted({fr.date for fr in labels})
    for start, raw, qa in archive.iter_blocks():
        for j in range(raw.shape[0]):
            fr = labels[start + j]
            lst = np.where(observed(qa[j], fr.band), raw_to_kelvin(raw[j]), np.nan).astype(np.float64)
            yield dates.index(fr.date), FRAME_BANDS.index(fr.band), fr.date.timetuple().tm_yday, lst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("lst_dir")
    p.add_argument("--dem", required=True)
    p.add_argument("--ndvi", default=None)
    p.add_argument("--pixel-size-m", type=float, required=True)
    p.add_argument("--hours", default="night=1.5,day=13.5", help="overpass local solar hours, e.g. night=22.5,day=10.5")
    p.add_argument("--factor", type=int, default=3)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--block-px", type=int, default=63, help="spatial block side in archive pixels")
    args = p.parse_args(argv)
    hours = parse_hours(args.hours)
    archive = open_archive(args.lst_dir, hours)
    dem, grid = read_dem(args.dem, archive.grid)
    ndvi = read_raster(args.ndvi, grid, "NDVI") if args.ndvi else np.zeros((1, *grid.shape), np.float32)
    f, k = args.factor, args.folds
    fine = Scale(dem.astype(np.float64), ndvi.astype(np.float64), grid.lat, args.pixel_size_m, f)
    coarse = Scale(block_mean(dem.astype(np.float64), f), block_mean(ndvi.astype(np.float64), f),
                   block_mean(grid.lat[:, None] * np.ones((1, grid.shape[1])), f)[:, 0], f * args.pixel_size_m, f)
    parts = {"test": [[] for _ in range(k)], "native": [], "one scale up": []}
    for date_i, band, doy, lst in frames(archive):
        lst3 = block_mean(lst, f)
        lst9 = block_mean(lst3, f)
        if np.isfinite(lst9).sum() < 5:
            continue
        ok = np.isfinite(lst9)
        z9 = block_mean(coarse.dem, f)
        lapse = float(np.polyfit(z9[ok], lst9[ok], 1)[0])
        hour = hours[FRAME_BANDS[band]]
        x, y, r, c = fine.rows(within(lst, lst3, f), band, doy, lapse, hour)
        group = ((r // args.block_px) * 7 + (c // args.block_px) * 3) % k
        parts["test"][date_i % k].append((x, y, r, c, group, band))
        parts["native"].append((x, y, group, date_i % k))
        x3, y3, r3, c3 = coarse.rows(within(lst3, lst9, f), band, doy, lapse, hour)
        parts["one scale up"].append((x3, y3, ((r3 * f // args.block_px) * 7 + (c3 * f // args.block_px) * 3) % k,
                                      date_i % k))
    print(f"{sum(len(t) for t in parts['test'])} frames; {k} folds", flush=True)
    sets = {"all inputs": list(range(len(FEATURES))), "elevation, NDVI departures": [0, 2]}
    scores = {}  # (set, training, band) -> list over folds of (bicubic rmse, corrected rmse)
    for fold in range(k):
        for training in ("native", "one scale up"):
            rows = [(x[(g != fold)], y[(g != fold)]) for x, y, g, d in parts[training] if d != fold]
            x_all, y_all = np.concatenate([a for a, _ in rows]), np.concatenate([b for _, b in rows])
            if y_all.size > MAX_TRAIN:
                keep = np.random.default_rng(fold).choice(y_all.size, MAX_TRAIN, replace=False)
                x_all, y_all = x_all[keep], y_all[keep]
            for name, cols in sets.items():
                model = lgb.LGBMRegressor(n_estimators=400, num_leaves=63, learning_rate=0.05, min_child_samples=50,
                                          subsample=0.8, subsample_freq=1, verbose=-1, n_jobs=2)
                model.fit(x_all[:, cols], y_all)
                for band in (0, 1):
                    y_t, p_t = [], []
                    for x, y, r, c, g, b in parts["test"][fold]:
                        m = (g == fold)
                        if b != band or not m.any():
                            continue
                        y_t.append(y[m])
                        p_t.append(remove_block_mean(model.predict(x[m][:, cols]), r[m], c[m], f))
                    y_t, p_t = np.concatenate(y_t), np.concatenate(p_t)
                    scores.setdefault((name, training, band), []).append(
                        (float(np.sqrt(np.mean(y_t ** 2))), float(np.sqrt(np.mean((y_t - p_t) ** 2)))))
        print(f"fold {fold} done", flush=True)
    print(f"\nRMSE (K), mean over {k} folds [95 % interval]; corrected - conserved bicubic, paired over the folds")
    for (name, training, band), pairs in scores.items():
        bic, cor = [a for a, _ in pairs], [b for _, b in pairs]
        b_i, c_i, d = mean_interval(bic), mean_interval(cor), paired_difference(cor, bic)
        print(f"  {name:28s} {training:13s} {FRAME_BANDS[band]:5s}: bicubic {b_i['mean']:.4f}, corrected "
              f"{c_i['mean']:.4f} [{c_i['low']:.4f}, {c_i['high']:.4f}], difference {d['mean']:+.4f} "
              f"({d['low']:+.4f} .. {d['high']:+.4f}; {100 * d['mean'] / b_i['mean']:+.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main)())
