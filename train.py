"""Train and evaluate a model: python train.py model=cnn split=days  (see conf/train.yaml)."""
import os
from pathlib import Path

import hydra

import lst_lightning.training.sweeps  # noqa: F401  (the ${lst_dir:...} resolver of the sweep configs)
from lst_lightning.config import CONF_DIR

# outputs (data/, logs/) go under this checkout whatever the current directory
os.environ.setdefault("LST_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg) -> float | None:
    from lst_lightning.training.experiment import main_entry

    return main_entry(cfg)


if __name__ == "__main__":
    main()
