"""Training survives interruptions and stops cleanly on divergence (cache faults: tests/data/cache)."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common import REPO

pytestmark = pytest.mark.e2e  # SIGKILLed subprocess runs

BASE = ["debug=tiny", "logger=none", "trainer.max_epochs=4", "callbacks.early_stopping.patience=10"]


def signal_at(hook: str, sig: int, epoch: int):
    """A Lightning callback that sends its own process ``sig`` from the ``hook`` of epoch ``epoch``."""
    import lightning.pytorch as L

    def fire(self, trainer, module):
        if trainer.current_epoch == epoch:
            os.kill(os.getpid(), sig)

    return type("SignalAtEpoch", (L.Callback,), {hook: fire})()


class KillAtEpochEnd:
    """A Lightning callback that SIGKILLs its own process at the end of a training epoch."""

    def __new__(cls, epoch: int):
        return signal_at("on_train_epoch_end", signal.SIGKILL, epoch)


class InterruptAtEpochStart:
    """A Lightning callback that sends its own process SIGINT (Ctrl-C) as a training epoch starts."""

    def __new__(cls, epoch: int):
        return signal_at("on_train_epoch_start", signal.SIGINT, epoch)


def train(run_dir: Path, data_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "train.py"), *BASE, f"hydra.run.dir={run_dir}",
                           f"paths.data_dir={data_dir}", f"paths.log_dir={run_dir.parent}/logs", *overrides],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600)


def test_killed_run_resumes_from_last_checkpoint_to_the_same_result(tmp_path):
    import torch

    data = tmp_path / "data"
    whole = train(tmp_path / "whole", data)
    assert whole.returncode == 0, whole.stderr[-2000:]

    killed = train(tmp_path / "killed", data, "+callbacks.kill._target_=tests.training.test_reliability.KillAtEpochEnd",
                   "+callbacks.kill.epoch=1")
    assert killed.returncode == -signal.SIGKILL
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    assert last.is_file() and not (tmp_path / "killed" / "results.json").exists()
    saved = torch.load(last, map_location="cpu", weights_only=False)
    # the kill came before epoch 1's checkpoint: the last one holds epoch 0, and the data stream's
    # epoch counter, so that the resumed run draws epoch 1's batches again
    assert saved["epoch"] == 0 and saved["global_step"] == 32  # debug=tiny: 8192 / 256 steps per epoch
    assert saved["LSTDataModule"] == {"train_epoch": 1}

    # the default model (gated) has dropout: the resumed run must go on with the same random stream
    resumed = train(tmp_path / "killed", data, "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = json.loads((tmp_path / "whole" / "results.json").read_text())
    b = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert b["test/rmse_k"] == pytest.approx(a["test/rmse_k"], abs=1e-4)
    assert b["test/trivial_rmse_k"] == a["test/trivial_rmse_k"]
    # the resumed run went on from step 32 to the uninterrupted run's last step, not from 0
    ends = [torch.load(tmp_path / run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
            for run in ("whole", "killed")]
    assert ends[0]["global_step"] == ends[1]["global_step"] == 4 * 32 and ends[1]["epoch"] == 3


def test_ctrl_c_says_how_to_resume_and_ends_the_mlflow_run_failed(tmp_path):
    import mlflow

    run = tmp_path / "my run"  # a space: the printed command must still paste into a shell
    proc = train(run, tmp_path / "data", "logger=mlflow", "model=mlp",
                 "+callbacks.stop._target_=tests.training.test_reliability.InterruptAtEpochStart",
                 "+callbacks.stop.epoch=1")
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    hint = proc.stderr.split("resume this run from its last checkpoint with\n", 1)[1].splitlines()[0].strip()
    words = shlex.split(hint)
    assert words[:2] == ["python", "train.py"] and words[-2:] == ["ckpt_path=last", f"hydra.run.dir={run}"]
    assert "model=mlp" in words and "logger=mlflow" in words
    assert (run / "checkpoints" / "last.ckpt").is_file()
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/logs/mlflow.db")
    (found,) = client.search_runs([client.get_experiment_by_name("lst-lightning").experiment_id])
    assert found.info.status == "FAILED"


def test_diverging_run_stops_with_one_line_naming_step_and_frames(tmp_path):
    proc = train(tmp_path / "run", tmp_path / "data", "model.optimizer.lr=1e30")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert lines[-1].startswith("error: non-finite train loss")
    assert "at global step" in lines[-1] and "in frames [" in lines[-1] and "lower model.optimizer.lr" in lines[-1]
