"""Learning-rate schedules, chosen like every component by ``_target_`` (conf/model/scheduler/):
an epoch-wise multiplier of the optimizer's learning rate."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Callable

from lst_lightning.errors import LSTError


class Schedule(ABC):
    @abstractmethod
    def factor(self, max_epochs: int | None) -> Callable[[int], float] | None:
        """The LR multiplier of epoch e (None: a constant LR)."""


class Constant(Schedule):
    """The optimizer's learning rate throughout."""

    def factor(self, max_epochs: int | None) -> None:
        return None


class Exponential(Schedule):
    """1 for the first ``warmup_epochs`` epochs, then / 2^(1/half_life) per epoch (epoch e:
    2^-(max(0, e - warmup + 1) / half_life)), the original recipe's decay."""

    def __init__(self, warmup_epochs: int = 0, half_life_epochs: float = 10):
        if not float(half_life_epochs) > 0 or int(warmup_epochs) < 0:
            raise LSTError(f"model.scheduler: need half_life_epochs > 0 and warmup_epochs >= 0, "
                           f"got {half_life_epochs} and {warmup_epochs}")
        self.warmup, self.half_life = int(warmup_epochs), float(half_life_epochs)

    def factor(self, max_epochs: int | None) -> Callable[[int], float]:
        return lambda e: 2.0 ** (-max(0, e - self.warmup + 1) / self.half_life)


class Cosine(Schedule):
    """From 1 at epoch 0 down to ``min_lr_ratio`` at the last epoch (trainer.max_epochs)."""

    def __init__(self, min_lr_ratio: float = 0.01):
        if not 0 <= float(min_lr_ratio) <= 1:
            raise LSTError(f"model.scheduler.min_lr_ratio: must be in [0, 1], got {min_lr_ratio}")
        self.lo = float(min_lr_ratio)

    def factor(self, max_epochs: int | None) -> Callable[[int], float]:
        if not max_epochs or max_epochs < 1:
            raise LSTError("model.scheduler: 'cosine' runs over trainer.max_epochs, which is not set "
                           f"({max_epochs}); set trainer.max_epochs or use model/scheduler=exponential")
        lo, span = self.lo, max(max_epochs - 1, 1)
        return lambda e: lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * min(e, span) / span))
