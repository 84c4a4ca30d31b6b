"""The real archive's size: --years years of day + night frames on the Israel grid (~13,900 frames,
~7 GB of uint16 LST), prepared, then a short training run on it, each in its own process."""
from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from benchmarks.common import AnonPeak, child, figure, peak_rss_kb, run_child, stage
from benchmarks.inputs import dem_and_grid, write_lst_year

log = logging.getLogger(__name__)


@stage("full_scale")
def bench_full_scale(args) -> list[dict]:
    """The real archive's size: --years years of day + night frames on the Israel grid (~13,900
    frames, ~7 GB of uint16 LST): prepare (target < 10 min, peak RSS < 4 GB), then a short training
    run on it (target: RSS < 3 GB, page cache aside). Needs ~35 GB of free disk under --workdir."""
    from lst_lightning.data.synthetic import ISRAEL_SHAPE

    with tempfile.TemporaryDirectory(prefix="lst-full-", dir=args.workdir) as tmp:
        tmp = Path(tmp)
        dem_path, grid, _ = dem_and_grid(tmp, ISRAEL_SHAPE)
        t0 = time.perf_counter()
        write_archive(tmp / "lst", grid, args.years)
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


def write_archive(lst_dir: Path, grid, years: int) -> None:
    """``years`` yearly NetCDFs (from 2000, leap years with 366 dates) of day and night frames on ``grid``."""
    for i in range(years):
        year = 2000 + i
        write_lst_year(lst_dir, grid, year, 366 if year % 4 == 0 else 365, seed=year)
        log.info(f"  wrote {year} ({i + 1}/{years})")


@child("full_train")
def full_train_child(cache_root: str, lst_dir: str, dem: str, out: str) -> dict:
    """A short training run on the full-size cache (as train.py does it): its peak RSS and time."""
    from omegaconf import open_dict

    from lst_lightning.config import compose
    from lst_lightning.training.run import run_training

    cfg = compose("train", [
        # the MLP its figures were measured with (the default network is now model=gated)
        "model=mlp", "data=custom", f"data.lst_dir={lst_dir}", f"data.dem={dem}", f"data.cache_root={cache_root}",
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
