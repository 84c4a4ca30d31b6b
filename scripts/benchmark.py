#!/usr/bin/env python
"""Speed and memory figures of the pipeline, one JSON line per figure on stdout, then a short table.

    python scripts/benchmark.py                          # every stage, Israel-sized frames
    python scripts/benchmark.py --stages window_mean naive_window_loop
    python scripts/benchmark.py --stages prepare --frames 400 --out logs/bench.jsonl
    python scripts/benchmark.py --stages batch_assembly training

Stages: window_mean (box filter), naive_window_loop (the original's per-window loop), prepare
(cache build end to end, peak RSS), batch_assembly (gather and the training stream at batch 4096,
default features), training (default MLP fed by the real pipeline vs prebuilt tensors: the ratio
says whether training is input-bound). batch_assembly and training use a synthetic Israel-sized
archive (the real DEM when present, every --day-step-th day) built by the parent process; the
measured work runs in a child process, whose peak RSS (VmHWM: memory-mapped cache pages included)
is reported.

Each JSON line has: name, value, unit, machine (platform, cpu count, ...), sizes (what was measured).
Stages are plain functions registered in STAGES with ``@stage("name")``; each takes the parsed
arguments and returns a list of ``figure(...)`` dicts. Runs single-threaded on one core unless ``--all-cores``.
"""
from __future__ import annotations

import os
import sys

if "--all-cores" not in sys.argv:  # before numpy is imported: one BLAS/OpenMP thread
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DEM = REPO.parent / "shared" / "data" / "israel_dem_1km.tif"
ISRAEL_SHAPE = (603, 409)
LST_SCALE = 0.02

STAGES: dict[str, Callable[[argparse.Namespace], list[dict]]] = {}


def stage(name: str):
    def register(fn):
        STAGES[name] = fn
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


# ---------------------------------------------------------------- synthetic inputs

