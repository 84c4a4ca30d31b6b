"""GeoTIFF files: layout and georeference from the tags (ModelPixelScale + ModelTiepoint, or
ModelTransformation; pixel-is-area or pixel-is-point), ``read_geotiff``, and the daily LST form
(the public Zenodo one: one 4-band file per day, int16 in 0.02 K, the date in the file name).

Every problem with a file (not a TIFF, truncated, no or a rotated georeference, an implausible
size) raises LSTError naming the file; tifffile's own exceptions never escape.
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import tifffile

from lst_lightning.data.io.decode import decode_block
from lst_lightning.data.io.formats import LST_SCALE
from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError, one_line

SUFFIXES = (".tif", ".tiff")
MAX_PIXELS = 200_000_000  # a GeoTIFF claiming more pixels than this is corrupt, not a 1 km LST map
DATE_PATTERNS = (
    (re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)"), "ymd"),
    (re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{3})(?!\d)"), "yj"),
)
# TIFF tags and GeoKeys read here
MODEL_PIXEL_SCALE, MODEL_TIEPOINT, MODEL_TRANSFORMATION = 33550, 33922, 34264
GEO_KEY_DIRECTORY, GDAL_NODATA = 34735, 42113
RASTER_TYPE_KEY, RASTER_PIXEL_IS_POINT = 1025, 2


@dataclass(frozen=True)
class TiffMeta:
    bands: int
    grid: Grid
    nodata: float | None
    dtype: np.dtype
    contiguous: bool  # samples interleaved (y, x, bands)


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


def _tiff_call(path: Path, what: str, fn):
    """Open ``path`` with tifffile and run ``fn(tif)``; every failure becomes an LSTError."""
    if not path.is_file():
        raise LSTError(f"{what} file {path} does not exist")
    try:
        with tifffile.TiffFile(path) as tif:
            return fn(tif)
    except LSTError:
        raise
    except Exception as err:  # noqa: BLE001 - not a TIFF, corrupt or truncated
        raise LSTError(f"cannot read {what} {path}: {one_line(err)}") from None


def _tiff_meta(tif, path: Path, what: str) -> TiffMeta:
    """Layout and georeference from the tags, without decoding pixels (raises LSTError)."""
    page = tif.pages[0]
    shape = tuple(int(s) for s in tif.series[0].shape)
    contiguous = len(shape) == 3 and page.samplesperpixel > 1 and page.planarconfig == 1
    if len(shape) == 2:
        bands, h, w = 1, *shape
    elif len(shape) == 3:
        bands, h, w = (shape[2], shape[0], shape[1]) if contiguous else shape
    else:
        raise LSTError(f"{what} {path} has shape {shape}; expected (y, x) or (bands, y, x)")
    if min(bands, h, w) < 1 or bands * h * w > MAX_PIXELS:
        raise LSTError(f"{what} {path} has an implausible size {shape}; the file is probably corrupt")
    _check_not_truncated(tif, path, what)
    west, north, dlon, dlat = _georeference(page.tags, path, what)
    grid = Grid.from_corner(west, north, dlon, dlat, (h, w))
    return TiffMeta(bands, grid, _nodata(page.tags, path, what), np.dtype(page.dtype), contiguous)


def _check_not_truncated(tif, path: Path, what: str) -> None:
    """Data segments beyond the end of the file: a cut-off download or copy."""
    size = tif.filehandle.size
    for p in tif.pages:
        for off, count in zip(p.dataoffsets, p.databytecounts):
            if off + count > size:
                raise LSTError(f"{what} {path} is truncated (pixel data ends at byte {off + count}, "
                               f"file has {size} bytes)")


def _georeference(tags, path: Path, what: str) -> tuple[float, float, float, float]:
    """(west, north, dlon, dlat): the outer upper-left corner and positive pixel sizes."""
    if MODEL_PIXEL_SCALE in tags and MODEL_TIEPOINT in tags:
        scale = [float(v) for v in np.ravel(tags[MODEL_PIXEL_SCALE].value)]
        tie = [float(v) for v in np.ravel(tags[MODEL_TIEPOINT].value)]
        if len(scale) < 2 or len(tie) < 6:
            raise LSTError(f"{what} {path} has a malformed georeference (ModelPixelScale {scale}, "
                           f"ModelTiepoint {tie})")
        dlon, dlat = scale[0], scale[1]
        i, j, west, north = tie[0], tie[1], tie[3], tie[4]
        west, north = west - i * dlon, north + j * dlat  # the tie point may name any pixel
    elif MODEL_TRANSFORMATION in tags:
        m = [float(v) for v in np.ravel(tags[MODEL_TRANSFORMATION].value)]
        if len(m) < 8 or m[1] != 0 or m[4] != 0:
            raise LSTError(f"{what} {path} has a rotated or malformed ModelTransformation; "
                           "expected a north-up lat/lon grid")
        dlon, dlat, west, north = m[0], -m[5], m[3], m[7]
    else:
        raise LSTError(f"{what} {path} has no georeference (ModelPixelScale/ModelTiepoint tags)")
    if not all(math.isfinite(v) for v in (dlon, dlat, west, north)) or dlon <= 0 or dlat <= 0:
        raise LSTError(f"{what} {path} has an invalid georeference (pixel size {dlon} x {dlat}, "
                       f"corner {west}, {north}); expected a north-up grid with positive pixel sizes")
    if _geokey(tags, RASTER_TYPE_KEY) == RASTER_PIXEL_IS_POINT:  # the tie point is a pixel centre
        west, north = west - dlon / 2, north + dlat / 2
    return west, north, dlon, dlat


def _geokey(tags, key: int) -> int | None:
    """A SHORT GeoKey stored in the directory itself (location 0), None when absent."""
    tag = tags.get(GEO_KEY_DIRECTORY)
    if tag is None:
        return None
    vals = list(np.ravel(tag.value))
    for k in range(4, len(vals) - 3, 4):
        if vals[k] == key and vals[k + 1] == 0:
            return int(vals[k + 3])
    return None


def _nodata(tags, path: Path, what: str) -> float | None:
    nodata_tag = tags.get(GDAL_NODATA)
    if nodata_tag is None:
        return None
    text = str(nodata_tag.value).strip("\x00 ")
    try:
        return float(text)
    except ValueError:
        raise LSTError(f"{what} {path} has an unreadable GDAL_NODATA value {text!r}") from None


# ---------------------------------------------------------------- the daily LST form

@dataclass
class GeoTIFFSource:
    """One daily LST GeoTIFF and its date."""

    path: Path
    dates: list[dt.date]  # the one date, a list like a NetCDF source's

    def blocks(self, grid: Grid) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The day's (lst, qa), as ``decode_block`` returns them."""
        array, file_grid, nodata = read_geotiff(self.path, "LST GeoTIFF")
        grid.require_match(file_grid, f"LST GeoTIFF {self.path}", reference="the archive grid")
        _check_lst_bands(array.shape[0], self.path)
        attrs: dict = {}
        if array.dtype.kind in "iu":  # Zenodo form: integers in 0.02 K; floats are judged by magnitude
            attrs["scale_factor"] = LST_SCALE
        if nodata is not None:
            attrs["_FillValue"] = nodata
        yield decode_block(array[None], attrs, self.path)


def scan_geotiff(paths: list[Path]) -> tuple[list[GeoTIFFSource], Grid]:
    """The sources (sorted by date, one file per date) and the grid all files share; reads tags only."""
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
    return [GeoTIFFSource(seen[d], [d]) for d in sorted(seen)], grid


def _date_from_name(path: Path) -> dt.date:
    for pattern, kind in DATE_PATTERNS:
        for match in pattern.finditer(path.stem):
            try:
                if kind == "ymd":
                    return dt.date(*(int(g) for g in match.groups()))
                year, doy = (int(g) for g in match.groups())
                if not 1 <= doy <= (366 if calendar.isleap(year) else 365):
                    continue
                return dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)
            except ValueError:
                continue
    raise LSTError(f"{path}: cannot tell the date from the file name (expected YYYY_MM_DD, YYYYMMDD, "
                   "YYYY_DDD or YYYYDDD)")


def _check_lst_bands(bands: int, path: Path) -> None:
    if bands != 4:
        raise LSTError(f"LST GeoTIFF {path} has {bands} band(s); expected 4 (night, day, daily, QA)")
