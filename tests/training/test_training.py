"""End to end: compose -> synthetic archive -> cache -> train -> test -> results.json / MLflow."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import open_dict

from tests.common import REPO, compose_cfg

RESULT_KEYS = ("test/rmse_k", "test/trivial_rmse_k", "test/mse_improvement_pct", "test/rmse_improvement_pct",
               "test/floor_rmse_k", "test/explained_fraction", "test/n_samples", "val/rmse_k", "mlflow_run_id")


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory):
    """One data directory for the module: the tiny archive and cache are built once, then reused."""
    return tmp_path_factory.mktemp("data")


def tiny_cfg(tmp_path, shared_data, *overrides):
    cfg = compose_cfg(["debug=tiny", *overrides], tmp_path)
    with open_dict(cfg):
        cfg.paths.data_dir = str(shared_data)
    return cfg


def test_fast_dev_run(tmp_path, shared_data):
    from lst_lightning.training.run import run_training

    cfg = compose_cfg(["debug=fast", "logger=none"], tmp_path)
    with open_dict(cfg):
        cfg.paths.data_dir = str(shared_data)
    run_training(cfg)
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["test/n_samples"] > 0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, shared_data):
    """A short real run with MLflow on a tiny synthetic archive with strong signal."""
    from lst_lightning.training.run import run_training

    tmp = tmp_path_factory.mktemp("tiny")
    cfg = tiny_cfg(tmp, shared_data, "logger=mlflow")
    value = run_training(cfg)
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    return cfg, value, results


def test_short_run_beats_trivial_baseline(tiny_run):
    cfg, value, results = tiny_run
    for key in RESULT_KEYS:
        assert key in results, key
    assert value == pytest.approx(results["val/rmse_k"])
    assert results["test/rmse_k"] < 0.8 * results["test/trivial_rmse_k"]
    assert results["test/mse_improvement_pct"] > 30
    # synthetic archives carry the oracle: the floor is below the model and explains a fraction
    assert results["test/floor_rmse_k"] < results["test/rmse_k"]
    assert 0.2 < results["test/explained_fraction"] <= 1.05
    assert results["split/kind"] == "space_days" and results["split/train_samples"] > 0


def test_mlflow_run_carries_metrics_params_artifacts(tiny_run):
    import mlflow

    cfg, _, results = tiny_run
    client = mlflow.MlflowClient(tracking_uri=cfg.logger.mlflow.tracking_uri)
    run = client.get_run(results["mlflow_run_id"])
    for key in ("test/rmse_k", "test/trivial_rmse_k", "val/rmse_k", "final/test/mse_improvement_pct"):
        assert key in run.data.metrics, key
    assert run.data.params["model.net.hidden"] == "[64, 32]"
    assert run.data.tags["model"] == "gated" and run.data.tags["split"] == "space_days"  # the default model
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "learning_curves.png"} <= names
    assert any(n.endswith(".ckpt") for n in names)


def test_same_seed_same_result(tiny_run, tmp_path, shared_data):
    from lst_lightning.training.run import run_training

    _, _, first = tiny_run
    cfg = tiny_cfg(tmp_path, shared_data, "logger=none")
    run_training(cfg)
    again = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert round(again["test/rmse_k"], 4) == round(first["test/rmse_k"], 4)


def test_checkpoint_alone_predicts(tiny_run):
    import torch

    from lst_lightning.training.module import LSTRegressor

    _, _, results = tiny_run
    model = LSTRegressor.load_from_checkpoint(results["best_checkpoint"], map_location="cpu")
    model.eval()
    n_s = model.scaler.shift_scalars.numel() if hasattr(model.scaler, "shift_scalars") else None
    layout = model.layout
    out = model(torch.zeros(3, layout.n_scalars), torch.zeros(3, layout.n_channels, layout.k, layout.k))
    assert out.shape == (3,) and torch.isfinite(out).all()
    assert n_s is None or n_s == layout.n_scalars


def _run_cli(*args, cwd=REPO, timeout=300):
    env = {**os.environ, "LST_ROOT": str(cwd)}
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


@pytest.mark.e2e
def test_cli_missing_setting_is_one_clear_line(tmp_path):
    proc = _run_cli("data=israel", f"paths.log_dir={tmp_path}", f"hydra.run.dir={tmp_path}/run")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert lines[-1].startswith("error: setting data.lst_dir is required"), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.e2e
def test_cli_model_cnn_split_days_as_typed(tmp_path, shared_data):
    proc = _run_cli("model=cnn", "split=days", "debug=fast", "logger=none", f"paths.data_dir={shared_data}",
                    f"paths.log_dir={tmp_path}", f"hydra.run.dir={tmp_path}/run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["split/kind"] == "days" and results["test/n_samples"] > 0
    # the summary names the run's inputs
    assert "inputs (features.groups): lst_mean, elev_mean, elev_diff, doy, tod, latlon" in proc.stdout
