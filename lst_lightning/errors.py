"""User-facing errors: one clear line, a non-zero exit, never a bare traceback."""
from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

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
