"""What ``train.py`` runs: one training run, or a cross-validation (``split.folds=K``, or
``split=sites``: each archive of data=multi held out in turn).

A cross-validation trains the same configuration once per part held out (training/rundir.py: fold i
tests on group i's blocks x group i's dates, validation inside the rest; site i tests on the i-th
archive whole), each a complete run in its own directory and an MLflow child run of one parent
run. The parent and ``<output_dir>/results.json`` carry every run's metrics, their mean and the
95 % t interval (``evaluation.intervals``); the value returned to Optuna is the runs' mean
VALIDATION metric, so a sweep never selects on a test part.

``cv_jobs=N`` runs N folds at once, each in its own process with ``cpus / N`` torch threads (the
folds are independent; on a many-core machine or one GPU per process this divides the wall time).
"""
from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import mlflow
from omegaconf import DictConfig, OmegaConf

from lst_lightning.data.loading.sources import source_of, warn_default_hours
from lst_lightning.data.loading.splits import check_fold_counts
from lst_lightning.errors import LSTError, exit_on_user_error
from lst_lightning.evaluation.intervals import mean_interval
from lst_lightning.evaluation.numbers import fmt
from lst_lightning.evaluation.predictions import BAND_KEYS
from lst_lightning.training.run import check_settings, resolve_features, run_training
from lst_lightning.training.rundir import (
    HeldOut,
    held_out,
    part_config,
    read_results,
    results_path,
    save_config,
    write_results,
)
from lst_lightning.training.tracking import mlflow_settings, run_name, run_tags
from lst_lightning.training.workers import fold_process, take_cores

log = logging.getLogger(__name__)
CV_KEYS = ("rmse_k", "trivial_rmse_k", "rmse_improvement_pct", "mse_improvement_pct", "explained_fraction",
           "bias_k", "floor_rmse_k", "all_rmse_k", "n_samples")


def main_entry(cfg: DictConfig) -> float | None:
    """The Hydra entry: user mistakes become one line on stderr and exit code 2."""
    return exit_on_user_error(run_experiment)(cfg)


def run_experiment(cfg: DictConfig) -> float | None:
    """``run_training(cfg)``, or every run of the cross-validation ``cfg`` asks for."""
    check_settings(cfg)
    resolve_features(cfg)
    source = source_of(OmegaConf.to_container(cfg.data, resolve=True))
    warn_default_hours(source)  # once, before any run trains
    held = held_out(cfg, source.sites)
    check_fold_plan(cfg, source)
    if held is not None:
        return run_cv(cfg, held)
    return run_training(cfg)


def run_cv(cfg: DictConfig, held: HeldOut) -> float | None:
    """Train and test every part held out; returns the runs' mean ``optimized_metric`` (a val/ metric)."""
    out = Path(cfg.paths.output_dir)
    metric = str(cfg.get("optimized_metric", "val/rmse_k"))
    if metric.startswith("test/"):
        raise LSTError(f"optimized_metric={metric}: cross-validation selects on validation metrics only "
                       "(a test part must never choose a model); use a val/ metric")
    jobs = _cv_jobs(cfg, held.count)
    if held.key == "fold":
        check_folds(cfg, held.count)
    name = run_name(cfg)
    parent = _parent_run(cfg, name, held.count)
    part_cfgs = [part_config(cfg, held, i, name, parent) for i in range(held.count)]
    try:
        if jobs > 1:
            _run_parallel(part_cfgs, jobs)
        else:
            for i, part_cfg in enumerate(part_cfgs):
                log.info(f"\n[cv {i + 1}/{held.count}] {name}: {held.key} {i}")
                run_training(part_cfg)
    except BaseException:  # an error or Ctrl-C: the parent run says so instead of staying RUNNING
        if parent:
            _client(cfg).set_terminated(parent, "FAILED")
        raise
    per_fold = [read_results(c.paths.output_dir) for c in part_cfgs]
    summary = summarise(per_fold)
    results = {"run_name": name, "folds": held.count, "held_out": held.key, "split/kind": str(cfg.split.kind),
               "mlflow_run_id": parent, "optimized_metric": metric, "cv": summary, "per_fold": per_fold,
               "overpass_hours": per_fold[0].get("overpass_hours")}
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out)
    write_results(out, results)
    if parent:
        _log_parent(cfg, parent, summary)
    print(format_cv(name, held, summary, out))
    mean = summary.get(metric, {}).get("mean")
    return float(mean) if mean is not None else None


