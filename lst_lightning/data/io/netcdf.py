"""The yearly NetCDF form (``LST_2020_NetCDF.nc``): scanning files for their grid and dates
without reading pixels, then reading the pixels a few dates at a time.

The data variable is ``__xarray_dataarray_variable__`` (time, band, y, x) with bands night, day,
daily, QA (a lone 4-D variable under another name is accepted too); values are 0.02 K integers
with fill values, or NaN, or decoded Kelvin floats (see decode.py). ``time`` is the day of year
(gaps allowed) or CF "days since YYYY-MM-DD" values; one year per file.
South-up or east-to-west files are flipped to the north-up, west-to-east grid when read.

Day-of-year numbering (``data.time_base``, ``check_time_base``): 1 = 1-based (1 January is day 1,
the MODIS convention), 0 = 0-based (1 January is day 0); a value outside the year under the base
is an error. ``auto`` (the default) reads a file as 0-based when it holds a day 0 and as 1-based
otherwise: a 0-based file without 1 January cannot be told from a 1-based one, and would be read
one day late, so auto warns when the files of one archive come out on different bases; set the
base when the producer's convention is known. CF "days since" units carry their own origin and
ignore the setting.
"""
from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import netCDF4
import numpy as np

from lst_lightning.data.io.decode import decode_block
from lst_lightning.data.io.formats import NETCDF_VARIABLE
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.netcdf_classic import check_not_truncated
from lst_lightning.errors import LSTError, one_line

log = logging.getLogger(__name__)

SUFFIXES = (".nc", ".nc4", ".netcdf")
BLOCK_DAYS = 8  # dates read per NetCDF slice: bounded memory, few reads
GRID_SPACING_TOLERANCE = 0.1  # coordinate steps may deviate this fraction of a pixel (float32 jitter)
TIME_BASES = ("auto", 0, 1)  # data.time_base: infer, or the number of 1 January


@dataclass
class NetCDFSource:
    """One yearly NetCDF and the dates it holds, in date order."""

    path: Path
    dates: list[dt.date]
    time_index: list[int]  # the time step of each date in the file
    flip: bool  # stored south-up: flipped to north-up when read
    flip_x: bool  # stored east-to-west: flipped to west-to-east when read
    year: int
    day_base: int | None = None  # the day number of 1 January in ``time`` (None: CF units)

    def blocks(self, grid: Grid) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(lst, qa) of up to BLOCK_DAYS dates at a time, as ``decode_block`` returns them."""
        try:
            check_not_truncated(self.path)
        except OSError as err:
            raise LSTError(f"cannot read NetCDF file {self.path}: {one_line(err)}") from None
        ds = _open(self.path)
        try:
            var, attrs = _raw_variable(ds, self.path, grid)
            idx = self.time_index
            for i in range(0, len(idx), BLOCK_DAYS):
                block = self._read_steps(var, idx[i:i + BLOCK_DAYS])
                yield decode_block(block, attrs, self.path)
        finally:
            try:
                ds.close()
            except Exception:  # noqa: BLE001 - closing a broken file must not hide the real error
                pass

    def _read_steps(self, var, take: list[int]) -> np.ndarray:
        # one contiguous slice, then the wanted steps: far fewer reads than one per step
        try:
            block = np.asarray(var[min(take):max(take) + 1])[np.asarray(take) - min(take)]
        except Exception as err:  # noqa: BLE001 - damaged compressed chunks, HDF errors
            raise LSTError(f"cannot read NetCDF file {self.path}: {one_line(err)}") from None
        if self.flip:
            block = block[:, :, ::-1]
        if self.flip_x:
            block = block[:, :, :, ::-1]
        return block


def check_time_base(value) -> str | int:
    """``data.time_base`` as "auto", 0 or 1 (the strings "0" and "1" of a command line too)."""
    if isinstance(value, str) and value.strip() in ("0", "1"):
        value = int(value)
    if isinstance(value, bool) or value not in TIME_BASES:
        raise LSTError(f"data.time_base must be auto, 0 or 1 (the day number of 1 January), got {value!r}")
    return value if value == "auto" else int(value)


def scan_netcdf(paths: list[Path], time_base: str | int = "auto") -> tuple[list[NetCDFSource], Grid]:
    """The sources (sorted by year, one file per year) and the grid all files share;
    ``time_base``: see the module's docstring."""
    time_base = check_time_base(time_base)
    sources, grid, years = [], None, {}
    for path in paths:
        try:
            source, file_grid = _scan_one(path, time_base)
        except LSTError:
            raise
        except Exception as err:  # noqa: BLE001 - truncated metadata, HDF errors, odd attribute types
            raise LSTError(f"cannot read NetCDF file {path}: {one_line(err)}") from None
        if source.year in years:
            raise LSTError(f"duplicate year {source.year}: {years[source.year]} and {path} "
                           "(keep one file per year)")
        years[source.year] = path
        if grid is None:
            grid = file_grid
        else:
            grid.require_match(file_grid, str(path), reference=f"the grid of {paths[0].name}")
        sources.append(source)
    sources.sort(key=lambda s: s.year)
    if time_base == "auto":
        _warn_mixed_bases(sources)
    return sources, grid


