"""Numbers as people and JSON readers see them: one formatter, one NaN -> null rule."""
from __future__ import annotations

import math


def finite_or_none(value):
    """``value`` unless it is a non-finite float (NaN, inf), which JSON cannot hold: None."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def fmt(value, digits: int | None = None, sign: bool = False) -> str:
    """A metric for a table: "n/a" when missing or not finite; ``digits`` decimals (with ``sign``, a
    leading +/-); without ``digits``, whole numbers above 100 with thousands separators (sample
    counts) and everything else with 4 decimals (Kelvin)."""
    if finite_or_none(value) is None:
        return "n/a"
    if digits is None:
        whole = isinstance(value, int) or (float(value).is_integer() and abs(value) > 100)
        return f"{value:,.0f}" if whole else f"{value:.4f}"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
