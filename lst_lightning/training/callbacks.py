"""Lightning callbacks of our own."""
from __future__ import annotations

import lightning.pytorch as L


class EpochHistory(L.Callback):
    """Keeps the epoch-level metrics (for the learning-curve plot, whatever the logger)."""

    def __init__(self):
        self.history: list[dict] = []

    # Lightning calls this after the epoch's validation, so train and val metrics line up.
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        row = {"epoch": trainer.current_epoch}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("train/", "val/")) and value.numel() == 1:
                row[key] = float(value)
        self.history.append(row)
