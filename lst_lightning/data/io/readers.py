"""Readers for the real input formats -> aligned numpy arrays, a Grid and a frame list (no torch).

* yearly NetCDF (``LST_2020_NetCDF.nc``): ``__xarray_dataarray_variable__`` (time, band, y, x),
  bands night/day/daily/QA, 0.02 K integers with fill values, or NaN, or decoded Kelvin floats;
  ``time`` is the day of year (gaps allowed) or CF "days since YYYY-MM-DD" values.
* daily GeoTIFF (the public Zenodo form): one file per day, 4 bands, int16 scaled by 0.02.
* DEM and covariate GeoTIFFs (ModelPixelScale/ModelTiepoint georeference) on the LST grid.

Every problem with a file raises LSTError naming the file and what is wrong; no other exception
type escapes for bad input (corrupt, truncated, wrong layout, implausible values).
"""
from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from lst_lightning.data.io.formats import FRAME_BANDS, LST_SCALE, OVERPASS_HOUR, PLAUSIBLE_K, kelvin_to_raw
from lst_lightning.errors import LSTError
from lst_lightning.data.io.grid import Grid

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")
GEOTIFF_SUFFIXES = (".tif", ".tiff")
NETCDF_VARIABLE = "__xarray_dataarray_variable__"
BLOCK_DAYS = 8  # dates read per NetCDF slice: bounded memory, few reads
MAX_PIXELS = 200_000_000  # a GeoTIFF claiming more pixels than this is corrupt, not a 1 km LST map
GRID_SPACING_TOLERANCE = 0.1  # coordinate steps may deviate this fraction of a pixel (float32 jitter)


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
    flip_x: bool = False  # NetCDF stored east-to-west: flipped to west-to-east when read
    year: int | None = None  # NetCDF only: the year the file holds


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


def _check_hours(hours: dict | None) -> dict[str, float]:
    if hours is None:
        return dict(OVERPASS_HOUR)
    if not isinstance(hours, dict):
        raise LSTError(f"overpass hours must be a mapping band -> hour, got {hours!r}")
    out = dict(OVERPASS_HOUR)
    for band, hour in hours.items():
        if band not in FRAME_BANDS:
            raise LSTError(f"overpass hours: unknown band {band!r}; expected one of {', '.join(FRAME_BANDS)}")
        if isinstance(hour, bool) or not isinstance(hour, numbers.Real) or not 0 <= float(hour) < 24:
            raise LSTError(f"overpass hours: hour for {band!r} must be a number in 0..24, got {hour!r}")
        out[band] = float(hour)
    return out


def open_archive(path: str | Path, hours: dict[str, float] | None = None) -> LSTArchive:
    """Open a directory of yearly NetCDFs or daily GeoTIFFs (not both)."""
    root = Path(path)
    hours = _check_hours(hours)
    if not root.exists():
        raise LSTError(f"LST archive directory {root} does not exist")
    if not root.is_dir():
        raise LSTError(f"LST archive {root} is not a directory (expected a directory of .nc or .tif files)")
    try:
        files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as err:
        raise LSTError(f"cannot list LST archive directory {root}: {err}") from None
    nc = [p for p in files if p.suffix.lower() in NETCDF_SUFFIXES]
    tif = [p for p in files if p.suffix.lower() in GEOTIFF_SUFFIXES]
    if not nc and not tif:
        raise LSTError(f"LST archive directory {root} holds no NetCDF (.nc) or GeoTIFF (.tif) files")
    if nc and tif:
        raise LSTError(f"LST archive directory {root} mixes NetCDF and GeoTIFF files; keep one form per directory")
    if nc:
        sources, grid = _scan_netcdf(nc)
        kind = "netcdf"
    else:
        sources, grid = _scan_geotiff(tif)
        kind = "geotiff"
    return LSTArchive(root=root, kind=kind, grid=grid, sources=sources, hours=hours)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# ---------------------------------------------------------------- NetCDF

def _open_netcdf(path: Path):
    import netCDF4

    try:
        return netCDF4.Dataset(path, "r")
    except Exception as err:  # corrupt, truncated or not NetCDF at all
        raise LSTError(f"cannot read NetCDF file {path}: {_one_line(err)}") from None


