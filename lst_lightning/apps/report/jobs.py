"""``lst-report``: one command that answers the three research questions on the configured data.

It trains the networks and the baselines under the honest split (``space_days``) and the leaky
``random`` split for contrast, retrains the ablation model without each feature group, computes
permutation importance on the test set, and writes ``reports/<name>/report.md`` with figures:

* Q1: how much the network improves on the trivial baseline (RMSE in K and %, MSE %), with its
  evaluation plots (predicted vs true, error map, residual vs elevation, RMSE per month);
* Q2: every model and baseline compared on the same samples;
* Q3: feature-group importance (permutation and ablation);
* the split contrast: how much the leaky random split flatters each model.

Every number in the report is read back from the MLflow runs the report made (``final/...``
metrics, and ``importance/...`` metrics it logs to the runs). ``experiment=report`` sizes the runs
(about 15 minutes for the default report on 2 cores); any train.py override applies to all runs.
"""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
from omegaconf import OmegaConf, open_dict

from lst_lightning.apps import evaluate
from lst_lightning.apps.report import ABLATION_MODEL, IMPORTANCE_MODELS, MODELS, SPLITS
from lst_lightning.apps.report.writer import write_report
from lst_lightning.apps.runs import model_predictor
from lst_lightning.data.io.formats import FRAME_BANDS
from lst_lightning.data.loading.sources import resolve_cache
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.importance import permutation_importance
from lst_lightning.evaluation.intervals import mean_interval
from lst_lightning.evaluation.predictions import gather_all, predict_batched
from lst_lightning.training.experiment import run_experiment
from lst_lightning.training.jobs import compose_train
from lst_lightning.training.run import build_datamodule, resolve_features
from lst_lightning.training.rundir import HeldOut, part_config, read_results
from lst_lightning.training.tracking import mlflow_settings

log = logging.getLogger(__name__)

PRESET = "experiment=report"


@dataclass
class Job:
    """One training run of the report."""

    key: str                      # "space_days/mlp", "ablation/mlp/no_doy"
    overrides: tuple[str, ...]
    model: str
    split: str
    dropped: str | None = None    # the feature group left out (ablation)
    results: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # read back from MLflow
    seconds: float = 0.0
    cfg: object = None            # the composed config (composed once)
    cv: dict = field(default_factory=dict)  # cross-validated: {"test/rmse_k": {mean, low, high, folds}, ...}

    @property
    def is_baseline(self) -> bool:
        """A baseline (ridge, lightgbm, coarse, trivial) rather than a network."""
        return self.cfg is not None and self.cfg.model.get("baseline") is not None


# ---------------------------------------------------------------- configs

def base_overrides(overrides: list[str]) -> list[str]:
    """The user's overrides plus the report's: the sizing preset and MLflow (results are read back
    from it). The default features already use every input the data has."""
    given = {o.split("=")[0].lstrip("+~") for o in overrides}
    base = ([] if "experiment" in given else [PRESET]) + list(overrides)
    return base + ([] if "logger" in given else ["logger=mlflow"])


def plan_jobs(base: list[str], models, splits, ablation_model: str | None) -> list[Job]:
    """Every model under every split; then the ablation model retrained without each feature group
    (the report's equivalent of ``python train.py -m features=original,no_lst_mean,...``)."""
    jobs = [Job(f"{s}/{m}", (*base, f"model={m}", f"split={s}"), m, s) for s in splits for m in models]
    if ablation_model:
        groups = list(resolve_features(compose_train(base + [f"model={ablation_model}"])).features.groups)
        for group in groups:
            rest = ",".join(g for g in groups if g != group)
            jobs.append(Job(f"ablation/{ablation_model}/no_{group}",
                            (*base, f"model={ablation_model}", f"split={splits[0]}", f"features.groups=[{rest}]",
                             "features.when_available=[]"), ablation_model, splits[0], dropped=group))
    return jobs


