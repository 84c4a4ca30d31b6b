"""The packaged Hydra configs' folder and its groups' options, without Hydra: the console entry
modules check a group option (``model=gatd``, ``lst-report --models gatd``) before anything heavy
loads, so ``--help`` and the one-line errors answer at once. ``config.py`` composes with them."""
from __future__ import annotations

from pathlib import Path

from lst_lightning.errors import LSTError

CONF_DIR = Path(__file__).resolve().parent / "conf"


def group_options(group: str) -> list[str] | None:
    """The options of a config group (``model``, ``model/optimizer``, ...); None if it is no group."""
    folder = CONF_DIR / group
    if not group or ".." in group or not folder.is_dir():
        return None
    return sorted(p.stem for p in folder.glob("*.yaml"))


def check_choices(overrides) -> None:
    """A group override naming no option of its group (``model=gatd``) as one line that lists the
    options, before Hydra composes anything (its own error spans a screen). Sweep lists
    (``model=mlp,cnn``) are checked value by value; sweep functions (``choice(...)``) are left to Hydra."""
    for override in overrides:
        key, sep, value = str(override).partition("=")
        key = key.lstrip("+~").split("@")[0]
        options = group_options(key) if sep and "." not in key else None
        if options is None or "(" in value or value in ("null", ""):
            continue
        for choice in value.split(","):
            if choice not in options:
                raise LSTError(f"{key}={choice}: no such option of '{key}'; choose from {', '.join(options)}")
