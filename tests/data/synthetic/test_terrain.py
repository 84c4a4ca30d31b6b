"""The procedural terrain: a mini Israel with coast, ridge, rift and mountain at any size."""
from __future__ import annotations

import numpy as np

from lst_lightning.data.synthetic.terrain import procedural_dem


def test_procedural_terrain_has_coast_ridge_rift_and_mountain():
    elev = procedural_dem((120, 90), np.random.default_rng(0))
    sea = elev == 0
    assert sea[:10, :20].all() and not sea[:, -10:].any()  # sea in the north-west, land in the east
    assert -430 <= elev.min() < -250  # the rift below sea level
    assert 1800 < elev.max() <= 2800  # the north-eastern mountain
    row = elev[50]  # mid-latitude west-east profile: coast, ridge, rift, plateau
    ridge, rift = int(np.argmax(row[:60])), int(np.argmin(row))
    assert row[ridge] > 500 and ridge < rift and row[rift] < -100 and row[rift + 10:].mean() > 500