def job_config(job: Job, name: str, out: Path):
    if job.cfg is not None:
        return job.cfg
    cfg = compose_train(list(job.overrides))
    if "mlflow" not in (cfg.get("logger") or {}):
        raise LSTError("lst-report reads its results back from MLflow: do not set logger=none/csv")
    with open_dict(cfg):
        cfg.paths.output_dir = str(out / "runs" / job.key.replace("/", "__"))
        cfg.run_name = f"report {name}: {job.key}"
        cfg.logger.mlflow.experiment_name = f"report-{name}"
    job.cfg = cfg
    return cfg


def tracking_uri(cfg) -> str:
    return mlflow_settings(cfg, cfg.logger.mlflow)["tracking_uri"]


# ---------------------------------------------------------------- running

def run_jobs(jobs: list[Job], name: str, out: Path) -> None:
    for i, job in enumerate(jobs, 1):
        cfg = job_config(job, name, out)
        log.info(f"\n[report {i}/{len(jobs)}] {job.key}: python train.py {' '.join(job.overrides)}")
        start = time.perf_counter()
        run_experiment(cfg)  # one run, or every fold of a cross-validation
        job.seconds = time.perf_counter() - start
        job.results = read_results(cfg.paths.output_dir)
        job.cv = job.results.get("cv", {})
        rmse, trivial = (job.cv[f"test/{k}"]["mean"] if job.cv else job.results[f"test/{k}"]
                         for k in ("rmse_k", "trivial_rmse_k"))
        log.info(f"[report {i}/{len(jobs)}] {job.key} done in {job.seconds:.0f} s: test RMSE "
                 f"{rmse:.4f} K (trivial {trivial:.4f} K){' (mean over folds)' if job.cv else ''}")


def fold_runs(job: Job, name: str, out: Path) -> list[tuple[object, dict]]:
    """(config, results) of each trained model of a job: its folds when cross-validated, else itself."""
    cfg = job_config(job, name, out)
    if not job.cv:
        return [(cfg, job.results)]
    held = HeldOut(job.results.get("held_out", "fold"), len(job.results["per_fold"]))
    runs = job.results["per_fold"]
    return [(part_config(cfg, held, i, job.results["run_name"], None), r) for i, r in enumerate(runs)]


def _test_set(cfg, model_file):
    """(data module, predictor, gathered test batch) of one trained model."""
    dm = build_datamodule(cfg, resolve_cache(OmegaConf.to_container(cfg.data, resolve=True), progress=False))
    dm.setup()
    predict, _ = model_predictor(model_file, dm.gatherer)
    return dm, predict, gather_all(dm.gatherer, dm.eval_index("test"), dm.eval_batch_size)


def log_importance(client, run_id: str, per_model: list[dict]) -> None:
    """Each group's importance over the models (folds) to the run: ``importance/<group>/<key>`` the
    mean, ``.../low`` and ``.../high`` its interval; per band under ``importance/<group>/band/<b>/``."""
    for group in per_model[0]:
        views = {"": [imp[group] for imp in per_model]}
        views.update({f"band/{b}/": [imp[group]["by"][b] for imp in per_model] for b in per_model[0][group]["by"]})
        for prefix, figures in views.items():
            for key in ("rmse_increase_k", "mse_increase_pct", "std_k"):
                iv = mean_interval([f[key] for f in figures])
                client.log_metric(run_id, f"importance/{group}/{prefix}{key}", iv["mean"])
                if len(figures) > 1 and key == "rmse_increase_k":
                    for stat in ("low", "high"):
                        client.log_metric(run_id, f"importance/{group}/{prefix}{key}/{stat}", iv[stat])


