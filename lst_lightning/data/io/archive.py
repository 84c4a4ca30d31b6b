"""An LST archive directory opened lazily: its grid and frame list now, pixels block by block.

A directory holds one form: yearly NetCDFs (netcdf.py) or daily GeoTIFFs (geotiff.py). A frame
is one (date, band) image, night before day of each date; ``iter_blocks`` yields the frames in
that order as the cache stores them (uint16 0.02 K with 0 = missing, uint8 QA per frame).
"""
from __future__ import annotations

import datetime as dt
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np

from lst_lightning.data.io import geotiff, netcdf
from lst_lightning.data.io.formats import FRAME_BANDS, OVERPASS_HOUR
from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError

Source = Union[netcdf.NetCDFSource, geotiff.GeoTIFFSource]


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
class LSTArchive:
    """An archive opened lazily: metadata now, pixel data block by block in ``iter_blocks``."""

    root: Path
    kind: str  # "netcdf" | "geotiff"
    grid: Grid
    sources: list[Source]  # in date order
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
            for lst, qa in source.blocks(self.grid):
                yield start, lst, qa
                start += lst.shape[0]


def open_archive(path: str | Path, hours: dict[str, float] | None = None,
                 exclude: Iterable[str | Path] = (), time_base: str | int = "auto") -> LSTArchive:
    """Open a directory of yearly NetCDFs or daily GeoTIFFs (not both).

    ``exclude``: files that are not part of the archive even when they lie in the directory
    (compared as resolved paths), e.g. a DEM GeoTIFF kept next to the yearly NetCDFs.
    ``time_base``: how yearly NetCDFs number their days (auto, 0 or 1: netcdf.py); GeoTIFF names
    carry dates."""
    root = Path(path)
    hours = check_hours(hours)
    time_base = netcdf.check_time_base(time_base)
    if not root.exists():
        raise LSTError(f"LST archive directory {root} does not exist")
    if not root.is_dir():
        raise LSTError(f"LST archive {root} is not a directory (expected a directory of .nc or .tif files)")
    files = _archive_files(root, exclude)
    nc = [p for p in files if p.suffix.lower() in netcdf.SUFFIXES]
    tif = [p for p in files if p.suffix.lower() in geotiff.SUFFIXES]
    if not nc and not tif:
        raise LSTError(f"LST archive directory {root} holds no NetCDF (.nc) or GeoTIFF (.tif) files")
    if nc and tif:
        raise LSTError(f"LST archive directory {root} mixes NetCDF and GeoTIFF files; keep one form per directory")
    if nc:
        sources, grid = netcdf.scan_netcdf(nc, time_base)
        kind = "netcdf"
    else:
        sources, grid = geotiff.scan_geotiff(tif)
        kind = "geotiff"
    return LSTArchive(root=root, kind=kind, grid=grid, sources=sources, hours=hours)


def _archive_files(root: Path, exclude: Iterable[str | Path]) -> list[Path]:
    """The directory's visible files, sorted, less the excluded ones (dot files are writers'
    temporary files or system clutter)."""
    try:
        excluded = {Path(p).resolve() for p in exclude}
        files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
        return [p for p in files if p.resolve() not in excluded] if excluded else files
    except OSError as err:
        raise LSTError(f"cannot list LST archive directory {root}: {err}") from None


def check_hours(hours: dict | None) -> dict[str, float]:
    """Each band's overpass hour (local solar): ``hours`` over the default, MODIS Aqua's; one line
    for a bad band or hour."""
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
