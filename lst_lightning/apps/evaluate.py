"""``lst-evaluate run=<checkpoint | baseline.joblib | run directory | MLflow run id>``.

Rebuilds the run's data module from its saved config (same cache, split and seed, hence the same
fixed test set), predicts it with the run's model (network checkpoint or saved baseline), and
writes to the output directory and to the run's MLflow run (artifacts under ``evaluation/``):

* ``evaluation.json``: the overall metrics (the keys training logs) and breakdowns in K by band
  (day/night), season, month, elevation band of the centre pixel, and QA (observed vs gap-filled);
* PNG plots: predicted vs true (hexbin), error map, residual vs elevation, RMSE per month,
  and the learning curves (networks, read back from MLflow).

Breakdowns by band, season, month and elevation use the same samples as the headline metric
(really observed centres when ``data.eval_observed_only``); the QA breakdown uses all.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import mlflow
import numpy as np

from lst_lightning.apps.runs import open_run
from lst_lightning.data.facts.seasons import SEASONS, season_name
from lst_lightning.data.io.formats import FRAME_BANDS
from lst_lightning.errors import LSTError
from lst_lightning.evaluation import maps, plots
from lst_lightning.evaluation.metrics import regression_metrics
from lst_lightning.evaluation.numbers import finite_or_none
from lst_lightning.evaluation.predictions import gather_all, part_metrics, predict_batched
from lst_lightning.training.rundir import write_json

log = logging.getLogger(__name__)

ROW_KEYS = ("rmse_k", "trivial_rmse_k", "rmse_improvement_pct", "mse_improvement_pct", "bias_k",
            "explained_fraction", "n_samples")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def centre_elevation(gatherer, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The centre pixel's elevation (m)."""
    return np.asarray(gatherer.cache.dem[rows, cols], dtype=np.float64)


def elevation_labels(elev: np.ndarray, edges: list[float]) -> np.ndarray:
    edges = sorted(float(e) for e in edges)
    names = ([f"< {edges[0]:g} m"] + [f"{a:g}-{b:g} m" for a, b in zip(edges[:-1], edges[1:])]
             + [f">= {edges[-1]:g} m"])
    return np.asarray(names, dtype=object)[np.digitize(elev, edges)]


def _table(pred, batch, labels: np.ndarray, keep: np.ndarray, order) -> dict[str, dict]:
    out = {}
    for name in order:
        sel = keep & (labels == name)
        if sel.any():
            m = regression_metrics(pred[sel], batch["target"][sel], batch["oracle"][sel])
            out[str(name)] = {k: m[k] for k in ROW_KEYS}
    return out


def breakdowns(pred: np.ndarray, batch: dict, gatherer, observed_only: bool = True,
               elevation_edges: list[float] = (0, 250, 500, 1000)) -> dict[str, dict]:
    """Metric rows per band, season, month, elevation band (headline samples) and QA (all)."""
    frame = batch["frame"]
    observed = np.asarray(batch["observed"], dtype=bool)
    keep = observed if observed_only else np.ones_like(observed)
    month = gatherer.month[frame]
    elev = centre_elevation(gatherer, batch["row"], batch["col"])
    elev_labels = elevation_labels(elev, list(elevation_edges))
    elev_order = list(dict.fromkeys(elevation_labels(np.array([-1e9, *elevation_edges]), list(elevation_edges))))
    everything = np.ones_like(observed)
    return {
        "band": _table(pred, batch, np.asarray(FRAME_BANDS)[gatherer.band_index[frame]], keep, FRAME_BANDS),
        "season": _table(pred, batch, season_name(month + 1), keep, SEASONS),
        "month": _table(pred, batch, np.asarray(MONTHS)[month], keep, MONTHS),
        "elevation": _table(pred, batch, elev_labels, keep, elev_order),
        "qa": _table(pred, batch, np.where(observed, "observed", "gap-filled"), everything,
                     ("observed", "gap-filled")),
    }


def write_plots(pred: np.ndarray, batch: dict, gatherer, tables: dict, out: Path, title: str,
                observed_only: bool = True, history: list[dict] | None = None,
                trivial_rmse: float | None = None) -> list[Path]:
    keep = np.asarray(batch["observed"], dtype=bool) if observed_only else np.ones(pred.shape, dtype=bool)
    p, t = pred[keep], batch["target"][keep].astype(np.float64)
    err = p - t
    grid = gatherer.cache.grid
    files = [
        plots.pred_vs_true(p, t, out / "pred_vs_true.png", f"{title}: predicted vs true"),
        maps.error_map(grid.lat, grid.lon, batch["row"][keep], batch["col"][keep], err, out / "error_map.png",
                       f"{title}: error per held-out pixel", background=gatherer.cache.dem),
        plots.residual_vs_elevation(centre_elevation(gatherer, batch["row"][keep], batch["col"][keep]), err,
                                    out / "residual_vs_elevation.png", f"{title}: residual vs elevation"),
        plots.rmse_by_group(tables["month"], out / "rmse_by_month.png", "month", f"{title}: RMSE per month"),
    ]
    if history:
        files.append(plots.learning_curves(history, out / "learning_curves.png", trivial_rmse))
    return files


