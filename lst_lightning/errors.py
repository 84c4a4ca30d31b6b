"""User-facing errors: one clear line, a non-zero exit, never a bare traceback."""
from __future__ import annotations

import contextlib
import functools
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from lst_lightning.log import configure

F = TypeVar("F", bound=Callable[..., object])

EXIT_USER_ERROR = 2
MAX_LINE_CHARS = 300  # a message that names the file must stay readable on one terminal line or two


class LSTError(Exception):
    """A mistake in the user's input or settings. The message names the file or setting."""


def one_line(err: BaseException) -> str:
    """A library's exception as one short line for an LSTError message: netCDF4, HDF5 and tifffile
    raise many types with multi-line or very long texts for corrupt files (its type name when it
    has no text), at most MAX_LINE_CHARS."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS - 3] + "..."


def exit_on_user_error(fn: F) -> F:
    """The wrapper of every entry point: the project's console logging on (``log.configure``);
    on LSTError print ``error: <message>`` to stderr and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        configure()
        try:
            return fn(*args, **kwargs)
        except LSTError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def removed_on_failure(root: Path, own_root: bool = False) -> Iterator[None]:
    """Run a job that writes files under ``root``: if it fails or is interrupted, every file it
    wrote there (new, or rewritten since it started) is removed, and every folder it created,
    ``root`` too when it made it, when empty. ``own_root``: ``root`` was made for this job (its
    whole content goes). Nothing of a failed job stays behind."""
    root = Path(root)
    before = {} if own_root else _snapshot(root)
    existed = {p for p, stamp in before.items() if stamp is None}
    if root.is_dir() and not own_root:
        existed.add(root)
    try:
        yield
    except BaseException:
        if own_root:
            shutil.rmtree(root, ignore_errors=True)
            raise
        after = _snapshot(root)
        for path, stamp in after.items():
            if stamp is not None and before.get(path) != stamp:
                path.unlink(missing_ok=True)
        made = sorted((p for p, stamp in after.items() if stamp is None and p not in existed),
                      key=lambda p: len(p.parts), reverse=True)
        for path in made + ([root] if root not in existed else []):
            with contextlib.suppress(OSError):
                path.rmdir()  # only when empty
        raise


def _snapshot(root: Path) -> dict[Path, tuple | None]:
    """Every file under ``root`` -> (inode, size, mtime); every folder -> None."""
    out: dict[Path, tuple | None] = {}
    if not root.is_dir():
        return out
    for path in root.rglob("*"):
        try:
            st = path.lstat()
        except OSError:
            continue
        out[path] = None if path.is_dir() and not path.is_symlink() else (st.st_ino, st.st_size, st.st_mtime_ns)
    return out
