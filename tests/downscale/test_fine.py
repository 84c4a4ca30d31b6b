"""Fine-scale prediction: nested grids, area-weighted window means, conservation, fills, tiling."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from lst_lightning.data.io.grid import Grid
from lst_lightning.downscale.fine import Residuals, conserve_tile, downscale, predict_tile, predict_tile_width
from lst_lightning.downscale.grids import nest
from lst_lightning.downscale.tiles import FineInputs, tile_cache, tile_ranges
from lst_lightning.downscale.truth import bicubic_pair, edge_step_ratio, spline_conserved
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
    ndvi = rng.uniform(0.1, 0.8, (12, *fine.shape)).astype(np.float32) if "local_fit" in groups else None
    return FineInputs(nesting=nesting, dem=rng.normal(500, 80, fine.shape).astype(np.float32), lst_raw=raw,
                      qa=np.full(raw.shape, 2, np.uint8), frames=frames, lapse=np.array([-6.5, -3.0][:n_frames],
                                                                                          np.float32),
                      layout=FeatureLayout(k=k, groups=tuple(groups),
                                           meta={"landcover_classes": ["0", "1", "2", "other"] if landcover else []}),
                      landcover=codes, ndvi=ndvi)


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
    out = conserve_tile(pred, coarse, n, slice(0, 20), slice(0, 17))
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
                                    ("lst_mean", "elev_mean", "elev_diff", "terrain", "landcover", "context"),
                                    ("lst_mean", "context", "local_fit")])  # reads windows 2 window sides away
def test_tiled_prediction_equals_untiled(rng, groups):
    fine = fine_grid(3, 1, 2, (31, 29))
    inputs = inputs_for(fine, rng, groups=groups, landcover="landcover" in groups)
    inputs.dem[12:20, 4:13] = np.nan  # voids filled from their windows: the halo must hold them
    inputs.dem[7, 25] = np.nan
    inputs.lst_raw[0, 4, 5] = 0  # a missing coarse pixel: windows over it average the rest
    layout = inputs.layout
    model = LinearModel(layout)
    whole = predict_tile(inputs, layout, model, slice(0, 31), slice(0, 29), conserve=True)
    tiled = np.full_like(whole, np.nan)
    pieces = list(downscale(inputs, layout, model, tile=6, conserve=True))
    assert len(pieces) > 20
    for rows, cols, pred, _ in pieces:
        tiled[:, rows, cols] = pred
    assert np.isfinite(whole).sum() > 0.7 * whole.size
    np.testing.assert_array_equal(np.isnan(tiled), np.isnan(whole))
    np.testing.assert_allclose(tiled, whole, atol=1e-4, equal_nan=True)


def test_only_pixels_without_input_of_their_own_are_fill(rng):
    """A DEM void or a missing coarse pixel is fill itself; its neighbours, whose windows reach into
    it, are predicted from what their windows hold (whole windows once made a halo of fill k // 2
    wide around every gap); the grid's edge, where windows leave the grid, stays fill."""
    fine = fine_grid(3, 0, 0, (24, 27))
    inputs = inputs_for(fine, rng)
    inputs.dem[10, 10] = np.nan  # a void
    inputs.dem[3:9, 15:22] = np.nan  # a void wider than a window
    inputs.lst_raw[0, 5, 1] = 0  # a missing coarse pixel (fine rows 15-17, cols 3-5) in frame 0
    layout = FeatureLayout(k=3)
    pred = predict_tile(inputs, layout, LinearModel(layout), slice(0, 24), slice(0, 27), conserve=True)
    void = ~np.isfinite(inputs.dem)
    inner = np.zeros(pred.shape[1:], bool)
    inner[1:-1, 1:-1] = True
    np.testing.assert_array_equal(np.isnan(pred[1]), void | ~inner)
    missing = np.zeros_like(void)
    missing[15:18, 3:6] = True
    np.testing.assert_array_equal(np.isnan(pred[0]), void | ~inner | missing)
    assert np.isfinite(pred[:, 9:12, 9:12][:, [0, 0, 2, 2], [0, 2, 0, 2]]).all()


