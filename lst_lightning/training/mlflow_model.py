"""A finished run's model as an MLflow Model (pyfunc flavour), for networks and baselines alike.

Every tracked run logs its model under the artifact path ``model``, so anyone with the run id can
predict without this project's data pipeline::

    model = mlflow.pyfunc.load_model("runs:/<run id>/model")
    anomaly_k = model.predict(table)   # centre LST minus window-mean LST (K), one per row

``table`` is a pandas DataFrame with one row per sample and the RAW (unscaled) features the model
sees, named after its ``FeatureLayout``: the scalar columns (``lst_mean``, ``elev_mean``,
``doy_sin`` ...), then each patch channel flattened row-major (``elev_diff_0_0`` ..
``elev_diff_8_8``, ``ndvi_0_0`` ...). Some baselines also need to know the frame a row comes from
(context columns):

* ridge fitted per stratum: ``band`` ("day"/"night") with ``by: [band]``, ``month`` (1-12) with
  ``by: [season]``;
* coarse (label-free): ``date`` ("YYYY-MM-DD") and ``band``, naming a frame of the training
  archive (its lapse rate was fitted per frame, from that frame's coarse cells only), and the
  centre pixel's elevation difference ``elev_diff_<c>_<c>`` (a feature column anyway when the
  ``elev_diff`` group is on).

The model's signature lists exactly these columns (features as double: any float input is
accepted; the model computes in float32, as in training). The network's scaler lives in its
checkpoint, so scaling stays inside the model. ``feature_table`` turns a gathered batch into the
table, context columns included. Loading needs ``lst-lightning`` installed (the model's
requirements pin its version; it is installed from its repository, not from PyPI).
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import Model, ModelSignature
from mlflow.types import ColSpec, Schema

from lst_lightning.data.io.formats import FRAME_BANDS
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.predictions import network_predictor
from lst_lightning.features import FeatureLayout
from lst_lightning.models.baselines import centre_elev_diff, load_baseline
from lst_lightning.training.module import LSTRegressor

MODEL_PATH = "model"          # artifact path of the MLflow Model inside a run
OUTPUT = "lst_anomaly_k"      # the output column: centre minus window-mean LST, K
FRAMES_FILE = "frames.json"   # the training archive's (date, band) per frame, for the coarse baseline
# The model is saved "from code" (this script, not a pickled object): loading imports the class by
# name, so nothing is unpickled but the run's own model file.
MODEL_CODE = """import mlflow
from lst_lightning.training.mlflow_model import LSTPyfuncModel
mlflow.models.set_model(LSTPyfuncModel())
"""


def patch_columns(layout: FeatureLayout) -> list[str]:
    """``<channel>_<row>_<col>`` for every patch pixel, in the order of ``patch.reshape(n, -1)``."""
    return layout.patch_columns()


def feature_columns(layout: FeatureLayout) -> list[str]:
    """The model's feature columns: scalars, then the flattened patch (``baselines.design`` order)."""
    return list(layout.scalar_names) + layout.patch_columns()


def centre_diff_column(k: int) -> str:
    return f"elev_diff_{k // 2}_{k // 2}"


def feature_table(batch: dict, gatherer) -> pd.DataFrame:
    """A gathered batch as the model's input table: every feature column, then the frame context
    (``band``, ``month``, ``date``) and the centre's elevation difference when the layout has none.
    MLflow ignores (with a warning) the columns a model does not need: select its signature's."""
    layout, n = gatherer.layout, batch["scalars"].shape[0]
    values = np.concatenate([batch["scalars"], batch["patch"].reshape(n, -1)], axis=1)
    table = pd.DataFrame(values, columns=feature_columns(layout))
    frame = np.asarray(batch["frame"])
    table["band"] = np.asarray(FRAME_BANDS)[gatherer.band_index[frame]]
    table["month"] = gatherer.month[frame] + 1
    table["date"] = np.asarray([f["date"] for f in gatherer.frames])[frame]
    centre = centre_diff_column(layout.k)
    if centre not in table:  # the value the patch's elev_diff channel holds at its centre
        table[centre] = centre_elev_diff(gatherer.cache, batch["row"], batch["col"])
    return table


