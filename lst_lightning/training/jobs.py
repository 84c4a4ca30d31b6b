"""Training runs started by the study apps (lst-report, lst-scale-check, lst-transfer): a config
composed from train.py overrides, trained into a directory of the app's choosing."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict
from omegaconf.errors import OmegaConfBaseException

from lst_lightning.config import compose
from lst_lightning.errors import LSTError
from lst_lightning.training.experiment import run_experiment
from lst_lightning.training.rundir import read_results

log = logging.getLogger(__name__)


def compose_train(overrides: list[str], prog: str = "lst-report") -> DictConfig:
    """The train.py config for these overrides (Hydra compose API, outside a Hydra app); a bad
    override is an LSTError naming ``prog``."""
    try:
        return compose("train", overrides)
    except (HydraException, OmegaConfBaseException) as err:
        raise LSTError(f"{prog}: bad override in {' '.join(overrides)}: {err}".splitlines()[0]) from None


def train_named(overrides: list[str], out: Path, name: str, prog: str) -> dict:
    """``python train.py <overrides>`` (one run, or every run of a cross-validation) into ``out``
    under the run name ``name``; its results."""
    cfg = compose_train(overrides, prog)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.run_name = name
    log.info(f"\n[{prog}] {name}: python train.py {' '.join(overrides)}")
    start = time.perf_counter()
    run_experiment(cfg)
    log.info(f"[{prog}] {name}: done in {time.perf_counter() - start:.0f} s")
    return read_results(out)
