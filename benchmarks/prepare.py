"""The cache build end to end (``prepare_cache`` on a generated yearly-NetCDF archive), measured in
a child process so that its peak RSS is its own, then the second call that reuses the cache."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import child, figure, peak_rss_kb, run_child, stage
from benchmarks.inputs import DAYS_PER_FILE, dem_and_grid, write_lst_year


@stage("prepare")
def bench_prepare(args) -> list[dict]:
    """End-to-end prepare_cache on a generated archive of --frames frames (yearly NetCDF written with
    write_lst_netcdf), in a child process so that its peak RSS is its own."""
    n_dates = max(1, args.frames // 2)
    with tempfile.TemporaryDirectory(prefix="lst-bench-") as tmp:
        tmp = Path(tmp)
        dem_path, grid, dem_kind = dem_and_grid(tmp, args.shape)
        t0 = time.perf_counter()
        for y0 in range(0, n_dates, DAYS_PER_FILE):
            write_lst_year(tmp / "lst", grid, 2000 + y0 // DAYS_PER_FILE, min(DAYS_PER_FILE, n_dates - y0), seed=y0)
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


@child("prepare")
def prepare_child(lst_dir: str, dem: str, root: str, k: str) -> dict:
    """Build the cache, then call again (the reuse path); the figures and this process's peak RSS.
    Also full_scale's preparation."""
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
