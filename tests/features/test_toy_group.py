"""A feature group defined in one test module (toy_group.py: the square of the window-mean
elevation) flows through training, the host and device gathers, fine-scale tiles, scaling,
permutation importance and the MLflow Model, editing no other module."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from lst_lightning.data.loading.datamodule import LSTDataModule
from lst_lightning.features import GROUPS, FeatureLayout, unregister
from tests.common import compose_cfg

GROUPS_WITH_TOY = ("lst_mean", "elev_mean", "elev_diff", "doy", "elev_sq")
MODULE = "tests.features.toy_group"


@pytest.fixture
def toy():
    """The group registered (its module imported) for one test, gone after it."""
    __import__(MODULE)
    GROUPS["elev_sq"] = sys.modules[MODULE].GROUP
    yield sys.modules[MODULE].GROUP
    unregister("elev_sq")


def toy_dm(cache, **kw) -> LSTDataModule:
    dm = LSTDataModule(cache, FeatureLayout(k=cache.k, groups=GROUPS_WITH_TOY), {"kind": "space_days",
                       "space": {"block_px": 12}}, batch_size=128, samples_per_epoch=512, eval_samples=600,
                       eval_batch_size=200, seed=3, **kw)
    dm.setup()
    return dm


def test_host_and_device_gathers_give_the_toy_column(toy, random_cache):
    host, device = toy_dm(random_cache), toy_dm(random_cache, device_resident=True)
    j = host.layout.scalar_names.index("elev_sq")
    assert host.layout.scalar_groups[j] == "elev_sq" and host.layout.n_scalars == 5
    for h, d in zip(host.train_dataloader(), device.train_dataloader()):
        for key in h:
            torch.testing.assert_close(d[key], h[key], rtol=0, atol=0, equal_nan=True, msg=key)
        r, c = h["row"].numpy(), h["col"].numpy()
        expect = random_cache.elev_mean[r, c].astype(np.float32) ** 2
        np.testing.assert_array_equal(h["scalars"][:, j].numpy(), expect)


def test_training_scaling_importance_and_the_mlflow_model(toy, tmp_path):
    import mlflow

    from lst_lightning.apps.runs import open_run
    from lst_lightning.evaluation.importance import permutation_importance
    from lst_lightning.evaluation.predictions import gather_all, predict_batched
    from lst_lightning.training.mlflow_model import feature_table
    from lst_lightning.training.module import LSTRegressor
    from lst_lightning.training.run import run_training
    from lst_lightning.training.rundir import read_results

    unregister("elev_sq")  # the run imports and registers it from features.modules, as a command line would
    sys.modules.pop(MODULE)
    cfg = compose_cfg(["debug=tiny", "logger=mlflow", "model=mlp", "trainer.max_epochs=1",
                       f"features.groups=[{','.join(GROUPS_WITH_TOY)}]", "features.when_available=[]",
                       f"+features.modules=[{MODULE}]"], tmp_path)
    with open_dict(cfg):
        cfg.logger.mlflow.tracking_uri = f"sqlite:///{tmp_path}/mlflow.db"
    run_training(cfg)
    results = read_results(cfg.paths.output_dir)
    assert results["test/rmse_k"] > 0
    module = LSTRegressor.load_from_checkpoint(results["best_checkpoint"], map_location="cpu")
    assert "elev_sq" in module.layout.scalar_names
    assert module.hparams.scaling["elev_sq"] == "standardize"  # the group's own default scaling
    j = module.layout.scalar_names.index("elev_sq")
    assert float(module.scaler.scalar_scale[j]) > 1.0  # fitted on its (km^2-sized) training values

    run = open_run(cfg.paths.output_dir, "", tmp_path / "work")
    batch = gather_all(run.dm.gatherer, run.dm.eval_index("test"), run.dm.eval_batch_size)
    importance = permutation_importance(run.predict, batch, run.dm.layout, repeats=1)
    assert set(importance) == set(GROUPS_WITH_TOY) and np.isfinite(importance["elev_sq"]["rmse_increase_k"])

    mlflow.set_tracking_uri(cfg.logger.mlflow.tracking_uri)
    model = mlflow.pyfunc.load_model(f"runs:/{results['mlflow_run_id']}/model")
    assert "elev_sq" in model.metadata.get_input_schema().input_names()
    table = feature_table(batch, run.dm.gatherer)[model.metadata.get_input_schema().input_names()]
    np.testing.assert_allclose(np.asarray(model.predict(table)), predict_batched(run.predict, batch),
                               rtol=1e-6, atol=1e-6)


def test_fine_tiles_build_the_toy_column_at_the_fine_scale(toy, rng):
    from lst_lightning.data.loading.gatherer import FeatureGatherer
    from lst_lightning.downscale.tiles import tile_cache
    from tests.downscale.test_fine import fine_grid, inputs_for

    inputs = inputs_for(fine_grid(3, 1, 2, (31, 29)), rng, groups=GROUPS_WITH_TOY)
    tile = tile_cache(inputs, slice(0, 31), slice(0, 29))
    gatherer = FeatureGatherer(tile, inputs.layout)
    r, c = np.nonzero(np.isfinite(tile.window_mean[0]))
    batch = gatherer.gather(np.zeros(r.size, np.int64), r, c)
    j = inputs.layout.scalar_names.index("elev_sq")
    # the fine window's mean elevation, squared: the group's formula on the fine DEM
    dem = inputs.dem.astype(np.float64)
    elev = np.array([dem[i - 1:i + 2, k - 1:k + 2].mean() for i, k in zip(r, c)], dtype=np.float32)
    np.testing.assert_allclose(batch["scalars"][:, j], elev ** 2, rtol=1e-5)