def check_fold_plan(cfg: DictConfig, source) -> None:
    """``split.folds`` against what the archives' scans tell (their dates; their grids' blocks),
    before any cache is built: a fold count no archive can hold stops at once, not after its cache."""
    split = OmegaConf.to_container(cfg.split, resolve=True)
    if split.get("folds") is None or split.get("kind") == "sites":
        return
    for scan in source.scan():
        try:
            check_fold_counts(split, scan.dates, scan.shape)
        except LSTError as err:
            raise LSTError(f"data.archives.{scan.name}: {err}" if scan.name else str(err)) from None


def check_folds(cfg: DictConfig, folds: int) -> None:
    """Plan every fold before the first one trains: a fold whose validation or test part holds no
    sample is one error naming the fold, its counts, and a fold count or block size that works
    (else it would stop the cross-validation half-way, after hours of training)."""
    source = source_of(OmegaConf.to_container(cfg.data, resolve=True))
    caches, split = source.caches(), OmegaConf.to_container(cfg.split, resolve=True)
    problems = _empty_parts(source, caches, split, folds, int(cfg.seed))
    if not problems:
        return
    fix = _split_that_works(source, caches, split, folds, int(cfg.seed))
    raise LSTError(f"split.folds={folds} (seed {split.get('seed', cfg.seed)}): {'; '.join(problems)}; "
                   f"{fix or 'no smaller fold count or block size gives every fold samples: check the archive'}")


def _empty_parts(source, caches, split: dict, folds: int, seed: int) -> list[str]:
    """'fold i: <archive> test 0 samples (val n)' for every fold with an empty validation or test part."""
    problems = []
    for fold in range(folds):
        counts = source.held_out_samples(caches, {**split, "folds": folds, "fold": fold}, seed)
        for archive, parts in counts.items():
            if min(parts.values()) == 0:
                where = f" ({archive})" if archive else ""
                problems.append(f"fold {fold}{where} has " + ", ".join(f"{n:,} {p}" for p, n in parts.items())
                                + " samples")
    return problems


def _split_that_works(source, caches, split: dict, folds: int, seed: int) -> str | None:
    """A fold count (fewer) or a block size (smaller) under which every fold has samples."""
    for k in range(folds - 1, 1, -1):
        if not _empty_parts(source, caches, split, k, seed):
            return f"split.folds={k} gives every fold samples"
    block = (split.get("space") or {}).get("block_px")
    while block and block // 2 >= 8 and split.get("kind") in ("space", "space_days"):
        block //= 2
        smaller = {**split, "space": {**split["space"], "block_px": block}}
        if not _empty_parts(source, caches, smaller, folds, seed):
            return f"split.space.block_px={block} gives every fold samples"
    return None