def _warn_mixed_bases(sources: list[NetCDFSource]) -> None:
    """Auto read some files as 0-based (they hold a day 0) and others as 1-based: the latter may
    be 0-based files without 1 January, read one day late."""
    zero = [s.path.name for s in sources if s.day_base == 0]
    one = [s.path.name for s in sources if s.day_base == 1]
    if zero and one:
        log.warning(f"warning: data.time_base=auto read {_names(zero)} as 0-based (they hold a day 0) "
                    f"but {_names(one)} as 1-based; if the producer numbers days from 0, set "
                    "data.time_base=0 (else 1)")


def _names(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _scan_one(path: Path, time_base: str | int = "auto") -> tuple[NetCDFSource, Grid]:
    check_not_truncated(path)
    with _open(path) as ds:
        var = _lst_variable(ds, path)
        lat = _coord(ds, (var.dimensions[2], "y", "lat", "latitude"), path, "latitude (y)")
        lon = _coord(ds, (var.dimensions[3], "x", "lon", "longitude"), path, "longitude (x)")
        if var.shape[2:] != (lat.size, lon.size):
            raise LSTError(f"{path}: data shape {var.shape[2:]} does not match y/x coordinates "
                           f"({lat.size}, {lon.size})")
        flip = not _check_axis(lat, path, "latitude (y)")  # north-up means decreasing latitude
        flip_x = _check_axis(lon, path, "longitude (x)")
        if np.any(np.abs(lat) > 90):
            raise LSTError(f"{path}: latitude values outside -90..90; are y/x swapped?")
        file_grid = Grid(lat=lat[::-1].copy() if flip else lat, lon=lon[::-1].copy() if flip_x else lon)
        year, dates, base = _dates_of(ds, var, path, time_base)
    order = sorted(range(len(dates)), key=dates.__getitem__)
    return NetCDFSource(path, [dates[i] for i in order], order, flip, flip_x, year, base), file_grid


def _open(path: Path):
    try:
        return netCDF4.Dataset(path, "r")
    except Exception as err:  # noqa: BLE001 - corrupt, truncated or not NetCDF at all
        raise LSTError(f"cannot read NetCDF file {path}: {one_line(err)}") from None


def _raw_variable(ds, path: Path, grid: Grid) -> tuple[object, dict]:
    """The LST variable without netCDF4's masking and scaling (decode.py judges fills and scales
    the same way for both forms), its attributes; checked against the grid scanned at open."""
    try:
        var = _lst_variable(ds, path)
        var.set_auto_maskandscale(False)
        attrs = {k: var.getncattr(k) for k in var.ncattrs()}
        if var.shape[2:] != grid.shape:
            raise LSTError(f"{path}: data shape {var.shape[2:]} changed since the archive was "
                           f"opened (grid {grid.describe()})")
    except LSTError:
        raise
    except Exception as err:  # noqa: BLE001 - HDF errors, odd attribute types
        raise LSTError(f"cannot read NetCDF file {path}: {one_line(err)}") from None
    return var, attrs


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
    dims = [d.lower() for d in var.dimensions]
    if "band" in dims and dims.index("band") != 1:
        raise LSTError(f"{path}: variable {var.name!r} has dimensions {var.dimensions}; "
                       "expected the order (time, band, y, x)")
    if var.dtype.kind not in "iuf":
        raise LSTError(f"{path}: variable {var.name!r} has non-numeric type {var.dtype}")
    return var


def _coord(ds, names: tuple[str, ...], path: Path, what: str) -> np.ndarray:
    for name in names:
        if name in ds.variables:
            var = ds.variables[name]
            if var.ndim != 1:
                raise LSTError(f"{path}: {what} coordinate {name!r} has {var.ndim} dimensions; expected 1")
            values = np.ma.filled(np.ma.asarray(var[:]).astype(np.float64), np.nan)
            if not np.all(np.isfinite(values)):
                raise LSTError(f"{path}: {what} coordinate {name!r} has missing or non-finite values")
            return values
    raise LSTError(f"{path}: no {what} coordinate (looked for {', '.join(dict.fromkeys(names))})")


def _check_axis(values: np.ndarray, path: Path, what: str) -> bool:
    """Validate a regular, strictly monotonic axis; True when it runs in decreasing order."""
    if values.size < 2:
        raise LSTError(f"{path}: {what} coordinate has {values.size} value(s); need at least 2")
    step = np.diff(values)
    if not (np.all(step > 0) or np.all(step < 0)):
        raise LSTError(f"{path}: {what} coordinate is not strictly increasing or decreasing")
    mean = abs(float(values[-1] - values[0])) / (values.size - 1)
    if np.max(np.abs(np.abs(step) - mean)) > GRID_SPACING_TOLERANCE * mean:
        raise LSTError(f"{path}: {what} coordinate is not evenly spaced (steps {np.abs(step).min():.6g}.."
                       f"{np.abs(step).max():.6g}); expected a regular grid")
    return bool(step[0] < 0)


def _year_from_name(path: Path) -> int | None:
    match = re.search(r"(?<!\d)(19|20)\d{2}(?!\d)", path.stem)
    return int(match.group(0)) if match else None


def _dates_of(ds, var, path: Path, time_base: str | int) -> tuple[int, list[dt.date], int | None]:
    """The file's year, the date of each time step, the day number of 1 January (None: CF units)."""
    time_name = var.dimensions[0]
    if time_name not in ds.variables:
        raise LSTError(f"{path}: no '{time_name}' coordinate with the day of year")
    tvar = ds.variables[time_name]
    if tvar.ndim != 1:
        raise LSTError(f"{path}: '{time_name}' coordinate has {tvar.ndim} dimensions; expected 1")
    raw = np.ma.asarray(tvar[:])
    if raw.dtype.kind not in "iuf":
        raise LSTError(f"{path}: '{time_name}' holds {raw.dtype} values; expected days of year")
    values = np.ma.filled(raw.astype(np.float64), np.nan)
    if not np.all(np.isfinite(values)):
        raise LSTError(f"{path}: '{time_name}' has missing or non-finite values")
    units = str(getattr(tvar, "units", ""))
    if "since" in units.lower():
        calendar_name = str(getattr(tvar, "calendar", "standard"))
        year, dates = _cf_dated(values, units, calendar_name, path, time_name)
        base = None
    else:
        year, dates, base = _doy_dated(values, path, time_name, time_base)
    if len(set(dates)) != len(dates):
        raise LSTError(f"{path}: repeated dates in '{time_name}'")
    return year, dates, base


def _cf_dated(values: np.ndarray, units: str, calendar_name: str, path: Path,
              time_name: str) -> tuple[int, list[dt.date]]:
    """Year and dates of CF "days since" time values; the year is the file name's if it has one."""
    dates = _cf_dates(values, units, calendar_name, path, time_name)
    name_year = _year_from_name(path)
    year = name_year if name_year is not None else (dates[0].year if dates else None)
    if year is None:
        raise LSTError(f"{path}: cannot tell the year (no YYYY in the file name and no time steps)")
    outside = [d for d in dates if d.year != year]
    if outside:
        raise LSTError(f"{path}: '{time_name}' holds dates outside {year} (e.g. {outside[0]}); "
                       "expected one year per file")
    return year, dates


def _doy_dated(values: np.ndarray, path: Path, time_name: str,
               time_base: str | int = "auto") -> tuple[int, list[dt.date], int]:
    """Year (from the file name), dates of day-of-year time values, the base they were read on:
    day d is 1 January + (d - base) days."""
    year = _year_from_name(path)
    if year is None:
        raise LSTError(f"{path}: cannot tell the year (no YYYY in the file name, no "
                       f"'days since YYYY-MM-DD' units on '{time_name}')")
    if np.any(values != np.round(values)):
        raise LSTError(f"{path}: '{time_name}' values are not whole days of year")
    doy = values.astype(np.int64)
    base = time_base if time_base != "auto" else (0 if (doy == 0).any() else 1)
    ndays = 366 if calendar.isleap(year) else 365
    if doy.size and (doy.min() < base or doy.max() > ndays - 1 + base):
        how = "inferred by data.time_base=auto" if time_base == "auto" else f"data.time_base={time_base}"
        raise LSTError(f"{path}: time values {doy.min()}..{doy.max()} are not days of year "
                       f"{base}..{ndays - 1 + base} ({base}-based, {how})")
    return year, [dt.date(year, 1, 1) + dt.timedelta(days=int(d) - base) for d in doy], base


def _cf_dates(values: np.ndarray, units: str, calendar_name: str, path: Path, name: str) -> list[dt.date]:
    try:
        stamps = netCDF4.num2date(values, units, calendar=calendar_name, only_use_cftime_datetimes=False,
                                  only_use_python_datetimes=True)
    except Exception as err:  # noqa: BLE001 - cftime rejects bad units in many ways
        raise LSTError(f"{path}: cannot decode '{name}' with units {units!r}: {one_line(err)}") from None
    return [dt.date(s.year, s.month, s.day) for s in np.atleast_1d(stamps)]
