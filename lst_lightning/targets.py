"""The one way a configured component is chosen: a Hydra ``_target_`` (networks, baselines,
optimizers, schedules, data sources), built here so that a misspelt name or setting is one line
that lists the valid choices instead of a traceback."""
from __future__ import annotations

import importlib
import inspect
import sys

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
    """How configs name ``cls``: its module's path for this project's classes (as conf/ writes them),
    the shortest import path for a library's (torch.optim.Adam rather than torch.optim.adam.Adam)."""
    if cls.__module__.startswith("lst_lightning."):
        return f"{cls.__module__}.{cls.__qualname__}"
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        module = sys.modules.get(".".join(parts[:i]))
        if module is not None and getattr(module, cls.__name__, None) is cls:
            return f"{module.__name__}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def target_class(node: dict, setting: str, base: type) -> type:
    """The class named by ``node["_target_"]``, a subclass of ``base``."""
    target = (node or {}).get("_target_")
    cls = locate(str(target)) if target else None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise LSTError(f"{setting}._target_: unknown {target!r}; choose from {', '.join(choices(base))}")
    return cls


def locate(path: str):
    """The object at a dotted import path (``package.module.Name``), None if there is none."""
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name, None) if module else None
    except ImportError:
        return None


def check(node: dict, setting: str, base: type, *args, **kwargs) -> type:
    """What ``build`` would refuse (an unknown name, a misspelt setting), found without building."""
    cls = target_class(node, setting, base)
    settings = {k: v for k, v in dict(node).items() if not k.startswith("_")}
    try:
        inspect.signature(cls).bind(*args, **settings, **kwargs)
    except TypeError as err:
        raise LSTError(f"{setting} ({cls.__name__}): {err}") from None
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
