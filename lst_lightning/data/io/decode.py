"""Pixel values as stored in a file -> the cache's raw form: uint16 LST in 0.02 K (0 = missing)
and uint8 QA codes 0-3, one (date, band) frame per image.

Both archive forms pass through here: the NetCDF reader hands over the variable's attributes,
the GeoTIFF reader the equivalent ones (``scale_factor`` for integers, ``_FillValue`` from the
GDAL nodata tag). Fill values, scaling and the plausibility check are judged the same way.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lst_lightning.data.io.formats import LST_SCALE, PLAUSIBLE_K, kelvin_to_raw
from lst_lightning.errors import LSTError


def decode_block(block: np.ndarray, attrs: dict, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(dates, 4 bands, y, x) as stored -> (frames, y, x) raw uint16 LST and per-frame QA."""
    lst_vals = block[:, :2]  # night, day
    missing = _missing_mask(lst_vals, attrs)
    with np.errstate(invalid="ignore", over="ignore"):
        kelvin = _to_kelvin(lst_vals, attrs)
    kelvin[missing] = np.nan
    _check_plausible(kelvin, path)
    lst = kelvin_to_raw(kelvin)
    qa = _decode_qa(block[:, 3], attrs, path)
    n, _, h, w = lst.shape
    # frames are (date, band) with night before day; QA is per date, shared by both frames
    return lst.reshape(n * 2, h, w), np.repeat(qa, 2, axis=0)


def _numeric_attr(attrs: dict, key: str) -> list[float]:
    """Numeric values of a (possibly vector) attribute; strings and junk are ignored."""
    if key not in attrs:
        return []
    try:
        vals = np.atleast_1d(np.asarray(attrs[key])).astype(np.float64)
    except (TypeError, ValueError):
        return []
    return [float(v) for v in vals.ravel()]


def _declared_fills(attrs: dict) -> list[float]:
    return _numeric_attr(attrs, "_FillValue") + _numeric_attr(attrs, "missing_value")


def _missing_mask(values: np.ndarray, attrs: dict) -> np.ndarray:
    """Missing pixels of packed values: NaN, declared fills, and for integers without declared
    fills the dtype extremes; 0 is missing (it would be 0 K) unless an add_offset applies.
    (valid_range is deliberately not applied: files that state it in Kelvin instead of packed
    units would silently lose every pixel; implausible values fail loudly instead.)"""
    missing = np.zeros(values.shape, dtype=bool)
    if values.dtype.kind == "f":
        missing |= ~np.isfinite(values)
    declared = _declared_fills(attrs)
    for fill in declared:
        if math.isnan(fill):
            continue  # NaN already handled
        missing |= values == fill
    if values.dtype.kind in "iu" and not declared:
        info = np.iinfo(values.dtype)
        missing |= (values == info.max) | (values == info.min)
    if (_numeric_attr(attrs, "add_offset") or [0.0])[0] == 0:
        missing |= values == 0
    return missing


def _to_kelvin(values: np.ndarray, attrs: dict) -> np.ndarray:
    scale = (_numeric_attr(attrs, "scale_factor") or [0.0])[0]
    offset = (_numeric_attr(attrs, "add_offset") or [0.0])[0]
    x = values.astype(np.float64)
    if scale or offset:
        return x * (scale or 1.0) + offset
    if values.dtype.kind == "f":
        finite = x[np.isfinite(x) & (x != 0)]
        if finite.size and np.median(finite) < 1000:  # already Kelvin
            return x
    return x * LST_SCALE


def _check_plausible(kelvin: np.ndarray, path: Path) -> None:
    lo, hi = PLAUSIBLE_K
    bad = np.isfinite(kelvin) & ((kelvin < lo) | (kelvin > hi))
    if bad.any():
        example = float(kelvin[bad].flat[0])
        raise LSTError(f"{path}: {int(bad.sum())} LST values outside the plausible {lo:.0f}-{hi:.0f} K range "
                       f"(e.g. {example:.2f} K); check the units / scale factor")


def _decode_qa(values: np.ndarray, attrs: dict, path: Path) -> np.ndarray:
    qa = values.astype(np.float64)
    qa[~np.isfinite(qa)] = 0
    declared = _declared_fills(attrs)
    for fill in declared:
        qa[values == fill] = 0  # a masked QA pixel carries no observation
    if values.dtype.kind in "iu" and not declared:
        info = np.iinfo(values.dtype)
        qa[(values == info.max) | (values == info.min)] = 0
    bad = (qa < 0) | (qa > 3) | (qa != np.round(qa))
    if np.any(bad):
        found = np.unique(qa[bad])[:5]
        raise LSTError(f"{path}: QA band holds {int(bad.sum())} values other than the codes 0-3 "
                       f"(e.g. {', '.join(f'{v:g}' for v in found)})")
    return qa.astype(np.uint8)