def mlflow_history(client, run_id: str) -> tuple[list[dict], float | None]:
    """(per-epoch rows, validation trivial RMSE) from a network run's MLflow metric history; no
    rows for baselines, which have no epochs. Each value is put at the epoch Lightning logged with
    it (the ``epoch`` metric at its step; the smallest, as the test's later log shares the last
    step), then rows are made as the run made them (``plots.epoch_rows``)."""
    def series(key: str) -> list[tuple[int, float]]:
        return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))

    epoch_at: dict[int, int] = {}
    for step, value in series("epoch"):
        epoch_at[step] = min(epoch_at.get(step, int(value)), int(value))

    def by_epoch(key: str) -> list[tuple[int, float]]:
        return [(epoch_at.get(step, i), value) for i, (step, value) in enumerate(series(key))]

    trivial = series("val/trivial_rmse_k")
    train = by_epoch("train/rmse_k")  # a baseline logs no epochs: its one val/rmse_k is no curve
    rows = plots.epoch_rows({"train/rmse_k": train, "val/rmse_k": by_epoch("val/rmse_k")}) if train else []
    return rows, (trivial[-1][1] if trivial else None)


def evaluate(cfg) -> dict:
    """Evaluate the run named by ``cfg.run``; returns the evaluation dict (also written)."""
    if cfg.part not in ("val", "test"):
        raise LSTError(f"part: must be 'val' or 'test', got {cfg.part!r}")
    out = Path(cfg.output_dir)
    run = open_run(str(cfg.run), str(cfg.tracking_uri), out / "run", device=str(cfg.device))
    train_cfg, dm, run_id = run.cfg, run.dm, run.run_id
    log.info(f"evaluating {run.model_file} on its {cfg.part} set")
    batch = gather_all(dm.gatherer, dm.eval_index(cfg.part), dm.eval_batch_size)
    pred = predict_batched(run.predict, batch, dm.eval_batch_size)

    observed_only = bool(train_cfg.data.eval_observed_only)
    result = {"run": str(cfg.run), "model": str(train_cfg.model.get("name", "")), "part": str(cfg.part),
              "split": str(train_cfg.split.kind), "observed_only": observed_only,
              "overall": part_metrics(pred, batch, observed_only)}
    result["by"] = breakdowns(pred, batch, dm.gatherer, observed_only, list(cfg.elevation_edges_m))
    client = mlflow.MlflowClient(tracking_uri=str(cfg.tracking_uri)) if cfg.mlflow and run_id else None
    history, val_trivial = mlflow_history(client, run_id) if client else ([], None)
    title = f"{result['model']} ({result['split']}, {cfg.part})"
    files = write_plots(pred, batch, dm.gatherer, result["by"], out, title, observed_only, history, val_trivial)
    write_json(out / "evaluation.json", _finite(result))
    files.append(out / "evaluation.json")
    if client:
        _log(client, run_id, result, files, cfg.part)
    elif cfg.mlflow:
        log.warning("note: the run has no MLflow run (trained with logger=none?): nothing logged to MLflow")
    print(format_tables(result))
    print(f"written: {', '.join(str(f) for f in files)}")
    return result


def _finite(value):
    """NaN -> None, recursively (JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return finite_or_none(value)


def _log(client, run_id: str, result: dict, files: list[Path], part: str) -> None:
    metrics = {f"eval/{part}/{k}": v for k, v in result["overall"].items()}
    for by, table in result["by"].items():
        for name, row in table.items():
            key = name.replace(" ", "").replace(">=", "ge").replace("<", "lt")
            metrics[f"eval/{part}/{by}/{key}/rmse_k"] = row["rmse_k"]
    for key, value in metrics.items():
        if isinstance(value, float) and math.isfinite(value):
            client.log_metric(run_id, key, value)
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path="evaluation")


def format_tables(result: dict) -> str:
    o = result["overall"]
    lines = [f"\n== {result['model']} on {result['split']} {result['part']} set: RMSE {o['rmse_k']:.4f} K "
             f"(trivial {o['trivial_rmse_k']:.4f} K, {o['rmse_improvement_pct']:.1f}% better) =="]
    for by, table in result["by"].items():
        lines.append(f"  by {by}:")
        for name, row in table.items():
            lines.append(f"    {name:14s} RMSE {row['rmse_k']:.4f}  trivial {row['trivial_rmse_k']:.4f}  "
                         f"bias {row['bias_k']:+.4f}  n {int(row['n_samples']):,}")
    return "\n".join(lines)
