"""Which inputs a model sees, and their layout in a batch.

A batch is a dict of arrays (raw, unscaled features; scaling lives in the model so a checkpoint
alone can predict):

* ``scalars``  float32 [B, S]     one column per scalar feature, ``layout.scalar_names`` order
* ``patch``    float32 [B, C, k, k] image channels, ``layout.patch_channels`` order
* ``target``   float32 [B]        centre LST minus window-mean LST, Kelvin
* ``oracle``   float32 [B]        the input-visible physics' target (synthetic archives), else NaN
* ``observed`` bool [B]           centre pixel really observed for this frame's band (QA)
* ``band``     int64 [B]          the frame's band, its index in io.formats.FRAME_BANDS (0 night, 1 day)
* ``frame``, ``row``, ``col``  int64 [B]  where the sample comes from

The groups and their columns are the registry's (lst_lightning/features/<group>.py). A layout
keeps its columns explicitly, so a saved one (``to_json``, in every checkpoint and baseline file)
reads back without the registry; scalar columns follow the layout's group order, patch channels
the registry's.
"""
from __future__ import annotations

from dataclasses import InitVar, dataclass, field

from lst_lightning.errors import LSTError
from lst_lightning.features.registry import GROUPS, group, optional_inputs

ORIGINAL_GROUPS = ("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon")


def resolve_groups(groups, when_available=(), available=()) -> tuple[str, ...]:
    """The feature groups of a run: ``groups`` plus those of ``when_available`` the data provides
    (``available``: the optional inputs present), in registry order for the added ones."""
    groups = tuple(groups)
    for name in (*groups, *when_available):
        group(name)
    bad = [g for g in when_available if GROUPS[g].needs is None]
    if bad:
        raise LSTError(f"features.when_available: {bad} are not optional inputs; only groups that need one "
                       f"({', '.join(g for g in GROUPS if GROUPS[g].needs)}) can be")
    extra = [g for g in GROUPS if g in when_available and GROUPS[g].available(set(available)) and g not in groups]
    return groups + tuple(extra)


@dataclass(frozen=True)
class FeatureLayout:
    """Column names and groups of the scalar block and channel names of the patch block.

    ``columns`` (group -> its scalar columns) and ``patch_channels`` are derived from the registry
    and ``meta`` (a cache's metadata: columns that depend on the data, e.g. land-cover classes)
    unless given."""

    k: int
    groups: tuple[str, ...] = ORIGINAL_GROUPS
    columns: dict = None  # type: ignore[assignment]
    patch_channels: tuple[str, ...] = None  # type: ignore[assignment]
    meta: InitVar[dict | None] = None
    scalar_names: tuple[str, ...] = field(init=False)
    scalar_groups: tuple[str, ...] = field(init=False)

    def __post_init__(self, meta):
        object.__setattr__(self, "groups", tuple(self.groups))
        if self.columns is None:
            found = [group(g) for g in self.groups]
            object.__setattr__(self, "columns", {g.name: g.column_names(meta or {}) for g in found})
            object.__setattr__(self, "patch_channels", tuple(n for n in GROUPS if n in self.groups and GROUPS[n].patch))
        object.__setattr__(self, "columns", {g: tuple(self.columns.get(g, ())) for g in self.groups})
        object.__setattr__(self, "patch_channels", tuple(self.patch_channels or ()))
        names = [(c, g) for g in self.groups for c in self.columns[g]]
        object.__setattr__(self, "scalar_names", tuple(c for c, _ in names))
        object.__setattr__(self, "scalar_groups", tuple(g for _, g in names))

    @classmethod
    def pooled(cls, k: int, groups, metas: list[dict]) -> "FeatureLayout":
        """The layout over several archives' caches (data=multi): e.g. land cover as the union of
        the archives' classes."""
        found = [group(g) for g in groups]
        columns = {g.name: g.pooled_column_names(metas) for g in found}
        patch = tuple(n for n in GROUPS if n in groups and GROUPS[n].patch)
        return cls(k=k, groups=tuple(groups), columns=columns, patch_channels=patch)

    def group_columns(self, name: str) -> tuple[str, ...]:
        """The scalar columns of one group (none for the patch groups)."""
        return self.columns.get(name, ())

    def to_json(self) -> dict:
        """What a checkpoint or a saved baseline keeps of the layout (``from_json`` reads it)."""
        return {"k": self.k, "groups": list(self.groups), "columns": {g: list(c) for g, c in self.columns.items()},
                "patch_channels": list(self.patch_channels)}

    @classmethod
    def from_json(cls, saved: dict) -> "FeatureLayout":
        if "columns" in saved:
            return cls(k=int(saved["k"]), groups=tuple(saved["groups"]), columns=saved["columns"],
                       patch_channels=tuple(saved["patch_channels"]))
        # saved before layouts kept their columns: derived, as then, from the land-cover classes
        return cls(k=int(saved["k"]), groups=tuple(saved.get("groups", ORIGINAL_GROUPS)),
                   meta={"landcover_classes": list(saved.get("landcover_classes", ()))})

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

    def patch_columns(self) -> list[str]:
        """``<channel>_<row>_<col>`` for every patch pixel, in the order of ``patch.reshape(n, -1)``."""
        k = self.k
        return [f"{ch}_{i}_{j}" for ch in self.patch_channels for i in range(k) for j in range(k)]


__all__ = ["FeatureLayout", "ORIGINAL_GROUPS", "optional_inputs", "resolve_groups"]