def synthetic_frames(n: int, shape: tuple[int, int], seed: int = 0, missing: float = 0.01) -> np.ndarray:
    """uint16 LST frames in 0.02 K (smooth field + noise, some missing pixels = 0)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    base = 300 + 8 * np.sin(yy / 40.0) * np.cos(xx / 30.0)
    out = np.empty((n, h, w), dtype=np.uint16)
    for i in range(n):
        kelvin = base + rng.normal(0, 1.0, shape) + 5 * np.sin(i / 10.0)
        raw = np.rint(kelvin / LST_SCALE).astype(np.uint16)
        raw[rng.random(shape) < missing] = 0
        out[i] = raw
    return out


def synthetic_dem(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    return (400 + 300 * np.sin(yy / 50.0) * np.cos(xx / 35.0) + rng.normal(0, 30, shape)).astype(np.float32)


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# ---------------------------------------------------------------- stages

@stage("window_mean")
def bench_window_mean(args) -> list[dict]:
    """Cumulative-sum box filter (window mean + validity) on blocks of 16 frames, as the cache does."""
    from lst_lightning.data.windows import window_mean_raw

    n = min(args.frames, 64)
    frames = synthetic_frames(n, args.shape)
    block = 16

    def run():
        for i in range(0, n, block):
            window_mean_raw(frames[i:i + block], args.k, LST_SCALE)

    seconds = best_time(run, args.repeat)
    per_frame = frames[0].size
    return [figure("window_mean", n * per_frame / seconds, "window-samples/s", frames=n, shape=list(args.shape),
                   k=args.k, block_frames=block, seconds=round(seconds, 4),
                   ms_per_frame=round(1e3 * seconds / n, 3))]


@stage("naive_window_loop")
def bench_naive_window_loop(args) -> list[dict]:
    """The original project's way: a Python loop over windows building 83 features per sample
    (window-mean LST, window-mean elevation, 81 elevation differences), for contrast."""
    k, r = args.k, args.k // 2
    region = (60, 60)
    lst = synthetic_frames(1, (region[0] + 2 * r, region[1] + 2 * r))[0]
    dem = synthetic_dem(lst.shape)

    def run():
        rows = []
        for i in range(r, lst.shape[0] - r):
            for j in range(r, lst.shape[1] - r):
                win = lst[i - r:i + r + 1, j - r:j + r + 1]
                if (win == 0).any():
                    continue
                elev = dem[i - r:i + r + 1, j - r:j + r + 1].astype(np.float64)
                em = elev.mean()
                rows.append([win.mean() * LST_SCALE, em, *(elev - em).ravel()])
        return rows

    seconds = best_time(run, max(1, args.repeat // 2))
    n = region[0] * region[1]
    return [figure("naive_window_loop", n / seconds, "window-samples/s", windows=n, k=k,
                   features_per_sample=2 + k * k, seconds=round(seconds, 4))]


@stage("prepare")
def bench_prepare(args) -> list[dict]:
    """End-to-end prepare_cache on a generated archive of --frames frames (yearly NetCDF written with
    write_lst_netcdf), in a child process so that its peak RSS is its own."""
    from lst_lightning.data.io.writers import write_geotiff, write_lst_netcdf
    from lst_lightning.data.io.grid import Grid

    n_dates = max(1, args.frames // 2)
    with tempfile.TemporaryDirectory(prefix="lst-bench-") as tmp:
        tmp = Path(tmp)
        if args.shape == ISRAEL_SHAPE and SHARED_DEM.is_file():
            from lst_lightning.data.io.readers import read_dem

            dem, grid = read_dem(SHARED_DEM)
            dem_path, dem_kind = SHARED_DEM, "israel_dem_1km.tif"
        else:
            grid = Grid.from_corner(34.2, 33.3, 0.0083, 0.0083, args.shape)
            dem_path, dem_kind = tmp / "dem.tif", "synthetic"
            write_geotiff(dem_path, grid, synthetic_dem(args.shape))
        t0 = time.perf_counter()
        per_year = 365
        for y0 in range(0, n_dates, per_year):
            nd = min(per_year, n_dates - y0)
            frames = synthetic_frames(2 * nd, args.shape, seed=y0)
            data = np.zeros((nd, 4, *args.shape), dtype=np.uint16)
            data[:, 0], data[:, 1] = frames[0::2], frames[1::2]
            data[:, 2] = (frames[0::2].astype(np.uint32) + frames[1::2]) // 2
            data[:, 3] = 3
            write_lst_netcdf(tmp / "lst" / f"LST_{2000 + y0 // per_year}_NetCDF.nc", grid,
                             np.arange(1, nd + 1), data)
            del frames, data
        write_seconds = time.perf_counter() - t0
        archive_bytes = sum(p.stat().st_size for p in (tmp / "lst").iterdir())
        res = run_child("prepare", tmp / "lst", dem_path, tmp / "cache", args.k)
    t = 2 * n_dates
    samples = t * args.shape[0] * args.shape[1]
    sizes = dict(frames=t, shape=list(args.shape), k=args.k, dem=dem_kind,
                 archive_mb=round(archive_bytes / 2**20, 1), cache_mb=round(res["cache_bytes"] / 2**20, 1),
                 write_archive_seconds=round(write_seconds, 2))
    return [
        figure("prepare", samples / res["wall_seconds"], "window-samples/s",
               seconds=round(res["wall_seconds"], 3), valid_windows=res["valid"], **sizes),
        figure("prepare_build_only", samples / res["build_seconds"], "window-samples/s",
               seconds=round(res["build_seconds"], 3), note="excludes input checks and fingerprint hashing",
               **sizes),
        figure("prepare_peak_rss", res["maxrss_kb"] / 1024, "MiB", **sizes),
        figure("prepare_reuse", res["reuse_seconds"], "s", note="second call: fingerprint + open", **sizes),
    ]


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


def _child_prepare(lst_dir: str, dem: str, root: str, k: str) -> dict:
    from lst_lightning.data.cache import prepare_cache

    t0 = time.perf_counter()
    cache = prepare_cache(lst_dir, dem=dem, cache_root=root, k=int(k), progress=False, quiet=True)
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    prepare_cache(lst_dir, dem=dem, cache_root=root, k=int(k), progress=False, quiet=True)
    reuse = time.perf_counter() - t1
    return {
        "wall_seconds": wall, "build_seconds": cache.meta["build_seconds"], "reuse_seconds": reuse,
        "valid": cache.meta["n_windows_total"], "maxrss_kb": peak_rss_kb(), "frames": len(cache.meta["frames"]),
        "cache_bytes": sum(p.stat().st_size for p in cache.path.iterdir()),
    }


# ---------------------------------------------------------------- batches and training

def bench_cache(tmp: Path, day_step: int, shape: tuple[int, int] = ISRAEL_SHAPE):
    """A synthetic archive of ``shape`` (Israel-sized: the real DEM when present), prepared: the
    real pipeline's input."""
    from lst_lightning.data.cache import prepare_cache
    from lst_lightning.data.synthetic import generate_archive

    dem = SHARED_DEM if shape == ISRAEL_SHAPE and SHARED_DEM.is_file() else None
    generate_archive(tmp / "arch", years=(2020,), day_step=day_step, dem=dem, shape=shape, seed=0, progress=False)
    return prepare_cache(tmp / "arch" / "lst", dem=tmp / "arch" / "dem.tif", ndvi=tmp / "arch" / "ndvi.tif",
                         cache_root=tmp / "cache", progress=False, quiet=True)


