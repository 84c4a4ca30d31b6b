"""Small random inputs written in code: grids, LST frames, DEMs and NetCDF archives."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.writers import write_geotiff, write_lst_netcdf


def make_grid(h: int, w: int, dlat: float = 0.01) -> Grid:
    return Grid.from_corner(34.0, 33.0, 0.01, dlat, (h, w))


def random_raw(rng, shape, missing: float = 0.02) -> np.ndarray:
    """uint16 LST in 0.02 K (about 260-320 K), 0 = missing."""
    raw = rng.integers(13000, 16000, size=shape).astype(np.uint16)
    raw[rng.random(shape) < missing] = 0
    return raw


def make_dates(rng, n_dates: int, h: int, w: int, missing: float = 0.02) -> np.ndarray:
    """(dates, 4, H, W): night, day, daily mean, QA (a band is never observed where it is missing)."""
    data = np.zeros((n_dates, 4, h, w), dtype=np.uint16)
    data[:, :2] = random_raw(rng, (n_dates, 2, h, w), missing)
    data[:, 2] = (data[:, 0].astype(np.int64) + data[:, 1]) // 2
    data[:, 3] = rng.integers(0, 4, size=(n_dates, h, w))
    data[:, 3] &= ~(np.where(data[:, 0] == 0, 1, 0) | np.where(data[:, 1] == 0, 2, 0)).astype(np.uint16)
    return data


def make_dem(rng, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (300 + 200 * np.sin(yy / 7.0) * np.cos(xx / 5.0) + rng.normal(0, 20, (h, w))).astype(np.float32)


def write_archive(root: Path, grid: Grid, years: dict[int, tuple[list[int], np.ndarray]],
                  dem: np.ndarray) -> tuple[Path, Path]:
    """lst/LST_<year>_NetCDF.nc for each year + dem.tif; returns (lst_dir, dem_path)."""
    lst_dir = root / "lst"
    for year, (doys, data) in years.items():
        write_lst_netcdf(lst_dir / f"LST_{year}_NetCDF.nc", grid, np.asarray(doys), data)
    dem_path = root / "dem.tif"
    write_geotiff(dem_path, grid, dem, nodata=-9999.0)
    return lst_dir, dem_path


def write_random_archive(root: Path, shape=(60, 45), n_days=20, seed=0, day_step=3) -> dict:
    """A small archive of random LST (no physics) in the NetCDF form: fast plumbing fixtures."""
    from lst_lightning.data.io.grid import Grid
    from lst_lightning.data.io.writers import write_geotiff, write_lst_netcdf

    rng = np.random.default_rng(seed)
    grid = Grid.from_corner(34.0, 33.0, 0.0083, 0.0083, shape)
    data = rng.integers(14_000, 16_000, size=(n_days, 4, *shape)).astype(np.uint16)
    data[:, 3] = rng.integers(0, 4, size=(n_days, *shape))
    data[:, :, :, :4] = 0  # a strip of "sea": no LST, nothing observed
    doys = np.arange(1, 1 + n_days * day_step, day_step)
    write_lst_netcdf(root / "lst" / "LST_2020_NetCDF.nc", grid, doys, data)
    dem = rng.integers(-100, 1000, size=shape).astype(np.int16)
    write_geotiff(root / "dem.tif", grid, dem)
    return {"lst_dir": root / "lst", "dem": root / "dem.tif", "grid": grid, "data": data, "dem_array": dem}


def frames_meta(n_dates: int, start=dt.date(2020, 1, 1), step=1, empty=()):
    out = []
    for i in range(n_dates):
        d = (start + dt.timedelta(days=i * step)).isoformat()
        for band in ("night", "day"):
            out.append({"date": d, "band": band, "hour": 1.5 if band == "night" else 13.5,
                        "n_windows": 0 if (i, band) in empty else 100})
    return out


def windows_overlap(mask_a: np.ndarray, mask_b: np.ndarray, k: int) -> bool:
    """Brute force: is any window of an A-sample overlapping a window of a B-sample?"""
    ra, ca = np.nonzero(mask_a)
    rb, cb = np.nonzero(mask_b)
    if ra.size == 0 or rb.size == 0:
        return False
    dr = np.abs(ra[:, None] - rb[None, :])
    dc = np.abs(ca[:, None] - cb[None, :])
    return bool(np.any((dr < k) & (dc < k)))


SITES = {"north": ((60, 50), 0), "south": ((50, 64), 1), "east": ((56, 48), 2)}  # grid, seed


def write_sites(root: Path) -> dict[str, Path]:
    """Three small synthetic archives of different grids and seeds (data=multi fixtures); the first
    also gets a land-cover raster."""
    from lst_lightning.data.io.rasters import read_dem
    from lst_lightning.data.synthetic import generate_archive

    out = {}
    for name, (shape, seed) in SITES.items():
        generate_archive(root / name, shape=shape, seed=seed, day_step=30, noise_k=0.1, hidden_k=0.0, progress=False)
        out[name] = root / name
    dem, grid = read_dem(root / "north" / "dem.tif")
    write_geotiff(root / "north" / "landcover.tif", grid, (np.nan_to_num(dem) > 300).astype(np.uint8))
    return out


def archives_override(archives: dict[str, Path], **extra: str) -> str:
    """The ``data.archives={...}`` override of these archives (``extra``: more keys per archive)."""
    items = [f"{n}:{{lst_dir:{p}/lst,dem:{p}/dem.tif,ndvi:{p}/ndvi.tif{extra.get(n, '')}}}"
             for n, p in archives.items()]
    return "data.archives={" + ",".join(items) + "}"
