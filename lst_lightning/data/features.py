"""Which inputs a model sees, and their layout in a batch.

A batch is a dict of tensors (raw, unscaled features; scaling lives in the model so a checkpoint
alone can predict):

* ``scalars``  float32 [B, S]     one column per scalar feature, ``layout.scalar_names`` order
* ``patch``    float32 [B, C, k, k] image channels, ``layout.patch_channels`` order
               (channel 0 is the k x k elevation differences from the window mean, metres)
* ``target``   float32 [B]        centre LST minus window-mean LST, Kelvin
* ``oracle``   float32 [B]        the input-visible physics' target (synthetic archives), else NaN
* ``observed`` bool [B]           centre pixel really observed for this frame's band (QA)
* ``frame``, ``row``, ``col``  int64 [B]  where the sample comes from

Feature groups (each one can be dropped or added by the ``features`` config):

=========  =====================================================  =======
group      columns                                                where
=========  =====================================================  =======
lst_mean   window-mean LST (K)                                    scalar
elev_mean  window-mean elevation (m)                              scalar
elev_diff  k*k elevation differences from the window mean (m)     patch
doy        sin, cos of day of year                                scalar
tod        sin, cos of time of day                                scalar
latlon     latitude, longitude of the centre (deg)                scalar
ndvi       k*k NDVI window (month of the frame, or static)        patch
terrain    slope (deg), sin/cos aspect, topographic position (m)  scalar
=========  =====================================================  =======
"""
from __future__ import annotations

from dataclasses import dataclass, field

GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "lst_mean": ("lst_mean",),
    "elev_mean": ("elev_mean",),
    "doy": ("doy_sin", "doy_cos"),
    "tod": ("tod_sin", "tod_cos"),
    "latlon": ("lat", "lon"),
    "terrain": ("slope", "aspect_sin", "aspect_cos", "tpi"),
}
PATCH_GROUPS = ("elev_diff", "ndvi")
ALL_GROUPS = ("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon", "ndvi", "terrain")
ORIGINAL_GROUPS = ("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon")


@dataclass(frozen=True)
class FeatureLayout:
    """Column names and groups of the scalar block and channel names of the patch block."""

    k: int
    groups: tuple[str, ...] = ORIGINAL_GROUPS
    scalar_names: tuple[str, ...] = field(init=False)
    scalar_groups: tuple[str, ...] = field(init=False)
    patch_channels: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        unknown = [g for g in self.groups if g not in ALL_GROUPS]
        if unknown:
            from lst_lightning.errors import LSTError

            raise LSTError(f"features.groups: unknown group(s) {unknown}; known groups are {list(ALL_GROUPS)}")
        names, groups = [], []
        for g in self.groups:
            for col in GROUP_COLUMNS.get(g, ()):
                names.append(col)
                groups.append(g)
        object.__setattr__(self, "scalar_names", tuple(names))
        object.__setattr__(self, "scalar_groups", tuple(groups))
        object.__setattr__(self, "patch_channels", tuple(g for g in PATCH_GROUPS if g in self.groups))

    @property
    def n_scalars(self) -> int:
        return len(self.scalar_names)

    @property
    def n_channels(self) -> int:
        return len(self.patch_channels)

    @property
    def n_inputs(self) -> int:
        """Width of the flattened input (what an MLP sees)."""
        return self.n_scalars + self.n_channels * self.k * self.k
