"""Readers for the real input formats -> aligned numpy arrays, a Grid and a frame list (no torch).

* yearly NetCDF (``LST_2020_NetCDF.nc``): ``__xarray_dataarray_variable__`` (time, band, y, x),
  bands night/day/daily/QA, 0.02 K integers with fill values, or NaN, or decoded Kelvin floats;
  ``time`` is the day of year (gaps allowed).
* daily GeoTIFF (the public Zenodo form): one file per day, 4 bands, int16 scaled by 0.02.
* DEM and covariate GeoTIFFs (ModelPixelScale/ModelTiepoint georeference) on the LST grid.

Every problem with a file raises LSTError naming the file and what is wrong.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from lst_lightning.data.formats import FRAME_BANDS, LST_SCALE, OVERPASS_HOUR, PLAUSIBLE_K, kelvin_to_raw
from lst_lightning.errors import LSTError
from lst_lightning.grid import Grid

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")
GEOTIFF_SUFFIXES = (".tif", ".tiff")
NETCDF_VARIABLE = "__xarray_dataarray_variable__"
BLOCK_DAYS = 8  # dates read per NetCDF slice: bounded memory, few reads


@dataclass(frozen=True)
class Frame:
    """One (date, band) image; ``hour`` is the overpass time of day (local solar hours)."""

    date: dt.date
    band: str
    hour: float

    @property
    def doy(self) -> int:
        return self.date.timetuple().tm_yday

    def to_json(self) -> dict:
        return {"date": self.date.isoformat(), "band": self.band, "hour": self.hour, "doy": self.doy}

    @classmethod
    def from_json(cls, data: dict) -> "Frame":
        return cls(dt.date.fromisoformat(data["date"]), data["band"], float(data["hour"]))

    def label(self) -> str:
        return f"{self.date.isoformat()} {self.band}"


@dataclass
class _Source:
    """One input file and the dates it holds."""

    path: Path
    dates: list[dt.date]
    time_index: list[int] = field(default_factory=list)  # NetCDF only
    flip: bool = False  # NetCDF stored south-up: flipped to north-up when read


@dataclass
class LSTArchive:
    """An archive opened lazily: metadata now, pixel data block by block in ``iter_blocks``."""

    root: Path
    kind: str  # "netcdf" | "geotiff"
    grid: Grid
    sources: list[_Source]
    hours: dict[str, float]

    @property
    def files(self) -> list[Path]:
        return [s.path for s in self.sources]

    @property
    def frames(self) -> list[Frame]:
        return [Frame(d, band, self.hours[band]) for s in self.sources for d in s.dates for band in FRAME_BANDS]

    def iter_blocks(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield (first frame index, lst uint16 [n,H,W] in 0.02 K with 0 = missing, qa uint8 [n,H,W])
        in frame order. Frames are night then day of each date."""
        start = 0
        for source in self.sources:
            reader = _netcdf_blocks if self.kind == "netcdf" else _geotiff_blocks
            for lst, qa in reader(source, self.grid):
                yield start, lst, qa
                start += lst.shape[0]


def open_archive(path: str | Path, hours: dict[str, float] | None = None) -> LSTArchive:
    """Open a directory of yearly NetCDFs or daily GeoTIFFs (not both)."""
    root = Path(path)
    if not root.is_dir():
        raise LSTError(f"LST archive directory {root} does not exist")
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    nc = [p for p in files if p.suffix.lower() in NETCDF_SUFFIXES]
    tif = [p for p in files if p.suffix.lower() in GEOTIFF_SUFFIXES]
    if not nc and not tif:
        raise LSTError(f"LST archive directory {root} holds no NetCDF (.nc) or GeoTIFF (.tif) files")
    if nc and tif:
        raise LSTError(f"LST archive directory {root} mixes NetCDF and GeoTIFF files; keep one form per directory")
    hours = {**OVERPASS_HOUR, **(hours or {})}
    if nc:
        sources, grid = _scan_netcdf(nc)
        kind = "netcdf"
    else:
        sources, grid = _scan_geotiff(tif)
        kind = "geotiff"
    return LSTArchive(root=root, kind=kind, grid=grid, sources=sources, hours=hours)


# ---------------------------------------------------------------- NetCDF

