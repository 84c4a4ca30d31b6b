"""python -m benchmarks: its figures (one JSON line each, then a table), and the performance targets.

The non-slow test runs every stage but full_scale on tiny sizes, so the script cannot rot; the
targets themselves (Israel-sized frames) are `slow`: run with `make test-slow`.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common import REPO

FIGURES = {
    "window_mean": "window-samples/s", "naive_window_loop": "window-samples/s", "prepare": "window-samples/s",
    "prepare_build_only": "window-samples/s", "prepare_peak_rss": "MiB", "prepare_reuse": "s",
    "gather": "samples/s", "train_stream": "samples/s", "batch_assembly_peak_rss": "MiB",
    "device_gather": "samples/s", "device_stream": "samples/s", "train_pipeline": "samples/s",
    "train_pipeline_no_prefetch": "samples/s",
    "train_in_memory": "samples/s", "train_pipeline_ratio": "ratio", "training_peak_rss": "MiB",
}


def run_benchmark(tmp_path: Path, *args: str) -> tuple[dict[str, dict], str]:
    out = tmp_path / "figures.jsonl"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--out", str(out), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines == [json.loads(line) for line in out.read_text().splitlines()]  # --out holds the same
    return {f["name"]: f for f in lines}, proc.stdout


def test_every_stage_prints_its_figures_and_a_table(tmp_path):
    figs, stdout = run_benchmark(tmp_path, "--shape", "64", "56", "--frames", "6", "--day-step", "30",
                                 "--repeat", "1", "--assembly-batches", "2", "--train-batches", "3")
    gpu = [name for name in figs if name.startswith("gpu_")]  # present only on a CUDA machine
    assert set(figs) - set(gpu) == set(FIGURES)
    for name, fig in figs.items():
        assert set(fig) == {"name", "value", "unit", "machine", "sizes"}, name
        assert math.isfinite(fig["value"]) and fig["value"] > 0, name
        assert name in gpu or fig["unit"] == FIGURES[name], name
        assert fig["machine"]["cores_used"] == 1 and fig["machine"]["cpu_count"] >= 1
    assert figs["prepare"]["sizes"]["frames"] == 6 and figs["prepare"]["sizes"]["shape"] == [64, 56]
    gather = figs["gather"]["sizes"]
    assert (gather["batch"], gather["batches"], gather["shape"]) == (4096, 2, [64, 56])
    assert figs["train_pipeline"]["sizes"]["batches"] == 3
    ratio = figs["train_pipeline_ratio"]["value"]
    assert ratio == pytest.approx(figs["train_pipeline"]["value"] / figs["train_in_memory"]["value"])
    table = stdout[stdout.index("# "):]
    assert all(name in table for name in FIGURES)
    assert "target: training not input-bound (ratio >= 0.9): " in table


def test_the_fine_prediction_stage_prints_its_figures_and_targets(tmp_path):
    """--stages fine_predict (not in the default run: minutes at Israel size) on a tiny grid."""
    figs, stdout = run_benchmark(tmp_path, "--stages", "fine_predict", "--shape", "40", "36", "--day-step", "60")
    assert set(figs) == {"fine_tile_seconds", "fine_tile_rate", "fine_grid_seconds", "fine_grid_rate",
                         "fine_grid_peak_rss", "atprk_tile_seconds", "atprk_tile_rate", "dms_tile_seconds",
                         "dms_tile_rate"} | {n for n in figs if n.startswith("gpu_")}
    assert all(math.isfinite(f["value"]) and f["value"] > 0 for f in figs.values())
    assert figs["fine_grid_rate"]["sizes"]["fine_shape"] == [360, 324] and figs["fine_tile_seconds"]["sizes"]["f"] == 9
    assert "target: one 1200 x 1200 fine tile under 60 s: met" in stdout
    assert "target: Israel-sized grid at f = 9 under 2 GB peak RSS: met" in stdout


def test_training_rates_with_the_device_resident_stream(random_cache):
    """The GPU branch of the training stage (host stream, batches on the device, the resident stream),
    run on the CPU: three positive rates over the same number of samples."""
    import torch

    from benchmarks.inputs import bench_datamodule
    from benchmarks.training import train_rates
    from lst_lightning.training.module import LSTRegressor

    dm = bench_datamodule(random_cache, 256, 3)
    net = {"_target_": "lst_lightning.models.mlp.MLP", "hidden": [32]}
    module = LSTRegressor(net=net, layout={"k": random_cache.k}, optimizer={"name": "adam", "lr": 1e-3})
    module.scaler.fit(*dm.scaler_arrays())
    rates = train_rates(module, dm, torch.device("cpu"), resident=True)
    assert set(rates) == {"pipeline", "no_prefetch", "memory", "resident"}
    assert all(math.isfinite(v) and v > 0 for v in rates.values())
    assert next(module.parameters()).device.type == "cpu"


@pytest.mark.slow
def test_batch_assembly_and_training_meet_the_targets(tmp_path):
    """Israel-sized frames, one core: batch assembly >= 1.5 M samples/s at batch 4096 with the default
    features, and training of the default MLP not input-bound (>= 90% of the in-memory rate)."""
    figs, _ = run_benchmark(tmp_path, "--stages", "batch_assembly", "training")
    assert figs["gather"]["value"] >= 1.5e6
    assert figs["train_stream"]["value"] >= 1.5e6
    assert figs["train_pipeline_ratio"]["value"] >= 0.9
    assert figs["batch_assembly_peak_rss"]["value"] < 2048 and figs["training_peak_rss"]["value"] < 3072


FIGURE_NAMES = ("steps_alone", "lgbm_alone", "steps_loaded", "lgbm_loaded")  # the threads stage's


@pytest.mark.slow
def test_the_threads_stage_measures_each_variant_alone_and_loaded(tmp_path):
    """--stages threads (minutes on the shared 2-core machine): eight fresh processes, each under the
    settings it names."""
    figs, stdout = run_benchmark(tmp_path, "--stages", "threads", "--thread-seconds", "0.3", "--lgbm-trees", "2")
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    seen = {(f["name"], f["sizes"]["variant"]): f["sizes"] for f in lines}
    variants = ("old defaults", "ACTIVE", "new (PASSIVE)", "PASSIVE 1 thread")
    assert set(seen) == {(n, v) for n in FIGURE_NAMES for v in variants}
    policy = {"old defaults": "PASSIVE", "ACTIVE": "ACTIVE", "new (PASSIVE)": "PASSIVE", "PASSIVE 1 thread": "PASSIVE"}
    for (name, variant), sizes in seen.items():
        assert sizes["wait_policy"] == policy[variant]  # old defaults: set, but after torch loaded
        assert sizes["threads"] == (1 if variant == "PASSIVE 1 thread" else sizes["cores"])
    assert all(f["value"] > 0 for f in lines)
    rows = {line[:16].strip(): line[16:].split() for line in stdout.splitlines() if line.startswith(variants)}
    assert set(rows) == set(variants)  # the side-by-side table: a row per variant, a number per figure
    for variant, row in rows.items():
        expected = [seen_value(lines, name, variant) for name in FIGURE_NAMES]
        assert [float(v.replace(",", "")) for v in row] == pytest.approx(expected)


def seen_value(lines: list[dict], name: str, variant: str) -> float:
    """The figure as the table prints it (3 significant digits, or a whole number from 100 on)."""
    value = next(f["value"] for f in lines if f["name"] == name and f["sizes"]["variant"] == variant)
    return round(value) if value >= 100 else float(f"{value:.3g}")
