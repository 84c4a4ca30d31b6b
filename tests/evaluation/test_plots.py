"""Maps show where the data is (cropping to the valid pixels, or to a requested bbox), the land around
it, which values were gap-filled, and at the fine scale the pixels themselves."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError
from lst_lightning.evaluation import maps


def test_window_is_the_data_bounding_box_plus_margin():
    mask = np.zeros((100, 80), dtype=bool)
    mask[40:44, 10:13] = True
    assert maps.data_window(mask, margin=2) == (slice(38, 46), slice(8, 15))
    # clipped at the grid's edges, and the whole grid when there is no data at all
    mask[:] = False
    mask[0, 79] = True
    assert maps.data_window(mask) == (slice(0, 3), slice(77, 80))
    assert maps.data_window(np.zeros((5, 6), dtype=bool)) == (slice(0, 5), slice(0, 6))


def test_bbox_selects_rows_and_columns_by_degrees():
    grid = Grid.from_corner(34.0, 33.0, 0.01, 0.01, (50, 40))  # lon 34.005.., lat 32.995 downwards
    mask = np.ones(grid.shape, dtype=bool)
    rs, cs = maps.data_window(mask, grid.lat, grid.lon, bbox=[34.1, 32.7, 34.2, 32.8], margin=0)
    assert np.all((grid.lat[rs] >= 32.7) & (grid.lat[rs] <= 32.8)) and rs.stop - rs.start == 10
    assert np.all((grid.lon[cs] >= 34.1) & (grid.lon[cs] <= 34.2)) and cs.stop - cs.start == 10
    with pytest.raises(LSTError, match=r"bbox=\[10.0, 10.0, 11.0, 11.0\]: no pixel of the grid"):
        maps.data_window(mask, grid.lat, grid.lon, bbox=[10.0, 10.0, 11.0, 11.0])


def test_map_panel_of_a_speck_shows_the_speck(tmp_path, monkeypatch):
    grid = Grid.from_corner(34.0, 33.0, 0.01, 0.01, (300, 200))
    field = np.full(grid.shape, np.nan, dtype=np.float32)
    field[100:110, 50:60] = 300.0 + np.arange(100, dtype=np.float32).reshape(10, 10) / 10
    captured = {}
    real = maps._save

    def spy(fig, path):
        captured["extent"] = fig.axes[0].images[0].get_extent()
        captured["shape"] = fig.axes[0].images[0].get_array().shape
        return real(fig, path)

    monkeypatch.setattr(maps, "_save", spy)
    path = maps.map_panel(tmp_path / "panel.png", grid, "speck", field, field + 0.5, field)
    assert path.is_file() and captured["shape"] == (14, 14)  # 10 x 10 pixels plus a 2-pixel margin
    left, right, bottom, top = captured["extent"]
    assert left == pytest.approx(grid.lon[48]) and right == pytest.approx(grid.lon[61])
    assert top == pytest.approx(grid.lat[98]) and bottom == pytest.approx(grid.lat[111])


def capture(monkeypatch) -> dict:
    """Keep the figure a map function saves (still saved)."""
    captured = {}
    real = maps._save

    def spy(fig, path):
        captured["fig"] = fig
        return real(fig, path)

    monkeypatch.setattr(maps, "_save", spy)
    return captured


def test_map_panel_shows_the_land_beneath_and_shades_gap_filled_observations(tmp_path, monkeypatch):
    grid = Grid.from_corner(34.0, 33.0, 0.01, 0.01, (40, 30))
    field = np.full(grid.shape, 300.0, dtype=np.float32)
    field[:5] = np.nan  # no windows there: the DEM shows through
    gap = np.zeros(grid.shape, bool)
    gap[20:25, 10:15] = True
    dem = np.linspace(0, 900, 40 * 30, dtype=np.float32).reshape(grid.shape)
    captured = capture(monkeypatch)
    maps.map_panel(tmp_path / "p.png", grid, "t", field, field + 0.3, field, dem=dem, gap_filled=gap)
    axes = captured["fig"].axes
    error = next(ax for ax in axes if ax.get_title().startswith("prediction - observation"))
    assert "gap-filled shaded" in error.get_title()
    images = error.images  # the map, the DEM beneath it, the veil over gap-filled pixels above
    assert [im.get_zorder() for im in images] == [1, 0, 2]
    np.testing.assert_array_equal(np.isfinite(images[2].get_array().filled(np.nan)), gap[3:])  # data + 2 px
    assert images[1].get_cmap().name == "Greys"


def test_fine_panel_has_a_full_resolution_crop_a_land_scale_and_marked_voids(tmp_path, monkeypatch):
    shape = (600, 500)
    lat, lon = 43.0 - (np.arange(600) + 0.5) / 1200, 1.0 + (np.arange(500) + 0.5) / 1200
    rng = np.random.default_rng(0)
    dem = (400 + 10 * np.arange(500))[None, :] + rng.normal(0, 5, shape)
    dem[300:310, 200:205] = np.nan  # a void
    pred = 290 + rng.normal(0, 1, shape).astype(np.float32)
    step = 3
    rows, cols = maps.detail_window(np.isfinite(pred[::step, ::step]), dem[::step, ::step], step, shape)
    assert (rows.stop - rows.start, cols.stop - cols.start) == (maps.DETAIL_PX, maps.DETAIL_PX)
    detail = {"lat": lat[rows], "lon": lon[cols], "coarse": pred[rows, cols], "pred": pred[rows, cols],
              "dem": dem[rows, cols]}
    captured = capture(monkeypatch)
    maps.fine_panel(tmp_path / "f.png", lat[::step], lon[::step], "t", pred[::step, ::step], pred[::step, ::step],
                    dem[::step, ::step], detail=detail)
    axes = [ax for ax in captured["fig"].axes if ax.images]
    assert len(axes) == 6  # three maps of the whole grid, the same three of the crop
    crop = axes[4].images[0].get_array()
    assert crop.shape == (maps.DETAIL_PX, maps.DETAIL_PX)  # every fine pixel of the crop drawn
    dem_image = axes[2].images[0]
    assert dem_image.get_clim()[0] == pytest.approx(np.nanmin(dem[::step, ::step]))
    colours = dem_image.get_cmap()(np.linspace(0, 1, 64))
    assert not ((colours[:, 2] > colours[:, 0] + 0.2) & (colours[:, 2] > colours[:, 1])).any()  # no sea blue
    assert dem_image.get_cmap().get_bad()[:3] == pytest.approx((1.0, 0.0, 1.0))  # voids: magenta
    assert "voids: magenta" in axes[2].get_title()
    assert any(isinstance(p, maps.patches.Rectangle) for p in axes[0].patches)  # the crop outlined
