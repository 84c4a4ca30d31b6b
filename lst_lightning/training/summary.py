"""What a run says when it ends: the console summary of its figures (also kept in its run
directory, training/rundir.py ``write_summary``), and after an interrupt how to resume it."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from lst_lightning.data.loading.sources import hours_text
from lst_lightning.evaluation.numbers import fmt
from lst_lightning.training.rundir import last_checkpoint, results_path, summary_path

SUMMARY_KEYS = ("rmse_k", "trivial_rmse_k", "rmse_improvement_pct", "mse_improvement_pct",
                "floor_rmse_k", "explained_fraction", "n_samples")
LABELS = {"rmse_k": "model RMSE (K)", "trivial_rmse_k": "trivial RMSE (K), always 0",
          "rmse_improvement_pct": "RMSE improvement (%)", "mse_improvement_pct": "MSE improvement (%)",
          "floor_rmse_k": "oracle floor RMSE (K)", "explained_fraction": "explained fraction",
          "n_samples": "evaluated samples"}


def summary_text(results: dict, cfg: DictConfig, out: Path) -> str:
    """The run's figures on the held-out part, its inputs, samples, files and MLflow run."""
    stage = "test" if "test/rmse_k" in results else "val"
    lines = [f"== {results['run_name']} ({stage}, held-out {results['split/kind']}"
             f"{', LEAKY' if results['split/leaky'] else ''}) =="]
    for key in SUMMARY_KEYS:
        lines.append(f"  {LABELS[key]:30s} {fmt(results.get(f'{stage}/{key}'))}")
    if f"{stage}/all_rmse_k" in results:
        lines.append(f"  {'incl. gap-filled: model/trivial':30s} {fmt(results[f'{stage}/all_rmse_k'])} / "
                     f"{fmt(results.get(f'{stage}/all_trivial_rmse_k'))}")
    if "intervals/coverage_pct" in results:
        lines.append(f"  {'intervals: coverage (%)':30s} {interval_text(results)}")
    lines.append(f"  inputs (features.groups): {', '.join(cfg.features.groups)}")
    if results.get("overpass_hours"):
        lines.append(f"  overpass hours (data.hours, local solar): {hours_text(results['overpass_hours'])}")
    lines.append("  samples train/val/test: " + " / ".join(
        f"{results[f'split/{p}_samples']:,}" for p in ("train", "val", "test")))
    lines.append(f"  results: {results_path(out)} (this summary: {summary_path(out)})")
    if results.get("mlflow_run_id"):
        lines.append(f"  MLflow run {results['mlflow_run_id']}: {mlflow_ui_command(cfg.logger.mlflow.tracking_uri)}")
    return "\n".join(lines)


def interval_text(results: dict) -> str:
    """The test coverage of the nominal-level intervals, pooled and per band, with their mean width."""
    bands = sorted({k.split("/")[2] for k in results if k.startswith("intervals/band/")})
    per_band = ", ".join(f"{b} {fmt(results[f'intervals/band/{b}/coverage_pct'], 1)}" for b in bands)
    return (f"{fmt(results['intervals/coverage_pct'], 1)} of nominal {fmt(results['intervals/level_pct'], 0)}"
            f"{f' ({per_band})' if per_band else ''}, mean half-width {fmt(results['intervals/halfwidth_k'], 3)} K")


def mlflow_ui_command(uri: str) -> str:
    """``mlflow ui --backend-store-uri <uri>`` to paste into a shell: a local store's path made
    absolute (it works from any folder), the URI quoted (a path with a space is one argument)."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix):].startswith("/"):
        uri = prefix + str(Path(uri[len(prefix):]).resolve())
    return f"mlflow ui --backend-store-uri {shlex.quote(uri)}"


def resume_hint(cfg: DictConfig, out: Path) -> str:
    """After an interrupt: the command that resumes this run from its last checkpoint, or why none can."""
    if cfg.get("cv"):
        return "interrupted: a fold of a cross-validation; run the cross-validation again to finish it"
    if not last_checkpoint(out).is_file():
        return f"interrupted before the first checkpoint: nothing to resume in {out}"
    try:
        overrides = list(HydraConfig.get().overrides.task)
    except ValueError:  # not under Hydra (a test, the report's jobs)
        overrides = []
    keep = [o for o in overrides if not o.startswith(("ckpt_path=", "hydra.run.dir="))]
    program = "python train.py" if Path(sys.argv[0]).name == "train.py" else "lst-train"
    command = " ".join([program, *(shlex.quote(o) for o in keep), "ckpt_path=last",
                        f"hydra.run.dir={shlex.quote(str(out))}"])
    return f"interrupted: resume this run from its last checkpoint with\n  {command}"