@dataclass
class TableModel:
    """A run's model on tables: ``columns`` (name -> MLflow type, in signature order) and
    ``predict(table) -> K``. What the pyfunc model runs, and what ``save_run_model`` describes."""

    layout: FeatureLayout
    columns: dict[str, str]
    _predict: Callable  # (feature batch, table) -> K

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            raise LSTError(f"the model's input table lacks column(s) {shown} "
                           f"(it needs {len(self.columns)} columns; see the model's signature)")
        n, k = len(table), self.layout.k
        batch = {  # the gathered-batch form the models take (features only; 'frame' = row number)
            "scalars": table[list(self.layout.scalar_names)].to_numpy(np.float32).reshape(n, self.layout.n_scalars),
            "patch": table[patch_columns(self.layout)].to_numpy(np.float32).reshape(n, self.layout.n_channels, k, k),
            "frame": np.arange(n), "target": np.full(n, np.nan, dtype=np.float32),
        }
        return np.asarray(self._predict(batch, table), dtype=np.float64).reshape(-1)


def table_model(model_file: str | Path, frames: list[dict] | None = None) -> TableModel:
    """The table form of a run's saved model: a network checkpoint (``.ckpt``) or a saved baseline
    (``baseline.joblib``); ``frames`` (the training archive's, each with ``date`` and ``band``)
    only matter to the coarse baseline."""
    path = Path(model_file)
    if path.suffix == ".joblib":
        saved = load_baseline(path)
        layout = FeatureLayout.from_json(saved)
        return _baseline_table_model(saved["baseline"], layout, frames)
    try:
        module = LSTRegressor.load_from_checkpoint(str(path), map_location="cpu")
    except Exception as err:  # noqa: BLE001 - a corrupt or foreign file: one line for the user
        raise LSTError(f"{path}: not a readable LSTRegressor checkpoint ({type(err).__name__}: {err})") from None
    predict = network_predictor(module, "cpu")
    columns = dict.fromkeys(feature_columns(module.layout), "double")
    return TableModel(module.layout, columns, lambda batch, table: predict(batch))


def _baseline_table_model(baseline, layout: FeatureLayout, frames: list[dict] | None) -> TableModel:
    columns = dict.fromkeys(feature_columns(layout), "double")
    if not baseline.frame_free:
        if frames is None:
            raise LSTError("a coarse baseline's model needs the training archive's frames "
                           "(its lapse rates are per frame)")
        centre = centre_diff_column(layout.k)
        columns.update({"date": "string", "band": "string", centre: "double"})
        frame_of = {(str(f["date"]), str(f["band"])): i for i, f in enumerate(frames)}

        def predict(batch: dict, table) -> np.ndarray:
            return baseline.predict_rows(_frame_index(table, frame_of), table[centre].to_numpy(np.float32))

        return TableModel(layout, columns, predict)
    needs = baseline.strata
    if "band" in needs:
        columns["band"] = "string"
    if "season" in needs:
        columns["month"] = "long"

    def predict(batch: dict, table) -> np.ndarray:
        # each row is its own "frame": the per-frame tables the strata read, built from the table
        n = len(table)
        rows = SimpleNamespace(band_index=_band_codes(table) if "band" in needs else np.zeros(n, dtype=np.int64),
                               month=_months(table) - 1 if "season" in needs else np.zeros(n, dtype=np.int64))
        return baseline.predict(batch, rows)

    return TableModel(layout, columns, predict)


def _band_codes(table) -> np.ndarray:
    bands = table["band"].astype(str).to_numpy()
    unknown = sorted(set(bands) - set(FRAME_BANDS))
    if unknown:
        raise LSTError(f"column band: unknown value(s) {unknown[:5]}; choose from {', '.join(FRAME_BANDS)}")
    return np.asarray([FRAME_BANDS.index(b) for b in bands], dtype=np.int64)


