"""``lst-train`` (installed) and ``python train.py`` (the checkout): train and evaluate one
configuration, cross-validate it, or sweep (``-m``, Optuna) over the packaged Hydra configs.

A group option that does not exist (``model=gatd``) is one line listing the options, before Hydra
composes; the training stack is imported only once Hydra has parsed the command line, so
``--help`` answers at once.
"""
from __future__ import annotations

import sys

import hydra

import lst_lightning.training.sweeps  # noqa: F401  (the ${lst_dir:...} resolver of the sweep configs)
from lst_lightning.config import CONF_DIR, check_choices, empty_run_removed
from lst_lightning.errors import EXIT_USER_ERROR, LSTError


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def _app(cfg) -> float | None:
    from lst_lightning.training.experiment import main_entry  # lazy: lst-train --help answers before torch loads

    return empty_run_removed(main_entry)(cfg)


def main() -> None:
    try:
        check_choices(arg for arg in sys.argv[1:] if not arg.startswith("-"))
    except LSTError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    _app()


if __name__ == "__main__":
    main()
