"""What ``train.py`` runs: one training run, or a K-fold cross-validation (``split.folds=K``).

Cross-validation trains the same configuration once per fold (``data.splits``: fold i tests on
group i's blocks x group i's dates, validation inside the rest), each a complete run in
``<output_dir>/fold_<i>`` and an MLflow child run of one parent run. The parent and
``<output_dir>/results.json`` carry every fold's metrics, their mean and the 95 % t interval
(``evaluation.intervals``); the value returned to Optuna is the folds' mean VALIDATION metric, so
a sweep never selects on a test part.

``cv_jobs=N`` runs N folds at once, each in its own process with ``cpus / N`` torch threads (the
folds are independent; on a many-core machine or one GPU per process this divides the wall time).
"""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

from omegaconf import DictConfig, open_dict

from lst_lightning.errors import LSTError, exit_on_user_error

log = logging.getLogger(__name__)
CV_KEYS = ("rmse_k", "trivial_rmse_k", "rmse_improvement_pct", "mse_improvement_pct", "explained_fraction",
           "bias_k", "floor_rmse_k", "all_rmse_k", "n_samples")


def main_entry(cfg: DictConfig) -> float | None:
    """The Hydra entry: user mistakes become one line on stderr and exit code 2."""
    return exit_on_user_error(run_experiment)(cfg)


def run_experiment(cfg: DictConfig) -> float | None:
    """``run_training(cfg)``, or every fold of it when ``split.folds`` is set and ``split.fold`` is not."""
    from lst_lightning.training.run import resolve_features, run_training

    resolve_features(cfg)
    _sites_folds(cfg)
    if cfg.split.get("folds") and cfg.split.get("fold") is None:
        return run_cv(cfg)
    return run_training(cfg)


def _sites_folds(cfg: DictConfig) -> None:
    """split=sites: one fold per archive of data=multi (fold i holds out the i-th)."""
    if cfg.split.get("kind") != "sites" or cfg.split.get("fold") is not None:
        return
    archives = cfg.data.get("archives") if cfg.data.get("source") == "multi" else None
    if not archives:
        raise LSTError("split=sites holds one archive out of several: it needs data=multi with data.archives")
    folds = cfg.split.get("folds")
    if folds not in (None, len(archives)):
        raise LSTError(f"split.folds={folds}: split=sites has one fold per site ({len(archives)}); leave it null")
    with open_dict(cfg):
        cfg.split.folds = len(archives)


def run_cv(cfg: DictConfig) -> float | None:
    """Train and test every fold; returns the folds' mean ``optimized_metric`` (a val/ metric)."""
    from lst_lightning.training.run import run_training, save_config
    from lst_lightning.training.tracking import run_name, write_results

    folds, out = int(cfg.split.folds), Path(cfg.paths.output_dir)
    metric = str(cfg.get("optimized_metric", "val/rmse_k"))
    if metric.startswith("test/"):
        raise LSTError(f"optimized_metric={metric}: cross-validation selects on validation metrics only "
                       "(a test part must never choose a model); use a val/ metric")
    jobs = _cv_jobs(cfg, folds)
    name = run_name(cfg)
    parent = _parent_run(cfg, name, folds)
    fold_cfgs = [fold_config(cfg, fold, name, parent) for fold in range(folds)]
    if jobs > 1:
        _run_parallel(fold_cfgs, jobs)
    else:
        for fold, fold_cfg in enumerate(fold_cfgs):
            log.info(f"\n[cv {fold + 1}/{folds}] {name}: fold {fold}")
            run_training(fold_cfg)
    per_fold = [json.loads((Path(c.paths.output_dir) / "results.json").read_text()) for c in fold_cfgs]
    summary = summarise(per_fold)
    results = {"run_name": name, "folds": folds, "split/kind": str(cfg.split.kind), "mlflow_run_id": parent,
               "optimized_metric": metric, "cv": summary,
               "per_fold": per_fold}
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out)
    write_results(out / "results.json", results)
    if parent:
        _log_parent(cfg, parent, summary)
    print(format_cv(name, folds, summary, out))
    mean = summary.get(metric, {}).get("mean")
    return float(mean) if mean is not None else None


