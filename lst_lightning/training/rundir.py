"""A run's directory and a cross-validation's: the one place that names, reads and writes their files.

``<run dir>/``: ``config.yaml`` (the resolved config: lst-evaluate and lst-predict reopen it),
``results.json`` (metrics, the model file, the MLflow run id), ``summary.txt`` (what the run
printed at its end), ``checkpoints/`` (``last.ckpt``: where ``ckpt_path=last`` resumes), plots.

A cross-validation holds out one part per run: a K-fold group of blocks x dates (``split.folds=K``:
run i sets ``split.fold=i``) or, under ``split=sites``, one whole archive (run i sets
``split.site=i``). Each run is a complete run directory ``<cv dir>/fold_<i>`` or ``site_<i>``;
``<cv dir>/results.json`` carries every run's results (``per_fold``, in order) and their mean and
95 % interval (``cv``).
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from lst_lightning.errors import LSTError

RESULTS = "results.json"
CONFIG = "config.yaml"
SUMMARY = "summary.txt"
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"


def results_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / RESULTS


def summary_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / SUMMARY


def last_checkpoint(run_dir: str | Path) -> Path:
    return Path(run_dir) / LAST_CHECKPOINT


def write_summary(run_dir: str | Path, text: str) -> Path:
    """The console summary of a run, kept beside its results."""
    path = summary_path(run_dir)
    path.write_text(text.rstrip("\n") + "\n")
    return path


def read_results(run_dir: str | Path) -> dict:
    """A finished run's (or cross-validation's) results.json."""
    path = results_path(run_dir)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise LSTError(f"{path}: no results (the run did not finish)") from None
    except ValueError as err:
        raise LSTError(f"{path}: not readable JSON ({err})") from None


def write_json(path: Path, results: dict) -> Path:
    """``results`` as JSON, written atomically; NaN becomes null so any JSON reader accepts it."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in results.items()}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(clean, indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def write_results(run_dir: str | Path, results: dict) -> Path:
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    return write_json(results_path(run_dir), results)


def save_config(cfg: DictConfig, run_dir: str | Path) -> Path:
    """The resolved config as ``<run dir>/config.yaml``."""
    path = Path(run_dir) / CONFIG
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return path


@dataclass(frozen=True)
class HeldOut:
    """What each run of a cross-validation holds out: ``key`` "fold" or "site", ``count`` runs."""

    key: str
    count: int

    def run_dir(self, cv_dir: str | Path, i: int) -> Path:
        return Path(cv_dir) / f"{self.key}_{i}"

    def label(self, i: int) -> str:
        return f"{self.key} {i}/{self.count}"


def held_out(cfg: DictConfig, sites: list[str]) -> HeldOut | None:
    """The cross-validation ``cfg`` asks for (None: one run). ``sites``: the archives of data=multi."""
    split = cfg.split
    if split.get("kind") == "sites":
        if not sites:
            raise LSTError("split=sites holds one archive out of several: it needs data=multi with data.archives")
        if split.get("folds") is not None:
            raise LSTError(f"split.folds={split.folds}: split=sites holds out each site in turn (split.site picks "
                           "one); leave split.folds null")
        return HeldOut("site", len(sites)) if split.get("site") is None else None
    folds = split.get("folds")
    if folds is not None and (isinstance(folds, bool) or not isinstance(folds, int) or folds < 2):
        raise LSTError(f"split.folds must be an integer >= 2 (or null for one split), got {folds!r}")
    if folds is not None and split.get("fold") is None:
        return HeldOut("fold", int(folds))
    return None


def part_config(cfg: DictConfig, held: HeldOut, i: int, name: str, parent: str | None) -> DictConfig:
    """The configuration of run ``i`` of a cross-validation: its ``split.<fold|site>``, its own run
    directory and run name, and the parent MLflow run it reports to."""
    part = copy.deepcopy(cfg)
    with open_dict(part):
        part.split[held.key] = i
        part.paths.output_dir = str(held.run_dir(cfg.paths.output_dir, i))
        part.run_name = f"{name} [{held.label(i)}]"
        part.cv = {"parent_run_id": parent, "held_out": held.key, "index": i, "count": held.count}
    return part