def _cv_jobs(cfg: DictConfig, folds: int) -> int:
    jobs = cfg.get("cv_jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise LSTError(f"cv_jobs: the number of folds run at once must be an integer >= 1, got {jobs!r}")
    return min(jobs, folds)


def _run_parallel(part_cfgs: list[DictConfig], jobs: int) -> None:
    """Every run in a pool of ``jobs`` fresh processes (spawned: no forked torch or MLflow state),
    the machine's cores shared among them. A run's error stops the cross-validation."""
    cores = sorted(os.sched_getaffinity(0))
    per_job = max(1, len(cores) // jobs)
    log.info(f"cross-validation: {len(part_cfgs)} runs, {jobs} at once ({per_job} core(s) each)")
    context = mp.get_context("spawn")
    slots = context.Queue()
    for j in range(jobs):  # each worker process takes its own set of cores for its lifetime
        slots.put(cores[j * per_job:(j + 1) * per_job] or cores[-1:])
    plain = [OmegaConf.to_container(c, resolve=True) for c in part_cfgs]
    for c in plain:  # progress bars of parallel runs would overwrite each other: one line per run instead
        c["trainer"]["enable_progress_bar"] = False
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=take_cores, initargs=(slots,)) as pool:
        for future in [pool.submit(fold_process, c) for c in plain]:
            future.result()


def summarise(per_fold: list[dict]) -> dict[str, dict]:
    """``{"<part>/<key>": mean_interval(...) + {"folds": [...]}}`` over the folds' results."""
    keys = [f"{part}/{key}" for part in ("val", "test") for key in CV_KEYS]
    keys += sorted({k for r in per_fold for k in r if k.startswith("test/band/") and k.rsplit("/", 1)[1] in BAND_KEYS})
    # data=multi: each site's test figures, where every fold tests it (not split=sites: one fold each)
    keys += sorted({k for k in per_fold[0] if k.startswith("test/site/") and k.rsplit("/", 1)[1] in BAND_KEYS
                    and all(k in r for r in per_fold)})
    keys += sorted({k for r in per_fold for k in r if k.startswith("intervals/")})  # their test coverage and width
    out = {}
    for key in keys:
        values = [r.get(key) for r in per_fold]
        if any(v is not None for v in values):
            out[key] = {**mean_interval([v for v in values if v is not None]), "folds": values}
    return out


def format_cv(name: str, held: HeldOut, summary: dict, out: Path) -> str:
    def line(label: str, s: dict) -> str:
        return (f"  {label:28s} {fmt(s['mean'], 4)}  95 % interval {fmt(s['low'], 4)} .. {fmt(s['high'], 4)}"
                f"  (folds: {', '.join(fmt(v, 3) for v in s['folds'])})")

    what = ("each fold's held-out blocks x dates" if held.key == "fold" else "each site held out whole")
    lines = [f"\n== {name}: {held.count}-{held.key} cross-validation (test = {what}) =="]
    for key, label in (("rmse_k", "model RMSE (K)"), ("trivial_rmse_k", "trivial RMSE (K)"),
                       ("rmse_improvement_pct", "RMSE improvement (%)"), ("mse_improvement_pct", "MSE improvement (%)"),
                       ("explained_fraction", "explained fraction")):
        if summary.get(f"test/{key}"):
            lines.append(line(label, summary[f"test/{key}"]))
    for key, s in summary.items():  # per band (day and night differ), and under data=multi per site
        if key.startswith(("test/band/", "test/site/")) and key.endswith(("/rmse_k", "/mse_improvement_pct")):
            what = "RMSE (K)" if key.endswith("rmse_k") else "MSE improvement (%)"
            lines.append(line(f"{key.split('/')[2]} {what}", s))
    level = summary.get("intervals/level_pct", {}).get("mean")
    for key, s in summary.items():  # the prediction intervals' test coverage, pooled and per band
        if key.startswith("intervals/") and key.endswith("coverage_pct"):
            band = key.split("/")[2] if key.startswith("intervals/band/") else "pooled"
            lines.append(line(f"{band} {fmt(level, 0)} % coverage (%)", s))
    if "intervals/halfwidth_k" in summary:
        lines.append(line("interval half-width (K)", summary["intervals/halfwidth_k"]))
    lines.append(f"  results: {results_path(out)}")
    return "\n".join(lines)


def _parent_run(cfg: DictConfig, name: str, folds: int) -> str | None:
    """The MLflow parent run of the cross-validation (None without an MLflow logger)."""
    conf = (cfg.get("logger") or {}).get("mlflow")
    if conf is None:
        return None
    settings = mlflow_settings(cfg, conf)
    Path(cfg.paths.log_dir).mkdir(parents=True, exist_ok=True)
    client = mlflow.MlflowClient(tracking_uri=settings["tracking_uri"])
    experiment = client.get_experiment_by_name(settings["experiment_name"])
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        settings["experiment_name"], artifact_location=settings.get("artifact_location"))
    tags = {**run_tags(cfg), "cv.folds": str(folds), "mlflow.runName": f"{name} [{folds}-fold CV]"}
    return client.create_run(experiment_id, tags=tags).info.run_id


def _client(cfg: DictConfig):
    return mlflow.MlflowClient(tracking_uri=mlflow_settings(cfg, cfg.logger.mlflow)["tracking_uri"])


def _log_parent(cfg: DictConfig, run_id: str, summary: dict) -> None:
    client = _client(cfg)
    for key, s in summary.items():
        for stat in ("mean", "low", "high", "std"):
            if s[stat] is not None and math.isfinite(s[stat]):
                client.log_metric(run_id, f"cv/{key}/{stat}", float(s[stat]))
        for fold, value in enumerate(s["folds"]):
            if value is not None and math.isfinite(value):
                client.log_metric(run_id, f"cv/{key}/fold", float(value), step=fold)
    client.set_terminated(run_id)
