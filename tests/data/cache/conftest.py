"""The archives the cache tests build from."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.data.inputs import make_dates, make_dem, make_grid, write_archive


@pytest.fixture
def small(tmp_path, rng):
    """A two-year NetCDF archive on a 30 x 40 grid with a DEM gap; 8 frames."""
    h, w = 30, 40
    grid = make_grid(h, w)
    d2020 = make_dates(rng, 3, h, w)
    d2021 = make_dates(rng, 1, h, w)
    dem = make_dem(rng, h, w)
    dem[20, 30] = -9999.0  # nodata -> NaN gap
    lst_dir, dem_path = write_archive(tmp_path / "in", grid, {2020: ([1, 2, 5], d2020), 2021: ([3], d2021)}, dem)
    raw = np.concatenate([d2020, d2021])  # (dates, 4, H, W) in frame order: night, day per date
    dem_nan = dem.copy()
    dem_nan[dem_nan == -9999.0] = np.nan
    return {"grid": grid, "lst_dir": lst_dir, "dem": dem_path, "raw": raw, "dem_array": dem_nan,
            "dates": [dt.date(2020, 1, 1), dt.date(2020, 1, 2), dt.date(2020, 1, 5), dt.date(2021, 1, 3)],
            "root": tmp_path / "cache", "tmp": tmp_path}


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory):
    """200 frames of 200 x 200 (100 dates): a build that takes a noticeable moment."""
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("big")
    h = w = 200
    grid = make_grid(h, w)
    data = make_dates(rng, 100, h, w, missing=0.001)
    lst_dir, dem = write_archive(root, grid, {2019: (list(range(1, 101)), data)}, make_dem(rng, h, w))
    return lst_dir, dem
