"""The meteorological seasons: one definition for the data, the models and the evaluation.

Months are 1..12 (January = 1); a season index is 0 DJF, 1 MAM, 2 JJA, 3 SON, so December
belongs with the January and February that follow it.
"""
from __future__ import annotations

import numpy as np

SEASONS = ("DJF", "MAM", "JJA", "SON")
SEASON_MONTHS = {"DJF": (12, 1, 2), "MAM": (3, 4, 5), "JJA": (6, 7, 8), "SON": (9, 10, 11)}


def season_index(month):
    """Season index (0 DJF .. 3 SON) of a month or an integer array of months (1..12)."""
    return np.asarray(month) % 12 // 3  # 12 -> 0, 1 -> 0, 2 -> 0, 3 -> 1, ...


def season_name(month):
    """Season name (or an array of names) of a month or an array of months (1..12)."""
    return np.asarray(SEASONS)[season_index(month)]
