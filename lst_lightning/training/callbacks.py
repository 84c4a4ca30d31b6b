"""Lightning callbacks of our own."""
from __future__ import annotations

import lightning.pytorch as L
import torch


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


class RandomState(L.Callback):
    """Carries torch's random state (CPU and CUDA) in every checkpoint and restores it on resume.

    Dropout draws from that state: without it a resumed run trains on other dropout masks than
    the uninterrupted run and ends elsewhere (the batches are the data module's, seeded per epoch).
    Callback state is restored only when ``Trainer.fit(ckpt_path=...)`` resumes, never when a
    checkpoint is loaded for prediction.
    """

    def state_dict(self) -> dict:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        return {"torch": torch.get_rng_state(), "cuda": cuda}

    def load_state_dict(self, state: dict) -> None:
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