_CLASSIC_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}


def _classic_data_end(path: Path) -> int | None:
    """Bytes a classic (CDF-1/2/5) NetCDF file must hold to contain all its variables' data, from
    its header; None when the file is not classic or its header cannot be parsed (the NetCDF
    library judges those). The library reads a truncated classic file without complaint, filling
    the missing tail with fill values or garbage, so this is checked here."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            if len(head) < 4 or head[:3] != b"CDF" or head[3] not in (1, 2, 5):
                return None
            version = head[3]
            size = 8 if version == 5 else 4  # NON_NEG / nelems / dimid / vsize width
            offset_size = 4 if version == 1 else 8

            def read(n: int) -> bytes:
                data = fh.read(n)
                if len(data) != n:
                    raise EOFError
                return data

            def num(n: int = size) -> int:
                return int.from_bytes(read(n), "big")

            def name() -> None:
                n = num()
                read((n + 3) // 4 * 4)

            def attrs() -> None:
                tag, count = num(4), num()
                if tag not in (0, 0x0C):
                    raise ValueError
                for _ in range(count):
                    name()
                    kind, n = num(4), num()
                    read((n * _CLASSIC_TYPE_SIZE[kind] + 3) // 4 * 4)

            numrecs = num()
            if numrecs == (1 << (8 * size)) - 1:  # streaming: record count unknown
                numrecs = 0
            tag, ndims = num(4), num()
            dims = []
            for _ in range(ndims):
                name()
                dims.append(num())
            attrs()
            tag, nvars = num(4), num()
            variables = []
            for _ in range(nvars):
                name()
                dimids = [num() for _ in range(num())]
                attrs()
                kind, vsize, begin = num(4), num(), num(offset_size)
                shape = [dims[d] for d in dimids]
                is_record = bool(shape) and shape[0] == 0
                nbytes = int(np.prod(shape[1:] if is_record else shape, dtype=np.int64)) * _CLASSIC_TYPE_SIZE[kind]
                variables.append((is_record, begin, nbytes))
    except (OSError, EOFError, ValueError, KeyError, IndexError):
        return None
    record = [v for v in variables if v[0]]
    recsize = record[0][2] if len(record) == 1 else sum((v[2] + 3) // 4 * 4 for v in record)
    end = 0
    for is_record, begin, nbytes in variables:
        if is_record:
            if numrecs:
                end = max(end, begin + (numrecs - 1) * recsize + nbytes)
        elif nbytes:
            end = max(end, begin + nbytes)
    return end


def _check_not_truncated(path: Path) -> None:
    end = _classic_data_end(path)
    if end is not None:
        size = path.stat().st_size
        if size < end:
            raise LSTError(f"NetCDF file {path} is truncated ({size} bytes; its header describes "
                           f"data up to byte {end})")


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


def _days_in(year: int) -> int:
    return 366 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365


def _dates_of(ds, var, path: Path) -> tuple[int, list[dt.date]]:
    """The file's year and the date of each time step."""
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
    name_year = _year_from_name(path)
    units = str(getattr(tvar, "units", ""))
    if "since" in units.lower():
        dates = _cf_dates(values, units, str(getattr(tvar, "calendar", "standard")), path, time_name)
        year = name_year if name_year is not None else (dates[0].year if dates else None)
        if year is None:
            raise LSTError(f"{path}: cannot tell the year (no YYYY in the file name and no time steps)")
        outside = [d for d in dates if d.year != year]
        if outside:
            raise LSTError(f"{path}: '{time_name}' holds dates outside {year} (e.g. {outside[0]}); "
                           "expected one year per file")
    else:
        if name_year is None:
            raise LSTError(f"{path}: cannot tell the year (no YYYY in the file name, no "
                           f"'days since YYYY-MM-DD' units on '{time_name}')")
        year = name_year
        if np.any(values != np.round(values)):
            raise LSTError(f"{path}: '{time_name}' values are not whole days of year")
        doy = values.astype(np.int64)
        if doy.size and doy.min() == 0:  # tolerate 0-based day numbers
            doy = doy + 1
        ndays = _days_in(year)
        if doy.size and (doy.min() < 1 or doy.max() > ndays):
            raise LSTError(f"{path}: time values {doy.min()}..{doy.max()} are not days of year 1..{ndays}")
        dates = [dt.date(year, 1, 1) + dt.timedelta(days=int(d) - 1) for d in doy]
    if len(set(dates)) != len(dates):
        raise LSTError(f"{path}: repeated dates in '{time_name}'")
    return year, dates


