"""Progress bars that get out of the way of errors.

A tqdm bar left open when an exception escapes keeps the cursor at the end of its line, so the
error (or traceback) is printed onto the bar (``preparing frames:   0%| ... error: ...``) and the
bar's teardown, when the object is finally collected, follows it. ``progress_bar`` closes the bar
before the exception leaves the ``with`` block: the error starts on a clean line.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Iterable, Iterator

from tqdm.auto import tqdm


@contextlib.contextmanager
def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", enabled: bool = True, mininterval: float = 0.1,
                 leave: bool = False) -> Iterator:
    """A tqdm bar on stderr, closed when the block ends, normally or not.

    Use ``bar.update(n)``, or iterate over the bar when ``iterable`` is given. ``enabled``
    False: nothing is drawn. ``mininterval``: seconds between redraws. ``leave``: keep the
    finished bar on screen (the default clears its line)."""
    bar = tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr,
               mininterval=mininterval, leave=leave)
    try:
        yield bar
    finally:
        bar.close()