def test_a_void_changes_its_neighbours_little(rng):
    """Next to a void a window's elevation comes from the void filled by its own window's mean:
    the prediction moves far less than when the void is read as 0 m."""
    fine = fine_grid(3, 0, 0, (24, 27))
    inputs = inputs_for(fine, rng)
    inputs.dem[:] = (400 + 5 * np.arange(27))[None, :]  # a smooth slope
    layout = FeatureLayout(k=3)
    model = LinearModel(layout)
    clean = predict_tile(inputs, layout, model, slice(0, 24), slice(0, 27), conserve=False)
    for value, limit in ((np.nan, 0.02), (0.0, None)):
        inputs.dem[12, 12] = value
        pred = predict_tile(inputs, layout, model, slice(0, 24), slice(0, 27), conserve=False)
        moved = np.nanmax(np.abs(pred - clean)[:, 11:14, 11:14])
        if limit is not None:
            assert moved < limit
        else:
            assert moved > 10 * 0.02  # the same void written as 0 m, as lst-synth once did
        inputs.dem[12, 12] = 400 + 5 * 12


@pytest.mark.parametrize("mode", ["smooth", "block"])
def test_conserved_maps_average_to_the_coarse_pixels_and_smooth_ones_leave_no_steps(mode):
    """A raw prediction with no steps but an error smooth at the fine scale (its coarse pixels' means
    vary at random): both residual modes conserve exactly; the smooth one leaves no steps at the
    coarse pixel edges (the interpolating spline it used before, topped up block-wise, left edges
    1.5-1.9 x steeper than the inside here, at f = 9 as on the 90 m Pyrenees), the block one does."""
    f = 9
    n = nest(fine_grid(f, 0, 0, (12 * f, 14 * f)), COARSE)
    y, x = np.mgrid[:12 * f, :14 * f] / (3.0 * f)
    truth = (300 + 2 * np.sin(y) * np.cos(0.7 * x)).astype(np.float32)[None]
    coarse = truth[0].reshape(12, f, 14, f).mean(axis=(1, 3))[None]
    error = ndimage.gaussian_filter(np.random.default_rng(0).normal(0, 1, truth.shape[1:]), f / 2)
    raw = truth + (0.5 * error / error.std()).astype(np.float32)[None]
    assert edge_step_ratio(raw, n) == pytest.approx(1.0, abs=0.05)
    spread = Residuals(mode, coarse, n)
    spread.add(slice(0, 12 * f), slice(0, 14 * f), raw)
    out = spread.apply(slice(0, 12 * f), slice(0, 14 * f), raw)
    np.testing.assert_allclose(out[0].reshape(12, f, 14, f).mean(axis=(1, 3)), coarse[0], atol=1e-4)
    ratio = edge_step_ratio(out, n)
    assert (ratio < 1.1) if mode == "smooth" else (ratio > 3)