def _cf_dates(values: np.ndarray, units: str, calendar: str, path: Path, name: str) -> list[dt.date]:
    import netCDF4

    try:
        stamps = netCDF4.num2date(values, units, calendar=calendar, only_use_cftime_datetimes=False,
                                  only_use_python_datetimes=True)
    except Exception as err:
        raise LSTError(f"{path}: cannot decode '{name}' with units {units!r}: {_one_line(err)}") from None
    return [dt.date(s.year, s.month, s.day) for s in np.atleast_1d(stamps)]


def _scan_one_netcdf(path: Path) -> tuple[_Source, Grid]:
    _check_not_truncated(path)
    with _open_netcdf(path) as ds:
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
        year, dates = _dates_of(ds, var, path)
    order = sorted(range(len(dates)), key=dates.__getitem__)
    return _Source(path, [dates[i] for i in order], order, flip, flip_x, year), file_grid


def _scan_netcdf(paths: list[Path]) -> tuple[list[_Source], Grid]:
    sources, grid, years = [], None, {}
    for path in paths:
        try:
            source, file_grid = _scan_one_netcdf(path)
        except LSTError:
            raise
        except Exception as err:  # truncated metadata, HDF errors, odd attribute types ...
            raise LSTError(f"cannot read NetCDF file {path}: {_one_line(err)}") from None
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
    return sources, grid


def _netcdf_blocks(source: _Source, grid: Grid) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    try:
        _check_not_truncated(source.path)
    except OSError as err:
        raise LSTError(f"cannot read NetCDF file {source.path}: {_one_line(err)}") from None
    ds = _open_netcdf(source.path)
    try:
        try:
            var = _lst_variable(ds, source.path)
            var.set_auto_maskandscale(False)
            attrs = {k: var.getncattr(k) for k in var.ncattrs()}
            if var.shape[2:] != grid.shape:
                raise LSTError(f"{source.path}: data shape {var.shape[2:]} changed since the archive was "
                               f"opened (grid {grid.describe()})")
        except LSTError:
            raise
        except Exception as err:
            raise LSTError(f"cannot read NetCDF file {source.path}: {_one_line(err)}") from None
        idx = source.time_index
        for i in range(0, len(idx), BLOCK_DAYS):
            take = idx[i:i + BLOCK_DAYS]
            try:
                block = np.asarray(var[min(take):max(take) + 1])[np.asarray(take) - min(take)]
            except Exception as err:
                raise LSTError(f"cannot read NetCDF file {source.path}: {_one_line(err)}") from None
            if source.flip:
                block = block[:, :, ::-1]
            if source.flip_x:
                block = block[:, :, :, ::-1]
            yield _decode_block(block, attrs, source.path)
    finally:
        try:
            ds.close()
        except Exception:  # closing a broken file must not hide the real error
            pass


def _numeric_attr(attrs: dict, key: str) -> list[float]:
    """Numeric values of a (possibly vector) attribute; strings and junk are ignored."""
    if key not in attrs:
        return []
    try:
        vals = np.atleast_1d(np.asarray(attrs[key])).astype(np.float64)
    except (TypeError, ValueError):
        return []
    return [float(v) for v in vals.ravel()]


def _declared_fills(attrs: dict) -> list[float]:
    return _numeric_attr(attrs, "_FillValue") + _numeric_attr(attrs, "missing_value")