def bench_datamodule(cache, batch_size: int, batches: int):
    from lst_lightning.data.datamodule import LSTDataModule
    from lst_lightning.data.features import FeatureLayout

    dm = LSTDataModule(cache, FeatureLayout(k=cache.k), {"kind": "space_days"}, batch_size=batch_size,
                       samples_per_epoch=batch_size * batches, eval_samples=10_000, scaler_samples=20_000)
    dm.setup()
    return dm


def _child_batches(cache_path: str, batch_size: str, batches: str) -> dict:
    """Batch assembly: gather alone, and the whole training stream (draw + gather + tensors)."""
    from lst_lightning.data.cache import open_cache
    from lst_lightning.data.sampling import draw_samples

    batch_size, batches = int(batch_size), int(batches)
    # the archive was generated and prepared by the parent: this RSS is the pipeline's own
    cache = open_cache(cache_path)
    dm = bench_datamodule(cache, batch_size, batches)
    rng = np.random.default_rng(0)
    index = draw_samples(dm.gatherer, dm.plan, dm.plan["train"], batch_size * batches, rng)
    chunks = [tuple(a[i * batch_size:(i + 1) * batch_size] for a in index) for i in range(batches)]
    dm.gatherer.gather(*chunks[0])  # warm the page cache and the allocator

    def gather_all():
        for f, r, c in chunks:
            dm.gatherer.gather(f, r, c)

    def stream_all():
        for _ in dm.train_dataloader():
            pass

    gather_s, stream_s = best_time(gather_all, 3), best_time(stream_all, 3)
    n = batch_size * batches
    out = {"gather": n / gather_s, "stream": n / stream_s, "frames": len(cache.meta["frames"]),
           "maxrss_kb": peak_rss_kb()}
    out.update(_device_figures(cache, dm, chunks, batch_size, batches))
    return out


def _device_figures(cache, dm, chunks, batch_size: int, batches: int) -> dict:
    """data.loader.device_resident: the same gather and stream with the cache on the GPU (the CPU
    when there is none, as a reference)."""
    import torch

    from lst_lightning.data.device import DeviceGatherer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    resident = bench_datamodule(cache, batch_size, batches)
    resident.device_resident = True
    resident._device_gatherer = DeviceGatherer(resident.gatherer, device)
    gatherer = resident.batch_gatherer()

    def gather_all():
        for f, r, c in chunks:
            gatherer.gather(f, r, c)
        sync()

    def stream_all():
        for _ in resident.train_dataloader():
            pass
        sync()

    gather_all()
    n = batch_size * batches
    return {"device": device, "device_gather": n / best_time(gather_all, 3),
            "device_stream": n / best_time(stream_all, 3)}


def _child_training(cache_path: str, batch_size: str, batches: str) -> dict:
    """The default MLP, one epoch of ``batches`` steps: from the real stream vs from tensors in memory,
    on the CPU, and on the GPU when there is one (there also with the device-resident stream)."""
    import torch
    from omegaconf import OmegaConf

    from lst_lightning.data.cache import open_cache
    from lst_lightning.training.module import LSTRegressor

    torch.set_num_threads(1 if os.environ.get("OMP_NUM_THREADS") == "1" else os.cpu_count())
    batch_size, batches = int(batch_size), int(batches)
    # the archive was generated and prepared by the parent: this RSS is the run's own
    cache = open_cache(cache_path)
    dm = bench_datamodule(cache, batch_size, batches)
    mlp = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "model" / "mlp.yaml"))
    module = LSTRegressor(net=mlp["net"], layout={"k": cache.k}, optimizer=mlp["optimizer"])
    module.scaler.fit(*dm.scaler_arrays())
    out = {"frames": len(cache.meta["frames"]), "cpu": _train_rates(module, dm, torch.device("cpu"))}
    if torch.cuda.is_available():
        out["cuda"] = _train_rates(module, dm, torch.device("cuda"), resident=True)
    out["maxrss_kb"] = peak_rss_kb()
    return out


