"""device_resident=true gathers on the torch device exactly the batches of the host sampler."""
from __future__ import annotations

import numpy as np
import pytest
import torch


def datamodule(cache, groups=("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon"), **kw):
    from lst_lightning.data.loading.datamodule import LSTDataModule
    from lst_lightning.features import FeatureLayout

    dm = LSTDataModule(cache, FeatureLayout(k=cache.k, groups=tuple(groups)), {"kind": "space_days",
                       "space": {"block_px": 12}}, batch_size=256, samples_per_epoch=256 * 4,
                       eval_samples=900, eval_batch_size=300, seed=3, **kw)
    dm.setup()
    return dm


def assert_same_batches(host_loader, device_loader):
    host, device = list(host_loader), list(device_loader)
    assert len(host) == len(device) > 0
    for h, d in zip(host, device):
        assert h.keys() == d.keys()
        for key in h:
            assert d[key].dtype == h[key].dtype, key
            torch.testing.assert_close(d[key].cpu(), h[key], rtol=0, atol=0, equal_nan=True, msg=key)


def test_device_resident_batches_equal_the_host_batches(random_cache):
    host, device = datamodule(random_cache), datamodule(random_cache, device_resident=True)
    gatherer = device.batch_gatherer()
    assert gatherer is not device.gatherer and gatherer.source.device == torch.device("cpu")  # the same gather, torch
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        assert_same_batches(getattr(host, loader)(), getattr(device, loader)())


def test_device_resident_with_ndvi_terrain_and_context(tmp_path):
    from lst_lightning.data.cache import prepare_cache
    from lst_lightning.data.synthetic import generate_archive

    generate_archive(tmp_path / "arch", day_step=30, shape=(48, 40), seed=1, progress=False)
    cache = prepare_cache(tmp_path / "arch" / "lst", dem=tmp_path / "arch" / "dem.tif",
                          ndvi=tmp_path / "arch" / "ndvi.tif", oracle_dir=tmp_path / "arch" / "oracle",
                          cache_root=tmp_path / "cache", progress=False, quiet=True)
    groups = ("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon", "ndvi", "terrain", "context")
    host, device = datamodule(cache, groups), datamodule(cache, groups, device_resident=True)
    assert_same_batches(host.train_dataloader(), device.train_dataloader())
    batch = next(iter(device.val_dataloader()))
    assert batch["patch"].shape[1] == 2 and torch.isfinite(batch["oracle"]).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_device_resident_batches_live_on_the_gpu(random_cache):
    dm = datamodule(random_cache)
    gatherer = dm.gatherer.on("cuda")
    f, r, c = (np.asarray(a[:100]) for a in dm.eval_index("val"))
    batch = gatherer.gather(f, r, c)
    assert batch["scalars"].is_cuda
    torch.testing.assert_close(batch["scalars"].cpu(), torch.from_numpy(dm.gatherer.gather(f, r, c)["scalars"]))