def _missing_mask(values: np.ndarray, attrs: dict) -> np.ndarray:
    """Missing pixels of packed values: NaN, declared fills, and for integers without declared
    fills the dtype extremes; 0 is missing (it would be 0 K) unless an add_offset applies.
    (valid_range is deliberately not applied: files that state it in Kelvin instead of packed
    units would silently lose every pixel; implausible values fail loudly instead.)"""
    missing = np.zeros(values.shape, dtype=bool)
    if values.dtype.kind == "f":
        missing |= ~np.isfinite(values)
    declared = _declared_fills(attrs)
    for fill in declared:
        if math.isnan(fill):
            continue  # NaN already handled
        missing |= values == fill
    if values.dtype.kind in "iu" and not declared:
        info = np.iinfo(values.dtype)
        missing |= (values == info.max) | (values == info.min)
    if (_numeric_attr(attrs, "add_offset") or [0.0])[0] == 0:
        missing |= values == 0
    return missing


def _to_kelvin(values: np.ndarray, attrs: dict) -> np.ndarray:
    scale = (_numeric_attr(attrs, "scale_factor") or [0.0])[0]
    offset = (_numeric_attr(attrs, "add_offset") or [0.0])[0]
    x = values.astype(np.float64)
    if scale or offset:
        return x * (scale or 1.0) + offset
    if values.dtype.kind == "f":
        finite = x[np.isfinite(x) & (x != 0)]
        if finite.size and np.median(finite) < 1000:  # already Kelvin
            return x
    return x * LST_SCALE


