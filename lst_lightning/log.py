"""Console logging of the project: every module logs to ``logging.getLogger(__name__)``; the entry
points call ``configure()`` once, which sends the ``lst_lightning`` records to stderr as plain
messages, from the rank-zero process only (under DDP every rank runs the same code, and the user
wants each line once). Results (summary tables, written files) stay on stdout as the program's
output; Hydra's own job logging is off (``conf/hydra/default.yaml``) so nothing prints twice.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings

ROOT = "lst_lightning"


def process_rank() -> int:
    """This process's global rank: Lightning's (set by its strategies, spawn included) when it is
    loaded, else the launcher's environment (torchrun, SLURM), else 0."""
    lightning = sys.modules.get("lightning_utilities.core.rank_zero")
    rank = getattr(getattr(lightning, "rank_zero_only", None), "rank", None)
    if rank is not None:
        return int(rank)
    for var in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


class RankZeroFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return process_rank() == 0


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is at each record (pytest's capture,
    a redirected stream), not the one it was created with."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RankZeroFilter())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; the property wins
        pass


# Lines the libraries print that tell a user nothing about their run: Lightning's promotion of its
# cloud services, and warnings about the libraries' own code (fixed by their next release, not by us)
PROMOTION = "💡 Tip:"
LIBRARY_WARNINGS = (r".*isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning calling torch 2.13
                    r"Your `IterableDataset` has `__len__` defined")  # our dataset shards its workers itself
QUIET_LOGGERS = ("mlflow.store.db.utils", "alembic.runtime.migration")  # "Creating initial tables"


class DropPromotion(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(PROMOTION)


def quiet_libraries() -> None:
    """Keep the libraries' noise (``PROMOTION``, ``LIBRARY_WARNINGS``, ``QUIET_LOGGERS``) off the console."""
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, DropPromotion) for f in rank_zero.filters):
        rank_zero.addFilter(DropPromotion())
    for message in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(level: int = logging.INFO) -> None:
    """Idempotent: one stderr handler on the project's logger; the libraries' noise quietened."""
    logger = logging.getLogger(ROOT)
    logger.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    quiet_libraries()
