"""What the cache tests share: building a cache of the ``small`` archive, listing what a build
left in the cache root, and preparations in a separate process."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from lst_lightning.data.cache import Cache, prepare_cache
from tests.common import REPO


def prep(small, **kw) -> Cache:
    kw.setdefault("cache_root", small["root"])
    kw.setdefault("progress", False)
    return prepare_cache(small["lst_dir"], dem=small["dem"], **kw)


def cache_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(("lst-", ".tmp-"))) if root.exists() else []


def lock_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob(".*.lock")) if root.exists() else []


# the entry point's part: logging on, as the console scripts do, so the messages reach stderr
PREPARE_CODE = ("import logging, sys; from lst_lightning.data.cache import prepare_cache; "
                "logging.basicConfig(level=logging.INFO, format='%(message)s'); "
                "c = prepare_cache(sys.argv[1], dem=sys.argv[2], cache_root=sys.argv[3], progress=False); "
                "print(c.path)")


def start_prepare(lst_dir, dem, root) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PREPARE_CODE, str(lst_dir), str(dem), str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def wait_for_build(proc: subprocess.Popen, root: Path) -> Path:
    """The temporary directory of ``proc``'s build, once it is writing frames."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        tmps = list(root.glob(".tmp-lst-*")) if root.exists() else []
        if tmps and (tmps[0] / "window_mean.npy").exists():
            return tmps[0]
        time.sleep(0.002)
    raise AssertionError("the build finished before it could be caught midway")