def test_the_conservative_spline_method_conserves_without_steps_and_tiles_like_the_whole_grid():
    """The "spline, conserved" method of the scale check (and of lst-predict blend=spline): each
    coarse pixel's fine pixels average to it, a missing coarse pixel stays missing, no steps at the
    coarse edges where block-conserved bicubic has them, and a tile equals its part of the whole."""
    f = 9
    n = nest(fine_grid(f, 0, 0, (12 * f, 14 * f)), COARSE)
    y, x = np.mgrid[:12 * f, :14 * f] / (3.0 * f)
    truth = (300 + 2 * np.sin(y) * np.cos(0.7 * x)).astype(np.float32)
    coarse = np.stack([truth.reshape(12, f, 14, f).mean(axis=(1, 3))] * 2)
    coarse[1, 5, 6] = np.nan
    rows, cols = slice(0, 12 * f), slice(0, 14 * f)
    out = spline_conserved(coarse, n, rows, cols)
    assert out.shape == (2, 12 * f, 14 * f) and out.dtype == np.float32
    means = out.reshape(2, 12, f, 14, f).mean(axis=(2, 4))
    np.testing.assert_allclose(means[0], coarse[0], atol=1e-4)
    assert np.isnan(means[1, 5, 6]) and np.isfinite(np.delete(means[1].ravel(), 5 * 14 + 6)).all()
    steps = edge_step_ratio(out[:1], n), edge_step_ratio(bicubic_pair(coarse[:1], n, rows, cols)[1], n)
    assert steps[0] < 1.08 < 1.15 < steps[1], steps
    assert np.sqrt(np.mean((out[0] - truth) ** 2)) < 0.05  # a smooth field comes back nearly exactly
    tile = spline_conserved(coarse, n, slice(3 * f, 8 * f), slice(2 * f, 9 * f))
    np.testing.assert_allclose(tile, out[:, 3 * f:8 * f, 2 * f:9 * f], atol=1e-4)


def test_fine_maps_can_conserve_radiance(rng):
    """``conservation=radiance``: each coarse pixel's fine pixels keep its T^4 (not its mean LST)."""
    n = nest(fine_grid(3, 1, 2, (20, 17)), COARSE)
    raw = rng.normal(300, 3, (1, 20, 17)).astype(np.float32)
    coarse = rng.normal(300, 3, (1, *COARSE.shape)).astype(np.float32)
    rows, cols = slice(0, 20), slice(0, 17)
    out = Residuals("block", coarse, n, "radiance").apply(rows, cols, raw)[0].astype(np.float64)
    linear = Residuals("block", coarse, n).apply(rows, cols, raw)[0].astype(np.float64)
    cr, cc = n.coarse_rows(np.arange(20)), n.coarse_cols(np.arange(17))
    inside = [(a, b) for a in np.unique(cr) for b in np.unique(cc) if a < COARSE.shape[0] and b < COARSE.shape[1]]
    for a, b in inside:
        block = np.ix_(cr == a, cc == b)
        assert np.mean(out[block] ** 4) == pytest.approx(float(coarse[0, a, b]) ** 4, rel=2e-6)
        assert np.mean(linear[block]) == pytest.approx(float(coarse[0, a, b]), abs=1e-4)
    assert np.abs(out - linear).max() > 1e-3  # the two conserve different things
    with pytest.raises(LSTError, match="conservation: unknown mode 'mean'"):
        Residuals("block", coarse, n, "mean")


def test_fine_interval_halfwidth_is_the_runs_interval_for_the_fine_inputs():
    """The half-width layer: the run's calibrated interval evaluated on the same fine inputs the model
    saw, per frame's band (here a constant scale: q of the band), NaN exactly where no prediction is."""
    from lst_lightning.evaluation.conformal import Intervals

    rng = np.random.default_rng(5)
    inputs = inputs_for(fine_grid(3, 0, 0, (24, 27)), rng)
    inputs.frames[1] = {**inputs.frames[1], "band": "night", "hour": 22.5}
    inputs.dem[5:8, 5:8] = np.nan
    intervals = Intervals(0.9, {0: 0.7, 1: 1.9})  # band index 0 = night, 1 = day (FRAME_BANDS)
    layout = inputs.layout
    pred, width = predict_tile_width(inputs, layout, LinearModel(layout), slice(0, 24), slice(0, 27), intervals)
    np.testing.assert_array_equal(np.isfinite(width), np.isfinite(pred))
    assert np.isfinite(pred).mean() > 0.8
    np.testing.assert_allclose(width[0][np.isfinite(width[0])], 1.9)
    np.testing.assert_allclose(width[1][np.isfinite(width[1])], 0.7)
    assert predict_tile_width(inputs, layout, LinearModel(layout), slice(0, 24), slice(0, 27))[1] is None
