"""The named arrays of a prepared cache: what each holds and how it is laid out.

Every array has one of four kinds, which says how a gatherer indexes it:

===========  ===================  ==========================================================
kind         shape                indexed by
===========  ===================  ==========================================================
``frames``   [T, H, W]            (frame, row, col) of a sample
``pixels``   [H, W] or [H, W, C]  the sample's pixel (static), C columns per pixel
``layers``   [M, H, W]            a layer chosen per frame (e.g. monthly NDVI), then the pixel
``table``    [T]                  the sample's frame
===========  ===================  ==========================================================

The CORE arrays below are in every cache (the builder writes them); each feature group adds the
arrays it declares (``FeatureGroup.builds``), e.g. ``elev_diff`` or ``terrain``.
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("frames", "pixels", "layers", "table")


@dataclass(frozen=True)
class ArraySpec:
    """One cache array: its file name (``<name>.npy``), kind (see above), dtype and meaning."""

    name: str
    kind: str
    dtype: str
    doc: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"array {self.name}: kind {self.kind!r} is none of {KINDS}")


CORE = (
    ArraySpec("lst", "frames", "uint16", "LST in 0.02 K, 0 = missing"),
    ArraySpec("qa", "frames", "uint8", "the date's QA code (0-3), see io.formats.observed"),
    ArraySpec("window_mean", "frames", "float32", "k x k window-mean LST (K); NaN = window not fully valid "
              "(missing pixel, DEM gap, grid edge)"),
    ArraySpec("oracle_target", "frames", "float32", "optional (synthetic): the input-visible physics' target"),
    ArraySpec("dem", "pixels", "float32", "elevation (m), NaN = void"),
    ArraySpec("elev_mean", "pixels", "float32", "k x k window-mean elevation (m); NaN where the window "
              "leaves the grid or touches a DEM void"),
    ArraySpec("sample_frames", "pixels", "int32", "the number of frames whose window at the pixel is valid "
              "(0: the pixel never holds a sample, e.g. open sea or a tile's empty corner)"),
    ArraySpec("frame_lapse", "table", "float32", "the frame's coarse LST-elevation slope (K/km), see "
              "data/facts/context.py"),
)
