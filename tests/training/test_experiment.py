"""train.py's experiment: a K-fold cross-validation trains every fold, reports each, their mean and
interval, and tracks them as MLflow child runs of one parent."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf, open_dict

from lst_lightning.errors import LSTError
from tests.common import compose_cfg


def cv_cfg(tmp_path: Path, *overrides: str):
    cfg = compose_cfg(["debug=tiny", "logger=mlflow", "trainer.max_epochs=1", "split.folds=3", *overrides], tmp_path)
    with open_dict(cfg):
        cfg.paths.data_dir = str(tmp_path / "data")
    return cfg


def test_three_fold_cv_reports_every_fold_and_their_interval(tmp_path, capsys):
    import mlflow

    from lst_lightning.training.experiment import run_experiment

    cfg = cv_cfg(tmp_path, "model=ridge", "model.train_samples=5000")
    returned = run_experiment(cfg)
    out = Path(cfg.paths.output_dir)
    results = json.loads((out / "results.json").read_text())
    assert results["folds"] == 3 and len(results["per_fold"]) == 3
    rmse = [r["test/rmse_k"] for r in results["per_fold"]]
    cv = results["cv"]["test/rmse_k"]
    assert cv["folds"] == rmse and cv["mean"] == pytest.approx(np.mean(rmse))
    assert cv["low"] < cv["mean"] < cv["high"]
    day = results["cv"]["test/band/day/rmse_k"]  # per band too
    assert day["folds"] == [r["test/band/day/rmse_k"] for r in results["per_fold"]]
    assert returned == pytest.approx(np.mean([r["val/rmse_k"] for r in results["per_fold"]]))  # val, never test
    for fold in range(3):  # every fold is a complete run of its own
        assert (out / f"fold_{fold}" / "results.json").is_file()
    printed = capsys.readouterr().out
    assert "3-fold cross-validation" in printed and "95 % interval" in printed
    # the prediction intervals' test coverage, over the folds too
    coverage = results["cv"]["intervals/coverage_pct"]
    assert coverage["folds"] == [r["intervals/coverage_pct"] for r in results["per_fold"]]
    assert "pooled 90 % coverage (%)" in printed and "day 90 % coverage (%)" in printed

    client = mlflow.MlflowClient(tracking_uri=cfg.logger.mlflow.tracking_uri)
    parent = client.get_run(results["mlflow_run_id"])
    assert parent.data.metrics["cv/test/rmse_k/mean"] == pytest.approx(cv["mean"])
    assert parent.data.metrics["cv/test/rmse_k/high"] == pytest.approx(cv["high"])
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(int(c.data.tags["cv.fold"]) for c in children) == [0, 1, 2]
    assert sorted(c.info.run_id for c in children) == sorted(r["mlflow_run_id"] for r in results["per_fold"])


def test_parallel_folds_give_the_sequential_results(tmp_path):
    """cv_jobs=2: the folds run in two processes; a deterministic model gives identical figures,
    and both processes' runs are the parent's MLflow children."""
    import mlflow

    from lst_lightning.training.experiment import run_experiment

    figures = {}
    for jobs in (1, 2):
        cfg = cv_cfg(tmp_path / f"jobs{jobs}", "model=ridge", "model.train_samples=5000", f"cv_jobs={jobs}")
        run_experiment(cfg)
        results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
        figures[jobs] = [(r["test/rmse_k"], r["test/n_samples"]) for r in results["per_fold"]]
    assert figures[2] == figures[1]
    client = mlflow.MlflowClient(tracking_uri=cfg.logger.mlflow.tracking_uri)
    parent = client.get_run(results["mlflow_run_id"])
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(int(c.data.tags["cv.fold"]) for c in children) == [0, 1, 2]


def test_cv_jobs_must_be_a_positive_integer(tmp_path):
    from lst_lightning.training.experiment import run_experiment

    with pytest.raises(LSTError, match=r"cv_jobs: the number of folds run at once must be an integer >= 1, got 0"):
        run_experiment(cv_cfg(tmp_path, "model=ridge", "cv_jobs=0"))


def test_the_folds_test_parts_are_disjoint_in_the_data_module(tmp_path):
    from lst_lightning.data.loading.sources import resolve_cache
    from lst_lightning.training.run import build_datamodule
    from lst_lightning.training.rundir import HeldOut, part_config

    cfg = cv_cfg(tmp_path, "logger=none")
    tests = []
    for fold in range(3):
        fcfg = part_config(cfg, HeldOut("fold", 3), fold, "cv", None)
        dm = build_datamodule(fcfg, resolve_cache(OmegaConf.to_container(fcfg.data, resolve=True), progress=False))
        dm.setup()
        frames = dm.cache.meta["frames"]
        tests.append(({frames[i]["date"] for i in dm.plan["test"].frames}, dm.plan["test"].pixel_mask))
    for i in range(3):
        for j in range(i + 1, 3):
            assert not tests[i][0] & tests[j][0] and not np.any(tests[i][1] & tests[j][1])


def test_cv_never_optimises_a_test_metric(tmp_path):
    from lst_lightning.training.experiment import run_experiment

    with pytest.raises(LSTError, match="optimized_metric=test/rmse_k: cross-validation selects on validation"):
        run_experiment(cv_cfg(tmp_path, "optimized_metric=test/rmse_k"))


def test_one_fold_alone_is_one_run(tmp_path):
    from lst_lightning.training.experiment import run_experiment

    cfg = cv_cfg(tmp_path, "logger=none", "split.fold=1")
    run_experiment(cfg)
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert "test/rmse_k" in results and "folds" not in results


def test_cv_summarises_each_site_that_every_fold_tests():
    from lst_lightning.training.experiment import format_cv, summarise
    from lst_lightning.training.rundir import HeldOut

    def fold(mse: dict) -> dict:
        out = {"test/rmse_k": 1.0}
        for site, value in mse.items():
            out.update({f"test/site/{site}/mse_improvement_pct": value, f"test/site/{site}/bias_k": 0.1})
        return out

    pooled = summarise([fold({"a": 10.0, "b": -2.0}), fold({"a": 20.0, "b": 4.0}), fold({"a": 30.0, "b": 1.0})])
    assert pooled["test/site/a/mse_improvement_pct"]["folds"] == [10.0, 20.0, 30.0]
    assert pooled["test/site/a/mse_improvement_pct"]["mean"] == pytest.approx(20.0)
    low, high = pooled["test/site/b/mse_improvement_pct"]["low"], pooled["test/site/b/mse_improvement_pct"]["high"]
    assert low < 1.0 < high
    assert "test/site/a/bias_k" not in pooled  # the CV keys only
    assert "a MSE improvement (%)" in format_cv("run", HeldOut("fold", 3), pooled, Path("out"))
    loso = summarise([fold({"a": 10.0}), fold({"b": 4.0}), fold({"c": 1.0})])  # split=sites: one fold per site
    assert not [k for k in loso if k.startswith("test/site/")]


class EmptyFold:
    """A data source whose fold 1 of 5 tests on 64 px blocks without a valid sample (as on an
    archive of clear-sky windows, where a fold's blocks and dates need not meet)."""

    sites: list = []

    def caches(self):
        return None

    def hours_warnings(self):
        return []

    def scan(self):
        return []

    def held_out_samples(self, caches, split, seed):
        block = split["space"]["block_px"]
        empty = split["fold"] == 1 and split["folds"] == 5 and block == 64
        return {"": {"val": 1200, "test": 0 if empty else 800}}


def test_every_fold_is_planned_before_the_first_trains(tmp_path, monkeypatch):
    from lst_lightning.errors import LSTError
    from lst_lightning.training import experiment

    cfg = cv_cfg(tmp_path, "logger=none", "split.folds=5", "split.space.block_px=64")
    trained = []
    monkeypatch.setattr(experiment, "source_of", lambda data: EmptyFold())
    monkeypatch.setattr(experiment, "run_training", lambda c: trained.append(c))
    with pytest.raises(LSTError, match=r"split.folds=5 \(seed 42\): fold 1 has 1,200 val, 0 test samples; "
                                       r"split.folds=4 gives every fold samples"):
        experiment.run_experiment(cfg)
    assert trained == [] and not (tmp_path / "run").exists()  # nothing trained, no run directory


@pytest.mark.parametrize("folds", [-2, 1, "x"])
def test_a_bad_fold_count_stops_before_any_cache_or_run(tmp_path, folds):
    from lst_lightning.errors import LSTError
    from lst_lightning.training.experiment import run_experiment

    with pytest.raises(LSTError, match=r"split.folds must be an integer >= 2 \(or null for one split\), got"):
        run_experiment(cv_cfg(tmp_path, f"split.folds={folds}"))
    assert not (tmp_path / "data").exists() and not (tmp_path / "run").exists() and not (tmp_path / "logs").exists()


@pytest.mark.parametrize("overrides, message", [
    (["split.folds=1000"], r"split.folds=1000: at most 31 date groups \(mode=random\) to deal into 1000 test groups"),
    (["split=space", "split.folds=40"], r"split.folds=40: at most 30 spatial blocks \(split.space.block_px=16\)"),
    (["split.folds=5", "split.fold=0", "data.synthetic.day_step=120"], r"at most 4 date groups"),
])
def test_a_fold_count_the_archive_cannot_hold_stops_before_its_cache(tmp_path, overrides, message):
    """The archive's dates (of the run's bands) and its grid's blocks are known from its scan
    (here: the synthetic archive's settings), before any archive, cache or run is made."""
    from lst_lightning.errors import LSTError
    from lst_lightning.training.experiment import run_experiment

    with pytest.raises(LSTError, match=message):
        run_experiment(cv_cfg(tmp_path, *overrides))
    assert not (tmp_path / "data").exists() and not (tmp_path / "run").exists() and not (tmp_path / "logs").exists()


def test_a_fold_count_is_checked_on_the_files_of_an_archive(tmp_path, sites):
    from lst_lightning.errors import LSTError
    from lst_lightning.training.experiment import run_experiment

    site = sites["north"]
    cfg = cv_cfg(tmp_path, "data=custom", f"data.lst_dir={site / 'lst'}", f"data.dem={site / 'dem.tif'}",
                 "split.folds=500")
    with pytest.raises(LSTError, match=r"split.folds=500: at most \d+ date groups"):
        run_experiment(cfg)
    assert not (tmp_path / "data").exists()


def test_a_fold_that_fails_leaves_its_parent_run_failed(tmp_path, monkeypatch):
    import mlflow

    from lst_lightning.training import experiment

    def crash(cfg):
        raise RuntimeError("fold crashed")

    monkeypatch.setattr(experiment, "run_training", crash)
    cfg = cv_cfg(tmp_path, "model=ridge")
    with pytest.raises(RuntimeError, match="fold crashed"):
        experiment.run_experiment(cfg)
    client = mlflow.MlflowClient(tracking_uri=cfg.logger.mlflow.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(cfg.logger.mlflow.experiment_name).experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_the_cv_printout_gives_each_band_and_run_names_lead_with_the_model():
    from lst_lightning.training.experiment import format_cv, summarise
    from lst_lightning.training.rundir import HeldOut
    from lst_lightning.training.tracking import name_of

    folds = [{"test/rmse_k": 0.7, "test/band/day/mse_improvement_pct": day, "test/band/night/mse_improvement_pct": 25.0,
              "test/band/day/rmse_k": 0.8, "test/band/night/rmse_k": 0.6} for day in (50.0, 55.0, 60.0)]
    text = format_cv("run", HeldOut("fold", 3), summarise(folds), Path("out"))
    assert "  day MSE improvement (%)      55.0000  95 % interval 42.5793 .. 67.4207" in text
    assert "  night MSE improvement (%)    25.0000" in text and "  night RMSE (K)               0.6000" in text
    name = name_of(["data=custom", "data.lst_dir=/long/path/to/h18v04/lst", "split.folds=5", "logger=mlflow",
                    "model=lightgbm", "features=physics"])
    assert name == "model=lightgbm features=physics split.folds=5 logger=mlflow data=custom data.lst_dir=h18v04/lst"


@pytest.mark.parametrize("hours, printed, warned", [
    ([], "night 01:30, day 13:30", True),  # the default (MODIS Aqua's), silently applied before
    (["data.hours.day=10.5", "data.hours.night=22.5"], "night 22:30, day 10:30", False),  # Terra's
    (["data.hours_checked=true"], "night 01:30, day 13:30", False)])
def test_a_custom_archive_says_its_hours_and_warns_once_on_the_default(tmp_path, capsys, caplog, hours, printed,
                                                                        warned):
    import logging

    from lst_lightning.training.experiment import run_experiment
    from tests.data.inputs import write_random_archive

    caplog.set_level(logging.INFO, logger="lst_lightning")
    arch = write_random_archive(tmp_path / "archive")
    cfg = cv_cfg(tmp_path, "data=custom", f"data.lst_dir={arch['lst_dir']}", f"data.dem={arch['dem']}", "data.k=5",
                 "model=trivial", "logger=none", *hours)
    run_experiment(cfg)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "data.hours" in r.getMessage()]
    assert len(warnings) == (1 if warned else 0)  # once for the three folds
    if warned:
        assert str(arch["lst_dir"]) in warnings[0].getMessage()
        first_split = next(i for i, r in enumerate(caplog.records) if r.getMessage().startswith("split "))
        assert caplog.records.index(warnings[0]) < first_split  # before any fold trains
    summaries = [line for line in capsys.readouterr().out.splitlines() if "overpass hours" in line]
    assert summaries == [f"  overpass hours (data.hours, local solar): {printed}"] * 3  # each fold's summary
    expected = {"night": 22.5, "day": 10.5} if "22:30" in printed else {"night": 1.5, "day": 13.5}
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["overpass_hours"] == expected
    assert all(r["overpass_hours"] == expected for r in results["per_fold"])


def test_a_cross_validation_keeps_no_finished_folds_cache_open(tmp_path):
    """Each fold's trainer, module and data module hold each other in reference cycles, and with
    them the cache's memory maps: a run frees them when it ends, or a 5-fold run on the real year
    keeps 7.5 GB of mapped pages instead of 2 GB."""
    import gc

    from lst_lightning.data.cache import Cache
    from lst_lightning.training.experiment import run_experiment

    gc.disable()  # no collection by chance: what the runs free is what they free themselves
    # (other tests' caches, e.g. a session fixture's, may be alive: only this run's count)
    try:
        run_experiment(cv_cfg(tmp_path, "model=mlp", "logger=none", "intervals=null"))
        alive = [o for o in gc.get_objects() if isinstance(o, Cache) and tmp_path in o.path.parents]
    finally:
        gc.enable()
    assert alive == []
