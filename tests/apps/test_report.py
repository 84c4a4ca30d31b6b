"""lst-report on a tiny archive: every section and figure written, numbers read back from MLflow."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common import REPO

pytestmark = pytest.mark.e2e  # the whole lst-report

PNG = b"\x89PNG\r\n\x1a\n"
REPORT_MAIN = "from lst_lightning.apps.study_cli import report_main; report_main()"  # the console script


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    from lst_lightning.apps.report.jobs import build_report

    tmp = tmp_path_factory.mktemp("report")
    overrides = ["debug=tiny", f"paths.data_dir={tmp}/data", f"paths.log_dir={tmp}/logs", "model.train_samples=5000",
                 "trainer.max_epochs=2"]
    # the ridge as ablation model: six retrainings in seconds (the default ablates the MLP)
    path = build_report("tiny", overrides, models=("mlp", "ridge", "trivial"),
                        splits=("space_days", "random"), ablation_model="ridge", importance_models=("mlp", "ridge"),
                        repeats=1, out_root=tmp / "reports")
    return tmp, path


def test_report_has_every_section_and_figure(tiny_report):
    tmp, path = tiny_report
    assert path == tmp / "reports" / "tiny" / "report.md"
    text = path.read_text()
    for heading in ("## Q1: does the network improve on the trivial baseline?", "## Q2: how do the models compare?",
                    "## Q3: which inputs matter?", "## Split contrast", "## Runs"):
        assert heading in text, heading
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    names = {Path(i).name for i in images}
    assert {"pred_vs_true.png", "error_map.png", "residual_vs_elevation.png", "rmse_by_month.png",
            "learning_curves.png", "models.png", "importance.png", "split_contrast.png"} <= names
    for image in images:
        assert (path.parent / image).read_bytes()[:8] == PNG, image
    # ablation of each original group, permutation for the two models asked for
    # the synthetic archive has NDVI: with the context, an input of every model and one of the groups
    for group in ("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon", "context", "ndvi"):
        assert re.search(rf"^\| {group} \| [+-]\d", text, re.M), group
    # permutation pooled and per band (the synthetic archive has both), then the ablation
    assert ("| group | permutation: mlp (K) | permutation: mlp, night (K) | permutation: mlp, day (K) | "
            "permutation: ridge (K) | permutation: ridge, night (K) | permutation: ridge, day (K) | "
            "ablation: ridge (K) |") in text
    assert "| model | day RMSE (K) | day trivial (K) | day MSE improvement (%) | night RMSE (K)" in text
    # the header names the archive: the synthetic one of debug=tiny
    assert "\nData: `Synthetic (generated): data.synthetic={years: [2020], day_step: 12, shape: [96, 80]" in text


def test_report_numbers_come_from_the_mlflow_runs(tiny_report):
    import mlflow

    tmp, path = tiny_report
    summary = json.loads((path.parent / "summary.json").read_text())["runs"]
    assert len(summary) == 3 * 2 + 8  # models x splits + one ablation per default group
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp}/logs/mlflow.db")
    trivial = {r["metrics"]["test/trivial_rmse_k"] for k, r in summary.items() if k.startswith("space_days/")}
    assert max(trivial) - min(trivial) < 1e-6 * max(trivial)  # every model on the same test samples
    text = path.read_text()
    for key, run in summary.items():
        mrun = client.get_run(run["mlflow_run_id"])
        assert mrun.data.metrics["final/test/rmse_k"] == run["metrics"]["test/rmse_k"]
        assert run["mlflow_run_id"] in text
    mlp = client.get_run(summary["space_days/mlp"]["mlflow_run_id"]).data.metrics
    assert mlp["importance/elev_diff/rmse_increase_k"] == summary["space_days/mlp"]["metrics"][
        "importance/elev_diff/rmse_increase_k"]
    assert f"| mlp | {summary['space_days/mlp']['metrics']['test/rmse_k']:.3f} |" in text


def test_report_refuses_a_run_without_mlflow(tmp_path):
    proc = subprocess.run([sys.executable, "-c", REPORT_MAIN, "--out", str(tmp_path), "debug=tiny",
                           "logger=none", f"paths.data_dir={tmp_path}/data", f"paths.log_dir={tmp_path}/logs"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: lst-report reads its results back from MLflow: do not set logger=none/csv")
    assert not (tmp_path / "default" / "report.md").exists()


def test_cross_validated_report_gives_intervals_and_a_paired_verdict(tmp_path):
    import mlflow

    from lst_lightning.apps.report.jobs import build_report

    overrides = ["debug=tiny", f"paths.data_dir={tmp_path}/data", f"paths.log_dir={tmp_path}/logs",
                 "model.train_samples=5000", "trainer.max_epochs=1"]
    path = build_report("cv", overrides, models=("mlp", "ridge", "trivial"), splits=("space_days", "random"),
                        ablation_model=None, importance_models=("ridge",), repeats=1, out_root=tmp_path / "reports",
                        folds=3)
    text = path.read_text()
    assert "3-fold cross-validation over spatial blocks x dates" in text
    assert "## Split contrast" not in text  # the leaky random split is not cross-validated
    summary = json.loads((path.parent / "summary.json").read_text())["runs"]
    assert sorted(summary) == ["space_days/mlp", "space_days/ridge", "space_days/trivial"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/logs/mlflow.db")
    results = json.loads((tmp_path / "reports" / "cv" / "runs" / "space_days__ridge" / "results.json").read_text())
    cv = results["cv"]["test/rmse_k"]
    # the table shows the folds' mean and the half-width of its interval, read back from the parent run
    parent = client.get_run(summary["space_days/ridge"]["mlflow_run_id"]).data.metrics
    assert parent["cv/test/rmse_k/mean"] == pytest.approx(cv["mean"])
    assert f"| ridge | {cv['mean']:.3f} ± {cv['half_width']:.3f} |" in text
    # Q2 names a paired verdict over the same 3 folds
    assert re.search(r"Paired over the same 3 folds, \w+ leads \w+ by [-\d.]+ K \(95 % interval", text)
    # permutation importance of each fold's ridge, with the folds' interval
    assert parent["importance/elev_diff/rmse_increase_k/high"] >= parent["importance/elev_diff/rmse_increase_k"]
    assert re.search(r"^\| elev_diff \| [+-]\d\.\d{3} ± \d\.\d{3} \|", text, re.M)
