"""Experiment tracking: loggers from config, run names, params/tags/artifacts, the run's MLflow
Model (the run's files: training/rundir.py)."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.entities import LoggedModelOutput, LoggedModelStatus
from omegaconf import DictConfig, OmegaConf

from lst_lightning.errors import LSTError
from lst_lightning.evaluation.predictions import gather_all
from lst_lightning.training.mlflow_model import MODEL_PATH, save_run_model
from lst_lightning.training.sweeps import study_tags

log = logging.getLogger(__name__)
# MLflow 3's UI opens an experiment without this tag in its GenAI ("Traces") view; ours train models
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def run_name(cfg: DictConfig) -> str:
    """The configured name, else "<study> trial <n>" in a sweep, else the command-line overrides
    ("model=cnn split=days"), else "default"."""
    if cfg.get("run_name"):
        return str(cfg.run_name)
    tags = study_tags(cfg)
    if tags:  # the trial's overrides are its parameters, logged anyway
        return f"{tags['optuna.study']} trial {tags['optuna.trial']}"
    try:
        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith(("hydra.", "paths."))]
    except ValueError:  # not running under Hydra
        overrides = []
    return name_of(overrides)


# a run name leads with what tells runs apart: the model and its recipe first, the data (long paths) last
NAME_ORDER = ("experiment", "model", "features", "scaling", "split", "trainer", "data")
NAME_CHARS = 250  # MLflow's run names are shown cut: what comes first must say the most


def name_of(overrides: list[str]) -> str:
    """A run name from command-line overrides: ``model=``, ``experiment=`` ... first (MLflow lists
    many runs of one archive, which differ there), then the rest, data last, paths shortened to
    their last two parts."""
    def rank(override: str) -> tuple[float, int]:
        key = override.split("=")[0].lstrip("+~")
        root = key.split(".")[0].split("/")[0]
        order = NAME_ORDER.index(root) if root in NAME_ORDER else len(NAME_ORDER) - 1.5  # before the data
        return order, key.count(".") + key.count("/")

    def short(override: str) -> str:
        key, sep, value = override.partition("=")
        return f"{key}={'/'.join(value.split('/')[-2:])}" if sep and value.count("/") > 1 else override

    return " ".join(short(o) for o in sorted(overrides, key=rank))[:NAME_CHARS] or "default"


def build_loggers(cfg: DictConfig, name: str, extra_tags: dict[str, str] | None = None) -> list:
    """Instantiate the configured loggers; MLflow gets the run name and tags (``extra_tags`` too)."""
    loggers = []
    for key, conf in (cfg.get("logger") or {}).items():
        if key == "mlflow":
            Path(cfg.paths.log_dir).mkdir(parents=True, exist_ok=True)
            tags = {**run_tags(cfg), **(extra_tags or {})}
            loggers.append(instantiate(mlflow_settings(cfg, conf), run_name=name, tags=tags))
        else:
            loggers.append(instantiate(conf))
    return loggers


def mlflow_settings(cfg: DictConfig, conf: DictConfig) -> dict:
    """The MLflow logger's settings, with an http(s) server checked before any training starts.

    A server that does not answer stops the run with one clear line, or, with
    ``fallback_to_local: true``, the run logs to the local sqlite store under ``paths.log_dir``.
    A server that answers stores the artifacts itself: a local ``artifact_location`` would make
    the client write them on its own disk, where the server (and its UI) cannot see them.
    """
    settings = OmegaConf.to_container(conf, resolve=True)
    fallback = bool(settings.pop("fallback_to_local", False))
    uri = str(settings.get("tracking_uri") or "")
    if not uri.startswith(("http://", "https://")):
        return settings
    problem = server_problem(uri)
    if problem is None:
        settings["artifact_location"] = None
        return settings
    local = f"sqlite:///{Path(cfg.paths.log_dir).resolve()}/mlflow.db"
    if not fallback:
        raise LSTError(f"logger.mlflow.tracking_uri: the MLflow server {uri} does not answer ({problem}); "
                       f"start it, or set logger.mlflow.fallback_to_local=true to log to {local}")
    log.warning(f"warning: the MLflow server {uri} does not answer ({problem}); logging to {local} instead")
    settings["tracking_uri"] = local
    return settings


def server_problem(uri: str, timeout_s: float = 5.0) -> str | None:
    """None when the MLflow server at ``uri`` answers its health check, else what went wrong."""
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s) as reply:
            return None if reply.status == 200 else f"HTTP {reply.status} from /health"
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code} from /health"
    except (urllib.error.URLError, OSError) as err:
        return str(getattr(err, "reason", err))


def run_tags(cfg: DictConfig) -> dict[str, str]:
    return {
        "model": str(cfg.model.get("name", "")),
        "split": str(cfg.split.get("kind", "")),
        "data": str(cfg.data.get("source", "")),
        "features": ",".join(cfg.features.groups),
        "leaky_split": str(cfg.split.get("kind") == "random").lower(),
        **study_tags(cfg),  # optuna.study / optuna.trial inside a sweep
        **_cv_tags(cfg),  # a fold of a cross-validation: a child of its parent run
    }


def data_tags(cfg: DictConfig, caches) -> dict[str, str]:
    """``archive``: the run's caches (their names fingerprint the inputs' contents and settings);
    ``test_set``: a short hash of the archive and everything that draws its held-out samples (the
    split's settings and seed, the bands, observed-only scoring, the evaluation sample count). Runs
    with one ``test_set`` were scored on the same samples; others are not comparable figure by figure."""
    archive = ",".join(sorted(Path(str(c.path)).name for c in caches))
    drawn = {"archive": archive, "split": OmegaConf.to_container(cfg.split, resolve=True), "seed": cfg.get("seed"),
             "bands": list(cfg.data.get("bands") or []), "observed_only": cfg.data.get("eval_observed_only"),
             "eval_samples": (cfg.data.get("loader") or {}).get("eval_samples")}
    key = json.dumps(drawn, sort_keys=True, default=str)
    return {"archive": archive, "test_set": hashlib.sha256(key.encode()).hexdigest()[:10]}


def _cv_tags(cfg: DictConfig) -> dict[str, str]:
    cv = cfg.get("cv") or {}
    tags = {f"cv.{cv['held_out']}": str(cv["index"]), "cv.folds": str(cv["count"])} if cv else {}
    if cv.get("parent_run_id"):
        tags["mlflow.parentRunId"] = str(cv["parent_run_id"])
    return tags


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


def mark_experiment(client, experiment_id: str) -> None:
    """Tag the experiment as machine-learning model development (``EXPERIMENT_KIND``) unless it
    already says what it is."""
    key, kind = EXPERIMENT_KIND
    if key not in client.get_experiment(experiment_id).tags:
        client.set_experiment_tag(experiment_id, key, kind)


def start_tracking(loggers: list) -> None:
    """The run's MLflow experiment marked as model development (the run itself starts here)."""
    logger = mlflow_logger(loggers)
    if logger is not None:
        mark_experiment(logger.experiment, logger.experiment_id)


def end_failed(loggers: list) -> None:
    """A run that stopped on an error or an interrupt: its MLflow run ends FAILED, not RUNNING."""
    for logger in loggers:
        logger.finalize("failed")


def log_run_model(loggers: list, model_file: str | Path | None, dm) -> None:
    """The run's saved model (checkpoint or baseline.joblib) as an MLflow Model: a logged model
    named ``model`` whose source is the run (the run page lists it; ``runs:/<id>/model`` finds it;
    ``training/mlflow_model.py``), if MLflow is configured and a model was saved.
    ``dm``: the run's data module (its frames, and five validation samples as the input example)."""
    logger = mlflow_logger(loggers)
    if logger is None or not model_file or not Path(model_file).is_file():
        return
    if dm.sites:  # data=multi: the MLflow Model describes one archive's frames
        log.info("data=multi: the run's model file is logged, no MLflow Model (it describes one archive)")
        return
    example = gather_all(dm.gatherer, tuple(a[:5] for a in dm.eval_index("val")))
    client, run_id = logger.experiment, logger.run_id
    model = client.create_logged_model(logger.experiment_id, name=MODEL_PATH, source_run_id=run_id,
                                       model_type="lst-lightning")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            saved = save_run_model(model_file, dm.gatherer, Path(tmp) / MODEL_PATH, example, logged=model)
            client.log_model_artifacts(model.model_id, str(saved))
    except BaseException:
        client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
