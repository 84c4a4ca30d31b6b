"""run_training(cfg): prepare data, train, test the best checkpoint, track, report.

A plain function (tests call it); the ``@hydra.main`` decorator lives only in ``train.py``.
"""
from __future__ import annotations

import gc
import importlib
import logging
from pathlib import Path

import lightning.pytorch as L
import torch
import torch.distributed as dist
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import MissingMandatoryValue

from lst_lightning.data.loading.datamodule import SampleData
from lst_lightning.data.loading.scaling import scaling_methods
from lst_lightning.data.loading.sources import source_of
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.conformal import INTERVALS_FILE, check_level, interval_results
from lst_lightning.evaluation.plots import epoch_rows, learning_curves
from lst_lightning.evaluation.predictions import band_metrics, network_predictor, predicted_part, site_metrics
from lst_lightning.features import resolve_groups
from lst_lightning.models.baselines import Baseline
from lst_lightning.models.network import Network
from lst_lightning.targets import build, check
from lst_lightning.threads import step_threads
from lst_lightning.training import tracking
from lst_lightning.training.baseline_run import run_baseline
from lst_lightning.training.callbacks import ConsoleProgress, RandomState
from lst_lightning.training.module import LEGACY, LSTRegressor, target_config
from lst_lightning.training.rundir import last_checkpoint, save_config, write_results, write_summary
from lst_lightning.training.schedules import Schedule
from lst_lightning.training.summary import resume_hint, summary_text

log = logging.getLogger(__name__)

def _check_missing(cfg: DictConfig) -> None:
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        raise LSTError(f"setting {err.full_key} is required but not set (it is '???'); "
                       f"give it on the command line: {err.full_key}=...") from None


def check_settings(cfg: DictConfig) -> None:
    """The settings every run needs, and every component the config names (data kind, network or
    baseline, optimizer, schedule), checked before any cache, run directory or MLflow run exists."""
    _check_missing(cfg)
    if cfg.get("intervals") is not None:
        check_level(cfg.intervals)
    source_of(OmegaConf.to_container(cfg.data, resolve=True))
    model = OmegaConf.to_container(cfg.model, resolve=True)
    if model.get("baseline") is not None:
        check(model["baseline"], "model.baseline", Baseline)
        return
    check(model["net"], "model.net", Network, layout=None)
    check(target_config(model.get("optimizer"), {"_target_": LEGACY["adam"]}), "model.optimizer",
          torch.optim.Optimizer, params=[])
    build(target_config(model.get("scheduler"), {"_target_": LEGACY["none"]}), "model.scheduler", Schedule)


def resolve_features(cfg: DictConfig) -> DictConfig:
    """Fix the run's feature groups in ``cfg`` (in place): ``features.groups`` plus the
    ``features.when_available`` inputs the data provides, so the saved config says what was used.
    The modules of ``features.modules`` are imported first: a group of your own registers there."""
    for module in cfg.features.get("modules") or ():
        try:
            importlib.import_module(str(module))
        except ImportError as err:
            raise LSTError(f"features.modules: cannot import {module!r} ({err})") from None
    source = source_of(OmegaConf.to_container(cfg.data, resolve=True))
    groups = resolve_groups(cfg.features.groups, cfg.features.get("when_available") or (), source.inputs())
    if cfg.split.get("kind") == "sites" and not cfg.split.get("keep_latlon", False):
        groups = tuple(g for g in groups if g != "latlon")  # where a sample is does not transfer
    with open_dict(cfg):
        cfg.features.groups = list(groups)
        cfg.features.when_available = []
    return cfg


def build_datamodule(cfg: DictConfig, caches) -> SampleData:
    """The run's data module over ``caches`` (the cache, or under data=multi each archive's)."""
    source = source_of(OmegaConf.to_container(cfg.data, resolve=True))
    return source.datamodule(caches, tuple(cfg.features.groups), OmegaConf.to_container(cfg.split, resolve=True),
                             int(cfg.seed), cfg.model.get("clip_inputs"))


