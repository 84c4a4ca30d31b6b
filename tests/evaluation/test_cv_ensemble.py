"""scripts/cv_ensemble.py: the mean of finished cross-validations' models, fold by fold."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.common import load_script


def _cv(tmp_path: Path, name: str, *overrides: str) -> Path:
    from lst_lightning.training.experiment import run_experiment
    from tests.training.test_experiment import cv_cfg

    cfg = cv_cfg(tmp_path / name, *overrides, "logger=none", "intervals=null")
    run_experiment(cfg)
    return Path(cfg.paths.output_dir)


def test_the_mean_of_two_cross_validations_is_scored_on_their_folds(tmp_path, capsys):
    ridge = _cv(tmp_path, "ridge", "model=ridge", "model.train_samples=5000")
    trees = _cv(tmp_path, "trees", "model=lightgbm", "model.train_samples=5000")
    assert load_script("cv_ensemble").main([str(ridge), str(trees)]) == 0
    result = json.loads((ridge / "ensemble.json").read_text())
    table = result["mse_improvement_pct"]
    names = {ridge: "ridge/run", trees: "trees/run"}  # both directories are called run
    assert set(table) == {*names.values(), "mean"} and result["folds"] == 3
    # each member scores its folds as its own run did
    for run in (ridge, trees):
        own = [json.loads((run / f"fold_{i}" / "results.json").read_text()) for i in range(3)]
        for view, key in (("all", "test/mse_improvement_pct"), ("day", "test/band/day/mse_improvement_pct")):
            assert table[names[run]][view]["mean"] == pytest.approx(sum(r[key] for r in own) / 3, abs=1e-3)
    # the MSE of a mean is at most the mean of the MSEs (convexity), fold by fold
    for view in ("all", "day", "night"):
        members = (table["ridge/run"][view]["mean"] + table["trees/run"][view]["mean"]) / 2
        assert table["mean"][view]["mean"] >= members - 1e-6
        diff = result["mean_minus"]["ridge/run"][view]
        assert diff["mean"] == pytest.approx(table["mean"][view]["mean"] - table["ridge/run"][view]["mean"])
    printed = capsys.readouterr().out
    assert "mean over 3 folds" in printed and "mean - trees/run" in printed


def test_runs_on_other_folds_are_refused_in_one_line(tmp_path, capsys):
    a = _cv(tmp_path, "a", "model=ridge", "model.train_samples=2000")
    b = _cv(tmp_path, "b", "model=ridge", "model.train_samples=2000", "split.seed=7")
    capsys.readouterr()  # the runs' own output
    assert load_script("cv_ensemble").main([str(a), str(b)]) == 2
    err = capsys.readouterr().err  # opening the runs may log (reusing cache ...) before it
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and last.endswith("the runs are not the same folds")
    assert "Traceback" not in err and err.count("error:") == 1
    assert load_script("cv_ensemble").main([str(a), str(tmp_path)]) == 2
    assert "must hold the same fold_<i>/" in capsys.readouterr().err
