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
    # the config once, as model.net.*: not again as Lightning's net/*, optimizer/*, layout/* hparams
    assert not [k for k in run.data.params if "/" in k], sorted(run.data.params)[:5]
    # an experiment of model development, not MLflow 3's GenAI (traces) default view
    assert client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    assert run.data.tags["model"] == "gated" and run.data.tags["split"] == "space_days"  # the default model
    # which archive and which held-out samples: runs of one test_set are scored on the same samples
    assert run.data.tags["archive"] == Path(results["cache"]).name and len(run.data.tags["test_set"]) == 10
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "learning_curves.png"} <= names
    assert any(n.endswith(".ckpt") for n in names)


def test_the_summary_is_kept_in_the_run_directory(tiny_run):
    cfg, _, results = tiny_run
    out = Path(cfg.paths.output_dir)
    text = (out / "summary.txt").read_text()
    assert text.startswith("== ") and f"model RMSE (K)                 {results['test/rmse_k']:.4f}" in text
    assert f"MLflow run {results['mlflow_run_id']}: mlflow ui --backend-store-uri sqlite:///" in text


def test_a_run_that_fails_ends_failed_in_mlflow(tmp_path, shared_data, monkeypatch):
    import mlflow

    from lst_lightning.errors import LSTError
    from lst_lightning.training import run as run_module

    def fail(*args):
        raise LSTError("stopped on purpose")

    monkeypatch.setattr(run_module, "_train_network", fail)
    cfg = tiny_cfg(tmp_path, shared_data, "logger=mlflow")
    with pytest.raises(LSTError, match="on purpose"):
        run_module.run_training(cfg)
    client = mlflow.MlflowClient(tracking_uri=cfg.logger.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name(cfg.logger.mlflow.experiment_name)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"


def test_the_mlflow_ui_line_pastes_into_a_shell(tmp_path, monkeypatch):
    import shlex

    from lst_lightning.training.summary import mlflow_ui_command

    spaced = f"sqlite:///{tmp_path}/my logs/mlflow.db"
    assert shlex.split(mlflow_ui_command(spaced)) == ["mlflow", "ui", "--backend-store-uri", spaced]
    monkeypatch.chdir(tmp_path)  # a relative store is made absolute: the line works from any folder
    assert shlex.split(mlflow_ui_command("sqlite:///./logs/mlflow.db"))[-1] == f"sqlite:///{tmp_path.resolve()}/logs/mlflow.db"
    assert mlflow_ui_command("http://host:5000") == "mlflow ui --backend-store-uri http://host:5000"


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
    assert not (tmp_path / "run").exists()  # a run that wrote nothing leaves no directory (.hydra only)


@pytest.mark.e2e
def test_cli_model_cnn_split_days_as_typed(tmp_path, shared_data):
    proc = _run_cli("model=cnn", "split=days", "debug=fast", "logger=none", f"paths.data_dir={shared_data}",
                    f"paths.log_dir={tmp_path}", f"hydra.run.dir={tmp_path}/run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["split/kind"] == "days" and results["test/n_samples"] > 0
    # the summary names the run's inputs
    assert "inputs (features.groups): lst_mean, elev_mean, elev_diff, doy, tod, latlon" in proc.stdout


def test_learning_curves_of_the_run_and_of_mlflow_are_the_same(tmp_path, shared_data, monkeypatch):
    """Each epoch's training RMSE sits at its own epoch (the callback once read it an epoch late
    and showed the last batch's loss as the epoch's MSE); lst-evaluate's curve from MLflow is the same."""
    import mlflow

    from lst_lightning.apps.evaluate import mlflow_history
    from lst_lightning.training import run as run_module

    drawn = []
    monkeypatch.setattr(run_module, "learning_curves", lambda rows, path, trivial: drawn.append(rows) or path)
    cfg = tiny_cfg(tmp_path, shared_data, "logger=mlflow", "model=mlp", "trainer.max_epochs=2",
                   "callbacks.early_stopping.patience=5")
    run_module.run_training(cfg)
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    client = mlflow.MlflowClient(tracking_uri=cfg.logger.mlflow.tracking_uri)
    logged = [m.value for m in sorted(client.get_metric_history(results["mlflow_run_id"], "train/rmse_k"),
                                      key=lambda m: m.step)]
    (rows,) = drawn
    assert [r["epoch"] for r in rows] == [0, 1]
    assert [r["train/rmse_k"] for r in rows] == pytest.approx(logged)
    assert [r["train/mse_k2"] for r in rows] == pytest.approx([v * v for v in logged])
    assert rows[-1]["val/rmse_k"] == pytest.approx(results["val/rmse_k"], rel=0.2)
    from_mlflow, trivial = mlflow_history(client, results["mlflow_run_id"])
    assert from_mlflow == [pytest.approx(r) for r in rows]
    assert trivial == pytest.approx(results["val/trivial_rmse_k"])


@pytest.mark.e2e
def test_the_console_of_a_run_is_plain_lines(tmp_path, shared_data):
    """In a terminal: one line per epoch redrawn with carriage returns only (no cursor moves that
    show as stray escapes), none of the libraries' promotions or warnings about their own code."""
    from tests.terminal import run_in_terminal, screen_lines

    env = {**os.environ, "LST_ROOT": str(REPO), "PYTHONPATH": str(REPO)}
    code, text = run_in_terminal([sys.executable, str(REPO / "train.py"), "debug=tiny", "model=mlp",
                                  "trainer.max_epochs=2", "logger=none", f"paths.data_dir={shared_data}",
                                  f"paths.log_dir={tmp_path}", f"hydra.run.dir={tmp_path}/run"], cwd=REPO, env=env)
    assert code == 0, text[-2000:]
    assert "\x1b" not in text
    for noise in ("Tip:", "is deprecated", "IterableDataset"):
        assert noise not in text
    lines = screen_lines(text.replace("\r\n", "\n"))
    epochs = [line for line in lines if line.startswith("Epoch ")]
    assert [e.split(":")[0] for e in epochs] == ["Epoch 0", "Epoch 1"] and all("32/32" in e for e in epochs)
    assert "  model RMSE (K)" in text
