"""Reading a generated synthetic archive back through the project's normal reader."""
from __future__ import annotations

import numpy as np

from lst_lightning.data.io.archive import open_archive

SMALL = dict(shape=(40, 36), day_step=61, seed=3, progress=False)  # 6 dates of 2020 (leap year)


def read_all(directory):
    """(archive, lst uint16 [T,H,W], qa uint8 [T,H,W]) through the normal reader."""
    archive = open_archive(directory)
    blocks = list(archive.iter_blocks())
    return archive, np.concatenate([b[1] for b in blocks]), np.concatenate([b[2] for b in blocks])
