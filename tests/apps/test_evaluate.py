"""lst-evaluate: breakdowns that add up, plots written and logged to the run's MLflow run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import open_dict

from tests.common import CONF, REPO

PLOTS = ("pred_vs_true.png", "error_map.png", "residual_vs_elevation.png", "rmse_by_month.png")


@pytest.fixture(scope="module")
def runs(tiny_runs):
    """A tiny MLP run and a tiny ridge run, both logged to MLflow (shared: tests/conftest.py)."""
    return tiny_runs.root, {model: tiny_runs[model][1] for model in ("mlp", "ridge")}


def eval_cfg(root: Path, run: str, out: Path):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="evaluate", overrides=[f"run={run}", f"paths.log_dir={root}/logs"])
    with open_dict(cfg):
        cfg.output_dir = str(out)
    return cfg


@pytest.mark.parametrize("model,by", [("mlp", "checkpoint"), ("ridge", "run_id")])
def test_evaluate_writes_breakdowns_and_plots(runs, model, by, tmp_path):
    import mlflow

    from lst_lightning.apps.evaluate import evaluate

    root, results = runs
    res = results[model]
    spec = res["best_checkpoint"] if by == "checkpoint" else res["mlflow_run_id"]
    result = evaluate(eval_cfg(root, spec, tmp_path))

    overall = result["overall"]
    assert overall["rmse_k"] == pytest.approx(res["test/rmse_k"], rel=1e-5)  # the same test set and model
    assert overall["trivial_rmse_k"] == pytest.approx(res["test/trivial_rmse_k"], rel=1e-6)
    n = overall["n_samples"]
    for by_key in ("band", "season", "month", "elevation"):  # partitions of the headline samples
        table = result["by"][by_key]
        assert sum(row["n_samples"] for row in table.values()) == n, by_key
        mse = sum(row["rmse_k"] ** 2 * row["n_samples"] for row in table.values()) / n
        assert np.sqrt(mse) == pytest.approx(overall["rmse_k"], rel=1e-9), by_key
    assert set(result["by"]["band"]) == {"night", "day"}
    qa = result["by"]["qa"]
    assert qa["observed"]["n_samples"] == n
    assert qa["observed"]["n_samples"] + qa["gap-filled"]["n_samples"] == overall["all_n_samples"]

    written = json.loads((tmp_path / "evaluation.json").read_text())
    assert written["by"]["band"]["day"]["n_samples"] == result["by"]["band"]["day"]["n_samples"]
    for name in PLOTS:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{root}/logs/mlflow.db")
    logged = {a.path for a in client.list_artifacts(res["mlflow_run_id"], "evaluation")}
    assert {f"evaluation/{p}" for p in PLOTS} | {"evaluation/evaluation.json"} <= logged
    if model == "mlp":  # a network's learning curves come back from its MLflow history
        assert "evaluation/learning_curves.png" in logged
    else:  # a baseline has no epochs: its one validation figure is no curve
        assert not (tmp_path / "learning_curves.png").exists()
    metrics = client.get_run(res["mlflow_run_id"]).data.metrics
    assert metrics["eval/test/rmse_k"] == pytest.approx(overall["rmse_k"])
    assert metrics["eval/test/band/day/rmse_k"] == pytest.approx(result["by"]["band"]["day"]["rmse_k"])


def test_evaluate_cli_unknown_run_is_one_line(tmp_path):
    env = {**os.environ, "LST_ROOT": str(tmp_path)}
    code = "from lst_lightning.apps.run_cli import evaluate_main; evaluate_main()"
    proc = subprocess.run([sys.executable, "-c", code,
                           "run=0123456789abcdef0123456789abcdef", f"paths.log_dir={tmp_path}/logs",
                           f"hydra.run.dir={tmp_path}/eval"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: run=0123456789abcdef0123456789abcdef:"), proc.stderr
    assert "Traceback" not in proc.stderr
