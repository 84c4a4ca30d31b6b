"""A finished run, found from what a user has at hand, and opened for prediction.

``locate_run`` accepts a model file (a network ``.ckpt`` or a ``baseline.joblib``), the run's
directory (``logs/runs/<time>``), or an MLflow run id (its ``config.yaml`` and model artifacts are
downloaded). ``open_run`` then rebuilds the run's data module from its saved config (same cache,
split and seed, hence the same fixed evaluation sets) and a predictor for its model. Used by
``lst-evaluate`` and ``lst-predict``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lst_lightning.errors import LSTError


@dataclass
class Run:
    cfg: Any                 # the training config (DictConfig)
    model_file: Path
    run_id: str | None       # MLflow run id, when the run was tracked
    dm: Any                  # LSTDataModule, set up
    predict: Any             # gathered numpy batch -> centre-minus-window-mean LST (K)


def locate_run(spec: str, tracking_uri: str, workdir: Path) -> tuple[Any, Path, str | None]:
    """(training config, model file, MLflow run id) of the run named by ``spec``."""
    from omegaconf import OmegaConf

    path = Path(spec)
    if path.exists():
        run_dir = path if path.is_dir() else path.parent.parent if path.parent.name == "checkpoints" else path.parent
        if not (run_dir / "config.yaml").is_file():
            raise LSTError(f"run={spec}: no config.yaml in {run_dir} (not a run directory of train.py)")
        results = json.loads((run_dir / "results.json").read_text()) if (run_dir / "results.json").is_file() else {}
        model = path if path.is_file() else Path(results.get("best_checkpoint") or run_dir / "none")
        return OmegaConf.load(run_dir / "config.yaml"), model, results.get("mlflow_run_id")
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    try:
        client.get_run(spec)
        names = [a.path for a in client.list_artifacts(spec)]
    except MlflowException as err:
        raise LSTError(f"run={spec}: neither a file nor a run directory, nor a run in the MLflow store "
                       f"{tracking_uri} ({str(err).splitlines()[0]})") from None
    model = next((n for n in names if n.endswith((".ckpt", ".joblib"))), None)
    if "config.yaml" not in names or model is None:
        raise LSTError(f"run={spec}: the MLflow run has no config.yaml and model file among its artifacts {names}")
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = OmegaConf.load(client.download_artifacts(spec, "config.yaml", str(workdir)))
    return cfg, Path(client.download_artifacts(spec, model, str(workdir))), spec


def open_run(spec: str, tracking_uri: str, workdir: Path, device: str = "cpu") -> Run:
    """Locate the run, rebuild its data module and load its model as a predictor."""
    from omegaconf import OmegaConf

    from lst_lightning.data.sources import resolve_cache
    from lst_lightning.predictions import model_predictor
    from lst_lightning.training import build_datamodule

    cfg, model_file, run_id = locate_run(spec, tracking_uri, workdir)
    cache = resolve_cache(OmegaConf.to_container(cfg.data, resolve=True))
    dm = build_datamodule(cfg, cache)
    dm.setup()
    predict, _ = model_predictor(model_file, dm.gatherer, device=device)
    return Run(cfg=cfg, model_file=model_file, run_id=run_id, dm=dm, predict=predict)
