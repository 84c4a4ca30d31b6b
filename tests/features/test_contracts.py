"""Every Gatherer and every ArrayStore (cache) passes the same contract tests: what the samplers,
data modules, baselines, metrics and fine-scale prediction rely on."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lst_lightning.data.cache.store import ArrayStore
from lst_lightning.data.loading.gatherer import FeatureGatherer, Gatherer, layout_for
from lst_lightning.data.loading.multi import MultiGatherer
from lst_lightning.downscale.tiles import tile_cache
from lst_lightning.features import FeatureLayout

GROUPS = ("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon", "terrain", "context")
KEYS = {"scalars", "patch", "target", "oracle", "observed", "band", "frame", "row", "col"}


def host(values) -> np.ndarray:
    return values.cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


@pytest.fixture(scope="module")
def fine_tile():
    from tests.downscale.test_fine import fine_grid, inputs_for

    inputs = inputs_for(fine_grid(3, 1, 2, (31, 29)), np.random.default_rng(0), groups=GROUPS)
    return tile_cache(inputs, slice(0, 31), slice(0, 29)), inputs.layout


@pytest.fixture(params=["cache", "tile"])
def store(request, random_cache, fine_tile):
    return random_cache if request.param == "cache" else fine_tile[0]


@pytest.fixture(params=["host", "device", "tile", "pool"])
def gatherer(request, random_cache, fine_tile) -> tuple[Gatherer, tuple[int, int]]:
    """A gatherer of each kind, and the grid its (row, col) indices address."""
    if request.param == "tile":
        return FeatureGatherer(fine_tile[0], fine_tile[1]), fine_tile[0].grid.shape
    one = FeatureGatherer(random_cache, layout_for(random_cache, GROUPS))
    kinds = {"host": one, "device": one.on("cpu"), "pool": MultiGatherer([one, one], ["a", "b"])}
    return kinds[request.param], random_cache.grid.shape


def test_every_cache_holds_the_core_arrays_by_name(store):
    assert isinstance(store, ArrayStore) and store.k >= 3
    h, w = store.grid.shape
    t = len(store.frame_meta)
    shapes = {"lst": (t, h, w), "qa": (t, h, w), "window_mean": (t, h, w), "dem": (h, w), "elev_mean": (h, w),
              "frame_lapse": (t,)}
    for name, shape in shapes.items():
        assert store.has(name) and store.array(name).shape == shape, name
        assert getattr(store, name).shape == shape, name  # the accessor is the array
    assert store.lst.dtype == np.uint16 and store.window_mean.dtype == np.float32
    assert not store.has("no_such_array")
    assert {"date", "band", "hour", "doy"} <= set(store.frame_meta[0])


def test_every_gatherer_gathers_the_layout(gatherer):
    gatherer, (h, w) = gatherer
    layout: FeatureLayout = gatherer.layout
    t = len(gatherer.frames)
    assert isinstance(gatherer, Gatherer) and t == gatherer.band_index.size == gatherer.month.size > 0
    assert set(np.unique(gatherer.band_index)) <= {0, 1} and 0 <= gatherer.month.min() <= gatherer.month.max() < 12
    rng = np.random.default_rng(1)
    f, r, c = rng.integers(0, t, 4000), rng.integers(0, h, 4000), rng.integers(0, w, 4000)
    ok = gatherer.valid(f, r, c)
    observed = gatherer.observed(f, r, c)
    assert isinstance(ok, np.ndarray) and ok.dtype == bool and ok.shape == f.shape and 0 < ok.sum() < f.size
    assert isinstance(observed, np.ndarray) and observed.dtype == bool and observed.shape == f.shape
    f, r, c = f[ok][:300], r[ok][:300], c[ok][:300]
    batch = {key: host(value) for key, value in gatherer.gather(f, r, c).items()}
    n, k = f.size, layout.k
    assert set(batch) == KEYS
    assert batch["scalars"].shape == (n, layout.n_scalars) and batch["scalars"].dtype == np.float32
    assert batch["patch"].shape == (n, layout.n_channels, k, k) and batch["patch"].dtype == np.float32
    assert batch["target"].shape == (n,) and np.isfinite(batch["target"]).all()
    assert np.isfinite(batch["scalars"]).all() and np.isfinite(batch["patch"]).all()
    assert (batch["frame"] == f).all() and (batch["row"] == r).all() and (batch["col"] == c).all()
    assert (batch["observed"] == gatherer.observed(f, r, c)).all()
    assert batch["band"].dtype == np.int64 and (batch["band"] == gatherer.band_index[f]).all()
