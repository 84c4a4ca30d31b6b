"""Calibration figures of a synthetic archive: how large the downscaling target is and how much
of it any model could explain, per month/season and band (written into truth.json)."""
from __future__ import annotations

import datetime as dt

import numpy as np

from lst_lightning.data.facts.seasons import SEASON_MONTHS
from lst_lightning.data.facts.windows import DEFAULT_K, box_sum, centre_minus_mean
from lst_lightning.data.io.formats import FRAME_BANDS
from lst_lightning.data.synthetic.physics import Physics, seasonal
from lst_lightning.data.synthetic.terrain import Terrain


class Calibration:
    """Per (month, band) sums of squares of the target (centre minus its k x k window mean, over
    windows fully on land), the oracle floor (target minus oracle target), the lapse-rate part
    (-lapse x centre-minus-mean elevation) and the target after removing that part."""

    def __init__(self, t: Terrain, physics: Physics, k: int = DEFAULT_K):
        self.k, self.p = k, physics
        if min(t.shape) >= k:
            self.mask = (box_sum(t.land, k) == k * k).astype(np.float64)
            self.dz = centre_minus_mean(t.elev.astype(np.float64), k) * self.mask  # metres, 0 off-mask
        else:
            self.mask = self.dz = np.zeros((0, 0))
        self.valid = np.flatnonzero(self.mask)  # interior indices of the full land windows
        self.n = int(self.valid.size)
        self.dz_sq = float(np.vdot(self.dz, self.dz))
        self.sums = {}  # (month, band) -> [n, target, floor, lapse, after lapse]

    def add(self, date: dt.date, band: str, lst: np.ndarray, oracle: np.ndarray) -> None:
        """One frame; values off the full land windows (e.g. the sea) never enter."""
        if not self.n:
            return
        t = centre_minus_mean(np.stack([lst, lst - oracle]), self.k)
        t *= self.mask
        target, floor = t[0].ravel(), t[1].ravel()
        rate = self.p.lapse_day_k_per_km if band == "day" else self.p.lapse_night_k_per_km
        g = seasonal(rate, date.timetuple().tm_yday) / 1000.0  # lapse part of the target = -g * dz
        tt = float(target @ target)
        # |target + g dz|^2 expanded, so the lapse-free target never needs its own array
        after = tt + 2 * g * float(target @ self.dz.ravel()) + g * g * self.dz_sq
        acc = self.sums.setdefault((date.month, band), np.zeros(5))
        acc += (self.n, tt, float(floor @ floor), g * g * self.dz_sq, after)

    def table(self) -> dict:
        """RMS figures (K) per month ("01".."12") and season, then band; and the window counts."""
        groups = {"month": {f"{m:02d}": (m,) for m in range(1, 13)}, "season": SEASON_MONTHS}
        out = {}
        for kind, members in groups.items():
            out[kind] = {}
            for name, months in members.items():
                for band in FRAME_BANDS:
                    acc = sum((self.sums.get((m, band), np.zeros(5)) for m in months), np.zeros(5))
                    if acc[0]:
                        out[kind].setdefault(name, {})[band] = _figures(acc)
        out["n_valid_windows"] = self.n
        out["elev_centre_minus_mean_rms_m"] = _rms(self.dz_sq, self.n) if self.n else None
        return out


def _figures(acc: np.ndarray) -> dict:
    n = acc[0]
    return {"target_rms_k": _rms(acc[1], n), "oracle_floor_rms_k": _rms(acc[2], n),
            "lapse_rms_k": _rms(acc[3], n), "after_lapse_rms_k": _rms(acc[4], n), "n_samples": int(n)}


def _rms(sum_sq: float, n: float) -> float:
    return round(float(np.sqrt(sum_sq / n)), 4)
