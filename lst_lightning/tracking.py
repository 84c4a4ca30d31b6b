"""Experiment tracking: loggers from config, run names, params/tags/artifacts, results.json."""
from __future__ import annotations

import json
import math
from pathlib import Path

from omegaconf import DictConfig, OmegaConf


def run_name(cfg: DictConfig) -> str:
    """The configured name, else "<study> trial <n>" in a sweep, else the command-line overrides
    ("model=cnn split=days"), else "default"."""
    if cfg.get("run_name"):
        return str(cfg.run_name)
    from lst_lightning.sweeps import study_tags

    tags = study_tags(cfg)
    if tags:  # the trial's overrides are its parameters, logged anyway
        return f"{tags['optuna.study']} trial {tags['optuna.trial']}"
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith(("hydra.", "paths."))]
    except ValueError:  # not running under Hydra
        overrides = []
    return " ".join(overrides)[:250] or "default"


def build_loggers(cfg: DictConfig, name: str) -> list:
    """Instantiate the configured loggers; MLflow gets the run name and tags."""
    from hydra.utils import instantiate

    loggers = []
    for key, conf in (cfg.get("logger") or {}).items():
        if key == "mlflow":
            Path(cfg.paths.log_dir).mkdir(parents=True, exist_ok=True)
            loggers.append(instantiate(conf, run_name=name, tags=run_tags(cfg)))
        else:
            loggers.append(instantiate(conf))
    return loggers


def run_tags(cfg: DictConfig) -> dict[str, str]:
    from lst_lightning.sweeps import study_tags

    return {
        "model": str(cfg.model.get("name", "")),
        "split": str(cfg.split.get("kind", "")),
        "data": str(cfg.data.get("source", "")),
        "features": ",".join(cfg.features.groups),
        "leaky_split": str(cfg.split.get("kind") == "random").lower(),
        **study_tags(cfg),  # optuna.study / optuna.trial inside a sweep
    }


def flat_params(cfg: DictConfig) -> dict[str, str]:
    """The resolved config flattened to dotted keys (lists joined), for MLflow params."""
    out: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        else:
            out[prefix] = str(node)[:500]

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return out


def mlflow_logger(loggers: list):
    from lightning.pytorch.loggers import MLFlowLogger

    return next((lg for lg in loggers if isinstance(lg, MLFlowLogger)), None)


def log_run_files(loggers: list, metrics: dict[str, float], files: list[Path]) -> str | None:
    """Final metrics and artifacts to MLflow (if configured); returns the MLflow run id."""
    logger = mlflow_logger(loggers)
    if logger is None:
        return None
    client, run_id = logger.experiment, logger.run_id
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and math.isfinite(value):
            client.log_metric(run_id, f"final/{key}", float(value))
    for path in files:
        if path and Path(path).is_file():
            client.log_artifact(run_id, str(path))
    return run_id


def write_results(path: Path, results: dict) -> None:
    """results.json, written atomically; NaN becomes null so any JSON reader accepts it."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in results.items()}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(clean, indent=2, sort_keys=True))
    tmp.replace(path)
