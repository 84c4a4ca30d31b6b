"""Optuna sweeps through Hydra: the storage folder, the trial number, and the study behind a run.

Light at import (``train.py`` imports it before Hydra composes, so ``--help`` stays fast).

* ``${lst_dir:path}`` is a config resolver that creates the folder and returns it: the sqlite
  storage file of a study needs its folder before the sweeper opens it.
* ``number_trial`` is the sweeper's ``custom_search_space``: it adds the trial's own number as a
  fixed parameter ``optuna.trial`` (low = high, so the sampler never draws it), which reaches the
  trial's config as an override: the run can then tag itself in MLflow with study and trial.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lst_lightning.errors import LSTError

TRIAL_PARAM = "optuna.trial"


def make_dir(path: str) -> str:
    Path(path).mkdir(parents=True, exist_ok=True)
    return str(path)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("lst_dir"):
        OmegaConf.register_new_resolver("lst_dir", make_dir)


def number_trial(cfg: DictConfig, trial) -> None:
    """custom_search_space hook of hydra-optuna-sweeper: called once per asked trial."""
    trial.suggest_int(TRIAL_PARAM, trial.number, trial.number)


def study_tags(cfg: DictConfig) -> dict[str, str]:
    """{"optuna.study": name, "optuna.trial": number} for a trial's run, {} outside a sweep."""
    node = cfg.get("optuna")
    if not node or node.get("trial") is None:
        return {}
    return {"optuna.study": str(node.study), "optuna.trial": str(node.trial)}


def load_study(storage: str, study_name: str):
    """The stored study (for reports and tests); a clear error when it does not exist."""
    import optuna  # lazy: lst-train imports this module before Hydra parses; --help answers before optuna loads

    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise LSTError(f"optuna.study: no study {study_name!r} in {storage}") from None


register_resolvers()
# hydra-optuna-sweeper 1.3 was written for optuna 2.10: it passes every TPESampler argument and
# builds the old *Distribution classes, which optuna 5 still accepts with one warning each.
warnings.filterwarnings("ignore", message=r"(`\w+`|\w+Distribution) has been deprecated in v[34]",
                        category=FutureWarning)
