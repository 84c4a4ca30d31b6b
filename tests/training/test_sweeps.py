"""Optuna sweeps through Hydra, run as typed: configs, storage, resuming, MLflow per trial,
grid multiruns, and many workers sharing one study on a real PostgreSQL server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services
from tests.common import REPO

pytestmark = pytest.mark.e2e  # Optuna sweeps against a PostgreSQL server

# a one-epoch trial on the tiny archive: a few seconds each
TRIAL = ["debug=tiny", "logger=mlflow", "trainer.max_epochs=1", "data.loader.samples_per_epoch=4096"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One data directory for the module: the tiny archive and its cache are built once."""
    return tmp_path_factory.mktemp("sweep_data")


def compose_sweep(*overrides: str, log_dir: Path):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    import lst_lightning.training.sweeps  # noqa: F401  (the ${lst_dir:...} resolver)

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=[*overrides, f"paths.log_dir={log_dir}"], return_hydra_config=True)


def run_cli(*args: str, script: str = "train.py", timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "LST_ROOT": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(REPO / script), *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def completed(storage: str, study: str):
    import optuna

    trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    return [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE], trials


def trial_runs(tracking_uri: str, experiment: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no MLflow experiment {experiment!r}"
    return client.search_runs([exp.experiment_id], max_results=100)


@pytest.mark.parametrize("search,model", [("mlp_optuna", "mlp"), ("cnn_optuna", "cnn"), ("gated_optuna", "gated")])
def test_sweep_configs_compose(search, model, tmp_path):
    from omegaconf import OmegaConf

    cfg = compose_sweep(f"hparams_search={search}", "split=days", log_dir=tmp_path / "logs")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and cfg.model.name == model
    assert sweeper.direction == "minimize" and cfg.optimized_metric == "val/rmse_k"
    assert sweeper.study_name == f"{model}_days"  # from model and split
    assert sweeper.storage == f"sqlite:///{tmp_path}/logs/optuna/studies.db"
    assert (tmp_path / "logs" / "optuna").is_dir()  # created when resolved, before any sweep opens it
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler" and sweeper.sampler.seed == 42
    assert 0 < sweeper.max_failure_rate < 1
    params = OmegaConf.to_container(sweeper.params)
    assert params["model.optimizer.lr"].startswith("tag(log, interval(")
    for key in ("model.optimizer.weight_decay", "model.net.hidden", "model.net.dropout", "data.loader.batch_size"):
        assert key in params
    assert ("model.net.channels" in params) == (model == "cnn")
    # every searched key is a setting of the composed run (a misspelt one would fail every trial)
    assert [k for k in params if OmegaConf.select(cfg, k, default=None) is None] == []
    if model == "gated":  # the training budget is searched with the network
        assert {"model.net.responses", "trainer.max_epochs", "data.loader.epoch_passes"} <= set(params)
    assert cfg.logger.mlflow.experiment_name == f"{model}_days"  # one MLflow experiment per study
    OmegaConf.to_container(sweeper, resolve=True, throw_on_missing=True)  # what the sweeper is built from


def test_large_archive_search_runs_the_recipe_at_a_proxy_budget(tmp_path):
    """hparams_search=large_archive_optuna after experiment=large_archive: the recipe's network and
    inputs, its own study, a short budget in place of the recipe's (which it must override), and
    every searched key a setting of the run."""
    from omegaconf import OmegaConf

    cfg = compose_sweep("experiment=large_archive", "hparams_search=large_archive_optuna", log_dir=tmp_path / "logs")
    assert cfg.model.name == "gated" and "local_fit" in cfg.features.when_available
    assert cfg.hydra.sweeper.study_name == "gated_large_archive" and cfg.optimized_metric == "val/rmse_k"
    assert cfg.data.loader.samples_per_epoch == 250_000 and cfg.trainer.max_epochs == 6
    assert cfg.data.loader.batch_size == 2048  # the recipe's, unless a trial draws another
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert {"model.band_balance", "model.net.responses", "model.clip_inputs"} <= set(params)
    assert [k for k in params if OmegaConf.select(cfg, k, default=None) is None] == []


def test_three_trial_sweep_then_resume_adds_trials(tmp_path, data_dir):
    logs = tmp_path / "logs"
    common = ["-m", "hparams_search=mlp_optuna", *TRIAL, f"paths.log_dir={logs}", f"paths.data_dir={data_dir}"]
    run_cli(*common, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path}/first")
    storage, study, uri = f"sqlite:///{logs}/optuna/studies.db", "mlp_space_days", f"sqlite:///{logs}/mlflow.db"
    done, trials = completed(storage, study)
    assert len(done) == len(trials) == 3
    first = {t.number: t.value for t in done}
    runs = trial_runs(uri, study)
    assert len(runs) == 3
    assert {r.data.tags["optuna.trial"] for r in runs} == {"0", "1", "2"}
    assert {r.data.tags["optuna.study"] for r in runs} == {study}
    for run in runs:  # each run holds its own trial's objective
        trial = int(run.data.tags["optuna.trial"])
        assert run.data.metrics["val/rmse_k"] == pytest.approx(first[trial], rel=1e-6)
        assert run.info.run_name == f"{study} trial {trial}"
    results = json.loads((tmp_path / "first" / "0" / "results.json").read_text())
    assert results["val/rmse_k"] == pytest.approx(first[0], rel=1e-6)

    run_cli(*common, "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={tmp_path}/again")
    done, trials = completed(storage, study)
    assert sorted(t.number for t in done) == [0, 1, 2, 3, 4] and len(trials) == 5
    assert {t.number: t.value for t in done if t.number < 3} == first  # continued, not restarted
    assert len(trial_runs(uri, study)) == 5


def test_grid_multirun_as_typed(tmp_path, data_dir):
    run_cli("-m", "model=mlp,cnn", "split=days,space", "debug=fast", "logger=none", f"paths.data_dir={data_dir}",
            f"paths.log_dir={tmp_path}/logs", f"hydra.sweep.dir={tmp_path}/grid")
    seen = set()
    for job in range(4):
        results = json.loads((tmp_path / "grid" / str(job) / "results.json").read_text())
        assert results["test/n_samples"] > 0
        seen.add((results["run_name"].split()[0], results["split/kind"]))
    assert seen == {("model=mlp", "days"), ("model=mlp", "space"), ("model=cnn", "days"), ("model=cnn", "space")}


def test_worker_shares_add_up():
    import importlib.util

    spec = importlib.util.spec_from_file_location("sweep_workers", REPO / "scripts" / "sweep_workers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shares = module.shares
    assert shares(7, 3) == [3, 2, 2] and sum(shares(40, 6)) == 40 and shares(1, 2) == [1, 0]


def test_two_workers_share_one_study_on_postgresql(tmp_path, data_dir):
    with services.postgres_server() as server:
        storage = services.create_database(server, "optuna")
        tracking = services.create_database(server, "mlflow")
        run_cli("--trials", "4", "--workers", "2", "--sweep-dir", str(tmp_path / "sweep"),
                "hparams_search=mlp_optuna", *TRIAL, f"optuna.storage={storage}",
                f"logger.mlflow.tracking_uri={tracking}", f"paths.log_dir={tmp_path}/logs",
                f"paths.data_dir={data_dir}", script="scripts/sweep_workers.py", timeout=400)
        done, trials = completed(storage, "mlp_space_days")
        runs = trial_runs(tracking, "mlp_space_days")
    assert len(done) == len(trials) == 4  # exactly what was asked, none failed or left running
    assert sorted(t.number for t in done) == [0, 1, 2, 3]
    assert len({tuple(sorted(t.params.items())) for t in done}) == 4  # no trial ran the same parameters
    for worker in ("worker0", "worker1"):  # each worker did its share in its own sweep directory
        assert len(list((tmp_path / "sweep" / worker).glob("*/results.json"))) == 2
    assert sorted(int(r.data.tags["optuna.trial"]) for r in runs) == [0, 1, 2, 3]
