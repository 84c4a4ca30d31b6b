"""Where the Hydra configs live, and the two ways the project enters them.

The configs ship inside the package (``lst_lightning/conf``; the checkout's top-level ``conf`` is a
link to it), so an installed ``lst-evaluate`` or ``lst-predict`` finds them wherever it runs.
Outputs never go next to the package: ``paths.root_dir`` is ``$LST_ROOT`` (``train.py`` sets it to
its checkout) or else the current directory. The folder and its groups' options live in
``config_groups.py`` (no Hydra: the console scripts check them before loading it).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import hydra
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from lst_lightning.config_groups import CONF_DIR, check_choices, group_options
from lst_lightning.errors import exit_on_user_error, removed_on_failure

__all__ = ["CONF_DIR", "check_choices", "compose", "group_options", "hydra_app"]


def compose(config_name: str = "train", overrides: list[str] | tuple[str, ...] = ()):
    """The composed config for these overrides, outside a Hydra app (report, workers, tests). A
    group option that does not exist is one line (``check_choices``); Hydra's other errors are
    left to the caller, which knows how to name the bad override."""
    check_choices(overrides)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def hydra_app(config_name: str, task: Callable) -> None:
    """Run ``task(cfg)`` as a Hydra app on the packaged config ``config_name`` (console scripts);
    user mistakes become one line on stderr and exit code 2, and a job that fails or is interrupted
    leaves nothing in its output directory (``nothing_left_on_failure``)."""
    hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=config_name)(
        exit_on_user_error(nothing_left_on_failure(task)))()


def empty_run_removed(task: Callable) -> Callable:
    """``task`` in a Hydra training job: if it fails or is interrupted before writing anything in
    its run directory (which then holds only Hydra's ``.hydra``), the directory goes too. A run that
    wrote checkpoints keeps them: ``ckpt_path=last`` resumes it."""
    def job(cfg):
        out = Path(HydraConfig.get().runtime.output_dir)
        try:
            return task(cfg)
        except BaseException:
            if out.is_dir() and {p.name for p in out.iterdir()} <= {".hydra"}:
                shutil.rmtree(out, ignore_errors=True)
            raise

    return job


def nothing_left_on_failure(task: Callable) -> Callable:
    """``task`` in a Hydra job whose output directory loses what the job wrote if it fails: the whole
    directory when Hydra made it for this job (it holds only Hydra's ``.hydra`` when the task starts),
    else the files the task wrote."""
    def job(cfg):
        out = Path(HydraConfig.get().runtime.output_dir)
        fresh = out.is_dir() and {p.name for p in out.iterdir()} <= {".hydra"}
        with removed_on_failure(out, own_root=fresh):
            return task(cfg)

    return job
