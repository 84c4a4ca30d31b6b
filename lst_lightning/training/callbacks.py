"""Lightning callbacks of our own."""
from __future__ import annotations

import sys

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm


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


class ConsoleProgress(TQDMProgressBar):
    """The trainer's progress on one stderr line, redrawn with carriage returns only.

    Lightning's bars move the cursor up to redraw (Rich's multi-line bar, tqdm's nested validation
    bar): stray ``[A`` / ``[1A`` escapes in consoles and logs that do not interpret them. Here the
    validation and test passes draw on the same line as the epoch's bar (which comes back when they
    end), and each epoch's bar stays as its line; no logger version (v_num) is shown: the run's
    name says which run it is."""

    def __init__(self):
        super().__init__(leave=True)  # closed at every epoch's end: a line per epoch, nothing drawn over it

    def on_train_start(self, *_) -> None:  # each epoch starts its own bar (leave=True): none before
        self.train_progress_bar = Tqdm(disable=True)

    def _bar(self, desc: str, leave: bool) -> Tqdm:
        return Tqdm(desc=desc, position=0, disable=self.is_disabled, leave=leave, dynamic_ncols=True,
                    file=sys.stderr, smoothing=0, bar_format=self.BAR_FORMAT)

    def init_sanity_tqdm(self) -> Tqdm:
        return self._bar(self.sanity_check_description, leave=False)

    def init_train_tqdm(self) -> Tqdm:
        return self._bar(self.train_description, leave=True)

    def init_validation_tqdm(self) -> Tqdm:
        return self._bar(self.validation_description, leave=self.trainer.state.fn == "validate")

    def init_test_tqdm(self) -> Tqdm:
        return self._bar("Testing", leave=False)

    def init_predict_tqdm(self) -> Tqdm:
        return self._bar(self.predict_description, leave=False)

    def on_exception(self, trainer, pl_module, exception) -> None:
        """Close the bars before the error is printed: it starts on a line of its own, and no bar is
        redrawn after it when the interpreter collects them."""
        for bar in (self._train_progress_bar, self._val_progress_bar, self._test_progress_bar,
                    self._predict_progress_bar):
            if bar is not None:
                bar.close()

    def get_metrics(self, trainer, pl_module) -> dict:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items
