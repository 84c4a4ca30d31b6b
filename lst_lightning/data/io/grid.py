"""The regular lat/lon pixel grid shared by the LST archive, the DEM and the covariates."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lst_lightning.errors import LSTError


@dataclass(frozen=True)
class Grid:
    """Pixel-centre coordinates: ``lat`` (H,) runs north to south, ``lon`` (W,) west to east."""

    lat: np.ndarray
    lon: np.ndarray

    @classmethod
    def from_corner(cls, west: float, north: float, dlon: float, dlat: float, shape: tuple[int, int]) -> "Grid":
        """Grid from the upper-left corner (pixel-is-area) and positive pixel sizes in degrees."""
        h, w = shape
        lat = north - (np.arange(h) + 0.5) * dlat
        lon = west + (np.arange(w) + 0.5) * dlon
        return cls(lat=lat, lon=lon)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.lat), len(self.lon))

    @property
    def dlat(self) -> float:
        return float(abs(self.lat[1] - self.lat[0])) if len(self.lat) > 1 else 0.0

    @property
    def dlon(self) -> float:
        return float(abs(self.lon[1] - self.lon[0])) if len(self.lon) > 1 else 0.0

    @property
    def west(self) -> float:
        return float(self.lon[0] - self.dlon / 2)

    @property
    def north(self) -> float:
        return float(self.lat[0] + self.dlat / 2)

    def describe(self) -> str:
        h, w = self.shape
        return (f"{h}x{w} pixels, lat {self.lat[0]:.4f}..{self.lat[-1]:.4f}, "
                f"lon {self.lon[0]:.4f}..{self.lon[-1]:.4f}")

    def matches(self, other: "Grid") -> bool:
        """Same shape and every pixel centre within half a pixel."""
        if self.shape != other.shape:
            return False
        tol_lat = 0.5 * max(self.dlat, other.dlat, 1e-12)
        tol_lon = 0.5 * max(self.dlon, other.dlon, 1e-12)
        return bool(np.all(np.abs(self.lat - other.lat) <= tol_lat)
                    and np.all(np.abs(self.lon - other.lon) <= tol_lon))

    def require_match(self, other: "Grid", what: str, reference: str = "the LST grid") -> None:
        if not self.matches(other):
            raise LSTError(f"{what} is on another grid ({other.describe()}) than {reference} "
                           f"({self.describe()})")

    def to_json(self) -> dict:
        return {"lat": [float(v) for v in self.lat], "lon": [float(v) for v in self.lon]}

    @classmethod
    def from_json(cls, data: dict) -> "Grid":
        return cls(lat=np.asarray(data["lat"], dtype=np.float64), lon=np.asarray(data["lon"], dtype=np.float64))

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """(lat, lon) arrays of shape (H, W)."""
        lon2, lat2 = np.meshgrid(self.lon, self.lat)
        return lat2, lon2
