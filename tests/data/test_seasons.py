"""The one definition of the seasons."""
from __future__ import annotations

import numpy as np

from lst_lightning.data.facts.seasons import SEASON_MONTHS, SEASONS, season_index, season_name


def test_seasons_in_order_with_their_months():
    assert SEASONS == ("DJF", "MAM", "JJA", "SON") and tuple(SEASON_MONTHS) == SEASONS
    assert sorted(m for months in SEASON_MONTHS.values() for m in months) == list(range(1, 13))


def test_season_index_of_every_month_scalar_and_vectorised():
    months = np.arange(1, 13)
    index = season_index(months)
    assert index.tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0]
    for i, name in enumerate(SEASONS):
        assert set(months[index == i]) == set(SEASON_MONTHS[name])
    assert int(season_index(12)) == 0 and str(season_name(7)) == "JJA"
    assert season_name(np.array([[1, 4], [8, 10]])).tolist() == [["DJF", "MAM"], ["JJA", "SON"]]
