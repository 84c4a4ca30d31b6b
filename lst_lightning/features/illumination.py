"""Groups ``illumination`` and ``illum_diff``: the sun on the slope at the overpass.

``illumination`` (scalar): ``cos_i``, the cosine of the solar incidence angle on the centre pixel's
slope, and ``cos_i_mean``, its mean over the k x k window; ``illum_diff`` (one patch channel): each
window pixel's cos i minus that mean, as the elevation differences are for elevation. By day the
strongest terrain effect on LST (a sunlit slope warms); at night 0 everywhere (the sun is down).

The sun's position is pvlib's (data/facts/solar.py) at each frame's date and local solar overpass
hour and each grid row's latitude, tabulated per frame and row; slope and aspect come from the DEM
with the true pixel size (``data.pixel_size_m``; null: from the grid's degrees). One latitude per
window (the centre row's): the sun moves by less than 6e-4 in cos i over a 9 km window.
"""
from __future__ import annotations

import numpy as np

from lst_lightning.data.facts.solar import incidence, sun_terms
from lst_lightning.data.facts.terrain import pixel_spacing, slope_aspect
from lst_lightning.features.arrays import ArraySpec
from lst_lightning.features.base import FeatureGroup

SUN = ("sun_cos_z", "sun_sin_z", "sun_azimuth")


def sun_tables(frames: list[dict], grid) -> dict[str, np.ndarray]:
    """[T, H] float32 tables of the sun's terms at each frame's date and hour and each row's latitude."""
    doy = np.array([f["doy"] for f in frames], dtype=np.float64)[:, None]
    hour = np.array([f["hour"] for f in frames], dtype=np.float64)[:, None]
    return dict(zip(SUN, sun_terms(np.asarray(grid.lat, dtype=np.float64)[None, :], doy, hour)))


def window_incidence(s):
    """[n, k*k] cos i of every pixel of each sample's window (NaN next to a DEM void)."""
    surface = s.array("surface")[s.pix[:, None] + s.source.offsets]  # [n, k*k, 2]: slope, aspect
    cos_z, sin_z, azimuth = (s.frame_row(name)[:, None] for name in SUN)
    return incidence(s.xp, cos_z, sin_z, azimuth, surface[..., 0], surface[..., 1])


def window_mean_incidence(s):
    """(the window's cos i [n, k*k], its mean [n]), computed once per batch (both groups use them)."""
    def make():
        cos_i = window_incidence(s)
        return cos_i, s.xp.mean(cos_i, axis=1)

    return s.once("cos_i_window", make)


class Illumination(FeatureGroup):
    name = "illumination"
    columns = ("cos_i", "cos_i_mean")
    reads = ("surface",)
    builds = (ArraySpec("surface", "pixels", "float32", "slope and aspect (radians; aspect clockwise from "
                        "north, 0 on flat ground) with the true pixel size"),)
    scaling = "raw"  # cos i is in [0, 1]
    version = 1

    def frame_tables(self, frames, grid):
        return sun_tables(frames, grid)

    def compute(self, s, state):
        cos_i, mean = window_mean_incidence(s)
        centre = cos_i[:, s.k * s.k // 2]
        return {"cos_i": centre, "cos_i_mean": mean}

    def build(self, inputs):
        slope, aspect = slope_aspect(inputs.dem, *pixel_spacing(inputs.grid, inputs.pixel_size_m))
        return {"surface": np.stack([slope, aspect], axis=-1).astype(np.float32)}, {}


class IlluminationDiff(FeatureGroup):
    name = "illum_diff"
    patch = True
    reads = ("surface",)
    scaling = "raw"  # differences of cosines: in [-1, 1]

    def frame_tables(self, frames, grid):
        return sun_tables(frames, grid)

    def compute(self, s, state):
        cos_i, mean = window_mean_incidence(s)
        diff = cos_i - mean[:, None]
        # a pixel next to a DEM void (no slope) counts as lit like its window
        return s.xp.where(s.xp.isnan(diff), s.zero, diff).reshape(s.n, s.k, s.k)
