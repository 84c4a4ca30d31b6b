"""The data module: batches gathered from the memmaps, honest parts, exact evaluation passes."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from lst_lightning.data.io.formats import observed
from lst_lightning.data.loading.datamodule import EvalStream, LSTDataModule
from lst_lightning.data.loading.gatherer import FeatureGatherer
from lst_lightning.data.loading.sampling import draw_samples, drawn_part
from lst_lightning.data.loading.sampling import proportional as _proportional
from lst_lightning.features import FeatureLayout


def make_dm(cache, kind="space_days", **kw):
    dm = LSTDataModule(cache, FeatureLayout(k=9), {"kind": kind, "space": {"block_px": 12}},
                       batch_size=128, samples_per_epoch=1024, eval_samples=kw.pop("eval_samples", 1500),
                       eval_batch_size=256, **kw)
    dm.setup()
    return dm


def test_batch_values_follow_the_cache(random_cache):
    dm = make_dm(random_cache)
    batch = next(iter(dm.train_dataloader()))
    f, r, c = (batch[k].numpy() for k in ("frame", "row", "col"))
    lst = random_cache.array("lst")[f, r, c] * 0.02
    mean = random_cache.array("window_mean")[f, r, c]
    assert np.allclose(batch["target"].numpy(), lst - mean, atol=1e-4)
    layout = dm.layout
    j = layout.scalar_names.index("elev_mean")
    assert np.allclose(batch["scalars"][:, j].numpy(), random_cache.elev_mean[r, c])
    assert np.allclose(batch["patch"][:, 0].reshape(len(f), -1).numpy(), random_cache.array("elev_diff")[r, c])
    # elevation differences: window pixels minus the window mean, row-major around the centre
    dem = random_cache.array("dem")
    i = 5
    window = dem[r[i] - 4:r[i] + 5, c[i] - 4:c[i] + 5]
    assert np.allclose(batch["patch"][i, 0].numpy(), window - window.mean(), atol=1e-3)
    bands = np.array([random_cache.meta["frames"][x]["band"] for x in f])
    qa = random_cache.array("qa")[f, r, c]
    expect = np.where(bands == "day", observed(qa, "day"), observed(qa, "night"))
    assert np.array_equal(batch["observed"].numpy(), expect)
    assert torch.isnan(batch["oracle"]).all()  # random archive: no oracle


def test_training_draws_only_training_samples(random_cache):
    dm = make_dm(random_cache)
    part = dm.plan["train"]
    for batch in dm.train_dataloader():
        f, r, c = (batch[k].numpy() for k in ("frame", "row", "col"))
        assert np.isin(f, part.frames).all()
        assert part.pixel_mask[r, c].all()
        assert np.isfinite(random_cache.array("window_mean")[f, r, c]).all()
    assert len(list(dm.train_dataloader())) == 1024 // 128


def test_epochs_draw_fresh_samples(random_cache):
    dm = make_dm(random_cache)
    loader = dm.train_dataloader()
    first = next(iter(loader))["frame"]
    second = next(iter(loader))["frame"]
    assert not torch.equal(first, second)


def test_scaler_sees_training_samples_only(random_cache, monkeypatch):
    dm = make_dm(random_cache, scaler_samples=3000)
    seen = {}
    real_gather = dm.gatherer.gather

    def spy(f, r, c):
        seen.update(f=f, r=r, c=c)
        return real_gather(f, r, c)

    monkeypatch.setattr(dm.gatherer, "gather", spy)
    scalars, patch = dm.scaler_arrays()
    assert scalars.shape == (3000, dm.layout.n_scalars) and patch.shape == (3000, 1, 9, 9)
    assert np.isin(seen["f"], dm.plan["train"].frames).all()
    assert dm.plan["train"].pixel_mask[seen["r"], seen["c"]].all()


@pytest.mark.parametrize("workers", [0, 2])
def test_eval_visits_each_selected_sample_exactly_once(random_cache, workers):
    dm = make_dm(random_cache, kind="days", eval_samples=10**9, num_workers=workers)
    f, r, c = dm.eval_index("test")
    loader = dm.test_dataloader()
    seen = np.concatenate([(b["frame"] * 10**6 + b["row"] * 1000 + b["col"]).numpy() for b in loader])
    expected = f * 10**6 + r * 1000 + c
    assert seen.size == expected.size == np.unique(seen).size
    assert set(seen) == set(expected)
    # the full pass holds every valid sample of the test frames
    wm = random_cache.array("window_mean")
    assert expected.size == sum(int(np.isfinite(wm[x]).sum()) for x in dm.plan["test"].frames)


def test_eval_subset_is_fixed_and_sized(random_cache):
    a = make_dm(random_cache, eval_samples=300)
    b = make_dm(random_cache, eval_samples=300)
    fa = a.eval_index("val")
    assert fa[0].size == 300
    assert all(np.array_equal(x, y) for x, y in zip(fa, b.eval_index("val")))
    assert a.summary.eval_samples["val"] == 300 and a.summary.eval_samples["test"] <= 300


def test_proportional_quota():
    q = _proportional(np.array([10, 0, 5, 85]), 20)
    assert q.sum() == 20 and q[1] == 0 and (q <= [10, 0, 5, 85]).all()


def test_memmaps_are_not_copied_into_workers(random_cache):
    dm = make_dm(random_cache)
    random_cache.array("window_mean")  # opened in this process
    stream = dm.val_dataloader().dataset
    payload = pickle.dumps(stream)
    assert len(payload) < 200_000  # index arrays only: the arrays themselves are ~MBs
    clone = pickle.loads(payload)
    assert clone.gatherer.cache._arrays == {}  # reopened lazily in the worker
    assert isinstance(clone.gatherer.cache.array("lst"), np.memmap)


def test_observed_only_training(random_cache):
    dm = make_dm(random_cache, train_observed_only=True)
    batch = next(iter(dm.train_dataloader()))
    assert batch["observed"].all()


def test_draw_samples_rejects_invalid_windows(random_cache):
    dm = make_dm(random_cache, kind="random")
    g = FeatureGatherer(random_cache, FeatureLayout(k=9))
    f, r, c = draw_samples(g, dm.plan, dm.plan["test"], 500, np.random.default_rng(0))
    assert f.size == 500 and g.valid(f, r, c).all()
    assert isinstance(dm.val_dataloader().dataset, EvalStream)


def _samples(cache, part) -> set[tuple[int, int]]:
    """Every valid (frame, flat pixel) sample of a part, by brute force."""
    wm = cache.array("window_mean").reshape(len(cache.frames), -1)
    return {(int(f), int(p)) for f in part.frames for p in part.pixels if np.isfinite(wm[f, p])}


def test_draws_skip_pixels_without_samples_and_keep_every_sample(random_cache):
    dm = make_dm(random_cache)
    part = dm.plan["train"]
    drawn = drawn_part(dm.gatherer, part)
    never = random_cache.sample_frames.ravel() == 0
    assert never[part.pixels].sum() > 0  # the grid's edge rows and columns: windows off the grid
    assert not never[drawn.pixels].any() and set(drawn.pixels) < set(part.pixels)
    assert _samples(random_cache, drawn) == _samples(random_cache, part) != set()
    # dealt out over 3 readers: disjoint, and together every drawable pixel
    shards = [drawn_part(dm.gatherer, part, s, 3).pixels for s in range(3)]
    assert sum(x.size for x in shards) == drawn.pixels.size
    assert set(np.concatenate(shards)) == set(drawn.pixels)
    f, r, c = draw_samples(dm.gatherer, dm.plan, drawn, 2000, np.random.default_rng(0))
    assert dm.gatherer.valid(f, r, c).all() and set(r * dm.gatherer.width + c) <= set(drawn.pixels)


def test_an_epoch_is_at_most_epoch_passes_over_the_train_part(random_cache):
    from lst_lightning.data.loading.datamodule import epoch_batches
    from lst_lightning.errors import LSTError

    assert epoch_batches(100_000, 1000, 20_000, 1.0) == 20      # small archive: one pass
    assert epoch_batches(100_000, 1000, 20_000, 2.5) == 50
    assert epoch_batches(100_000, 1000, 10**9, 1.0) == 100      # large archive: samples_per_epoch
    assert epoch_batches(100_000, 1000, 20_000, None) == 100    # no limit
    assert epoch_batches(100_000, 1000, 10, 1.0) == 1           # never an empty epoch
    with pytest.raises(LSTError, match="data.loader.epoch_passes: must be > 0"):
        epoch_batches(1000, 10, 100, 0)
    n_train = make_dm(random_cache).summary.samples["train"]
    dm = make_dm(random_cache, epoch_passes=512.5 / n_train)  # half of samples_per_epoch (1024)
    assert len(list(dm.train_dataloader())) == 4
