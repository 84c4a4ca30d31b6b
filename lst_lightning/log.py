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


def configure(level: int = logging.INFO) -> None:
    """Idempotent: one stderr handler on the project's logger."""
    logger = logging.getLogger(ROOT)
    logger.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
