"""Tracking to an MLflow server over HTTP, and what happens when the server does not answer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import open_dict

from lst_lightning.errors import LSTError
from tests import services
from tests.common import compose_cfg

pytestmark = pytest.mark.e2e  # a real mlflow server


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("server_data")


def short_run_cfg(tmp_path: Path, data_dir: Path, *overrides: str):
    cfg = compose_cfg(["debug=tiny", "logger=mlflow", "trainer.max_epochs=1", *overrides], tmp_path)
    with open_dict(cfg):
        cfg.paths.data_dir = str(data_dir)
    return cfg


def test_run_metrics_and_artifacts_reach_the_server(tmp_path, data_dir):
    import mlflow

    from lst_lightning.training.run import run_training

    with services.mlflow_server(tmp_path / "server") as url:
        cfg = short_run_cfg(tmp_path, data_dir, f"logger.mlflow.tracking_uri={url}")
        run_training(cfg)
        results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
        client = mlflow.MlflowClient(tracking_uri=url)
        run = client.get_run(results["mlflow_run_id"])
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test/rmse_k"] == pytest.approx(results["test/rmse_k"], rel=1e-6)
    assert "val/rmse_k" in run.data.metrics and run.data.params["model.name"] == "gated"
    assert {"config.yaml", "learning_curves.png"} <= artifacts and any(a.endswith(".ckpt") for a in artifacts)
    # stored by the server under its artifact root, not on the client's side
    stored = {p.name for p in (tmp_path / "server" / "artifacts").rglob("*") if p.is_file()}
    assert {"config.yaml", "learning_curves.png"} <= stored
    assert not (tmp_path / "logs" / "mlartifacts").exists()


def test_silent_server_stops_the_run_before_training(tmp_path, data_dir):
    from lst_lightning.training.run import run_training

    url = f"http://127.0.0.1:{services.free_port()}"  # nothing listens there
    cfg = short_run_cfg(tmp_path, data_dir, f"logger.mlflow.tracking_uri={url}")
    with pytest.raises(LSTError) as err:
        run_training(cfg)
    message = str(err.value)
    assert message.startswith(f"logger.mlflow.tracking_uri: the MLflow server {url} does not answer")
    assert "logger.mlflow.fallback_to_local=true" in message and "\n" not in message
    assert not (Path(cfg.paths.output_dir) / "results.json").exists()
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()  # no training happened


def test_silent_server_falls_back_to_the_local_store_when_asked(tmp_path, data_dir, caplog):
    import mlflow

    from lst_lightning.training.run import run_training

    url = f"http://127.0.0.1:{services.free_port()}"
    cfg = short_run_cfg(tmp_path, data_dir, f"logger.mlflow.tracking_uri={url}", "logger.mlflow.fallback_to_local=true")
    run_training(cfg)
    assert f"the MLflow server {url} does not answer" in caplog.text
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    local = mlflow.MlflowClient(tracking_uri=f"sqlite:///{Path(cfg.paths.log_dir).resolve()}/mlflow.db")
    run = local.get_run(results["mlflow_run_id"])
    assert run.data.metrics["test/rmse_k"] == pytest.approx(results["test/rmse_k"], rel=1e-6)
