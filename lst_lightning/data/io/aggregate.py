"""An archive one scale up: every f x f block of pixels becomes one pixel, written in the real
formats, so that a model can be trained there and checked against the real pixels below.

Only complete blocks count (the grid is cut to whole blocks from its north-west corner): a coarse
LST is the mean of its f*f pixels when all of them hold a value (else missing), observed (QA) only
when all of them were observed; the DEM and covariates are block means (void if any pixel is void);
land cover takes the block's most frequent class (ties: the smallest code).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from lst_lightning.data.io.archive import open_archive
from lst_lightning.data.io.formats import FRAME_BANDS, QA_OBSERVED, qa_code
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.rasters import read_dem, read_landcover, read_raster
from lst_lightning.data.io.writers import write_geotiff, write_lst_netcdf
from lst_lightning.errors import LSTError

LANDCOVER_NODATA = -1


def coarse_grid(grid: Grid, f: int) -> Grid:
    """The grid of whole f x f blocks, from the north-west corner."""
    h, w = grid.shape[0] // f, grid.shape[1] // f
    if min(h, w) < 1:
        raise LSTError(f"factor {f}: the grid ({grid.describe()}) holds no complete {f} x {f} block")
    return Grid.from_corner(grid.west, grid.north, grid.dlon * f, grid.dlat * f, (h, w))


def _blocks(values: np.ndarray, f: int) -> np.ndarray:
    """[..., H, W] -> [..., H//f, W//f, f*f] (the grid cut to whole blocks)."""
    h, w = values.shape[-2] // f, values.shape[-1] // f
    cut = values[..., :h * f, :w * f].reshape(*values.shape[:-2], h, f, w, f)
    return np.moveaxis(cut, -3, -2).reshape(*values.shape[:-2], h, w, f * f)


def block_mean(values: np.ndarray, f: int) -> np.ndarray:
    """float64 block means of float values (NaN = void); NaN where any pixel of a block is void."""
    return _blocks(np.asarray(values, dtype=np.float64), f).mean(axis=-1)


def block_mean_raw(raw: np.ndarray, f: int) -> np.ndarray:
    """Block means of raw LST (uint16, 0 = missing), rounded to the raw unit; 0 unless all f*f are valid."""
    blocks = _blocks(raw, f)
    full = (blocks > 0).all(axis=-1)
    mean = np.rint(blocks.astype(np.float64).mean(axis=-1))
    return np.where(full, mean, 0).astype(np.uint16)


def block_qa(qa: np.ndarray, f: int) -> np.ndarray:
    """QA codes of the blocks: a band counts as observed only where all f*f pixels were."""
    blocks = np.clip(_blocks(qa, f), 0, 3)
    day, night = (QA_OBSERVED[b][blocks].all(axis=-1) for b in ("day", "night"))
    return qa_code(day, night)


def block_mode(codes: np.ndarray, f: int) -> np.ndarray:
    """The most frequent class code (>= 0) of each block; LANDCOVER_NODATA where all are nodata."""
    blocks = _blocks(codes, f)
    out = np.full(blocks.shape[:-1], LANDCOVER_NODATA, dtype=np.int32)
    for idx in np.ndindex(*blocks.shape[:-1]):
        valid = blocks[idx][blocks[idx] >= 0]
        if valid.size:
            values, counts = np.unique(valid, return_counts=True)
            out[idx] = values[np.argmax(counts)]
    return out


def aggregate_archive(lst_dir: str | Path, dem: str | Path, out: str | Path, f: int, hours=None,
                      ndvi: str | Path | None = None, landcover: str | Path | None = None) -> dict[str, Path]:
    """Write the archive aggregated by ``f`` under ``out`` (``lst/LST_<year>_NetCDF.nc``, ``dem.tif``,
    ``ndvi.tif``, ``landcover.tif``); returns the paths, keyed like the data config."""
    if isinstance(f, bool) or int(f) != f or f < 2:
        raise LSTError(f"factor must be an integer >= 2, got {f!r}")
    f, out = int(f), Path(out)
    archive = open_archive(lst_dir, hours=hours, exclude=[p for p in (dem, ndvi, landcover) if p])
    grid = archive.grid
    coarse = coarse_grid(grid, f)  # checked before anything is written
    dem_array, _ = read_dem(dem, grid)
    paths = {"lst_dir": out / "lst", "dem": out / "dem.tif"}
    write_geotiff(paths["dem"], coarse, block_mean(dem_array, f).astype(np.float32), nodata=float("nan"))
    if ndvi:
        paths["ndvi"] = out / "ndvi.tif"
        write_geotiff(paths["ndvi"], coarse, block_mean(read_raster(ndvi, grid, "NDVI"), f).astype(np.float32),
                      nodata=float("nan"))
    if landcover:
        paths["landcover"] = out / "landcover.tif"
        write_geotiff(paths["landcover"], coarse, block_mode(read_landcover(landcover, grid), f).astype(np.int16),
                      nodata=LANDCOVER_NODATA)
    write_aggregated_lst(archive, f, paths["lst_dir"])
    return paths


def write_aggregated_lst(archive, f: int, lst_dir: Path) -> None:
    """The opened ``archive`` aggregated by f into ``lst_dir``: one NetCDF per year in the original
    layout (night, day, daily mean, QA of every date)."""
    coarse = coarse_grid(archive.grid, f)
    frames = archive.frames
    years: dict[int, dict[dt.date, np.ndarray]] = {}
    for start, raw, qa in archive.iter_blocks():
        for i in range(raw.shape[0]):
            frame = frames[start + i]
            record = years.setdefault(frame.date.year, {}).setdefault(
                frame.date, np.zeros((4, *coarse.shape), np.uint16))
            record[FRAME_BANDS.index(frame.band)] = block_mean_raw(raw[i], f)
            record[3] = block_qa(qa[i], f)  # the date's QA, the same in both of its frames
    for year, records in years.items():
        dates = sorted(records)
        data = np.stack([records[d] for d in dates])
        both = (data[:, 0] > 0) & (data[:, 1] > 0)
        data[:, 2] = np.where(both, (data[:, 0].astype(np.uint32) + data[:, 1]) // 2, 0)
        write_lst_netcdf(lst_dir / f"LST_{year}_NetCDF.nc", coarse, np.array([d.timetuple().tm_yday for d in dates]),
                         data)
