"""A finished run, found from what a user has at hand, and opened for prediction.

``locate_run`` accepts a model file (a network ``.ckpt`` or a ``baseline.joblib``), the run's
directory (``logs/runs/<time>``), or an MLflow run id (its ``config.yaml`` and the model file inside
its MLflow Model ``model/`` are downloaded: the one way a tracked run's model is read back).
``open_run`` then rebuilds the run's data module from its saved config (same cache, split and seed,
hence the same fixed evaluation sets) and a predictor for its model. Used by ``lst-evaluate`` and
``lst-predict``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from omegaconf import OmegaConf

from lst_lightning.data.loading.sources import resolve_cache
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.conformal import INTERVALS_FILE, load_intervals
from lst_lightning.evaluation.predictions import network_predictor
from lst_lightning.features import FeatureLayout
from lst_lightning.models.baselines import load_baseline
from lst_lightning.training.mlflow_model import MODEL_PATH
from lst_lightning.training.module import LSTRegressor
from lst_lightning.training.run import build_datamodule
from lst_lightning.training.rundir import CONFIG, read_results, results_path


@dataclass
class Run:
    cfg: Any                 # the training config (DictConfig)
    model_file: Path
    run_id: str | None       # MLflow run id, when the run was tracked
    dm: Any                  # LSTDataModule, set up
    predict: Any             # gathered numpy batch -> centre-minus-window-mean LST (K)
    intervals: Any = None    # its prediction intervals (evaluation/conformal.py), None if it has none


def locate_run(spec: str, tracking_uri: str, workdir: Path) -> tuple[Any, Path, str | None]:
    """(training config, model file, MLflow run id) of the run named by ``spec``."""
    path = Path(spec)
    if path.exists():
        return _from_path(spec, path)
    if path.suffix in (".ckpt", ".joblib", ".yaml") or "/" in spec:  # meant as a path, not a run id
        raise LSTError(f"run={spec}: no such file or directory")
    return _from_mlflow(spec, tracking_uri, workdir)


def _from_path(spec: str, path: Path) -> tuple[Any, Path, str | None]:
    """A model file or a run directory: the config and results train.py wrote next to them."""
    run_dir = path if path.is_dir() else path.parent.parent if path.parent.name == "checkpoints" else path.parent
    if not (run_dir / CONFIG).is_file():
        raise LSTError(f"run={spec}: no config.yaml in {run_dir} (not a run directory of train.py)")
    results = read_results(run_dir) if results_path(run_dir).is_file() else {}
    if path.is_file():
        model = path
    elif results.get("best_checkpoint"):
        model = Path(results["best_checkpoint"])
        if not model.is_file():
            raise LSTError(f"run={spec}: its model file {model} (results.json) no longer exists")
    else:  # an interrupted run, or one trained without checkpointing
        model = run_dir / "checkpoints" / "last.ckpt"
        if not model.is_file():
            raise LSTError(f"run={spec}: the run in {run_dir} saved no model file "
                           "(trained with trainer.enable_checkpointing=false, or stopped before its first checkpoint)")
    return OmegaConf.load(run_dir / CONFIG), model, results.get("mlflow_run_id")


def _from_mlflow(spec: str, tracking_uri: str, workdir: Path) -> tuple[Any, Path, str | None]:
    """An MLflow run id: its config.yaml and the model file inside its MLflow Model (the run's
    logged model ``model``, or for runs logged before that the artifact path ``model``: listing
    ``model/...`` of a run finds either; see ``training/mlflow_model.py``), downloaded into ``workdir``."""
    # MLflow 3 looks a run's logged models up in the process's global store, whatever the
    # client's: without this, a process that had set another store cannot list ``model/``
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    try:
        client.get_run(spec)
        names = [a.path for a in client.list_artifacts(spec)]
        inside = [a.path for a in client.list_artifacts(spec, f"{MODEL_PATH}/artifacts")]
    except MlflowException as err:
        raise LSTError(f"run={spec}: neither a file nor a run directory, nor a run in the MLflow store "
                       f"{tracking_uri} ({str(err).splitlines()[0]})") from None
    model = next((n for n in inside if n.endswith((".ckpt", ".joblib"))), None)
    missing = [what for what, there in ((CONFIG, CONFIG in names), ("model file", model)) if not there]
    if missing:
        where = "" if model else f" (the model file is looked for inside its MLflow Model {MODEL_PATH}/)"
        raise LSTError(f"run={spec}: the MLflow run has no {' and no '.join(missing)} "
                       f"among its artifacts {names}{where}")
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = OmegaConf.load(client.download_artifacts(spec, CONFIG, str(workdir)))
    return cfg, Path(client.download_artifacts(spec, model, str(workdir))), spec


def open_run(spec: str, tracking_uri: str, workdir: Path, device: str = "cpu") -> Run:
    """Locate the run, rebuild its data module and load its model as a predictor."""
    cfg, model_file, run_id = locate_run(spec, tracking_uri, workdir)
    cache = resolve_cache(OmegaConf.to_container(cfg.data, resolve=True))
    dm = build_datamodule(cfg, cache)
    dm.setup()
    predict, _ = model_predictor(model_file, dm.gatherer, device=device)
    return Run(cfg=cfg, model_file=model_file, run_id=run_id, dm=dm, predict=predict,
               intervals=run_intervals(spec, model_file, tracking_uri, workdir))


def run_intervals(spec: str, model_file: Path, tracking_uri: str, workdir: Path):
    """The run's fitted prediction intervals (``intervals.joblib`` beside its config, or among its
    MLflow artifacts), or None when it was trained without them."""
    if Path(spec).exists():
        return load_intervals(model_file.parent.parent if model_file.parent.name == "checkpoints"
                              else model_file.parent)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    if INTERVALS_FILE not in [a.path for a in client.list_artifacts(spec)]:
        return None
    return load_intervals(Path(client.download_artifacts(spec, INTERVALS_FILE, str(workdir))).parent)


def model_predictor(path: str | Path, gatherer, device: str = "cpu") -> tuple[Any, tuple[str, ...]]:
    """(predictor, feature groups) of a run's saved model: a network checkpoint (``.ckpt``) or a
    saved baseline (``baseline.joblib``). Its feature layout must match the gatherer's."""
    path = Path(path)
    if not path.is_file():
        raise LSTError(f"model file {path} does not exist")
    if path.suffix == ".joblib":
        saved = load_baseline(path)
        layout, predict = FeatureLayout.from_json(saved), BaselinePredictor(saved["baseline"], gatherer)
    else:
        try:
            module = LSTRegressor.load_from_checkpoint(str(path), map_location=device)
        except Exception as err:  # noqa: BLE001 - a corrupt or foreign file: one line for the user
            raise LSTError(f"{path}: not a readable LSTRegressor checkpoint ({type(err).__name__}: {err})") from None
        layout, predict = module.layout, NetworkPredictor(network_predictor(module, device))
    data = gatherer.layout
    if layout.groups != data.groups:
        raise LSTError(f"{path}: the model was trained on feature groups {list(layout.groups)}, but the data "
                       f"gives {list(data.groups)}")
    if layout.scalar_names != data.scalar_names:  # e.g. other land-cover classes
        raise LSTError(f"{path}: the model's input columns differ from the data's "
                       f"({', '.join(sorted(set(layout.scalar_names) ^ set(data.scalar_names)))} are in one only)")
    return predict, layout.groups


class NetworkPredictor:
    """A network's predictor (batch -> K); it needs nothing of the data beyond the batch."""

    def __init__(self, predict):
        self.predict = predict

    def __call__(self, batch):
        return self.predict(batch)

    def on(self, gatherer) -> "NetworkPredictor":
        return self


class BaselinePredictor:
    """A baseline's predictor: its strata (band, season) come from the gatherer's frame table, so
    ``on`` rebinds it to another gatherer (a fine tile's, whose frames are the chosen ones)."""

    def __init__(self, model, gatherer):
        self.model, self.gatherer = model, gatherer

    def __call__(self, batch):
        return self.model.predict(batch, self.gatherer)

    def on(self, gatherer) -> "BaselinePredictor":
        if not self.model.frame_free:
            raise LSTError(f"model {type(self.model).__name__.lower()}: fitted per frame of its own archive; "
                           "it cannot predict on other grids")
        return BaselinePredictor(self.model, gatherer)
