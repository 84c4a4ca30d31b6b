"""runs.py: a finished run found from a checkpoint, its run directory or its MLflow run id; one clear
line for a path that does not exist, an unknown run id and a run that saved no model."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from lst_lightning.errors import LSTError


@pytest.fixture(scope="module")
def tracked(tiny_runs):
    """Two tiny MLflow-tracked runs on one archive: with checkpoints, and without any."""
    return tiny_runs.uri, {"ckpt": tiny_runs["mlp"], "nockpt": tiny_runs["mlp_nockpt"]}


def test_checkpoint_run_dir_and_run_id_name_the_same_run(tracked, tmp_path):
    from lst_lightning.apps.runs import locate_run
    from lst_lightning.training.module import LSTRegressor

    uri, runs = tracked
    out, results = runs["ckpt"]
    saved = OmegaConf.load(out / "config.yaml")
    best = Path(results["best_checkpoint"])
    by_file = locate_run(str(best), uri, tmp_path / "a")
    by_dir = locate_run(str(out), uri, tmp_path / "b")
    by_id = locate_run(results["mlflow_run_id"], uri, tmp_path / "c")
    for cfg, model, run_id in (by_file, by_dir, by_id):
        assert cfg == saved and run_id == results["mlflow_run_id"]
        assert model.suffix == ".ckpt" and model.read_bytes() == best.read_bytes()
    assert by_dir[1] == best and by_id[1].is_relative_to(tmp_path / "c")  # downloaded from the store
    # the downloaded checkpoint alone is the model, scaler included
    module = LSTRegressor.load_from_checkpoint(str(by_id[1]), map_location="cpu")
    assert bool(module.scaler.fitted) and float(module.scaler.scalar_scale.max()) != 1.0


def test_open_run_predicts_the_run_test_set(tracked, tmp_path):
    from lst_lightning.apps.runs import open_run
    from lst_lightning.evaluation.predictions import gather_all, part_metrics, predict_batched

    uri, runs = tracked
    out, results = runs["ckpt"]
    run = open_run(results["mlflow_run_id"], uri, tmp_path)
    batch = gather_all(run.dm.gatherer, run.dm.eval_index("test"), run.dm.eval_batch_size)
    metrics = part_metrics(predict_batched(run.predict, batch), batch)
    # the same held-out samples and the same model as the training run's own test
    assert metrics["n_samples"] == results["test/n_samples"]
    assert metrics["rmse_k"] == pytest.approx(results["test/rmse_k"], rel=1e-3)
    assert metrics["rmse_k"] < metrics["trivial_rmse_k"]
    assert np.isfinite(metrics["rmse_k"])


@pytest.mark.parametrize("spec, message", [
    ("missing/model.ckpt", r"^run=missing/model\.ckpt: no such file or directory$"),
    ("0123456789abcdef0123456789abcdef", r"^run=0123456789abcdef0123456789abcdef: neither a file nor a run "
                                         r"directory, nor a run in the MLflow store sqlite:///"),
])
def test_missing_path_and_unknown_run_id(tracked, tmp_path, spec, message):
    from lst_lightning.apps.runs import locate_run

    with pytest.raises(LSTError, match=message) as err:
        locate_run(spec, tracked[0], tmp_path)
    assert "\n" not in str(err.value)


def test_directory_that_is_no_run(tmp_path):
    from lst_lightning.apps.runs import locate_run

    with pytest.raises(LSTError, match=rf"^run={tmp_path}: no config.yaml in {tmp_path} \(not a run directory"):
        locate_run(str(tmp_path), "sqlite:///unused.db", tmp_path)


def test_run_without_checkpoint(tracked, tmp_path):
    from lst_lightning.apps.runs import locate_run

    uri, runs = tracked
    out, results = runs["nockpt"]
    assert not results["best_checkpoint"]
    with pytest.raises(LSTError, match=rf"^run={out}: the run in {out} saved no model file \(trained with "
                                       r"trainer.enable_checkpointing=false"):
        locate_run(str(out), uri, tmp_path)
    with pytest.raises(LSTError, match=r"the MLflow run has no model file among its artifacts \[.*config\.yaml"):
        locate_run(results["mlflow_run_id"], uri, tmp_path)


def test_deleted_checkpoint(tracked, tmp_path):
    from lst_lightning.apps.runs import locate_run

    out, results = tracked[1]["ckpt"]
    copy = tmp_path / "run"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("checkpoints"))
    (copy / "results.json").write_text(json.dumps({**results, "best_checkpoint": str(copy / "gone.ckpt")}))
    with pytest.raises(LSTError, match=r"its model file .*gone\.ckpt \(results\.json\) no longer exists"):
        locate_run(str(copy), tracked[0], tmp_path)
