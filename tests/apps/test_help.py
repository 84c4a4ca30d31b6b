"""Every console script answers ``--help`` at once: its entry module (the one [project.scripts] names)
holds the parser and a thin ``main`` that imports the work only after parsing, so neither torch,
Lightning nor MLflow loads before the help is printed."""
from __future__ import annotations

import subprocess
import sys
import time
import tomllib

import pytest

from tests.common import REPO

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
HEAVY = ("torch", "lightning", "mlflow")
# best of 3 wall times (s) of ``--help`` on the development machine (2 shared cores, load ~3-4), the
# day the entry points were made light; before that lst-report took 9 s (it imported the training stack)
MEASURED_S = {"lst-train": 0.95, "lst-synth": 0.16, "lst-prepare": 0.17, "lst-evaluate": 0.92, "lst-report": 0.22,
              "lst-predict": 1.35, "lst-resample-dem": 0.21, "lst-scale-check": 0.23, "lst-transfer": 0.24,
              "train.py": 1.42}


def limit_s(name: str) -> float:
    """Room for a busy machine, still under what importing torch alone takes there (2 s or more)
    added to the slowest app's own time."""
    return 2 * MEASURED_S[name] + 1.5


def console_script(name: str) -> list[str]:
    """The command the installed console script runs (pip writes the same two lines into bin/<name>),
    from this checkout: an installed script would call the entry point of the install."""
    module, function = SCRIPTS[name].split(":")
    return [sys.executable, "-c", f"import sys; from {module} import {function}; sys.argv[0] = {name!r}; "
                                  f"sys.exit({function}())"]


def timed(command: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    return proc, time.perf_counter() - start


def test_every_script_is_measured():
    assert set(SCRIPTS) | {"train.py"} == set(MEASURED_S)


@pytest.mark.parametrize("module", sorted({target.split(":")[0] for target in SCRIPTS.values()}))
def test_entry_modules_import_no_training_stack(module):
    code = f"import sys; import {module}; print([m for m in {HEAVY!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"importing {module} loads {proc.stdout.strip()}"


@pytest.mark.parametrize("name", sorted(SCRIPTS) + ["train.py"])
def test_help_is_fast(name):
    command = [sys.executable, "train.py"] if name == "train.py" else console_script(name)
    proc, seconds = timed(command + ["--help"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() and "Traceback" not in proc.stderr
    if seconds > limit_s(name):  # a busy moment: the better of two runs, as the figures above
        proc, again = timed(command + ["--help"])
        seconds = min(seconds, again)
    assert seconds < limit_s(name), f"{name} --help took {seconds:.2f} s (limit {limit_s(name):.2f} s)"


@pytest.mark.parametrize("name, settings", [
    ("lst-predict", ("run=", "dates=", "bands=", "bbox=", "conserve=", "fine_dem=", "fine_ndvi=", "fine_truth=",
                     "residual=", "conservation=", "tile=", "tracking_uri=")),
    ("lst-evaluate", ("run=", "part=", "elevation_edges_m=", "mlflow=", "tracking_uri=")),
])
def test_the_run_apps_help_explains_their_own_settings(name, settings):
    """Not the training config groups (model=, split=, ...) they share a folder with: what they take."""
    proc, _ = timed(console_script(name) + ["--help"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"{name}: ")
    described = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ") and "=" in line}
    assert set(settings) <= described, sorted(set(settings) - described)
    assert "hparams_search:" not in proc.stdout and "Configuration groups" not in proc.stdout