def _open_netcdf(path: Path):
    import netCDF4

    try:
        return netCDF4.Dataset(path, "r")
    except Exception as err:  # corrupt, truncated or not NetCDF at all
        raise LSTError(f"cannot read NetCDF file {path}: {err}") from None


def _lst_variable(ds, path: Path):
    if NETCDF_VARIABLE in ds.variables:
        var = ds.variables[NETCDF_VARIABLE]
    else:
        four_d = [v for v in ds.variables.values() if v.ndim == 4]
        if len(four_d) != 1:
            raise LSTError(f"{path}: no variable {NETCDF_VARIABLE!r} (time, band, y, x); "
                           f"variables are {sorted(ds.variables)}")
        var = four_d[0]
    if var.ndim != 4 or var.shape[1] != 4:
        raise LSTError(f"{path}: variable {var.name!r} has dimensions {var.dimensions} {var.shape}; "
                       "expected (time, band=4, y, x) with bands night, day, daily, QA")
    return var


def _coord(ds, names: tuple[str, ...], path: Path, what: str) -> np.ndarray:
    for name in names:
        if name in ds.variables:
            return np.asarray(ds.variables[name][:], dtype=np.float64)
    raise LSTError(f"{path}: no {what} coordinate (looked for {', '.join(names)})")


def _year_of(path: Path, ds) -> int:
    match = re.search(r"(19|20)\d{2}", path.stem)
    if match:
        return int(match.group(0))
    units = getattr(ds.variables.get("time"), "units", "")
    match = re.search(r"since\s+(\d{4})", units)
    if match:
        return int(match.group(1))
    raise LSTError(f"{path}: cannot tell the year (no YYYY in the file name, no 'days since YYYY' time units)")


def _dates_of(ds, var, path: Path, year: int) -> list[dt.date]:
    time_name = var.dimensions[0]
    if time_name not in ds.variables:
        raise LSTError(f"{path}: no '{time_name}' coordinate with the day of year")
    doy = np.asarray(ds.variables[time_name][:]).astype(np.int64)
    if doy.size and doy.min() == 0:  # tolerate 0-based day numbers
        doy = doy + 1
    ndays = 366 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365
    if doy.size and (doy.min() < 1 or doy.max() > ndays):
        raise LSTError(f"{path}: time values {doy.min()}..{doy.max()} are not days of year 1..{ndays}")
    if len(set(doy.tolist())) != len(doy):
        raise LSTError(f"{path}: repeated days of year in 'time'")
    return [dt.date(year, 1, 1) + dt.timedelta(days=int(d) - 1) for d in doy]


def _scan_netcdf(paths: list[Path]) -> tuple[list[_Source], Grid]:
    sources, grid, years = [], None, {}
    for path in paths:
        with _open_netcdf(path) as ds:
            var = _lst_variable(ds, path)
            lat = _coord(ds, (var.dimensions[2], "y", "lat", "latitude"), path, "latitude (y)")
            lon = _coord(ds, (var.dimensions[3], "x", "lon", "longitude"), path, "longitude (x)")
            if var.shape[2:] != (lat.size, lon.size):
                raise LSTError(f"{path}: data shape {var.shape[2:]} does not match y/x coordinates "
                               f"({lat.size}, {lon.size})")
            flip = lat.size > 1 and lat[0] < lat[-1]
            file_grid = Grid(lat=lat[::-1].copy() if flip else lat, lon=lon)
            year = _year_of(path, ds)
            if year in years:
                raise LSTError(f"duplicate year {year}: {years[year]} and {path}")
            years[year] = path
            dates = _dates_of(ds, var, path, year)
        if grid is None:
            grid = file_grid
        else:
            grid.require_match(file_grid, str(path), reference=f"the grid of {paths[0].name}")
        order = np.argsort(dates, kind="stable")
        sources.append(_Source(path, [dates[i] for i in order], [int(i) for i in order], flip))
    sources.sort(key=lambda s: s.dates[0] if s.dates else dt.date.min)
    return sources, grid


