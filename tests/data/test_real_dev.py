"""The real MODIS development archives (../shared/data/real_dev): prepared with their land cover,
and a model that uses it beats the baseline on held-out blocks x dates."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf, open_dict

from lst_lightning.data.facts.context import MIN_WINDOWS_FOR_LAPSE
from tests.common import compose_cfg

SITES = {"madrid": ["1", "2", "3", "8", "11", "13", "15", "other"],
         "vladivostok": ["6", "9", "11", "12", "15", "26", "other"],
         "stpetersburg": ["6", "9", "10", "11", "15", "18", "26", "other"]}


def site_overrides(real_dev: Path, site: str) -> list[str]:
    d = real_dev / site
    return ["data=custom", f"data.lst_dir={d / 'lst'}", f"data.dem={d / 'dem.tif'}",
            f"data.landcover={d / 'landcover.tif'}", "data.bands=[day]", "data.hours.day=10.5"]


@pytest.mark.parametrize("site", sorted(SITES))
def test_real_sites_prepare_with_their_land_cover(real_dev, site, tmp_path):
    from lst_lightning.data.loading.sources import resolve_cache

    cfg = compose_cfg(site_overrides(real_dev, site), tmp_path)
    data = OmegaConf.to_container(cfg.data, resolve=True)
    cache = resolve_cache({**data, "cache_root": str(tmp_path / "cache")}, progress=False)
    assert cache.meta["landcover_classes"] == SITES[site]
    columns = np.asarray(cache.array("landcover"))  # window fractions, then the centre's one-hot
    n = len(SITES[site])
    inner = columns[4:-4, 4:-4, :n]
    np.testing.assert_allclose(inner.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(columns[..., n:].sum(axis=-1), 1.0)
    lapse = np.asarray(cache.array("frame_lapse"))
    fitted = np.array([f["n_windows"] >= MIN_WINDOWS_FOR_LAPSE for f in cache.meta["frames"]])
    assert fitted.sum() >= 10 and (lapse[fitted] != 0).mean() > 0.9 and (lapse[~fitted] == 0).all()
    assert np.abs(lapse).max() < 40  # K/km: physical magnitudes, even on St Petersburg's flat land


def test_lightgbm_with_land_cover_beats_the_baseline_on_madrid(real_dev, tmp_path):
    from lst_lightning.training.run import run_training

    cfg = compose_cfg([*site_overrides(real_dev, "madrid"), "model=lightgbm", "logger=none",
                       "split.space.block_px=22", "model.train_samples=30000", "model.baseline.log_every=0"],
                      tmp_path)
    with open_dict(cfg):
        cfg.data.cache_root = str(tmp_path / "cache")
    run_training(cfg)
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert "landcover" in cfg.features.groups and "context" in cfg.features.groups
    assert results["test/rmse_k"] < 0.95 * results["test/trivial_rmse_k"]
