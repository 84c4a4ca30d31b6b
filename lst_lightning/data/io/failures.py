"""A library's exception about a bad input file, as one short line for an LSTError message.

netCDF4, HDF5 and tifffile raise many exception types with multi-line or very long texts for
corrupt and truncated files; the readers turn each into ``LSTError("cannot read ...: <line>")``.
"""
from __future__ import annotations

MAX_CHARS = 300  # a message that names the file must stay readable on one terminal line or two


def one_line(err: BaseException) -> str:
    """The exception's text on one line (its type name when it has none), at most MAX_CHARS."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 3] + "..."
