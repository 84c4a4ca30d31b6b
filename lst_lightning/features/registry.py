"""The feature-group registry: name -> group (features/base.py ``FeatureGroup``).

The built-in groups register when ``lst_lightning.features`` is imported, in the order of
``BUILT_IN``; a group of your own registers with ``register(MyGroup())`` in a module that
``features.modules`` names (conf/features/*.yaml), and is then used like a built-in one.
"""
from __future__ import annotations

from lst_lightning.errors import LSTError
from lst_lightning.features.base import FeatureGroup

GROUPS: dict[str, FeatureGroup] = {}


def register(group: FeatureGroup) -> FeatureGroup:
    """Add ``group`` to the registry (replacing a group of the same name); returns it."""
    if not group.name or not group.name.isidentifier():
        raise LSTError(f"feature group {type(group).__name__}: needs a name that is an identifier, got {group.name!r}")
    if group.patch and group.columns:
        raise LSTError(f"feature group {group.name!r}: a patch group has no scalar columns")
    GROUPS[group.name] = group
    return group


def unregister(name: str) -> None:
    GROUPS.pop(name, None)


def group(name: str, setting: str = "features.groups") -> FeatureGroup:
    """The registered group ``name``; an LSTError naming ``setting`` and the known groups otherwise."""
    if name not in GROUPS:
        raise LSTError(f"{setting}: unknown group {name!r}; known groups are {list(GROUPS)}")
    return GROUPS[name]


def scale_bound(groups) -> list[str]:
    """Those of ``groups`` measured not to carry one scale down (``FeatureGroup.transfers`` False)."""
    return [name for name in groups if not group(name).transfers]


def optional_inputs() -> tuple[str, ...]:
    """The optional inputs (data.<key>) some group needs: ndvi, landcover, ..."""
    return tuple(dict.fromkeys(g.needs[0] for g in GROUPS.values() if g.needs))


def array_builders() -> dict[str, FeatureGroup]:
    """Cache array name -> the group that builds it."""
    return {spec.name: g for g in GROUPS.values() for spec in g.builds}
