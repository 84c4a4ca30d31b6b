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
landcover  the window's fraction of each land-cover class         scalar
           (``lc_<code>``, rare classes and nodata in ``lc_other``),
           then the centre pixel's class one-hot (``lc_centre_<code>``)
context    coarse-field context: the 8 neighbouring windows'      scalar
           mean LST and mean elevation minus the window's own
           (``ctx_lst_<dir>``, ``ctx_elev_<dir>``; an invalid
           neighbour counts as equal, 0), and the frame's coarse
           LST-elevation slope (``ctx_lapse``, K/km)
=========  =====================================================  =======

``features.when_available`` lists groups (ndvi, landcover) added only when the data provides them:
the default features use every input the archive has (``features=original``: the original set).
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
# the 8 neighbouring windows, one window side away: (name, row step, column step)
NEIGHBOURS = (("n", -1, 0), ("ne", -1, 1), ("e", 0, 1), ("se", 1, 1),
              ("s", 1, 0), ("sw", 1, -1), ("w", 0, -1), ("nw", -1, -1))
GROUP_COLUMNS["context"] = (tuple(f"ctx_lst_{d}" for d, _, _ in NEIGHBOURS)
                            + tuple(f"ctx_elev_{d}" for d, _, _ in NEIGHBOURS) + ("ctx_lapse",))
PATCH_GROUPS = ("elev_diff", "ndvi")
ALL_GROUPS = ("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon", "ndvi", "terrain",
              "landcover", "context")
ORIGINAL_GROUPS = ("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon")
OPTIONAL_INPUTS = ("ndvi", "landcover")  # groups that need an input file beyond the LST and the DEM


def resolve_groups(groups, when_available=(), available=()) -> tuple[str, ...]:
    """The feature groups of a run: ``groups`` plus those of ``when_available`` the data provides
    (``available``: the optional inputs present), in ALL_GROUPS order for the added ones."""
    groups = tuple(groups)
    bad = [g for g in when_available if g not in OPTIONAL_INPUTS]
    if bad:
        from lst_lightning.errors import LSTError

        raise LSTError(f"features.when_available: {bad} are not optional inputs; "
                       f"only {list(OPTIONAL_INPUTS)} can be")
    extra = [g for g in ALL_GROUPS if g in when_available and g in available and g not in groups]
    return groups + tuple(extra)


@dataclass(frozen=True)
class FeatureLayout:
    """Column names and groups of the scalar block and channel names of the patch block."""

    k: int
    groups: tuple[str, ...] = ORIGINAL_GROUPS
    landcover_classes: tuple[str, ...] = ()  # column labels of the landcover group (the cache's)
    scalar_names: tuple[str, ...] = field(init=False)
    scalar_groups: tuple[str, ...] = field(init=False)
    patch_channels: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        unknown = [g for g in self.groups if g not in ALL_GROUPS]
        if unknown:
            from lst_lightning.errors import LSTError

            raise LSTError(f"features.groups: unknown group(s) {unknown}; known groups are {list(ALL_GROUPS)}")
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "landcover_classes", tuple(str(c) for c in self.landcover_classes))
        names, groups = [], []
        for g in self.groups:
            for col in self.group_columns(g):
                names.append(col)
                groups.append(g)
        object.__setattr__(self, "scalar_names", tuple(names))
        object.__setattr__(self, "scalar_groups", tuple(groups))
        object.__setattr__(self, "patch_channels", tuple(g for g in PATCH_GROUPS if g in self.groups))

    def group_columns(self, group: str) -> tuple[str, ...]:
        """The scalar columns of one group (none for the patch groups)."""
        if group == "landcover":
            return (tuple(f"lc_{c}" for c in self.landcover_classes)
                    + tuple(f"lc_centre_{c}" for c in self.landcover_classes))
        return GROUP_COLUMNS.get(group, ())

    def to_json(self) -> dict:
        """What a checkpoint or a saved baseline keeps of the layout (``from_json`` reads it)."""
        return {"k": self.k, "groups": list(self.groups), "landcover_classes": list(self.landcover_classes)}

    @classmethod
    def from_json(cls, saved: dict) -> "FeatureLayout":
        return cls(k=int(saved["k"]), groups=tuple(saved.get("groups", ORIGINAL_GROUPS)),
                   landcover_classes=tuple(saved.get("landcover_classes", ())))

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
