"""The physics by band: continentality (inland hotter by day, colder by night), the weather
anomaly's size, and band parameters that can only be read by band name."""
from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from lst_lightning.data.synthetic import ByBand, Climate, Physics, israel_grid
from lst_lightning.data.synthetic.physics import climate_offset
from lst_lightning.data.synthetic.terrain import build_terrain

COAST_KM, INLAND_KM = 0.5, 100.0


def test_inland_is_warmer_than_the_coast_by_day_and_colder_by_night():
    p = Physics()
    day = climate_offset(p, "day", 0.0, np.array([COAST_KM, INLAND_KM]))
    night = climate_offset(p, "night", 0.0, np.array([COAST_KM, INLAND_KM]))
    assert day[1] > day[0] + 1.0  # continentality: the inland pixel heats up more by day ...
    assert night[1] < night[0] - 1.0  # ... and cools down more by night
    assert day[1] - day[0] == pytest.approx(p.inland_k.day * (np.exp(-COAST_KM / p.inland_km)
                                                              - np.exp(-INLAND_KM / p.inland_km)), rel=1e-5)


def test_south_is_warmer_by_day_more_than_by_night():
    p = Physics()
    day, night = (climate_offset(p, band, np.array([0.0, 1.0]), np.inf) for band in ("day", "night"))
    assert day[1] - day[0] == pytest.approx(p.south_k_per_deg.day)
    assert night[1] - night[0] == pytest.approx(p.south_k_per_deg.night)
    assert day[1] - day[0] > night[1] - night[0] > 0


def flat_coastal_climate(physics: Physics) -> Climate:
    """Flat land at 100 m with the sea in the two western columns, uniform NDVI, nothing hidden:
    pixels of one row differ only by their distance to the sea."""
    shape = (24, 40)
    elev = np.full(shape, 100.0, np.float32)
    elev[:, :2] = 0.0
    terrain = build_terrain(elev, israel_grid(shape), physics)
    ndvi = np.where(terrain.land, 0.3, np.nan).astype(np.float32)[None].repeat(12, axis=0)
    return Climate(terrain, ndvi, np.zeros((2, *shape), np.float32), physics, seed=0,
                   noise_k=0.0, hidden_k=0.0, cloud_fraction=0.0)


@pytest.mark.parametrize("month", [1, 7])
def test_the_oracle_of_a_flat_coast_is_hotter_inland_by_day_and_colder_by_night(month):
    climate = flat_coastal_climate(Physics())
    date, calm = dt.date(2020, month, 15), np.zeros(climate.t.shape, np.float32)
    row, coast, inland = 12, 2, 39  # the first land column, and ~26 km inland
    assert climate.t.coast_km[row, coast] < 1.0 < 20 < climate.t.coast_km[row, inland]
    day, night = climate.visible(date, "day", calm)[row], climate.visible(date, "night", calm)[row]
    parts = {band: climate.components(date, band, calm)["climate"][row] for band in ("day", "night")}
    assert parts["day"][inland] > parts["day"][coast] and parts["night"][inland] < parts["night"][coast]
    # the sea breeze points the same way, so the whole oracle does too
    assert day[inland] > day[coast] + 1.0 and night[inland] < night[coast] - 1.0


def test_weather_anomaly_is_scaled_by_its_own_band():
    p = Physics(weather_k=ByBand(day=2.0, night=0.5))
    climate = flat_coastal_climate(p)
    unit = np.ones(climate.t.shape, np.float32)
    date = dt.date(2020, 4, 1)
    assert (climate.components(date, "day", unit)["weather"] == 2.0).all()
    assert (climate.components(date, "night", unit)["weather"] == 0.5).all()


def test_band_parameters_are_read_by_name_only():
    p = Physics()
    assert p.inland_k["day"] == p.inland_k.day == 3.0 and p.inland_k["night"] == -2.0
    with pytest.raises(KeyError, match="band must be one of night, day"):
        p.inland_k[0]  # the positional reading that once swapped day and night
    with pytest.raises(TypeError):
        ByBand(1.0, 2.0)  # no positional construction either
    assert dataclasses.asdict(p)["weather_k"] == {"day": 2.0, "night": 1.5}
