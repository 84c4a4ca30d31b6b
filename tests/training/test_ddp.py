"""DDP on CPU (gloo), 2 processes: disjoint shards per rank, lockstep batch counts, metrics reduced
across ranks, and a run that matches a single-process run of the same sample budget."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.common import REPO

pytestmark = pytest.mark.e2e  # subprocess DDP runs

BATCHES = 5  # odd on purpose: both ranks must still take the same number of steps


def read_shards(rank: int, world: int, cache, init_file: str, out_dir: str) -> None:
    """One rank: join the gloo group, stream a training epoch and the validation set, record samples."""
    import torch.distributed as dist

    from lst_lightning.data.loading.datamodule import LSTDataModule
    from lst_lightning.features import FeatureLayout

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        dm = LSTDataModule(cache, FeatureLayout(k=9), {"kind": "space_days", "space": {"block_px": 12}},
                           batch_size=64, samples_per_epoch=64 * BATCHES, eval_samples=700, eval_batch_size=128)
        dm.setup()
        seen: list[np.ndarray] = []
        gather = dm.gatherer.gather
        width = cache.grid.shape[1]

        def recording(f, r, c):
            seen.append(np.stack([f, r * width + c], axis=1))
            return gather(f, r, c)

        dm.gatherer.gather = recording
        out = {}
        for stage in ("train", "val"):
            loader = getattr(dm, f"{stage}_dataloader")()
            seen.clear()
            out[f"{stage}_batches"] = np.array([len(list(loader)), len(loader)])
            out[stage] = np.concatenate(seen)
        f, r, c = dm.eval_index("val")
        out["val_all"] = np.stack([f, r * width + c], axis=1)
        np.savez(Path(out_dir) / f"rank{rank}.npz", **out)
    finally:
        dist.destroy_process_group()


def as_set(samples: np.ndarray) -> set[tuple[int, int]]:
    return set(map(tuple, samples.tolist()))


def test_two_ranks_read_disjoint_shards(random_cache, tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(read_shards, args=(2, random_cache, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    for rank in ranks:  # same step count on both ranks, and exactly what len() announced
        assert list(rank["train_batches"]) == [3, 3]
        assert len(rank["train"]) == 3 * 64
    train = [as_set(r["train"]) for r in ranks]
    assert not train[0] & train[1]  # no sample drawn by both ranks
    pixels = [set(r["train"][:, 1].tolist()) for r in ranks]
    assert not pixels[0] & pixels[1]  # ... because each rank owns its own pixels
    val = [r["val"] for r in ranks]
    assert ranks[0]["val_batches"][0] >= 1 and ranks[1]["val_batches"][0] >= 1
    assert not as_set(val[0]) & as_set(val[1])
    # together the ranks evaluate every validation sample exactly once
    assert len(val[0]) + len(val[1]) == len(ranks[0]["val_all"])
    assert as_set(val[0]) | as_set(val[1]) == as_set(ranks[0]["val_all"])


def run_train(tmp_path: Path, data_dir: Path, name: str, *overrides: str) -> dict:
    env = {**os.environ, "LST_ROOT": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), "debug=tiny", "logger=none", *overrides,
                           f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}/logs",
                           f"hydra.run.dir={tmp_path}/{name}"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads((tmp_path / name / "results.json").read_text())


def test_ddp_run_matches_a_single_process_run(tmp_path):
    data = tmp_path / "data"
    # the same sample budget: 2 ranks x 128 per step = one process x 256 per step, same epochs
    single = run_train(tmp_path, data, "single", "data.loader.batch_size=256")
    ddp = run_train(tmp_path, data, "ddp", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
                    "data.loader.batch_size=128")
    # metrics are reduced across ranks: every held-out sample counted once, the exact same sums
    for key in ("test/n_samples", "val/n_samples", "test/all_n_samples"):
        assert ddp[key] == single[key], key
    assert ddp["test/trivial_rmse_k"] == pytest.approx(single["test/trivial_rmse_k"], rel=1e-9)
    assert ddp["test/floor_rmse_k"] == pytest.approx(single["test/floor_rmse_k"], rel=1e-9)
    # the model itself: as good as the single-process one, within a small tolerance
    assert ddp["test/rmse_k"] == pytest.approx(single["test/rmse_k"], rel=0.08)
    assert ddp["test/rmse_k"] < 0.8 * ddp["test/trivial_rmse_k"]


def test_ddp_over_several_archives_counts_every_held_out_sample_once(sites, tmp_path):
    """data=multi under DDP: each rank draws its own shard of every archive's training part, and the
    per-site test metrics are reduced over the ranks like the pooled ones."""
    from tests.data.inputs import SITES, archives_override

    pooled = ["data=multi", archives_override(sites), "split.space.block_px=10", "data.k=5",
              "trainer.max_epochs=2", "data.loader.samples_per_epoch=8192"]
    single = run_train(tmp_path, tmp_path / "data", "single", *pooled, "data.loader.batch_size=256")
    ddp = run_train(tmp_path, tmp_path / "data", "ddp", *pooled, "trainer=ddp", "trainer.accelerator=cpu",
                    "trainer.devices=2", "data.loader.batch_size=128")
    assert ddp["test/n_samples"] == single["test/n_samples"]
    for name in SITES:
        assert ddp[f"test/site/{name}/n_samples"] == single[f"test/site/{name}/n_samples"] > 0
        assert ddp[f"test/site/{name}/trivial_rmse_k"] == pytest.approx(single[f"test/site/{name}/trivial_rmse_k"])
        assert ddp[f"test/site/{name}/rmse_k"] < ddp[f"test/site/{name}/trivial_rmse_k"]
