"""The one way a configured component is chosen: a Hydra ``_target_`` (networks, baselines,
optimizers, schedules, data sources), built here so that a misspelt name or setting is one line
that lists the valid choices instead of a traceback."""
from __future__ import annotations

import inspect
import sys

from hydra.utils import get_class

from lst_lightning.errors import LSTError

OURS = ("lst_lightning.", "torch.optim.")  # where the valid choices are listed from


def choices(base: type) -> list[str]:
    """The concrete subclasses of ``base`` (at any depth) defined in this project or torch.optim."""
    found, todo = [], list(base.__subclasses__())
    while todo:
        cls = todo.pop(0)
        todo.extend(cls.__subclasses__())
        name = public_name(cls)
        if name.startswith(OURS) and not inspect.isabstract(cls) and not cls.__name__.startswith("_"):
            found.append(name)
    return sorted(dict.fromkeys(found))


def public_name(cls: type) -> str:
    """The shortest import path of ``cls`` (torch.optim.Adam rather than torch.optim.adam.Adam)."""
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        module = sys.modules.get(".".join(parts[:i]))
        if module is not None and getattr(module, cls.__name__, None) is cls:
            return f"{module.__name__}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def target_class(node: dict, setting: str, base: type) -> type:
    """The class named by ``node["_target_"]``, a subclass of ``base``."""
    target = (node or {}).get("_target_")
    try:
        cls = get_class(str(target)) if target else None
    except Exception:  # noqa: BLE001 - Hydra raises several kinds for a path that is no class
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise LSTError(f"{setting}._target_: unknown {target!r}; choose from {', '.join(choices(base))}")
    return cls


def build(node: dict, setting: str, base: type, *args, **kwargs):
    """``node``'s ``_target_`` class (a subclass of ``base``) built with ``node``'s other settings plus
    ``args``/``kwargs``; a bad name or setting is an LSTError naming ``setting``."""
    cls = target_class(node, setting, base)
    settings = {k: v for k, v in dict(node).items() if not k.startswith("_")}
    try:
        return cls(*args, **settings, **kwargs)
    except (TypeError, ValueError) as err:  # a misspelt setting, an out-of-range value
        raise LSTError(f"{setting} ({cls.__name__}): {' '.join(str(err).split())}") from None