def build_module(cfg: DictConfig, layout):
    as_dict = lambda node: OmegaConf.to_container(node, resolve=True) if node is not None else None  # noqa: E731
    scaling = scaling_methods(layout.groups, as_dict(cfg.scaling.get("methods")), cfg.scaling.get("default"))
    return LSTRegressor(net=as_dict(cfg.model.net), layout=layout.to_json(),
                        optimizer=as_dict(cfg.model.optimizer), scheduler=as_dict(cfg.model.get("scheduler")),
                        scaling=scaling, eval_observed_only=bool(cfg.data.eval_observed_only),
                        ensemble=cfg.model.get("ensemble", 1), clip=cfg.model.get("clip_inputs"),
                        band_balance=bool(cfg.model.get("band_balance", False)))


def build_trainer(cfg: DictConfig, loggers: list, extra_callbacks: list):
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()] + extra_callbacks
    if cfg.trainer.get("enable_progress_bar", True) is not False:  # one line, no cursor moves
        callbacks.append(ConsoleProgress())
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def run_training(cfg: DictConfig) -> float | None:
    """Train and test one configuration; returns ``cfg.optimized_metric`` (for Optuna). A run
    that stops on an error or an interrupt ends FAILED in MLflow; an interrupted one says how to
    resume it."""
    check_settings(cfg)
    resolve_features(cfg)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    source = source_of(OmegaConf.to_container(cfg.data, resolve=True))
    cache = source.caches()
    dm = build_datamodule(cfg, cache)
    dm.setup()

    name = tracking.run_name(cfg)
    caches = list(cache.values()) if isinstance(cache, dict) else [cache]
    loggers = tracking.build_loggers(cfg, name, tracking.data_tags(cfg, caches))
    try:
        results = _tracked_run(cfg, dm, caches, loggers, name, out, source.overpass_hours())
    except BaseException as err:
        tracking.end_failed(loggers)
        if isinstance(err, KeyboardInterrupt):
            log.warning(resume_hint(cfg, out))
        raise
    finally:
        # the run's trainer, module and data module hold each other in reference cycles, and with them
        # the cache's memory maps: freed now, a process that runs many (folds, sweeps, reports) keeps
        # one run's maps, not all (h18v04, 5 folds of experiment=report: 2.0 instead of 7.5 GB mapped)
        del dm, cache, caches, loggers
        gc.collect()
    _close_distributed()
    metric = results.get(cfg.get("optimized_metric", "val/rmse_k"))
    return float(metric) if metric is not None else None


