"""data=multi: several archives in one run, batches across them, and split=sites (leave one out)."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.errors import LSTError
from tests.common import compose_cfg
from tests.data.inputs import SITES, archives_override


def multi_dm(sites, tmp_path, *overrides, extra=None):
    from omegaconf import OmegaConf

    from lst_lightning.data.loading.sources import resolve_caches
    from lst_lightning.training.run import build_datamodule, resolve_features

    cfg = compose_cfg(["data=multi", archives_override(sites, **(extra or {})), "split.space.block_px=10",
                       "data.k=5", "data.loader.batch_size=600", *overrides], tmp_path)
    resolve_features(cfg)
    dm = build_datamodule(cfg, resolve_caches(OmegaConf.to_container(cfg.data, resolve=True), progress=False))
    dm.setup()
    return cfg, dm


@pytest.mark.parametrize("balance", ["samples", "equal"])
def test_batches_hold_every_archive_in_the_configured_proportions(sites, tmp_path, balance):
    _, dm = multi_dm(sites, tmp_path, f"data.balance={balance}")
    train = np.array([dm.sites[n].samples["train"] for n in SITES], dtype=float)
    want = train / train.sum() if balance == "samples" else np.full(3, 1 / 3)
    batch = next(iter(dm.train_dataloader()))
    counts = np.bincount(dm.gatherer.archive_of(batch["frame"].numpy()), minlength=3)
    assert counts.sum() == 600 and (counts > 0).all()
    np.testing.assert_allclose(counts / 600, want, atol=1 / 600 + 1e-9)
    np.testing.assert_array_equal(counts, dm.quota(600))
    # every sample is a valid window of its own archive's grid, gathered from that archive's cache
    for a, name in enumerate(SITES):
        sel = dm.gatherer.archive_of(batch["frame"].numpy()) == a
        g = dm.modules[name].gatherer
        f = batch["frame"].numpy()[sel] - dm.gatherer.offsets[a]
        r, c = batch["row"].numpy()[sel], batch["col"].numpy()[sel]
        assert g.valid(f, r, c).all()
        np.testing.assert_array_equal(batch["scalars"].numpy()[sel], g.gather(f, r, c)["scalars"])


def test_no_sample_of_the_held_out_site_reaches_training(sites, tmp_path):
    cfg, dm = multi_dm(sites, tmp_path, "split=sites", "split.site=1")
    assert "latlon" not in cfg.features.groups  # off by default under the site split
    held = list(SITES).index("south")
    rng = np.random.default_rng(0)
    for f, _, _ in [dm.draw_train(5000, rng), dm.eval_index("val")]:
        assert held not in set(dm.gatherer.archive_of(f))
    test = dm.gatherer.archive_of(dm.eval_index("test")[0])
    assert (test == held).all() and test.size > 1000
    south = dm.modules["south"]
    assert south.summary.samples["train"] == 0 and south.summary.samples["val"] == 0
    # every valid window of the held-out site is in its test part (all its dates, all its pixels)
    valid = int(np.isfinite(south.cache.array("window_mean")[south.plan["test"].frames]).sum())
    assert south.summary.samples["test"] == valid


def test_per_archive_caches_are_the_ones_a_single_archive_run_makes(sites, tmp_path):
    from omegaconf import OmegaConf

    from lst_lightning.data.loading.sources import resolve_cache, resolve_caches

    cfg = compose_cfg(["data=multi", archives_override(sites)], tmp_path)
    caches = resolve_caches(OmegaConf.to_container(cfg.data, resolve=True), progress=False)
    p = sites["east"]
    single = compose_cfg(["data=custom", f"data.lst_dir={p}/lst", f"data.dem={p}/dem.tif", f"data.ndvi={p}/ndvi.tif"],
                         tmp_path)
    assert resolve_cache(OmegaConf.to_container(single.data, resolve=True), progress=False).path == caches["east"].path


def test_mismatched_inputs_are_one_line_naming_the_archive(sites, tmp_path):
    lc = {"north": f",landcover:{sites['north']}/landcover.tif"}
    with pytest.raises(LSTError, match=r"data.archives.south: features: group 'landcover' needs a land-cover raster"):
        multi_dm(sites, tmp_path, "features.groups=[lst_mean,elev_diff,landcover]", extra=lc)
    with pytest.raises(LSTError, match=r"split=sites holds one archive out of several: it needs data=multi"):
        from lst_lightning.training.experiment import run_experiment

        run_experiment(compose_cfg(["split=sites", "debug=tiny"], tmp_path))
    with pytest.raises(LSTError, match=r"data.archives: data=multi needs at least two archives"):
        multi_dm({"north": sites["north"]}, tmp_path)


@pytest.mark.e2e
def test_three_archives_train_and_report_per_site_metrics_and_leave_one_out(sites, tmp_path):
    import json
    from pathlib import Path

    from lst_lightning.training.experiment import run_experiment
    from lst_lightning.training.run import run_training

    base = ["data=multi", archives_override(sites), "split.space.block_px=10", "data.k=5", "logger=none",
            "model=lightgbm", "model.train_samples=20000", "model.baseline.n_estimators=40",
            "model.baseline.log_every=0"]
    cfg = compose_cfg(base, tmp_path / "pooled")
    run_training(cfg)
    pooled = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    for name in SITES:
        assert 0 < pooled[f"test/site/{name}/rmse_k"] < pooled[f"test/site/{name}/trivial_rmse_k"]
    cfg = compose_cfg(base + ["split=sites"], tmp_path / "loso")
    run_experiment(cfg)
    loso = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert loso["folds"] == 3 and len(loso["cv"]["test/rmse_k"]["folds"]) == 3
    for fold, name in enumerate(SITES):
        per_fold = loso["per_fold"][fold]
        assert [k for k in per_fold if k.startswith("test/site/") and k.endswith("/rmse_k")] == \
            [f"test/site/{name}/rmse_k"]
    # a network through Lightning: one short epoch over the pool
    net = compose_cfg(["data=multi", archives_override(sites), "split.space.block_px=10", "data.k=5", "logger=none",
                       "trainer.max_epochs=1", "data.loader.samples_per_epoch=4096", "model.net.hidden=[32]"],
                      tmp_path / "net")
    run_training(net)
    assert "test/site/east/rmse_k" in json.loads((Path(net.paths.output_dir) / "results.json").read_text())


def test_archives_of_different_land_cover_classes_pool_on_the_union(sites, tmp_path):
    from lst_lightning.data.io.rasters import read_dem
    from lst_lightning.data.io.writers import write_geotiff
    from lst_lightning.data.loading.gatherer import FeatureGatherer, layout_for
    from lst_lightning.features.landcover import labels_of

    dem, grid = read_dem(sites["south"] / "dem.tif")
    south_lc = tmp_path / "south_landcover.tif"  # classes 1 and 5; north's are 0 and 1
    write_geotiff(south_lc, grid, np.where(np.nan_to_num(dem) > np.nanmedian(dem), 1, 5).astype(np.uint8))
    pair = {n: sites[n] for n in ("north", "south")}
    extra = {"north": f",landcover:{sites['north']}/landcover.tif", "south": f",landcover:{south_lc}"}
    _, dm = multi_dm(pair, tmp_path, "features.groups=[lst_mean,elev_diff,landcover]", extra=extra)
    assert labels_of(dm.layout.group_columns("landcover")) == ["0", "1", "5", "other"]
    names = list(dm.layout.scalar_names)
    f, r, c = dm.draw_train(4000, np.random.default_rng(0))
    pooled, which = dm.gatherer.gather(f, r, c)["scalars"], dm.gatherer.archive_of(f)
    for a, name in enumerate(pair):
        cache, sel = dm.modules[name].cache, which == a
        alone = FeatureGatherer(cache, layout_for(cache, dm.layout.groups))  # the archive's own run
        own = alone.gather(f[sel] - dm.gatherer.offsets[a], r[sel], c[sel])["scalars"]
        for j, col in enumerate(alone.layout.scalar_names):  # its own columns: the values of a run over it
            np.testing.assert_array_equal(pooled[sel, names.index(col)], own[:, j])
        lacks = [names.index(col) for col in names if col not in alone.layout.scalar_names]
        assert len(lacks) == 2 and (pooled[sel][:, lacks] == 0).all()  # the other archive's class: 0
        assert own[:, -3:].sum(1).min() == 1  # one-hot centre class, every sample
    with pytest.raises(LSTError, match=r"classes \['1', 'other'\] differ from the cache's \['0', '1', 'other'\]"):
        from lst_lightning.features import FeatureLayout

        FeatureGatherer(dm.modules["north"].cache, FeatureLayout(k=5, groups=("landcover",),
                                                                 meta={"landcover_classes": ["1", "other"]}))


def test_clip_inputs_clamps_each_archive_to_its_own_training_range(sites, tmp_path):
    _, dm = multi_dm(sites, tmp_path, "model=gated", "model.clip_inputs=0.0")
    clamped = 0
    for a, name in enumerate(SITES):
        module = dm.modules[name]
        train = module.gatherer.gather(*module.draw_train(dm.scaler_samples, np.random.default_rng([dm.seed, 7, a])))
        lo, hi = train["scalars"].min(0), train["scalars"].max(0)
        f, r, c = module.eval_index("test")
        raw = module.gatherer.gather(f, r, c)
        pooled = dm.gatherer.gather(f + dm.gatherer.offsets[a], r, c)
        np.testing.assert_array_equal(pooled["scalars"], np.clip(raw["scalars"], lo, hi))
        assert pooled["patch"].max() <= train["patch"].max() and pooled["patch"].min() >= train["patch"].min()
        np.testing.assert_array_equal(pooled["target"], raw["target"])  # inputs only
        clamped += int((pooled["scalars"] != raw["scalars"]).sum())
    assert clamped > 0  # held-out dates do leave their archive's training range
    _, loso = multi_dm(sites, tmp_path, "model=gated", "model.clip_inputs=0.0", "split=sites", "split.site=1")
    assert sorted(loso.gatherer.bounds) == [0, 2]  # the held-out site has no training range of its own
    _, off = multi_dm(sites, tmp_path, "model=mlp")  # clip_inputs null: nothing clamped
    assert off.gatherer.bounds == {}