def _netcdf_blocks(source: _Source, grid: Grid) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    with _open_netcdf(source.path) as ds:
        var = _lst_variable(ds, source.path)
        var.set_auto_maskandscale(False)
        attrs = {k: var.getncattr(k) for k in var.ncattrs()}
        idx = source.time_index
        for i in range(0, len(idx), BLOCK_DAYS):
            take = idx[i:i + BLOCK_DAYS]
            try:
                block = np.asarray(var[min(take):max(take) + 1])[np.asarray(take) - min(take)]
            except Exception as err:
                raise LSTError(f"cannot read NetCDF file {source.path}: {err}") from None
            if source.flip:
                block = block[:, :, ::-1]
            yield _decode_block(block, attrs, source.path)


def _missing_mask(values: np.ndarray, attrs: dict) -> np.ndarray:
    missing = np.zeros(values.shape, dtype=bool)
    if values.dtype.kind == "f":
        missing |= ~np.isfinite(values)
    declared = [attrs[k] for k in ("_FillValue", "missing_value") if k in attrs]
    for fill in declared:
        for f in np.atleast_1d(fill):
            missing |= values == f
    if values.dtype.kind in "iu" and not declared:
        info = np.iinfo(values.dtype)
        missing |= (values == 0) | (values == info.max) | (values == info.min)
    return missing


def _to_kelvin(values: np.ndarray, attrs: dict) -> np.ndarray:
    scale = float(attrs.get("scale_factor", 0) or 0)
    offset = float(attrs.get("add_offset", 0) or 0)
    x = values.astype(np.float64)
    if scale:
        return x * scale + offset
    if values.dtype.kind == "f":
        finite = x[np.isfinite(x)]
        if finite.size and np.median(finite) < 1000:  # already Kelvin
            return x
    return x * LST_SCALE


