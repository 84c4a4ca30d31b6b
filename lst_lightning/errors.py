"""User-facing errors: one clear line, a non-zero exit, never a bare traceback."""
from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable[..., object])

EXIT_USER_ERROR = 2


class LSTError(Exception):
    """A mistake in the user's input or settings. The message names the file or setting."""


def exit_on_user_error(fn: F) -> F:
    """The wrapper of every entry point: the project's console logging on (``log.configure``);
    on LSTError print ``error: <message>`` to stderr and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from lst_lightning.log import configure

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