def _tracked_run(cfg: DictConfig, dm, caches: list, loggers: list, name: str, out: Path, hours: dict) -> dict:
    """Fit and test the model with its loggers open; write and log the run's files (``hours``: the
    overpass hours the run used, into its results)."""
    tracking.start_tracking(loggers)
    for logger in loggers:
        logger.log_hyperparams(tracking.flat_params(cfg))
        logger.log_metrics(dm.summary.as_metrics(), step=0)
    _log_split(dm.summary)
    if cfg.model.get("baseline") is not None:  # ridge, lightgbm, coarse, trivial: no Trainer
        results, files, main_rank = run_baseline(cfg, dm, loggers, out)
    else:
        results, files, main_rank = _train_network(cfg, dm, loggers, out)
    best = results.get("best_checkpoint", "")
    results.update({f"split/{p}_samples": n for p, n in dm.summary.samples.items()},
                   **{"split/kind": dm.summary.kind, "split/leaky": dm.summary.leaky,
                      "run_name": name, "cache": ", ".join(str(c.path) for c in caches),
                      "overpass_hours": hours})

    files = [save_config(cfg, out)] + files
    if main_rank:
        numeric = {k: v for k, v in results.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        results["mlflow_run_id"] = tracking.log_run_files(loggers, numeric, files + [Path(best) if best else None])
        tracking.log_run_model(loggers, best, dm)  # runs:/<id>/model, an MLflow Model
        write_results(out, results)
        text = summary_text(results, cfg, out)
        tracking.log_run_files(loggers, {}, [write_summary(out, text)])
        print("\n" + text)  # the run's result: stdout, main rank only
    return results


def _train_network(cfg: DictConfig, dm, loggers: list, out: Path) -> tuple[dict, list[Path], bool]:
    """Fit the network, test its best checkpoint: (results, extra files, is this the main rank)."""
    module = build_module(cfg, dm.layout)
    batch = dm.scaler_batch()  # statistics from training samples only
    module.scaler.fit(batch["scalars"], batch["patch"])
    module.fit_band_weights(batch["target"], batch["band"])
    trainer = build_trainer(cfg, loggers, [RandomState()])
    threads = step_threads(dm.batch_thread)
    if threads is not None:  # the batch thread gets a core of its own (lst_lightning/threads.py)
        torch.set_num_threads(threads)
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=_resume_path(cfg, out))
    except SystemExit:  # Lightning turns Ctrl-C into exit(1) after its own clean-up: an interrupt it is
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise

    results = {f"val/{k}": v for k, v in _stage_metrics(trainer, "val").items()}
    best = _best_checkpoint(trainer)
    if cfg.get("test", True):
        trainer.test(module, datamodule=dm, ckpt_path=best or None, verbose=False)
        results.update({f"test/{k}": v for k, v in _stage_metrics(trainer, "test").items()})
        if trainer.is_global_zero:  # the tested (best) weights, per band, on the same fixed test set
            predict = network_predictor(module, str(module.device))
            observed_only = bool(cfg.data.eval_observed_only)
            test = predicted_part(predict, dm, "test")  # predicted once: per band, and the intervals' test
            batch, pred = test
            results.update({f"test/{k}": v for k, v in band_metrics(pred, batch, dm.gatherer, observed_only).items()})
            results.update({f"test/{k}": v for k, v in site_metrics(predict, dm, observed_only).items()})
    results["best_checkpoint"] = best
    files = []
    if cfg.get("test", True) and cfg.get("intervals") is not None and trainer.is_global_zero:
        results.update(interval_results(predicted_part(predict, dm, "val"), test, dm.gatherer, float(cfg.intervals),
                                        out, int(cfg.seed)))
        files.append(out / INTERVALS_FILE)
    history = epoch_rows(module.epoch_series)
    if history and trainer.is_global_zero:
        files.append(learning_curves(history, out / "learning_curves.png", results.get("val/trivial_rmse_k")))
    return results, files, trainer.is_global_zero


def _resume_path(cfg: DictConfig, out: Path) -> str | None:
    path = cfg.get("ckpt_path")
    if path == "last":
        last = last_checkpoint(out)
        if not last.is_file():
            raise LSTError(f"ckpt_path=last but {last} does not exist (set hydra.run.dir to the run to resume)")
        return str(last)
    if path and not Path(path).is_file():
        raise LSTError(f"ckpt_path: checkpoint {path} does not exist")
    return path


def _stage_metrics(trainer, stage: str) -> dict[str, float]:
    prefix = f"{stage}/"
    return {k[len(prefix):]: float(v) for k, v in trainer.callback_metrics.items()
            if k.startswith(prefix) and v.numel() == 1}


def _best_checkpoint(trainer) -> str:
    cb = trainer.checkpoint_callback
    return str(cb.best_model_path) if cb is not None and cb.best_model_path else ""


def _close_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _log_split(summary) -> None:
    leaky = "  (LEAKY: neighbouring windows and dates shared across parts)" if summary.leaky else ""
    log.info(f"split {summary.kind}{leaky}")
    for p in ("train", "val", "test"):
        approx = "~" if summary.estimated[p] else ""
        ev = f", evaluated on {summary.eval_samples[p]:,}" if p in summary.eval_samples else ""
        log.info(f"  {p:5s}: {summary.frames[p]:5d} frames x {summary.pixels[p]:7,d} pixels -> "
                 f"{approx}{summary.samples[p]:,} samples{ev}")
