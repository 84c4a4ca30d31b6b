"""Fine-scale prediction: nested grids, area-weighted window means, conservation, fills, tiling."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.io.grid import Grid
from lst_lightning.downscale.fine import conserve_blocks, downscale, predict_tile
from lst_lightning.downscale.grids import nest
from lst_lightning.downscale.tiles import FineInputs, tile_cache, tile_ranges
from lst_lightning.errors import LSTError
from lst_lightning.features import FeatureLayout

COARSE = Grid.from_corner(10.0, 45.0, 0.01, 0.01, (12, 14))


def fine_grid(f: int, row0: int, col0: int, shape) -> Grid:
    """A fine grid at factor f whose north-west corner is row0 / col0 fine pixels inside COARSE."""
    d = 0.01 / f
    return Grid.from_corner(10.0 + col0 * d, 45.0 - row0 * d, d, d, shape)


def inputs_for(fine: Grid, rng, groups=("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon"), k=3,
               n_frames=2, landcover=False) -> FineInputs:
    nesting = nest(fine, COARSE)
    raw = rng.integers(14000, 16000, (n_frames, *COARSE.shape)).astype(np.uint16)
    frames = [{"date": f"2020-07-{10 + t}", "band": "day", "hour": 10.5, "doy": 192 + t} for t in range(n_frames)]
    codes = rng.integers(0, 3, fine.shape).astype(np.int32) if landcover else None
    return FineInputs(nesting=nesting, dem=rng.normal(500, 80, fine.shape).astype(np.float32), lst_raw=raw,
                      qa=np.full(raw.shape, 2, np.uint8), frames=frames, lapse=np.array([-6.5, -3.0][:n_frames],
                                                                                          np.float32),
                      layout=FeatureLayout(k=k, groups=tuple(groups),
                                           meta={"landcover_classes": ["0", "1", "2", "other"] if landcover else []}),
                      landcover=codes)


class LinearModel:
    """A deterministic stand-in for a trained model: a fixed linear map of every input."""

    def __init__(self, layout: FeatureLayout):
        rng = np.random.default_rng(0)
        self.ws, self.wp = rng.normal(0, 0.01, layout.n_scalars), rng.normal(0, 0.01, layout.n_channels * 9)

    def __call__(self, batch):
        return batch["scalars"] @ self.ws + batch["patch"].reshape(len(batch["scalars"]), -1) @ self.wp

    def on(self, gatherer):
        return self


def test_nesting_accepts_an_aligned_integer_factor_and_names_both_grids_otherwise():
    n = nest(fine_grid(3, 4, 5, (9, 10)), COARSE)
    assert (n.f, n.row0, n.col0) == (3, 4, 5)
    np.testing.assert_array_equal(n.coarse_rows(np.arange(4)), [1, 1, 2, 2])
    with pytest.raises(LSTError, match=r"not an integer fraction .*factor 2\.5000.*lst-resample-dem.*LST grid: 12x14"):
        nest(Grid.from_corner(10.0, 45.0, 0.004, 0.004, (20, 20)), COARSE)
    with pytest.raises(LSTError, match=r"miss the LST pixel edges by 0\.00 / 0\.40 fine pixels"):
        nest(Grid.from_corner(10.0 + 0.4 * 0.01 / 3, 45.0, 0.01 / 3, 0.01 / 3, (9, 9)), COARSE)
    with pytest.raises(LSTError, match=r"does not overlap the LST grid"):
        nest(Grid.from_corner(20.0, 45.0, 0.01 / 3, 0.01 / 3, (9, 9)), COARSE)


def test_tiles_cut_on_coarse_pixel_edges_and_cover_the_grid_once():
    n = nest(fine_grid(3, 1, 2, (20, 17)), COARSE)
    seen = np.zeros((20, 17), int)
    for rows, cols in tile_ranges(n, 7):  # 7 -> 6 fine pixels = 2 coarse pixels a side
        seen[rows, cols] += 1
        assert len(set(n.coarse_rows(np.arange(rows.start, rows.stop)))) <= 2
        for edge, start in ((rows.start, n.row0), (cols.start, n.col0)):
            assert edge == 0 or (edge + start) % 3 == 0
    np.testing.assert_array_equal(seen, 1)


def test_fine_window_mean_is_the_area_weighted_mean_of_the_coarse_pixels_it_overlaps(rng):
    f, k = 3, 3
    fine = fine_grid(f, 2, 1, (15, 16))
    inputs = inputs_for(fine, rng, k=k)
    cache = tile_cache(inputs, slice(0, 15), slice(0, 16))
    coarse = inputs.coarse_lst
    d = fine.dlat
    for t in range(2):
        for i in range(1, 14):
            for j in range(1, 15):
                # the window's rectangle in degrees, and its overlap with every coarse pixel
                north, west = fine.lat[i] + 1.5 * d, fine.lon[j] - 1.5 * d
                south, east = north - k * d, west + k * d
                num = den = 0.0
                for ci in range(COARSE.shape[0]):
                    for cj in range(COARSE.shape[1]):
                        cn, cw = COARSE.lat[ci] + 0.005, COARSE.lon[cj] - 0.005
                        h = max(0.0, min(north, cn) - max(south, cn - 0.01))
                        w = max(0.0, min(east, cw + 0.01) - max(west, cw))
                        num, den = num + h * w * coarse[t, ci, cj], den + h * w
                assert cache.array("window_mean")[t, i, j] == pytest.approx(num / den, abs=1e-3)


def test_conservation_makes_each_coarse_pixel_average_to_its_value_to_float_precision(rng):
    n = nest(fine_grid(3, 1, 2, (20, 17)), COARSE)
    pred = rng.normal(300, 3, (20, 17)).astype(np.float32)
    pred[5:8, 4] = np.nan  # a void: the coarse pixel's other fine pixels carry its value
    coarse = rng.normal(300, 3, COARSE.shape).astype(np.float32)
    coarse[2, 2] = np.nan  # a missing coarse pixel: its fine pixels are left alone
    out = conserve_blocks(pred, coarse, n, slice(0, 20), slice(0, 17))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(pred))
    cr, cc = n.coarse_rows(np.arange(20)), n.coarse_cols(np.arange(17))
    checked = 0
    for a in np.unique(cr):
        for b in np.unique(cc):
            block = np.ix_(cr == a, cc == b)
            if np.isnan(coarse[a, b]):
                np.testing.assert_array_equal(out[block], pred[block])
                continue
            assert np.nanmean(out[block].astype(np.float64)) == pytest.approx(coarse[a, b], abs=1e-4)
            shift = out[block] - pred[block]  # one shift per coarse pixel: the fine pattern is kept
            np.testing.assert_allclose(shift[np.isfinite(shift)], np.nanmean(shift), atol=1e-4)
            checked += 1
    assert checked > 30


@pytest.mark.parametrize("groups", [("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon"),
                                    ("lst_mean", "elev_mean", "elev_diff", "terrain", "landcover", "context")])
def test_tiled_prediction_equals_untiled(rng, groups):
    fine = fine_grid(3, 1, 2, (31, 29))
    inputs = inputs_for(fine, rng, groups=groups, landcover="landcover" in groups)
    layout = inputs.layout
    model = LinearModel(layout)
    whole = predict_tile(inputs, layout, model, slice(0, 31), slice(0, 29), conserve=True)
    tiled = np.full_like(whole, np.nan)
    pieces = list(downscale(inputs, layout, model, tile=6, conserve=True))
    assert len(pieces) > 20
    for rows, cols, pred in pieces:
        tiled[:, rows, cols] = pred
    assert np.isfinite(whole).sum() > 0.7 * whole.size
    np.testing.assert_array_equal(np.isnan(tiled), np.isnan(whole))
    np.testing.assert_allclose(tiled, whole, atol=1e-4, equal_nan=True)


def test_dem_voids_and_missing_coarse_pixels_become_fill_never_numbers(rng):
    fine = fine_grid(3, 0, 0, (24, 27))
    inputs = inputs_for(fine, rng)
    inputs.dem[10, 10] = np.nan  # a void: every 3 x 3 window touching it is fill
    inputs.lst_raw[0, 5, 1] = 0  # a missing coarse pixel (fine rows 15-17, cols 3-5) in frame 0
    layout = FeatureLayout(k=3)
    pred = predict_tile(inputs, layout, LinearModel(layout), slice(0, 24), slice(0, 27), conserve=True)
    assert np.isnan(pred[:, 9:12, 9:12]).all() and np.isfinite(pred[:, 8, 8]).all()
    assert np.isnan(pred[0, 14:19, 2:7]).all() and np.isfinite(pred[1, 14:19, 2:7]).all()
    assert np.isnan(pred[:, 0]).all() and np.isnan(pred[:, :, -1]).all()  # the grid's edge
