"""Train and evaluate a model: python train.py model=cnn split=days  (see conf/train.yaml).
The same app as the installed ``lst-train``; outputs (data/, logs/) go under this checkout."""
import os
from pathlib import Path

os.environ.setdefault("LST_ROOT", str(Path(__file__).resolve().parent))

from lst_lightning.apps.train import main  # noqa: E402  (after LST_ROOT: the configs read it)

if __name__ == "__main__":
    main()
