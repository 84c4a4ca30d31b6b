"""Maps show where the data is: cropping to the valid pixels, or to a requested bbox."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError
from lst_lightning.evaluation import plots


def test_window_is_the_data_bounding_box_plus_margin():
    mask = np.zeros((100, 80), dtype=bool)
    mask[40:44, 10:13] = True
    assert plots.data_window(mask, margin=2) == (slice(38, 46), slice(8, 15))
    # clipped at the grid's edges, and the whole grid when there is no data at all
    mask[:] = False
    mask[0, 79] = True
    assert plots.data_window(mask) == (slice(0, 3), slice(77, 80))
    assert plots.data_window(np.zeros((5, 6), dtype=bool)) == (slice(0, 5), slice(0, 6))


def test_bbox_selects_rows_and_columns_by_degrees():
    grid = Grid.from_corner(34.0, 33.0, 0.01, 0.01, (50, 40))  # lon 34.005.., lat 32.995 downwards
    mask = np.ones(grid.shape, dtype=bool)
    rs, cs = plots.data_window(mask, grid.lat, grid.lon, bbox=[34.1, 32.7, 34.2, 32.8], margin=0)
    assert np.all((grid.lat[rs] >= 32.7) & (grid.lat[rs] <= 32.8)) and rs.stop - rs.start == 10
    assert np.all((grid.lon[cs] >= 34.1) & (grid.lon[cs] <= 34.2)) and cs.stop - cs.start == 10
    with pytest.raises(LSTError, match=r"bbox=\[10.0, 10.0, 11.0, 11.0\]: no pixel of the grid"):
        plots.data_window(mask, grid.lat, grid.lon, bbox=[10.0, 10.0, 11.0, 11.0])


def test_map_panel_of_a_speck_shows_the_speck(tmp_path, monkeypatch):
    grid = Grid.from_corner(34.0, 33.0, 0.01, 0.01, (300, 200))
    field = np.full(grid.shape, np.nan, dtype=np.float32)
    field[100:110, 50:60] = 300.0 + np.arange(100, dtype=np.float32).reshape(10, 10) / 10
    captured = {}
    real = plots._save

    def spy(fig, path):
        captured["extent"] = fig.axes[0].images[0].get_extent()
        captured["shape"] = fig.axes[0].images[0].get_array().shape
        return real(fig, path)

    monkeypatch.setattr(plots, "_save", spy)
    path = plots.map_panel(tmp_path / "panel.png", grid, "speck", field, field + 0.5, field)
    assert path.is_file() and captured["shape"] == (14, 14)  # 10 x 10 pixels plus a 2-pixel margin
    left, right, bottom, top = captured["extent"]
    assert left == pytest.approx(grid.lon[48]) and right == pytest.approx(grid.lon[61])
    assert top == pytest.approx(grid.lat[98]) and bottom == pytest.approx(grid.lat[111])
