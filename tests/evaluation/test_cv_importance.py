"""scripts/cv_importance.py: permutation importance per band of a finished cross-validation."""
from __future__ import annotations

import json
from pathlib import Path

from tests.common import load_script


def test_a_cross_validation_gets_its_importance_per_band(tmp_path, capsys):
    from lst_lightning.training.experiment import run_experiment
    from tests.training.test_experiment import cv_cfg

    cfg = cv_cfg(tmp_path, "model=ridge", "model.train_samples=5000", "logger=none", "intervals=null")
    run_experiment(cfg)
    out = Path(cfg.paths.output_dir)
    assert load_script("cv_importance").main([str(out), "--repeats", "1"]) == 0
    table = json.loads((out / "importance.json").read_text())
    assert set(table) == set(cfg.features.groups)
    for figures in table.values():
        assert {"all", "day", "night"} <= set(figures)
        assert figures["all"]["low"] <= figures["all"]["mean"] <= figures["all"]["high"]
    # on the synthetic archive the terrain drives the anomaly: shuffling it hurts most
    top = max(table, key=lambda g: table[g]["all"]["mean"])
    assert top == "elev_diff" and table[top]["all"]["mean"] > 10
    printed = capsys.readouterr().out
    assert "mean over 3 folds" in printed and "elev_diff" in printed


def test_not_a_cross_validation_is_one_line(tmp_path, capsys):
    assert load_script("cv_importance").main([str(tmp_path)]) == 2
    assert "no fold_<i>/" in capsys.readouterr().err

