"""How the numerical libraries' threads wait: set once per process, before any of them loads.

The OpenMP runtimes (torch's libgomp, LightGBM's, scikit-learn's) read the environment once, when
they load, and ignore later changes. ``lst_lightning/__init__.py`` calls ``configure_threads()``, so
every process that imports the package first (``train.py``, the console scripts, the spawned
``cv_jobs`` workers, ``python -m benchmarks``) has it before numpy, torch or LightGBM load.

``OMP_WAIT_POLICY=PASSIVE``: a thread with no work sleeps instead of spinning. The default lets
idle OpenMP threads spin between parallel regions; on cores other jobs use, the spinning threads
take the CPU the working thread needs (on the shared 2-core machine: the default network's
training steps 5-16x and LightGBM 2.6-9x slower under the old default, `python -m benchmarks
--stages threads`; a 5-fold gated cross-validation was reported at 62 min against 5.7;
docs/performance.md). The results do not change: it is how threads wait, not what they compute.

Thread counts are left to the libraries (torch intra-op and LightGBM ``n_jobs: 0``: the cores this
process may use; ``cv_jobs`` workers get their share), and the DataLoader runs in the main process
(``data.loader.num_workers: 0``), with one thread making the next training batches while the step
runs (``data.loader.prefetch``, data/loading/prefetch.py): more processes would only compete for the
same cores.

With a batch thread, training steps leave it a core: ``step_threads`` gives torch the cores less one
(at least one). On the 2-core machine the gated network's step is faster on one thread than on
two anyway (23,300 against 19,800 samples/s on batches in memory), and the batch thread then has
the other core to itself (docs/performance.md).

A variable the user has set wins (``OMP_WAIT_POLICY=ACTIVE python train.py ...``: the old
behaviour, which can be faster on cores nothing else uses).
"""
from __future__ import annotations

import os

# name -> value, each applied only where the environment does not set it
THREAD_ENV: dict[str, str] = {
    "OMP_WAIT_POLICY": "PASSIVE",
}


def process_cores() -> int:
    """The cores this process may run on (its affinity: a ``cv_jobs`` worker's share)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def step_threads(batch_thread: bool) -> int | None:
    """torch's intra-op threads for training steps: with a thread making the batches, the cores
    less one (at least one); None = leave torch's own count (no batch thread, or the user's
    ``OMP_NUM_THREADS``)."""
    if not batch_thread or "OMP_NUM_THREADS" in os.environ:
        return None
    return max(1, process_cores() - 1)


def configure_threads() -> dict[str, str]:
    """Set each of ``THREAD_ENV`` the user has not set; returns the values now in force."""
    for name, value in THREAD_ENV.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in THREAD_ENV}
