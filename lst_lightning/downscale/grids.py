"""A fine grid nested in the LST grid: each coarse pixel holds f x f fine pixels.

The fine grid must have an integer factor f (pixel sizes within ``FACTOR_TOL`` of coarse / f in
both directions) and pixel edges on the coarse pixel edges (within ``ALIGN_TOL`` of a fine pixel).
It may cover only part of the LST grid, or stick out of it (those fine pixels have no LST: fill);
no overlap at all is an error. Resampling a DEM onto a valid fine grid is a separate, explicit
step (``lst-resample-dem``), never done silently.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError

FACTOR_TOL = 1e-3  # relative: pixel sizes may differ from coarse / f by 0.1 %
ALIGN_TOL = 0.05  # fine pixels: the fine pixel edges may miss the coarse ones by 5 % of a fine pixel


@dataclass(frozen=True)
class Nesting:
    """Where fine rows/cols fall in the coarse grid: coarse row of fine row i = (i + row0) // f."""

    fine: Grid
    coarse: Grid
    f: int
    row0: int  # fine pixels from the coarse grid's north edge to the fine grid's north edge
    col0: int  # fine pixels from the coarse west edge to the fine west edge

    def coarse_rows(self, rows: np.ndarray) -> np.ndarray:
        """Coarse row of each fine row (may be outside 0..H-1 where the fine grid sticks out)."""
        return (np.asarray(rows) + self.row0) // self.f

    def coarse_cols(self, cols: np.ndarray) -> np.ndarray:
        return (np.asarray(cols) + self.col0) // self.f

    def row_inside(self, rows: np.ndarray) -> np.ndarray:
        c = self.coarse_rows(rows)
        return (c >= 0) & (c < self.coarse.shape[0])

    def col_inside(self, cols: np.ndarray) -> np.ndarray:
        c = self.coarse_cols(cols)
        return (c >= 0) & (c < self.coarse.shape[1])

    def tile(self, rows: slice, cols: slice) -> "Nesting":
        """The nesting of the fine rows x cols of this fine grid (a tile) in the same coarse grid."""
        fine = Grid(lat=self.fine.lat[rows], lon=self.fine.lon[cols])
        return Nesting(fine, self.coarse, self.f, self.row0 + rows.start, self.col0 + cols.start)

    def overlaps(self) -> bool:
        """Whether any fine pixel lies inside the coarse grid."""
        hf, wf = self.fine.shape
        return bool(self.row_inside(np.arange(hf)).any() and self.col_inside(np.arange(wf)).any())


def nest(fine: Grid, coarse: Grid, what: str = "fine_dem") -> Nesting:
    """The nesting of ``fine`` in ``coarse``; LSTError stating both grids when it is not one."""
    both = f"({what}: {fine.describe()}; LST grid: {coarse.describe()})"
    if min(fine.shape) < 2:
        raise LSTError(f"{what}: the fine grid needs at least 2 x 2 pixels {both}")
    fy, fx = coarse.dlat / fine.dlat, coarse.dlon / fine.dlon
    f = int(round(fy))
    if f < 1 or abs(fy - f) > FACTOR_TOL * f or abs(fx - f) > FACTOR_TOL * f:
        raise LSTError(f"{what}: the fine pixels are not an integer fraction of the LST pixels "
                       f"(factor {fy:.4f} north-south, {fx:.4f} east-west); resample it first with "
                       f"lst-resample-dem {both}")
    oy, ox = (coarse.north - fine.north) / fine.dlat, (fine.west - coarse.west) / fine.dlon
    row0, col0 = int(round(oy)), int(round(ox))
    if abs(oy - row0) > ALIGN_TOL or abs(ox - col0) > ALIGN_TOL:
        raise LSTError(f"{what}: the fine pixel edges miss the LST pixel edges by {abs(oy - row0):.2f} / "
                       f"{abs(ox - col0):.2f} fine pixels (north-south / east-west; at most {ALIGN_TOL} allowed); "
                       f"resample it first with lst-resample-dem {both}")
    nesting = Nesting(fine, coarse, f, row0, col0)
    if not nesting.overlaps():
        raise LSTError(f"{what}: the fine grid does not overlap the LST grid {both}")
    return nesting


def fine_grid_of(coarse: Grid, f: int, bounds: tuple[float, float, float, float]) -> Grid:
    """The fine grid at factor f nested in ``coarse`` that covers ``bounds`` (west, south, east,
    north in degrees), clipped to the coarse grid: where lst-resample-dem puts a DEM."""
    dlat, dlon = coarse.dlat / f, coarse.dlon / f
    west, south, east, north = bounds
    c0 = max(0, int(np.ceil((west - coarse.west) / dlon - ALIGN_TOL)))
    c1 = min(coarse.shape[1] * f, int(np.floor((east - coarse.west) / dlon + ALIGN_TOL)))
    r0 = max(0, int(np.ceil((coarse.north - north) / dlat - ALIGN_TOL)))
    r1 = min(coarse.shape[0] * f, int(np.floor((coarse.north - south) / dlat + ALIGN_TOL)))
    if c1 - c0 < 2 or r1 - r0 < 2:
        raise LSTError(f"the DEM ({west:.4f}..{east:.4f} E, {south:.4f}..{north:.4f} N) does not overlap "
                       f"the LST grid ({coarse.describe()})")
    return Grid.from_corner(coarse.west + c0 * dlon, coarse.north - r0 * dlat, dlon, dlat, (r1 - r0, c1 - c0))
