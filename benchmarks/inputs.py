"""The benchmarks' inputs: fast smooth-field-plus-noise LST frames and DEMs written with the
project's own writers (prepare, full_scale), and a prepared synthetic archive with its datamodule
(batch_assembly, training).

The frames are deliberately not the physical synthetic generator's: full_scale writes ~13,900
Israel-sized frames, which must take minutes, and the cache build's speed does not depend on
what the temperatures look like.

The project's heavier modules (the synthetic generator pulls scipy: ~20 MiB) are imported inside
the functions that need them: the child processes import this module, and their peak RSS is a
reported figure."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.common import REPO
from lst_lightning.data.io.formats import kelvin_to_raw

SHARED_DEM = REPO.parent / "shared" / "data" / "israel_dem_1km.tif"
DAYS_PER_FILE = 365  # prepare's archive: one yearly file per 365 dates


def synthetic_frames(n: int, shape: tuple[int, int], seed: int = 0, missing: float = 0.01) -> np.ndarray:
    """uint16 LST frames in 0.02 K (smooth field + noise, some missing pixels = 0)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    base = 300 + 8 * np.sin(yy / 40.0) * np.cos(xx / 30.0)
    out = np.empty((n, h, w), dtype=np.uint16)
    for i in range(n):
        kelvin = base + rng.normal(0, 1.0, shape) + 5 * np.sin(i / 10.0)
        raw = kelvin_to_raw(kelvin)
        raw[rng.random(shape) < missing] = 0
        out[i] = raw
    return out


def synthetic_dem(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    return (400 + 300 * np.sin(yy / 50.0) * np.cos(xx / 35.0) + rng.normal(0, 30, shape)).astype(np.float32)


def dem_and_grid(tmp: Path, shape: tuple[int, int]):
    """(DEM path, its grid, what it is): the real Israel DEM when ``shape`` is its grid's and it is
    present, else a synthetic one written to ``tmp/dem.tif``."""
    from lst_lightning.data.io.grid import Grid
    from lst_lightning.data.synthetic import ISRAEL_SHAPE

    if tuple(shape) == ISRAEL_SHAPE and SHARED_DEM.is_file():
        from lst_lightning.data.io.rasters import read_dem

        return SHARED_DEM, read_dem(SHARED_DEM)[1], "israel_dem_1km.tif"
    from lst_lightning.data.io.writers import write_geotiff

    grid = Grid.from_corner(34.2, 33.3, 0.0083, 0.0083, tuple(shape))
    write_geotiff(tmp / "dem.tif", grid, synthetic_dem(tuple(shape)))
    return tmp / "dem.tif", grid, "synthetic"


def write_lst_year(lst_dir: Path, grid, year: int, days: int, seed: int) -> None:
    """One yearly NetCDF (``LST_<year>_NetCDF.nc``) of ``days`` dates on ``grid``: night and day
    frames, their mean as the daily band, every pixel observed (QA 3)."""
    from lst_lightning.data.io.writers import write_lst_netcdf

    frames = synthetic_frames(2 * days, grid.shape, seed=seed)
    data = np.zeros((days, 4, *grid.shape), dtype=np.uint16)
    data[:, 0], data[:, 1] = frames[0::2], frames[1::2]
    data[:, 2] = (frames[0::2].astype(np.uint32) + frames[1::2]) // 2
    data[:, 3] = 3
    del frames  # full_scale: one year of Israel-sized frames is ~0.7 GB; keep only the packed copy
    write_lst_netcdf(lst_dir / f"LST_{year}_NetCDF.nc", grid, np.arange(1, days + 1), data)


def bench_cache(tmp: Path, day_step: int, shape: tuple[int, int]):
    """A synthetic archive of ``shape`` (Israel-sized: the real DEM when present), prepared: the
    real pipeline's input."""
    from lst_lightning.data.cache import prepare_cache
    from lst_lightning.data.synthetic import ISRAEL_SHAPE, generate_archive

    dem = SHARED_DEM if tuple(shape) == ISRAEL_SHAPE and SHARED_DEM.is_file() else None
    generate_archive(tmp / "arch", years=(2020,), day_step=day_step, dem=dem, shape=shape, seed=0, progress=False)
    return prepare_cache(tmp / "arch" / "lst", dem=tmp / "arch" / "dem.tif", ndvi=tmp / "arch" / "ndvi.tif",
                         cache_root=tmp / "cache", progress=False, quiet=True)


def bench_datamodule(cache, batch_size: int, batches: int, groups: tuple[str, ...] | None = None,
                     prefetch: int = 0):
    """The training datamodule over ``cache`` (``groups``, default the original inputs; space_days
    split), set up, with ``batches`` batches of ``batch_size`` per epoch (``prefetch`` made ahead)."""
    from lst_lightning.data.loading.datamodule import LSTDataModule
    from lst_lightning.data.loading.gatherer import layout_for
    from lst_lightning.features import FeatureLayout

    layout = FeatureLayout(k=cache.k, meta=cache.meta) if groups is None else layout_for(cache, groups)
    dm = LSTDataModule(cache, layout, {"kind": "space_days"}, batch_size=batch_size,
                       samples_per_epoch=batch_size * batches, eval_samples=10_000, scaler_samples=20_000,
                       prefetch=prefetch)
    dm.setup()
    return dm


def resident_datamodule(cache, batch_size: int, batches: int, device):
    """``bench_datamodule`` with data.loader.device_resident on: the cache arrays on ``device``."""
    dm = bench_datamodule(cache, batch_size, batches)
    dm.device_resident = True
    dm._device_gatherer = dm.gatherer.on(device)
    return dm