def _decode_block(block: np.ndarray, attrs: dict, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(dates, 4 bands, y, x) as stored -> (frames, y, x) raw uint16 LST and per-frame QA."""
    lst_vals = block[:, :2]  # night, day
    missing = _missing_mask(lst_vals, attrs)
    with np.errstate(invalid="ignore", over="ignore"):
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
    declared = _declared_fills(attrs)
    for fill in declared:
        qa[values == fill] = 0  # a masked QA pixel carries no observation
    if values.dtype.kind in "iu" and not declared:
        info = np.iinfo(values.dtype)
        qa[(values == info.max) | (values == info.min)] = 0
    bad = (qa < 0) | (qa > 3) | (qa != np.round(qa))
    if np.any(bad):
        found = np.unique(qa[bad])[:5]
        raise LSTError(f"{path}: QA band holds {int(bad.sum())} values other than the codes 0-3 "
                       f"(e.g. {', '.join(f'{v:g}' for v in found)})")
    return qa.astype(np.uint8)


# ---------------------------------------------------------------- GeoTIFF

DATE_PATTERNS = (
    (re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)"), "ymd"),
    (re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{3})(?!\d)"), "yj"),
)


def _date_from_name(path: Path) -> dt.date:
    for pattern, kind in DATE_PATTERNS:
        for match in pattern.finditer(path.stem):
            try:
                if kind == "ymd":
                    return dt.date(*(int(g) for g in match.groups()))
                year, doy = (int(g) for g in match.groups())
                if not 1 <= doy <= _days_in(year):
                    continue
                return dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)
            except ValueError:
                continue
    raise LSTError(f"{path}: cannot tell the date from the file name (expected YYYY_MM_DD, YYYYMMDD, "
                   "YYYY_DDD or YYYYDDD)")


@dataclass(frozen=True)
class _TiffMeta:
    bands: int
    grid: Grid
    nodata: float | None
    dtype: np.dtype
    contiguous: bool  # samples interleaved (y, x, bands)


def _geokey(tags, key: int) -> int | None:
    tag = tags.get(34735)
    if tag is None:
        return None
    vals = list(np.ravel(tag.value))
    for k in range(4, len(vals) - 3, 4):
        if vals[k] == key and vals[k + 1] == 0:
            return int(vals[k + 3])
    return None


def _tiff_meta(tif, path: Path, what: str) -> _TiffMeta:
    """Layout and georeference from the tags, without decoding pixels (raises LSTError)."""
    page = tif.pages[0]
    tags = page.tags
    series = tif.series[0]
    shape = tuple(int(s) for s in series.shape)
    contiguous = len(shape) == 3 and page.samplesperpixel > 1 and page.planarconfig == 1
    if len(shape) == 2:
        bands, h, w = 1, *shape
    elif len(shape) == 3:
        bands, h, w = (shape[2], shape[0], shape[1]) if contiguous else shape
    else:
        raise LSTError(f"{what} {path} has shape {shape}; expected (y, x) or (bands, y, x)")
    if min(bands, h, w) < 1 or bands * h * w > MAX_PIXELS:
        raise LSTError(f"{what} {path} has an implausible size {shape}; the file is probably corrupt")
    # truncated files: data segments beyond the end of the file
    size = tif.filehandle.size
    for p in tif.pages:
        for off, count in zip(p.dataoffsets, p.databytecounts):
            if off + count > size:
                raise LSTError(f"{what} {path} is truncated (pixel data ends at byte {off + count}, "
                               f"file has {size} bytes)")

    if 33550 in tags and 33922 in tags:
        scale = [float(v) for v in np.ravel(tags[33550].value)]
        tie = [float(v) for v in np.ravel(tags[33922].value)]
        if len(scale) < 2 or len(tie) < 6:
            raise LSTError(f"{what} {path} has a malformed georeference (ModelPixelScale {scale}, "
                           f"ModelTiepoint {tie})")
        dlon, dlat = scale[0], scale[1]
        i, j, west, north = tie[0], tie[1], tie[3], tie[4]
        west, north = west - i * dlon, north + j * dlat
    elif 34264 in tags:
        m = [float(v) for v in np.ravel(tags[34264].value)]
        if len(m) < 8 or m[1] != 0 or m[4] != 0:
            raise LSTError(f"{what} {path} has a rotated or malformed ModelTransformation; "
                           "expected a north-up lat/lon grid")
        dlon, dlat, west, north = m[0], -m[5], m[3], m[7]
    else:
        raise LSTError(f"{what} {path} has no georeference (ModelPixelScale/ModelTiepoint tags)")
    if not all(math.isfinite(v) for v in (dlon, dlat, west, north)) or dlon <= 0 or dlat <= 0:
        raise LSTError(f"{what} {path} has an invalid georeference (pixel size {dlon} x {dlat}, "
                       f"corner {west}, {north}); expected a north-up grid with positive pixel sizes")
    if _geokey(tags, 1025) == 2:  # RasterPixelIsPoint: the tie point is a pixel centre
        west, north = west - dlon / 2, north + dlat / 2
    nodata = None
    nodata_tag = tags.get(42113)
    if nodata_tag is not None:
        text = str(nodata_tag.value).strip("\x00 ")
        try:
            nodata = float(text)
        except ValueError:
            raise LSTError(f"{what} {path} has an unreadable GDAL_NODATA value {text!r}") from None
    grid = Grid.from_corner(west, north, dlon, dlat, (h, w))
    return _TiffMeta(bands, grid, nodata, np.dtype(page.dtype), contiguous)


def _tiff_call(path: Path, what: str, fn):
    """Open ``path`` with tifffile and run ``fn(tif)``; every failure becomes an LSTError."""
    import tifffile

    if not path.is_file():
        raise LSTError(f"{what} file {path} does not exist")
    try:
        with tifffile.TiffFile(path) as tif:
            return fn(tif)
    except LSTError:
        raise
    except Exception as err:  # not a TIFF, corrupt or truncated
        raise LSTError(f"cannot read {what} {path}: {_one_line(err)}") from None


def read_geotiff(path: str | Path, what: str = "GeoTIFF") -> tuple[np.ndarray, Grid, float | None]:
    """(bands, y, x) array as stored, its Grid, and the GDAL nodata value if any."""
    path = Path(path)

    def read(tif):
        meta = _tiff_meta(tif, path, what)
        array = np.asarray(tif.asarray())
        return meta, array

    meta, array = _tiff_call(path, what, read)
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3 and meta.contiguous:
        array = np.moveaxis(array, -1, 0)
    if array.shape != (meta.bands, *meta.grid.shape):
        raise LSTError(f"{what} {path} decodes to shape {array.shape}, not the {meta.bands} bands of "
                       f"{meta.grid.shape} its tags describe; the file is probably corrupt")
    return array, meta.grid, meta.nodata


def _scan_geotiff(paths: list[Path]) -> tuple[list[_Source], Grid]:
    seen: dict[dt.date, Path] = {}
    grid = None
    for path in paths:
        date = _date_from_name(path)
        if date in seen:
            raise LSTError(f"duplicate date {date}: {seen[date]} and {path}")
        seen[date] = path
        meta = _tiff_call(path, "LST GeoTIFF", lambda tif, p=path: _tiff_meta(tif, p, "LST GeoTIFF"))
        _check_lst_bands(meta.bands, path)
        if grid is None:
            grid = meta.grid
        else:
            grid.require_match(meta.grid, f"LST GeoTIFF {path}", reference=f"the grid of {paths[0].name}")
    return [_Source(seen[d], [d]) for d in sorted(seen)], grid


def _check_lst_bands(bands: int, path: Path) -> None:
    if bands != 4:
        raise LSTError(f"LST GeoTIFF {path} has {bands} band(s); expected 4 (night, day, daily, QA)")


def _geotiff_blocks(source: _Source, grid: Grid) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    array, file_grid, nodata = read_geotiff(source.path, "LST GeoTIFF")
    grid.require_match(file_grid, f"LST GeoTIFF {source.path}", reference="the archive grid")
    _check_lst_bands(array.shape[0], source.path)
    attrs: dict = {}
    if array.dtype.kind in "iu":  # Zenodo form: integers in 0.02 K; floats are judged by magnitude
        attrs["scale_factor"] = LST_SCALE
    if nodata is not None:
        attrs["_FillValue"] = nodata
    yield _decode_block(array[None], attrs, source.path)


# ---------------------------------------------------------------- DEM and covariates

def _nodata_to_nan(array: np.ndarray, nodata: float | None) -> np.ndarray:
    out = array.astype(np.float32)
    if nodata is not None and not math.isnan(nodata):
        out[array == nodata] = np.nan
    return out


def read_dem(path: str | Path, grid: Grid | None = None) -> tuple[np.ndarray, Grid]:
    """DEM in metres as float32 (NaN = nodata) and its grid; must match ``grid`` when given."""
    array, dem_grid, nodata = read_geotiff(path, "DEM")
    if array.shape[0] != 1:
        raise LSTError(f"DEM {path} has {array.shape[0]} bands; expected 1")
    if array.dtype.kind not in "iuf":
        raise LSTError(f"DEM {path} has non-numeric pixels ({array.dtype})")
    dem = _nodata_to_nan(array[0], nodata)
    _check_elevations(dem, path)
    if grid is not None:
        grid.require_match(dem_grid, f"DEM {path}")
    return dem, dem_grid


# Earth's surface lies between the Dead Sea shore (-430 m) and Everest (8849 m), with margin: other
# values mean a file that is not a DEM in metres (an LST file, feet, an unmarked nodata of -32768).
PLAUSIBLE_ELEVATION_M = (-1000.0, 9000.0)


def _check_elevations(dem: np.ndarray, path: Path) -> None:
    lo, hi = PLAUSIBLE_ELEVATION_M
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(dem) & ~((dem >= lo) & (dem <= hi))
    if bad.any():
        example = float(dem[bad].flat[0])
        raise LSTError(f"DEM {path}: {int(bad.sum())} elevations outside the plausible {lo:.0f}..{hi:.0f} m "
                       f"(e.g. {example:g}); is it a DEM in metres with its nodata value tagged?")


def read_raster(path: str | Path, grid: Grid, what: str) -> np.ndarray:
    """A covariate raster on the LST grid as float32 (bands, y, x), NaN = nodata.
    One band = static; 12 bands = monthly climatology (January first)."""
    array, raster_grid, nodata = read_geotiff(path, what)
    grid.require_match(raster_grid, f"{what} {path}")
    if array.shape[0] not in (1, 12):
        raise LSTError(f"{what} {path} has {array.shape[0]} bands; expected 1 (static) or 12 (monthly)")
    if array.dtype.kind not in "iuf":
        raise LSTError(f"{what} {path} has non-numeric pixels ({array.dtype})")
    return _nodata_to_nan(array, nodata)