def _decode_block(block: np.ndarray, attrs: dict, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(dates, 4 bands, y, x) as stored -> (frames, y, x) raw uint16 LST and per-frame QA."""
    lst_vals = block[:, :2]  # night, day
    missing = _missing_mask(lst_vals, attrs)
    kelvin = _to_kelvin(lst_vals, attrs)
    kelvin[missing] = np.nan
    _check_plausible(kelvin, path)
    lst = kelvin_to_raw(kelvin)
    qa = _decode_qa(block[:, 3], attrs, path)
    n, _, h, w = lst.shape
    # frames are (date, band) with night before day; QA is per date, shared by both frames
    return lst.reshape(n * 2, h, w), np.repeat(qa, 2, axis=0)


def _check_plausible(kelvin: np.ndarray, path: Path) -> None:
    lo, hi = PLAUSIBLE_K
    bad = np.isfinite(kelvin) & ((kelvin < lo) | (kelvin > hi))
    if bad.any():
        example = float(kelvin[bad].flat[0])
        raise LSTError(f"{path}: {int(bad.sum())} LST values outside the plausible {lo:.0f}-{hi:.0f} K range "
                       f"(e.g. {example:.2f} K); check the units / scale factor")


def _decode_qa(values: np.ndarray, attrs: dict, path: Path) -> np.ndarray:
    qa = values.astype(np.float64)
    qa[~np.isfinite(qa)] = 0
    for k in ("_FillValue", "missing_value"):
        if k in attrs:
            for f in np.atleast_1d(attrs[k]):
                qa[values == f] = 0  # a masked QA pixel carries no observation
    if np.any((qa < 0) | (qa > 3) | (qa != np.round(qa))):
        raise LSTError(f"{path}: QA band holds values other than the codes 0-3")
    return qa.astype(np.uint8)


# ---------------------------------------------------------------- GeoTIFF

DATE_PATTERNS = (
    (re.compile(r"(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)"), "ymd"),
    (re.compile(r"(\d{4})[-_.](\d{3})(?!\d)"), "yj"),
)


def _date_from_name(path: Path) -> dt.date:
    for pattern, kind in DATE_PATTERNS:
        for match in pattern.finditer(path.stem):
            try:
                if kind == "ymd":
                    return dt.date(*(int(g) for g in match.groups()))
                year, doy = (int(g) for g in match.groups())
                return dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)
            except ValueError:
                continue
    raise LSTError(f"{path}: cannot tell the date from the file name (expected YYYY_MM_DD, YYYYMMDD or YYYY_DDD)")


def read_geotiff(path: str | Path, what: str = "GeoTIFF") -> tuple[np.ndarray, Grid, float | None]:
    """(bands, y, x) array as stored, its Grid, and the GDAL nodata value if any."""
    import tifffile

    path = Path(path)
    if not path.is_file():
        raise LSTError(f"{what} file {path} does not exist")
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            tags = page.tags
            if "ModelPixelScaleTag" not in tags or "ModelTiepointTag" not in tags:
                raise LSTError(f"{what} {path} has no georeference (ModelPixelScale/ModelTiepoint tags)")
            scale = tags["ModelPixelScaleTag"].value
            tie = tags["ModelTiepointTag"].value
            nodata_tag = tags.get("GDAL_NODATA")
            nodata = float(nodata_tag.value.strip("\x00 ")) if nodata_tag is not None else None
            array = tif.asarray()
            planar_contig = page.planarconfig == 1 and page.samplesperpixel > 1
    except LSTError:
        raise
    except Exception as err:
        raise LSTError(f"cannot read {what} {path}: {err}") from None
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3 and planar_contig:
        array = np.moveaxis(array, -1, 0)
    if array.ndim != 3:
        raise LSTError(f"{what} {path} has shape {array.shape}; expected (y, x) or (bands, y, x)")
    i, j, west, north = tie[0], tie[1], tie[3], tie[4]
    dlon, dlat = scale[0], scale[1]
    grid = Grid.from_corner(west - i * dlon, north + j * dlat, dlon, dlat, array.shape[1:])
    return array, grid, nodata


def _scan_geotiff(paths: list[Path]) -> tuple[list[_Source], Grid]:
    import tifffile

    seen: dict[dt.date, Path] = {}
    grid = None
    for path in paths:
        date = _date_from_name(path)
        if date in seen:
            raise LSTError(f"duplicate date {date}: {seen[date]} and {path}")
        seen[date] = path
        if grid is None:
            _, grid, _ = read_geotiff(path, "LST GeoTIFF")
        else:
            try:
                with tifffile.TiffFile(path) as tif:
                    shape = tif.pages[0].shape
            except Exception as err:
                raise LSTError(f"cannot read LST GeoTIFF {path}: {err}") from None
            if tuple(shape[-2:]) != grid.shape and tuple(shape[:2]) != grid.shape:
                raise LSTError(f"{path}: shape {shape} differs from the archive grid ({grid.describe()})")
    return [_Source(seen[d], [d]) for d in sorted(seen)], grid


def _geotiff_blocks(source: _Source, grid: Grid) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    array, file_grid, nodata = read_geotiff(source.path, "LST GeoTIFF")
    grid.require_match(file_grid, f"LST GeoTIFF {source.path}", reference="the archive grid")
    if array.shape[0] != 4:
        raise LSTError(f"LST GeoTIFF {source.path} has {array.shape[0]} bands; expected 4 (night, day, daily, QA)")
    attrs = {"scale_factor": LST_SCALE}
    if nodata is not None:
        attrs["_FillValue"] = nodata
    yield _decode_block(array[None], attrs, source.path)


# ---------------------------------------------------------------- DEM and covariates

def read_dem(path: str | Path, grid: Grid | None = None) -> tuple[np.ndarray, Grid]:
    """DEM in metres as float32 (NaN = nodata) and its grid; must match ``grid`` when given."""
    array, dem_grid, nodata = read_geotiff(path, "DEM")
    if array.shape[0] != 1:
        raise LSTError(f"DEM {path} has {array.shape[0]} bands; expected 1")
    dem = array[0].astype(np.float32)
    if nodata is not None:
        dem[array[0] == nodata] = np.nan
    if grid is not None:
        grid.require_match(dem_grid, f"DEM {path}")
    return dem, dem_grid


def read_raster(path: str | Path, grid: Grid, what: str) -> np.ndarray:
    """A covariate raster on the LST grid as float32 (bands, y, x), NaN = nodata.
    One band = static; 12 bands = monthly climatology (January first)."""
    array, raster_grid, nodata = read_geotiff(path, what)
    grid.require_match(raster_grid, f"{what} {path}")
    if array.shape[0] not in (1, 12):
        raise LSTError(f"{what} {path} has {array.shape[0]} bands; expected 1 (static) or 12 (monthly)")
    out = array.astype(np.float32)
    if nodata is not None:
        out[array == nodata] = np.nan
    return out
