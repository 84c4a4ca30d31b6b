"""The thread settings (lst_lightning/threads.py) reach the OpenMP runtimes of a fresh process
started through each entry point, and a variable the user set wins.

What the runtimes really use is read from libgomp itself: ``OMP_DISPLAY_ENV=VERBOSE`` makes each
OpenMP runtime print its settings when it loads; ``GOMP_SPINCOUNT`` there is 0 under PASSIVE,
300000 when nothing was set (the old default) and 3e10 under ACTIVE. An environment variable set
after the runtime loaded would show in ``os.environ`` but not there.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.common import REPO

# how each entry point's code is first imported: train.py's module body (not its main), and the
# module of every console script of pyproject.toml [project.scripts]
ENTRY_POINTS = {
    "train.py": "import runpy; runpy.run_path('train.py')",
    "lst-synth, lst-prepare, lst-resample-dem": "import lst_lightning.apps.cli",
    "lst-evaluate": "import lst_lightning.apps.evaluate",
    "lst-report": "import lst_lightning.apps.report.jobs",
    "lst-predict": "import lst_lightning.apps.predict",
    "lst-scale-check": "import lst_lightning.apps.scale_check",
    "lst-transfer": "import lst_lightning.apps.transfer",
}
REPORT = ("import json, os, torch, lightgbm; print(json.dumps({'policy': os.environ.get('OMP_WAIT_POLICY'), "
          "'threads': torch.get_num_threads(), 'cores': len(os.sched_getaffinity(0))}))")


def start(code: str, **env: str) -> tuple[dict, list[str]]:
    """Run ``code`` then REPORT in a fresh interpreter: (its report, each OpenMP runtime's spin count)."""
    child_env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    child_env.update(env, OMP_DISPLAY_ENV="VERBOSE", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", f"{code}\n{REPORT}"], cwd=REPO, env=child_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), re.findall(r"GOMP_SPINCOUNT = '(\d+)'", proc.stderr)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_entry_point_processes_wait_passively(entry):
    report, spins = start(ENTRY_POINTS[entry])
    assert report["policy"] == "PASSIVE"
    assert spins and set(spins) == {"0"}, spins  # every OpenMP runtime loaded (torch's, LightGBM's) got it
    assert report["threads"] == report["cores"]  # torch: one intra-op thread per core this process may use


def test_a_setting_the_user_made_wins():
    report, spins = start(ENTRY_POINTS["lst-evaluate"], OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1")
    assert report == {"policy": "ACTIVE", "threads": 1, "cores": report["cores"]}
    assert spins and set(spins) == {"30000000000"}, spins


def test_without_the_package_first_nothing_is_set():
    """The check itself: a process that loads torch before the package keeps the old default."""
    report, spins = start("import torch; import lst_lightning")
    assert report["policy"] == "PASSIVE"  # set in os.environ, but too late for the runtime:
    assert "300000" in spins


def worker_settings() -> dict:
    import lightgbm  # noqa: F401  (its OpenMP runtime too)
    import torch
    from threadpoolctl import threadpool_info

    return {"policy": os.environ.get("OMP_WAIT_POLICY"), "threads": torch.get_num_threads(),
            "cores": sorted(os.sched_getaffinity(0)), "pools": sorted({p["num_threads"] for p in threadpool_info()})}


def test_cv_jobs_worker_has_the_settings_and_its_cores():
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from lst_lightning.training.workers import take_cores

    context = mp.get_context("spawn")
    slots = context.Queue()
    core = min(os.sched_getaffinity(0))
    slots.put([core])
    with ProcessPoolExecutor(1, mp_context=context, initializer=take_cores, initargs=(slots,)) as pool:
        got = pool.submit(worker_settings).result(timeout=300)
    # every thread pool (OpenMP, numpy's and scipy's OpenBLAS) sized to the one core: pinned before they loaded
    assert got == {"policy": os.environ["OMP_WAIT_POLICY"], "threads": 1, "cores": [core], "pools": [1]}