def _train_rates(module, dm, device, resident: bool = False) -> dict:
    """Training samples/s of ``module`` on ``device``: fed by the host stream (batches copied to the
    device as Lightning does), by batches already on the device, and (``resident``) by the
    device-resident stream."""
    import torch

    from lst_lightning.data.device import DeviceGatherer

    module = module.to(device)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def on_device(batch):
        return {k: batch[k].to(device, non_blocking=True) for k in ("scalars", "patch", "target")}

    def epoch(stream):
        for batch in stream:
            batch = on_device(batch)
            loss = torch.nn.functional.mse_loss(module(batch["scalars"], batch["patch"]), batch["target"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync()

    in_memory = [on_device(b) for b in dm.train_dataloader()]
    epoch(in_memory)  # warm-up: allocator, kernels
    n = sum(len(b["target"]) for b in in_memory)
    rates = {"pipeline": n / best_time(lambda: epoch(dm.train_dataloader()), 2),
             "memory": n / best_time(lambda: epoch(in_memory), 2)}
    if resident:
        dm_resident = bench_datamodule(dm.cache, dm.batch_size, len(in_memory))
        dm_resident.device_resident = True
        dm_resident._device_gatherer = DeviceGatherer(dm_resident.gatherer, device)
        rates["resident"] = n / best_time(lambda: epoch(dm_resident.train_dataloader()), 2)
    module.to("cpu")
    return rates


def run_child(name: str, *args) -> dict:
    """Run ``_child_<name>(*args)`` in a fresh process (its own peak RSS); returns its JSON."""
    child = subprocess.run([sys.executable, __file__, "--_child", name, *map(str, args)]
                           + (["--all-cores"] if "--all-cores" in sys.argv else []),
                           capture_output=True, text=True, env=os.environ)
    if child.returncode != 0:
        raise RuntimeError(f"benchmark child {name} failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


@stage("batch_assembly")
def bench_batch_assembly(args) -> list[dict]:
    """Training batches from the memmap cache, default features, batch 4096 (target >= 1.5 M/s)."""
    with tempfile.TemporaryDirectory(prefix="lst-bench-") as tmp:
        res = run_child("batches", bench_cache(Path(tmp), args.day_step, args.shape).path, 4096,
                        args.assembly_batches)
    sizes = dict(batch=4096, batches=args.assembly_batches, frames=res["frames"], shape=list(args.shape),
                 features="original")
    return [figure("gather", res["gather"], "samples/s", note="FeatureGatherer.gather alone", **sizes),
            figure("train_stream", res["stream"], "samples/s",
                   note="draw valid samples + gather + torch tensors (the DataLoader's work)", **sizes),
            figure("batch_assembly_peak_rss", res["maxrss_kb"] / 1024, "MiB", **sizes),
            figure("device_gather", res["device_gather"], "samples/s", device=res["device"],
                   note="data.loader.device_resident: gather on the device", **sizes),
            figure("device_stream", res["device_stream"], "samples/s", device=res["device"],
                   note="device_resident training stream (host draws the indices)", **sizes)]


@stage("training")
def bench_training(args) -> list[dict]:
    """Default MLP steps fed by the real pipeline vs by prebuilt tensors (ratio >= 0.9: not
    input-bound), on the CPU and, when present, the GPU."""
    with tempfile.TemporaryDirectory(prefix="lst-bench-") as tmp:
        res = run_child("training", bench_cache(Path(tmp), args.day_step, args.shape).path, 1024,
                        args.train_batches)
    sizes = dict(batch=1024, batches=args.train_batches, frames=res["frames"], shape=list(args.shape),
                 model="mlp 1024-512-256-128")
    cpu = res["cpu"]
    out = [figure("train_pipeline", cpu["pipeline"], "samples/s", **sizes),
           figure("train_in_memory", cpu["memory"], "samples/s", **sizes),
           figure("train_pipeline_ratio", cpu["pipeline"] / cpu["memory"], "ratio", **sizes)]
    if "cuda" in res:
        gpu = res["cuda"]
        out += [figure("gpu_train_pipeline", gpu["pipeline"], "samples/s", device="cuda",
                       note="host stream, batches copied to the GPU", **sizes),
                figure("gpu_train_resident", gpu["resident"], "samples/s", device="cuda",
                       note="data.loader.device_resident=true", **sizes),
                figure("gpu_train_in_memory", gpu["memory"], "samples/s", device="cuda", **sizes),
                figure("gpu_train_pipeline_ratio", gpu["pipeline"] / gpu["memory"], "ratio", device="cuda", **sizes),
                figure("gpu_train_resident_ratio", gpu["resident"] / gpu["memory"], "ratio", device="cuda", **sizes)]
    return out + [figure("training_peak_rss", res["maxrss_kb"] / 1024, "MiB", **sizes)]


# ---------------------------------------------------------------- the real archive's size

def write_archive(lst_dir: Path, grid, years: int, shape) -> None:
    """``years`` yearly NetCDFs of day and night frames (smooth field + noise) on ``grid``."""
    from lst_lightning.data.io.writers import write_lst_netcdf

    for i in range(years):
        year = 2000 + i
        nd = 366 if year % 4 == 0 else 365
        frames = synthetic_frames(2 * nd, shape, seed=year)
        data = np.zeros((nd, 4, *shape), dtype=np.uint16)
        data[:, 0], data[:, 1] = frames[0::2], frames[1::2]
        data[:, 2] = (frames[0::2].astype(np.uint32) + frames[1::2]) // 2
        data[:, 3] = 3
        del frames
        write_lst_netcdf(lst_dir / f"LST_{year}_NetCDF.nc", grid, np.arange(1, nd + 1), data)
        print(f"  wrote {year} ({i + 1}/{years})", file=sys.stderr, flush=True)


def _child_full_train(cache_root: str, lst_dir: str, dem: str, out: str) -> dict:
    """A short training run on the full-size cache (as train.py does it): its peak RSS and time."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from lst_lightning.training.run import run_training

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "data=custom", f"data.lst_dir={lst_dir}", f"data.dem={dem}", f"data.cache_root={cache_root}",
            "logger=none", "trainer.max_epochs=1", "+trainer.enable_progress_bar=false",
            "data.loader.samples_per_epoch=200000", "data.loader.eval_samples=50000"])
    with open_dict(cfg):
        cfg.paths.output_dir = out
        cfg.paths.log_dir = out
    with AnonPeak() as anon:
        t0 = time.perf_counter()
        run_training(cfg)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "maxrss_kb": peak_rss_kb(), "anon_kb": anon.peak_kb}


class AnonPeak:
    """Peak anonymous resident memory (RssAnon: the process's own memory, without the page cache
    of memory-mapped files), sampled every 50 ms by a thread while the block runs."""

    def __enter__(self):
        import threading

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


@stage("full_scale")
def bench_full_scale(args) -> list[dict]:
    """The real archive's size: --years years of day + night frames on the Israel grid (~13,900
    frames, ~7 GB of uint16 LST): prepare (target < 10 min, peak RSS < 4 GB), then a short training
    run on it (target: RSS < 3 GB, page cache aside). Needs ~35 GB of free disk under --workdir."""
    from lst_lightning.data.io.grid import Grid

    with tempfile.TemporaryDirectory(prefix="lst-full-", dir=args.workdir) as tmp:
        tmp = Path(tmp)
        if SHARED_DEM.is_file():
            from lst_lightning.data.io.readers import read_dem

            dem_path, grid = SHARED_DEM, read_dem(SHARED_DEM)[1]
        else:
            from lst_lightning.data.io.writers import write_geotiff

            grid = Grid.from_corner(34.2, 33.3, 0.0083, 0.0083, ISRAEL_SHAPE)
            dem_path = tmp / "dem.tif"
            write_geotiff(dem_path, grid, synthetic_dem(ISRAEL_SHAPE))
        t0 = time.perf_counter()
        write_archive(tmp / "lst", grid, args.years, grid.shape)
        write_s = time.perf_counter() - t0
        archive_gb = sum(p.stat().st_size for p in (tmp / "lst").iterdir()) / 2**30
        prep = run_child("prepare", tmp / "lst", dem_path, tmp / "cache", args.k)
        train = run_child("full_train", tmp / "cache", tmp / "lst", dem_path, tmp / "run")
    sizes = dict(years=args.years, frames=prep["frames"], shape=list(grid.shape), k=args.k,
                 archive_gb=round(archive_gb, 2), cache_gb=round(prep["cache_bytes"] / 2**30, 2),
                 write_archive_seconds=round(write_s, 1))
    return [figure("full_prepare_seconds", prep["wall_seconds"], "s", **sizes),
            figure("full_prepare_peak_rss", prep["maxrss_kb"] / 1024, "MiB", **sizes),
            figure("full_train_seconds", train["seconds"], "s", note="1 epoch of 200k samples + eval", **sizes),
            figure("full_train_peak_rss", train["maxrss_kb"] / 1024, "MiB",
                   note="VmHWM: includes resident memory-mapped cache pages", **sizes),
            figure("full_train_peak_anon_rss", train["anon_kb"] / 1024, "MiB",
                   note="RssAnon sampled every 50 ms: page cache aside", **sizes)]


# ---------------------------------------------------------------- main

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stages", nargs="+", choices=sorted(STAGES), default=[s for s in STAGES if s != "full_scale"],
                   help=f"stages to run (default: all but full_scale: {', '.join(STAGES)})")
    p.add_argument("--frames", type=int, default=200,
                   help="frames for 'prepare' (window_mean uses at most 64 of them; default 200)")
    p.add_argument("--shape", type=int, nargs=2, default=list(ISRAEL_SHAPE), metavar=("H", "W"),
                   help="frame size (default: 603 409, the Israel grid; full_scale always uses it)")
    p.add_argument("--k", type=int, default=9, help="window size (default 9)")
    p.add_argument("--day-step", type=int, default=8,
                   help="synthetic archive for batch_assembly/training: every n-th day of a year (default 8)")
    p.add_argument("--repeat", type=int, default=5, help="timed repetitions; the best one counts")
    p.add_argument("--assembly-batches", type=int, default=60, help="batch_assembly: batches of 4096 (default 60)")
    p.add_argument("--train-batches", type=int, default=100, help="training: steps of 1024 (default 100)")
    p.add_argument("--years", type=int, default=19, help="full_scale: years of day + night frames (default 19)")
    p.add_argument("--workdir", type=Path, default=None, help="full_scale: where the archive and cache go")
    p.add_argument("--out", type=Path, default=None, help="also append the JSON lines to this file")
    p.add_argument("--all-cores", action="store_true", help="do not restrict to one thread on one core")
    args = p.parse_args(argv)
    args.shape = tuple(args.shape)
    return args


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--_child":
        if "--all-cores" not in argv:
            pin_one_core()
        print(json.dumps(globals()[f"_child_{argv[1]}"](*[a for a in argv[2:] if a != "--all-cores"])))
        return
    args = parse_args(argv)
    if not args.all_cores:
        pin_one_core()
    info = machine()
    results = []
    for name in args.stages:
        for fig in STAGES[name](args):
            fig["machine"] = info
            line = json.dumps(fig)
            print(line, flush=True)
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                with open(args.out, "a") as fh:
                    fh.write(line + "\n")
            results.append(fig)
    print(table(results, info))


def table(results: list[dict], info: dict) -> str:
    lines = [f"# {info['processor']}, {info['cores_used']} of {info['cpu_count']} cores, "
             f"numpy {info['numpy']}", f"{'figure':<22} {'value':>14}  unit"]
    for fig in results:
        value = fig["value"]
        text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
        lines.append(f"{fig['name']:<22} {text:>14}  {fig['unit']}")
    by = {f["name"]: f["value"] for f in results}
    if "window_mean" in by and "naive_window_loop" in by:
        lines.append(f"box filter vs per-window loop: {by['window_mean'] / by['naive_window_loop']:,.0f}x")
    if "train_stream" in by:
        lines.append(f"target >= 1,500,000 samples/s of batch assembly: "
                     f"{'met' if by['train_stream'] >= 1.5e6 else 'NOT met'}")
    if "train_pipeline_ratio" in by:
        lines.append(f"target: training not input-bound (ratio >= 0.9): "
                     f"{'met' if by['train_pipeline_ratio'] >= 0.9 else 'NOT met'}")
    if "window_mean" in by:
        lines.append(f"target >= 3,000,000 window-samples/s on one core: "
                     f"{'met' if by['window_mean'] >= 3e6 else 'NOT met'}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