def _cv_jobs(cfg: DictConfig, folds: int) -> int:
    jobs = cfg.get("cv_jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise LSTError(f"cv_jobs: the number of folds run at once must be an integer >= 1, got {jobs!r}")
    return min(jobs, folds)


def _run_parallel(fold_cfgs: list[DictConfig], jobs: int) -> None:
    """Every fold in a pool of ``jobs`` fresh processes (spawned: no forked torch or MLflow state),
    the machine's cores shared among them. A fold's error stops the cross-validation."""
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    from omegaconf import OmegaConf

    cores = sorted(os.sched_getaffinity(0))
    per_job = max(1, len(cores) // jobs)
    log.info(f"cross-validation: {len(fold_cfgs)} folds, {jobs} at once ({per_job} core(s) each)")
    context = mp.get_context("spawn")
    slots = context.Queue()
    for j in range(jobs):  # each worker process takes its own set of cores for its lifetime
        slots.put(cores[j * per_job:(j + 1) * per_job] or cores[-1:])
    plain = [OmegaConf.to_container(c, resolve=True) for c in fold_cfgs]
    for c in plain:  # progress bars of parallel folds would overwrite each other: one line per fold instead
        c["trainer"]["enable_progress_bar"] = False
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_take_cores, initargs=(slots,)) as pool:
        for future in [pool.submit(_fold_process, c) for c in plain]:
            future.result()


def _take_cores(slots) -> None:
    """Worker initialiser: pin this process to its cores; torch and LightGBM use just those. The
    pin comes before torch (and numpy) load: their thread pools are sized to the cores they see
    then. The thread settings (lst_lightning/threads.py) came with the parent's environment."""
    import os

    cores = slots.get()
    os.sched_setaffinity(0, cores)

    import torch

    from lst_lightning import log as lst_log

    torch.set_num_threads(len(cores))
    lst_log.configure()


def _fold_process(plain: dict) -> None:
    """One fold in a worker process (module level: spawned workers import it)."""
    from omegaconf import OmegaConf

    from lst_lightning.training.run import run_training

    cfg = OmegaConf.create(plain)
    log.info(f"[cv] {cfg.run_name}: started")
    run_training(cfg)
    log.info(f"[cv] {cfg.run_name}: done")


def fold_config(cfg: DictConfig, fold: int, name: str, parent: str | None) -> DictConfig:
    """The configuration of one fold: its split.fold, its own run directory and run name, and the
    CV parent run it reports to."""
    fold_cfg = copy.deepcopy(cfg)
    with open_dict(fold_cfg):
        fold_cfg.split.fold = fold
        fold_cfg.paths.output_dir = str(Path(cfg.paths.output_dir) / f"fold_{fold}")
        fold_cfg.run_name = f"{name} [fold {fold}/{int(cfg.split.folds)}]"
        fold_cfg.cv = {"parent_run_id": parent, "fold": fold, "folds": int(cfg.split.folds)}
    return fold_cfg


def summarise(per_fold: list[dict]) -> dict[str, dict]:
    """``{"<part>/<key>": mean_interval(...) + {"folds": [...]}}`` over the folds' results."""
    from lst_lightning.evaluation.intervals import mean_interval
    from lst_lightning.evaluation.predictions import BAND_KEYS

    keys = [f"{part}/{key}" for part in ("val", "test") for key in CV_KEYS]
    keys += sorted({k for r in per_fold for k in r if k.startswith("test/band/") and k.rsplit("/", 1)[1] in BAND_KEYS})
    # data=multi: each site's test figures, where every fold tests it (not split=sites: one fold each)
    keys += sorted({k for k in per_fold[0] if k.startswith("test/site/") and k.rsplit("/", 1)[1] in BAND_KEYS
                    and all(k in r for r in per_fold)})
    out = {}
    for key in keys:
        values = [r.get(key) for r in per_fold]
        if any(v is not None for v in values):
            out[key] = {**mean_interval([v for v in values if v is not None]), "folds": values}
    return out


def format_cv(name: str, folds: int, summary: dict, out: Path) -> str:
    from lst_lightning.evaluation.numbers import fmt

    def line(label: str, s: dict) -> str:
        return (f"  {label:24s} {fmt(s['mean'], 4)}  95 % interval {fmt(s['low'], 4)} .. {fmt(s['high'], 4)}"
                f"  (folds: {', '.join(fmt(v, 3) for v in s['folds'])})")

    lines = [f"\n== {name}: {folds}-fold cross-validation (test = each fold's held-out blocks x dates) =="]
    for key, label in (("rmse_k", "model RMSE (K)"), ("trivial_rmse_k", "trivial RMSE (K)"),
                       ("rmse_improvement_pct", "RMSE improvement (%)"), ("mse_improvement_pct", "MSE improvement (%)"),
                       ("explained_fraction", "explained fraction")):
        if summary.get(f"test/{key}"):
            lines.append(line(label, summary[f"test/{key}"]))
    for key, s in summary.items():  # data=multi: per site
        if key.startswith("test/site/") and key.endswith("/mse_improvement_pct"):
            lines.append(line(f"{key.split('/')[2]} MSE improvement (%)", s))
    lines.append(f"  results: {out / 'results.json'}")
    return "\n".join(lines)


def _parent_run(cfg: DictConfig, name: str, folds: int) -> str | None:
    """The MLflow parent run of the cross-validation (None without an MLflow logger)."""
    conf = (cfg.get("logger") or {}).get("mlflow")
    if conf is None:
        return None
    import mlflow

    from lst_lightning.training.tracking import mlflow_settings, run_tags

    settings = mlflow_settings(cfg, conf)
    Path(cfg.paths.log_dir).mkdir(parents=True, exist_ok=True)
    client = mlflow.MlflowClient(tracking_uri=settings["tracking_uri"])
    experiment = client.get_experiment_by_name(settings["experiment_name"])
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        settings["experiment_name"], artifact_location=settings.get("artifact_location"))
    tags = {**run_tags(cfg), "cv.folds": str(folds), "mlflow.runName": f"{name} [{folds}-fold CV]"}
    return client.create_run(experiment_id, tags=tags).info.run_id


def _log_parent(cfg: DictConfig, run_id: str, summary: dict) -> None:
    import math

    import mlflow

    from lst_lightning.training.tracking import mlflow_settings

    client = mlflow.MlflowClient(tracking_uri=mlflow_settings(cfg, cfg.logger.mlflow)["tracking_uri"])
    for key, s in summary.items():
        for stat in ("mean", "low", "high", "std"):
            if s[stat] is not None and math.isfinite(s[stat]):
                client.log_metric(run_id, f"cv/{key}/{stat}", float(s[stat]))
        for fold, value in enumerate(s["folds"]):
            if value is not None and math.isfinite(value):
                client.log_metric(run_id, f"cv/{key}/fold", float(value), step=fold)
    client.set_terminated(run_id)
