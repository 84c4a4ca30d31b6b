"""What every stage shares: the stage and child registries, the figure record, the machine
description, timing, peak-memory measurement, the child-process runner and the final table."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# the cores this run may use, read before main() pins itself to one (the threads stage uses them all)
CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))

STAGES: dict[str, Callable[[argparse.Namespace], list[dict]]] = {}
CHILDREN: dict[str, Callable[..., dict]] = {}


def stage(name: str):
    """Register ``fn(args) -> [figure, ...]`` as the stage ``name`` (--stages runs them in
    registration order, i.e. the order ``benchmarks.cli`` imports their modules)."""
    def register(fn):
        STAGES[name] = fn
        return fn
    return register


def child(name: str):
    """Register ``fn(*str_args) -> dict`` as work that ``run_child(name, ...)`` runs in a fresh process."""
    def register(fn):
        CHILDREN[name] = fn
        return fn
    return register


def figure(name: str, value: float, unit: str, **sizes) -> dict:
    return {"name": name, "value": float(value), "unit": unit, "sizes": sizes}


def machine() -> dict:
    try:
        cores_allowed = len(os.sched_getaffinity(0))
    except AttributeError:
        cores_allowed = os.cpu_count()
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "cores_used": cores_allowed, "python": platform.python_version(),
            "numpy": np.__version__}


def pin_one_core() -> None:
    """Run on a single core (the first one this process may use)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# ---------------------------------------------------------------- memory

def peak_rss_kb() -> int:
    """This process's peak resident memory in KiB. On Linux VmHWM of /proc/self/status: getrusage's
    ru_maxrss of a child started by subprocess starts at the parent's peak (kept across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class AnonPeak:
    """Peak anonymous resident memory (RssAnon: the process's own memory, without the page cache
    of memory-mapped files), sampled every 50 ms by a thread while the block runs."""

    def __enter__(self):
        self.peak_kb, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set():
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            self._stop.wait(0.05)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------- child processes

def run_child(name: str, *args) -> dict:
    """Run the child work ``name`` with ``args`` in a fresh process (so that its peak RSS is its
    own, not the parent's that generated the inputs); returns the JSON it prints last."""
    # the child is `python -m benchmarks`: the checkout must be importable wherever we were started
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--_child", name, *map(str, args)]
                          + (["--all-cores"] if "--all-cores" in sys.argv else []),
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_main(argv: list[str]) -> None:
    """The child's side of ``run_child``: ``--_child NAME ARGS... [--all-cores]``."""
    if "--all-cores" not in argv:
        pin_one_core()
    print(json.dumps(CHILDREN[argv[1]](*[a for a in argv[2:] if a != "--all-cores"])))


# ---------------------------------------------------------------- the table

# (figure, the line the table prints, whether the figure meets it)
TARGETS = (
    ("train_stream", "target >= 1,500,000 samples/s of batch assembly", lambda v: v >= 1.5e6),
    ("train_pipeline_ratio", "target: training not input-bound (ratio >= 0.9)", lambda v: v >= 0.9),
    ("fine_tile_seconds", "target: one 1200 x 1200 fine tile under 60 s", lambda v: v < 60),
    ("fine_grid_peak_rss", "target: Israel-sized grid at f = 9 under 2 GB peak RSS", lambda v: v < 2048),
    ("window_mean", "target >= 3,000,000 window-samples/s on one core", lambda v: v >= 3e6),
)


def table(results: list[dict], info: dict) -> str:
    lines = [f"# {info['processor']}, {info['cores_used']} of {info['cpu_count']} cores, "
             f"numpy {info['numpy']}", f"{'figure':<22} {'value':>14}  unit"]
    for fig in results:
        variant = f"  [{fig['sizes']['variant']}]" if "variant" in fig["sizes"] else ""
        lines.append(f"{fig['name']:<22} {number(fig['value']):>14}  {fig['unit']}{variant}")
    lines += variant_table([f for f in results if "variant" in f["sizes"]])
    by = {f["name"]: f["value"] for f in results}
    if "window_mean" in by and "naive_window_loop" in by:
        lines.append(f"box filter vs per-window loop: {by['window_mean'] / by['naive_window_loop']:,.0f}x")
    for name, label, met in TARGETS:
        if name in by:
            lines.append(f"{label}: {'met' if met(by[name]) else 'NOT met'}")
    return "\n".join(lines)


def number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def variant_table(figs: list[dict]) -> list[str]:
    """The threads stage's figures side by side: one row per variant, one column per figure name."""
    if not figs:
        return []
    names = list(dict.fromkeys(f["name"] for f in figs))
    rows = {}
    for f in figs:
        rows.setdefault(f["sizes"]["variant"], {})[f["name"]] = f
    lines = ["", f"{'':<16}" + "".join(f"{n:>15}" for n in names)]
    for variant, by in rows.items():
        lines.append(f"{variant:<16}" + "".join(f"{number(by[n]['value']) if n in by else '':>15}" for n in names))
    units = {f["name"]: f["unit"] for f in figs}
    return lines + [f"{'(unit)':<16}" + "".join(f"{units[n]:>15}" for n in names)]
