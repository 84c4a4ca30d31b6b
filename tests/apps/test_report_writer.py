"""The report's markdown from jobs already run (no training): the header names the archive the
report ran on; Q3 without importance or ablation says it was skipped and how to run it."""
from __future__ import annotations

import pytest

from lst_lightning.apps.report.jobs import Job
from lst_lightning.apps.report.writer import write_report
from tests.common import compose_cfg

DATA = ["data=custom", "data.lst_dir=/archives/terra/lst", "data.dem=/archives/terra/dem.tif",
        "data.landcover=/archives/terra/landcover.tif", "data.bands=[day]", "data.hours.day=10.5"]


def job(model: str, rmse: float, tmp_path, metrics: dict | None = None) -> Job:
    cfg = compose_cfg([*DATA, f"model={model}", "features.groups=[lst_mean,elev_diff]"], tmp_path)
    m = {"test/rmse_k": rmse, "test/trivial_rmse_k": 1.2, "test/rmse_improvement_pct": 100 * (1 - rmse / 1.2),
         "test/mse_improvement_pct": 100 * (1 - (rmse / 1.2) ** 2), "test/n_samples": 1000, **(metrics or {})}
    results = {"cache": "/cache/lst-k9-abc", "split/train_samples": 10, "split/val_samples": 5,
               "split/test_samples": 5, "mlflow_run_id": f"run-{model}"}
    return Job(f"space_days/{model}", (), model, "space_days", results=results, metrics=m, seconds=3.0, cfg=cfg)


@pytest.fixture
def written(tmp_path):
    def write(*jobs: Job) -> str:
        out = tmp_path / "reports" / "r"
        (out / "figures").mkdir(parents=True)
        return write_report(out, "r", list(jobs), [*DATA, "logger=mlflow"], ["space_days"], None, 60.0).read_text()

    return write


def test_the_header_names_the_archive_the_report_ran_on(written, tmp_path):
    text = written(job("ridge", 1.0, tmp_path), job("trivial", 1.2, tmp_path))
    head = text.split("## ")[0]
    assert ("Data: `Files: data.lst_dir=/archives/terra/lst data.dem=/archives/terra/dem.tif "
            "data.landcover=/archives/terra/landcover.tif; bands day; overpass hours day 10:30 (local solar)`.") in head


def test_q3_without_importance_or_ablation_says_it_was_skipped(written, tmp_path):
    text = written(job("ridge", 1.0, tmp_path), job("trivial", 1.2, tmp_path))
    q3 = text.split("## Q3: which inputs matter?")[1].split("## ")[0]
    assert "| group |" not in q3 and "**Skipped**" in q3
    assert "--importance-models gated,lightgbm" in q3 and "--ablation-model gated" in q3


def test_q3_with_permutation_importance_keeps_its_table(written, tmp_path):
    importance = {"importance/elev_diff/rmse_increase_k": 0.25, "importance/lst_mean/rmse_increase_k": 0.05}
    text = written(job("ridge", 1.0, tmp_path, importance), job("trivial", 1.2, tmp_path))
    q3 = text.split("## Q3: which inputs matter?")[1].split("## ")[0]
    assert "| group | permutation: ridge (K) |" in q3 and "| elev_diff | +0.250 |" in q3 and "Skipped" not in q3


def test_q3_gives_each_bands_importance_next_to_the_pooled_one(written, tmp_path):
    importance = {"importance/elev_diff/rmse_increase_k": 0.25, "importance/elev_diff/rmse_increase_k/high": 0.30,
                  "importance/elev_diff/band/day/rmse_increase_k": 0.40, "importance/elev_diff/band/night/"
                  "rmse_increase_k": 0.05, "importance/lst_mean/rmse_increase_k": 0.05,
                  "importance/lst_mean/band/day/rmse_increase_k": 0.02, "importance/lst_mean/band/night/"
                  "rmse_increase_k": 0.09}
    text = written(job("ridge", 1.0, tmp_path, importance), job("trivial", 1.2, tmp_path))
    q3 = text.split("## Q3: which inputs matter?")[1].split("## ")[0]
    assert "| group | permutation: ridge (K) | permutation: ridge, night (K) | permutation: ridge, day (K) |" in q3
    assert "| elev_diff | +0.250 ± 0.050 | +0.050 | +0.400 |" in q3 and "| lst_mean | +0.050 | +0.090 | +0.020 |" in q3
