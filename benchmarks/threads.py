"""Training steps and LightGBM trees per second with the cores to itself and with them shared,
under the old thread defaults and under the project's settings (``lst_lightning/threads.py``).

Each measurement runs in a fresh process on every core this benchmark may use (the libraries read
the settings when they load), alone and beside a competing load: one busy-looping process per core,
as other jobs on a shared node. "old defaults" loads torch and LightGBM before the package sets
anything: what every process did before ``lst_lightning.threads``. The figures are rates: higher is
better; the table under the JSON lines compares them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

from benchmarks.common import CORES, REPO, child, figure, stage

BATCH = 1024
LGBM_SHAPE = (50_000, 100)
# name -> (environment set for the child, modules the child loads before the package)
VARIANTS = {
    "old defaults": ({}, ("torch", "lightgbm")),
    "ACTIVE": ({"OMP_WAIT_POLICY": "ACTIVE"}, ()),
    "new (PASSIVE)": ({}, ()),
    "PASSIVE 1 thread": ({"OMP_NUM_THREADS": "1"}, ()),  # is one thread better on shared cores? (it is not)
}
# what `python -m benchmarks` forces to 1 for its one-core figures, and the setting measured here
CLEARED = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "OMP_WAIT_POLICY")


@stage("threads")
def bench_threads(args) -> list[dict]:
    """Default network steps/s and LightGBM trees/s, per variant, alone and beside one busy process per core."""
    out = []
    for load in ("alone", "loaded"):
        with competing_load(len(CORES) if load == "loaded" else 0):
            for name, (env, preload) in VARIANTS.items():
                res = run_variant(env, preload, args.thread_seconds, args.lgbm_trees)
                sizes = dict(variant=name, load=load, cores=len(CORES), threads=res["torch_threads"],
                             wait_policy=res["wait_policy"])
                out += [figure(f"steps_{load}", res["steps_per_s"], "steps/s", batch=BATCH, model="gated", **sizes),
                        figure(f"lgbm_{load}", res["trees_per_s"], "trees/s", samples=LGBM_SHAPE[0],
                               features=LGBM_SHAPE[1], trees=args.lgbm_trees, **sizes)]
    return out


@contextmanager
def competing_load(processes: int):
    """``processes`` busy-looping Python processes on this benchmark's cores while the block runs."""
    spin = f"import os\nos.sched_setaffinity(0, {CORES})\nwhile True:\n    pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(processes)]
    try:
        time.sleep(0.5 if procs else 0)  # running before the measurement starts
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def run_variant(env: dict, preload: tuple[str, ...], seconds: float, trees: int) -> dict:
    """The ``threads`` child in a fresh process with ``env``, on every core, ``preload`` imported first."""
    child_env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    child_env.update(env, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    prelude = (f"import os, runpy\nos.sched_setaffinity(0, {CORES})\n"
               + "".join(f"import {m}\n" for m in preload)
               + "runpy.run_module('benchmarks', run_name='__main__', alter_sys=True)\n")
    command = [sys.executable, "-c", prelude, "--_child", "threads", str(seconds), str(trees), "--all-cores"]
    proc = subprocess.run(command, capture_output=True, text=True, env=child_env, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child threads failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@child("threads")
def threads_child(seconds: str, trees: str) -> dict:
    import torch

    return {"steps_per_s": step_rate(float(seconds)), "trees_per_s": lightgbm_rate(int(trees)),
            "torch_threads": torch.get_num_threads(), "wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)")}


def default_network():
    """The default model (conf/model of train.yaml) on the synthetic archive's default inputs."""
    from lst_lightning.config import compose
    from lst_lightning.data.features import FeatureLayout, resolve_groups
    from lst_lightning.training.module import LSTRegressor

    cfg = compose("train")
    groups = resolve_groups(cfg.features.groups, cfg.features.when_available, ("ndvi",))  # synthetic: NDVI
    layout = FeatureLayout(k=int(cfg.data.k), groups=groups)
    return LSTRegressor(net=dict(cfg.model.net), layout=layout.to_json(), optimizer=dict(cfg.model.optimizer),
                        ensemble=int(cfg.model.get("ensemble", 1)), clip=cfg.model.get("clip_inputs")), layout


def step_rate(seconds: float) -> float:
    """Training steps/s (forward, MSE loss, backward, AdamW) of the default network on random batches."""
    import numpy as np
    import torch

    module, layout = default_network()
    rng = np.random.default_rng(0)
    scalars = rng.normal(size=(8 * BATCH, layout.n_scalars)).astype(np.float32)
    patch = rng.normal(size=(8 * BATCH, layout.n_channels, layout.k, layout.k)).astype(np.float32)
    module.scaler.fit(scalars, patch)
    batch = [torch.from_numpy(a[:BATCH]) for a in (scalars, patch)] + [torch.randn(BATCH)]
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3)

    def step():
        loss = torch.nn.functional.mse_loss(module(batch[0], batch[1]), batch[2])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up: allocator, thread pool
        step()
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        steps += 1
    return steps / (time.perf_counter() - t0)


def lightgbm_rate(trees: int) -> float:
    """Trees/s of the project's LightGBM settings (model=lightgbm, n_jobs 0: every core) on random data."""
    import lightgbm as lgb
    import numpy as np

    from lst_lightning.models.baselines import LightGBM

    rng = np.random.default_rng(0)
    x = rng.normal(size=LGBM_SHAPE).astype(np.float32)
    y = x[:, :10].sum(axis=1) + rng.normal(size=LGBM_SHAPE[0])
    # n_jobs 0 (the default: every core), or the variant's one thread
    params = {**LightGBM(n_jobs=int(os.environ.get("OMP_NUM_THREADS", 0))).params, "n_estimators": trees}
    t0 = time.perf_counter()
    lgb.LGBMRegressor(**params).fit(x, y)
    return trees / (time.perf_counter() - t0)
