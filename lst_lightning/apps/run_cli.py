"""Console entry points on a finished run (``run=...``): ``lst-evaluate`` and ``lst-predict``, Hydra
apps on the packaged configs ``evaluate.yaml`` and ``predict.yaml``.

Hydra parses the command line (``--help`` included) before it calls the task; only the task imports
the module that does the work (``evaluate.py``, ``predict.py``: one lazy import each), so ``--help``
answers before torch, Lightning and MLflow load.
"""
from __future__ import annotations

from lst_lightning.config import hydra_app


def _evaluate(cfg) -> dict:
    from lst_lightning.apps.evaluate import evaluate  # lazy: lst-evaluate --help answers before torch loads

    return evaluate(cfg)


def _predict(cfg) -> list:
    from lst_lightning.apps.predict import predict_maps  # lazy: lst-predict --help answers before torch loads

    return predict_maps(cfg)


def evaluate_main() -> None:
    """Console script ``lst-evaluate`` (Hydra: ``lst-evaluate run=... part=test``)."""
    hydra_app("evaluate", _evaluate)


def predict_main() -> None:
    """Console script ``lst-predict`` (Hydra: ``lst-predict run=... dates=[...] bands=[day]``)."""
    hydra_app("predict", _predict)
