"""The worker processes of ``cv_jobs=N`` (spawned): a light module on purpose. A spawned worker
imports the module of its initialiser before running it, and torch and numpy size their thread
pools to the cores the process may use when they load: the worker pins itself to its cores
first, then loads the training stack (the two imports inside the functions below)."""
from __future__ import annotations

import logging
import os

from omegaconf import OmegaConf

log = logging.getLogger(__name__)


def take_cores(slots) -> None:
    """Worker initialiser: pin this process to its cores; torch and LightGBM use just those. The
    thread settings (lst_lightning/threads.py) came with the parent's environment."""
    cores = slots.get()
    os.sched_setaffinity(0, cores)
    import torch  # lazy: after the pin, so that its thread pool is this worker's share of the cores

    from lst_lightning import log as lst_log

    torch.set_num_threads(len(cores))
    lst_log.configure()


def fold_process(plain: dict) -> None:
    """One run of a cross-validation in a worker process."""
    from lst_lightning.training.run import run_training  # lazy: loads the training stack (see take_cores)

    cfg = OmegaConf.create(plain)
    log.info(f"[cv] {cfg.run_name}: started")
    run_training(cfg)
    log.info(f"[cv] {cfg.run_name}: done")
