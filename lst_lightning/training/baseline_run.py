"""Fitting a baseline (``model=ridge|lightgbm|coarse|trivial``) inside ``run_training``.

The baseline twin of ``run._train_network``: the same data module, split and seed, training samples
drawn from its train part (``model.train_samples``), the same fixed val/test index sets, the same
metrics (``evaluation.predictions.part_metrics``), results.json keys and MLflow logging. The fitted
model is saved as ``baseline.joblib`` (the run's "checkpoint").
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from lst_lightning.errors import LSTError
from lst_lightning.evaluation.conformal import INTERVALS_FILE, interval_results
from lst_lightning.evaluation.predictions import band_metrics, gather_all, part_metrics, predict_batched, site_metrics
from lst_lightning.models.baselines import BASELINE_FILE, build_baseline, save_baseline

log = logging.getLogger(__name__)


def training_samples(dm, n: int) -> dict:
    """``n`` training samples drawn from the train part (seeded), gathered as one batch."""
    return gather_all(dm.gatherer, dm.draw_train(n, np.random.default_rng([dm.seed, 11])), dm.eval_batch_size)


def run_baseline(cfg, dm, loggers: list, out: Path) -> tuple[dict, list[Path], bool]:
    """Fit a baseline and evaluate it like the network: (results, extra files, main rank)."""
    model = build_baseline(OmegaConf.to_container(cfg.model.baseline, resolve=True), int(cfg.seed))
    name = cfg.model.get("name", "baseline")
    if dm.sites and not model.frame_free:
        raise LSTError(f"model={name}: fitted per frame of one archive's grid; not available with data=multi")
    train = None
    if model.needs_labels:
        n = int(cfg.model.get("train_samples", 200_000))
        log.info(f"{name}: gathering {n:,} training samples")
        train = training_samples(dm, n)
    val = gather_all(dm.gatherer, dm.eval_index("val"), dm.eval_batch_size)
    log.info(f"{name}: fitting")
    model.fit(train, val, dm.gatherer)

    observed_only = bool(cfg.data.eval_observed_only)
    results, predicted = {}, {}
    for part in ("val", "test") if cfg.get("test", True) else ("val",):
        batch = val if part == "val" else gather_all(dm.gatherer, dm.eval_index(part), dm.eval_batch_size)
        pred = predict_batched(lambda b: model.predict(b, dm.gatherer), batch, dm.eval_batch_size)
        predicted[part] = (batch, pred)
        results.update({f"{part}/{k}": v for k, v in part_metrics(pred, batch, observed_only).items()})
        if part == "test":
            results.update({f"test/{k}": v for k, v in band_metrics(pred, batch, dm.gatherer, observed_only).items()})
            results.update({f"test/{k}": v for k, v in
                            site_metrics(lambda b: model.predict(b, dm.gatherer), dm, observed_only).items()})
    results["best_checkpoint"] = str(save_baseline(model, dm.layout, out / BASELINE_FILE))
    files = []
    if cfg.get("test", True) and cfg.get("intervals") is not None:
        results.update(interval_results(predicted["val"], predicted["test"], dm.gatherer, float(cfg.intervals), out,
                                        int(cfg.seed)))
        files.append(out / INTERVALS_FILE)
    finite = {k: float(v) for k, v in results.items() if isinstance(v, float) and np.isfinite(v)}
    for logger in loggers:
        logger.log_metrics(finite, step=0)
        logger.finalize("success")
    return results, files, True