def _months(table) -> np.ndarray:
    months = table["month"].to_numpy()
    bad = sorted({int(m) for m in months if not 1 <= m <= 12})
    if bad:
        raise LSTError(f"column month: values must be 1-12, got {bad[:5]}")
    return months.astype(np.int64)


def _frame_index(table, frame_of: dict) -> np.ndarray:
    pairs = list(zip(table["date"].astype(str), table["band"].astype(str)))
    index = np.asarray([frame_of.get(p, -1) for p in pairs], dtype=np.int64)
    if (index < 0).any():
        unknown = sorted({p for p, i in zip(pairs, index) if i < 0})
        raise LSTError(f"columns date, band: {len(unknown)} (date, band) pair(s) are no frame of the training "
                       f"archive, e.g. {unknown[:3]}; the coarse baseline knows a lapse rate only for those frames")
    return index


class LSTPyfuncModel(mlflow.pyfunc.PythonModel):
    """The pyfunc wrapper: artifacts ``model`` (checkpoint or baseline.joblib) and, for the coarse
    baseline, ``frames`` (frames.json)."""

    def load_context(self, context) -> None:
        frames = context.artifacts.get("frames")
        frames = json.loads(Path(frames).read_text()) if frames else None
        self.model = table_model(context.artifacts["model"], frames)

    # the type hint tells MLflow to check the input against the signature only
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:
        return pd.Series(self.model.predict(model_input), index=model_input.index, name=OUTPUT)


def save_run_model(model_file: str | Path, gatherer, path: Path, example: dict | None = None,
                   logged=None) -> Path:
    """Write the MLflow Model of a run's saved model into the new directory ``path``. ``gatherer``:
    the run's (its frames name the coarse baseline's lapse rates); ``example``: a few gathered
    samples, stored as the model's input example (MLflow predicts them once, as a check);
    ``logged``: the MLflow LoggedModel it will be uploaded to (its id and run go into MLmodel)."""
    frames = gatherer.frames
    model = table_model(model_file, frames)  # also checks the file opens before it is published
    columns = list(model.columns)
    input_example = None if example is None else feature_table(example, gatherer)[columns]
    signature = ModelSignature(inputs=Schema([ColSpec(t, name) for name, t in model.columns.items()]),
                               outputs=Schema([ColSpec("double", OUTPUT)]))
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = {"model": str(model_file)}
        if "date" in model.columns:  # the coarse baseline: which frame each of its lapse rates belongs to
            artifacts["frames"] = str(Path(tmp) / FRAMES_FILE)
            Path(artifacts["frames"]).write_text(json.dumps([{"date": f["date"], "band": f["band"]} for f in frames]))
        code = Path(tmp) / "lst_pyfunc_model.py"
        code.write_text(MODEL_CODE)
        described = None if logged is None else Model(
            artifact_path=logged.artifact_location, run_id=logged.source_run_id, model_id=logged.model_id,
            model_uuid=logged.model_id)
        with _no_progress_bar():
            mlflow.pyfunc.save_model(
                str(path), python_model=str(code), artifacts=artifacts, signature=signature, mlflow_model=described,
                input_example=input_example, pip_requirements=_requirements(Path(model_file)),
                metadata={"lst_lightning": {**model.layout.to_json(),
                                            "output": "centre minus window-mean LST (K)"}})
    return path


@contextmanager
def _no_progress_bar():
    """MLflow "downloads" the model file into the model with a progress bar, and says at INFO that it
    validates the input example: noise in a run's log (its warnings and errors still show)."""
    name, old = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    chatty = logging.getLogger("mlflow.pyfunc")
    level = chatty.level
    os.environ[name] = "false"
    chatty.setLevel(logging.WARNING)
    try:
        yield
    finally:
        chatty.setLevel(level)
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _requirements(model_file: Path) -> list[str]:
    """Pinned from this environment (inferring them would load the model again in a subprocess)."""
    names = ["lst-lightning", "numpy", "pandas", "mlflow"]
    names += ["scikit-learn", "lightgbm", "joblib"] if model_file.suffix == ".joblib" else ["torch", "lightning"]
    return [f"{name}=={metadata.version(name)}" for name in names]