def analyse(job: Job, name: str, out: Path, repeats: int, importance: bool, figures: Path | None) -> list[Path]:
    """With ``importance``, the permutation importance of ``job``'s model on its test set (of each
    fold's model, with the folds' mean and interval, when cross-validated), logged to its MLflow
    run; with ``figures``, the evaluation plots (predicted vs true, error map, ...) of its (first)
    model."""
    runs = fold_runs(job, name, out)
    if importance:
        log.info(f"[report] permutation importance of {job.key} ({repeats} repeats, {len(runs)} model(s))")
        per_model = []
        for cfg, results in runs:
            dm, predict, batch = _test_set(cfg, results["best_checkpoint"])
            band = dm.gatherer.band_index[batch["frame"]]  # permuted within each band, figures per band too
            strata = {FRAME_BANDS[b]: band == b for b in np.unique(band)}
            per_model.append(permutation_importance(predict, batch, dm.layout, bool(cfg.data.eval_observed_only),
                                                    repeats, seed=int(cfg.seed), strata=strata))
        log_importance(mlflow.MlflowClient(tracking_uri=tracking_uri(job_config(job, name, out))),
                       job.results["mlflow_run_id"], per_model)
    if figures is None:
        return []
    cfg, results = runs[0]
    dm, predict, batch = _test_set(cfg, results["best_checkpoint"])
    observed_only = bool(cfg.data.eval_observed_only)
    pred = predict_batched(predict, batch, dm.eval_batch_size)
    tables = evaluate.breakdowns(pred, batch, dm.gatherer, observed_only)
    files = evaluate.write_plots(pred, batch, dm.gatherer, tables, figures, job.key, observed_only)
    curves = Path(cfg.paths.output_dir) / "learning_curves.png"
    if curves.is_file():
        files.append(Path(shutil.copy(curves, figures / "learning_curves.png")))
    return files


def read_back(jobs: list[Job], name: str, out: Path) -> None:
    """Each job's metrics from its MLflow run: final/<key> -> <key>, importance/... as is."""
    clients: dict[str, object] = {}
    for job in jobs:
        uri = tracking_uri(job_config(job, name, out))
        if uri not in clients:
            clients[uri] = mlflow.MlflowClient(tracking_uri=uri)
        run = clients[uri].get_run(job.results["mlflow_run_id"])
        metrics = run.data.metrics
        job.metrics = {k.removeprefix("final/"): v for k, v in metrics.items()
                       if k.startswith(("final/", "importance/"))}
        # a cross-validation's parent run: the folds' means (cv/<part>/<key>/mean) stand for the figures
        job.metrics.update({k[3:-5]: v for k, v in metrics.items() if k.startswith("cv/") and k.endswith("/mean")})


def build_report(name: str = "default", overrides: list[str] = (), models=MODELS, splits=SPLITS,
                 ablation_model: str | None = ABLATION_MODEL, importance_models=IMPORTANCE_MODELS, repeats: int = 3,
                 out_root: Path = Path("reports"), folds: int | None = None) -> Path:
    """Run everything and write ``<out_root>/<name>/report.md``; returns its path. With ``folds``,
    every run is a K-fold cross-validation and every figure a mean over folds with its interval."""
    if folds is not None:
        if "random" in splits:
            log.info("[report] --folds: the leaky random split is not cross-validated; it is left out")
        splits = [s for s in splits if s != "random"]
        overrides = [*overrides, f"split.folds={folds}"]
    if not splits or not models:
        raise LSTError("lst-report: needs at least one model and one split")
    start = time.perf_counter()
    base = base_overrides(list(overrides))
    out = Path(out_root) / name
    jobs = plan_jobs(base, list(models), list(splits), ablation_model if ablation_model in models else None)
    job_config(jobs[0], name, out)  # settings checked before anything is written
    for stale in ("runs", "figures"):  # a rerun replaces the previous report's runs
        shutil.rmtree(out / stale, ignore_errors=True)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    log.info(f"[report] {name}: {len(jobs)} runs ({', '.join(j.key for j in jobs)})")
    run_jobs(jobs, name, out)
    primary = [j for j in jobs if j.split == splits[0] and j.dropped is None]
    shown = next((j for j in primary if not j.is_baseline), None)
    for job in primary:
        if job.model in importance_models or job is shown:
            analyse(job, name, out, repeats, job.model in importance_models,
                    figures / "evaluation" if job is shown else None)
    read_back(jobs, name, out)
    return write_report(out, name, jobs, base, list(splits), shown, time.perf_counter() - start)
