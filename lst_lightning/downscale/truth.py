"""A fine-scale prediction scored against a known fine truth (the synthetic ``fine/`` archive of
``lst-synth --fine-factor``, or any archive on the fine grid), next to what the coarse field alone
gives: the coarse value repeated, bilinear and bicubic interpolation (raw and block-conserved), the
TsHARP-style regression on elevation, and the field's stronger sharpeners: ATPRK (atprk.py) and a
pyDMS-style data-mining sharpener (dms.py), both on the same fine covariates. Every method is
scored on the same pixels: observed in the truth (QA) and predicted by every method. Held in
memory frame by frame (about 40 bytes a fine pixel): meant for validation grids, not a whole
country at f = 9."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lst_lightning.data.io.archive import open_archive
from lst_lightning.data.io.formats import observed, raw_to_kelvin
from lst_lightning.downscale.atprk import atprk
from lst_lightning.downscale.dms import dms_sharpen
from lst_lightning.downscale.fine import Residuals, conserve_tile
from lst_lightning.downscale.sharpening import (
    MIN_PIXELS,
    conservative_spline,
    interpolate,
    regression_sharpen,
    repeat,
    sample,
)
from lst_lightning.errors import LSTError

# what the coarse field (and the fine covariates) alone give, in the order tables list them
COARSE_METHODS = {"ATPRK": "ATPRK (regression + area-to-point kriging of its residuals)",
                  "DMS": "data-mining sharpener (pyDMS-style trees, residual-corrected)",
                  "regression": "TsHARP-style regression (residual-corrected)",
                  "spline, conserved": "conservative spline (block means exact, no edge steps)",
                  "bicubic, conserved": "bicubic interpolation, block-conserved", "bicubic": "bicubic interpolation",
                  "bilinear": "bilinear interpolation", "repeat": "coarse value repeated"}
METHODS = ("model", *COARSE_METHODS)


def truth_frames(truth_dir: str | Path, grid, frames: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """([T, Hf, Wf] truth K (NaN = missing), [T, Hf, Wf] observed) of ``frames`` from the archive."""
    archive = open_archive(truth_dir)
    grid.require_match(archive.grid, f"fine_truth {truth_dir}", reference="the fine_dem grid")
    want = {(f["date"], f["band"]): i for i, f in enumerate(frames)}
    truth = np.full((len(frames), *grid.shape), np.nan, dtype=np.float32)
    seen = np.zeros(truth.shape, dtype=bool)
    found = set()
    labels = [(fr.date.isoformat(), fr.band) for fr in archive.frames]
    for start, raw, qa in archive.iter_blocks():
        for j in range(raw.shape[0]):
            key = labels[start + j]
            if key in want:
                truth[want[key]] = raw_to_kelvin(raw[j])
                seen[want[key]] = observed(qa[j], key[1])
                found.add(key)
    missing = sorted(set(want) - found)
    if missing:
        raise LSTError(f"fine_truth {truth_dir}: no frame {missing[0][0]} {missing[0][1]} (of the maps asked for)")
    return truth, seen


def score(pred: np.ndarray, truth: np.ndarray, seen: np.ndarray, inputs, coarse_dem: np.ndarray,
          bands: list[str], label: str = "model") -> dict:
    """{"rmse": {method: {"all": K, "<band>": K}}, "pixels": n, "map": label}: the written maps
    ``pred`` [T, Hf, Wf] (method "model"; ``label`` says what they are: the model, or its blend with
    an interpolation) and the coarse-field methods of the same frames, on the pixels every one of
    them covers."""
    covariates = [([coarse_dem], [inputs.dem])] * len(bands)
    methods = {"model": pred, **coarse_field_methods(inputs.coarse_lst, inputs.nesting, covariates)}
    mask = common_pixels(methods, truth, seen)
    steps = {name: edge_step_ratio(np.where(mask, methods[name], np.nan), inputs.nesting)
             for name in ("model", "bicubic, conserved", "bicubic")}
    steps["truth"] = edge_step_ratio(np.where(mask, truth, np.nan), inputs.nesting)
    return {"rmse": band_rmse({m: methods[m] for m in METHODS}, truth, mask, bands), "pixels": int(mask.sum()),
            "map": label, "edge_step_ratio": steps}


def edge_step_ratio(maps: np.ndarray, nesting) -> float:
    """The coarse grid's imprint on fine maps [T, Hf, Wf]: the mean absolute difference between
    neighbouring fine pixels that lie in different coarse pixels over that of neighbours inside one
    (pairs where both are finite). 1 when the coarse pixel edges leave no trace; a block
    correction's steps make it larger."""
    sums = np.zeros(2)
    counts = np.zeros(2)
    for axis, coarse_of in ((1, nesting.coarse_rows), (2, nesting.coarse_cols)):
        step = np.abs(np.diff(maps.astype(np.float64), axis=axis))
        c = coarse_of(np.arange(maps.shape[axis]))
        edge = np.diff(c) != 0
        edge = edge[None, :, None] if axis == 1 else edge[None, None, :]
        ok = np.isfinite(step)
        for i, where in enumerate((ok & edge, ok & ~edge)):
            sums[i] += step[where].sum()
            counts[i] += where.sum()
    return float((sums[0] / counts[0]) / (sums[1] / counts[1])) if counts.all() and sums[1] > 0 else float("nan")


def coarse_field_methods(coarse: np.ndarray, nesting, covariates: list[tuple[list, list]]) -> dict[str, np.ndarray]:
    """``COARSE_METHODS`` for frames ``coarse`` [T, H, W] on the fine grid: the sharpeners
    (``covariates[t]`` = (coarse, fine) covariates of frame t, elevation first), bicubic raw and
    block-conserved, bilinear, the coarse value repeated."""
    hf, wf = nesting.fine.shape
    pairs = list(zip(coarse, covariates))
    out = {"ATPRK": np.stack([_sharpened(atprk, c, fc, nesting) for c, (_, fc) in pairs]),
           "DMS": np.stack([_sharpened(dms_sharpen, c, fc, nesting) for c, (_, fc) in pairs]),
           "regression": np.stack([regression_sharpen(c, cc, fc, nesting) for c, (cc, fc) in pairs])}
    out["spline, conserved"] = spline_conserved(coarse, nesting, slice(0, hf), slice(0, wf))
    out["bicubic"], out["bicubic, conserved"] = bicubic_pair(coarse, nesting, slice(0, hf), slice(0, wf))
    out["bilinear"] = np.stack([interpolate(c, nesting, 1) for c in coarse])
    out["repeat"] = np.stack([repeat(c, nesting) for c in coarse])
    return out


def bicubic_pair(coarse: np.ndarray, nesting, rows: slice, cols: slice,
                 where: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """([T, rows, cols] bicubic interpolation of ``coarse`` [T, H, W] on the fine pixels rows x cols,
    the same block-conserved): the "bicubic" and "bicubic, conserved" methods; with ``where``, both
    only on those pixels (conserved over them)."""
    bicubic = np.stack([interpolate(c, nesting, 3, rows, cols) for c in coarse])
    if where is not None:
        bicubic = np.where(where, bicubic, np.nan)
    return bicubic, Residuals("block", coarse, nesting).apply(rows, cols, bicubic)


def spline_conserved(coarse: np.ndarray, nesting, rows: slice, cols: slice,
                     where: np.ndarray | None = None) -> np.ndarray:
    """[T, rows, cols]: each frame of ``coarse`` [T, H, W] interpolated by its conservative spline
    (sharpening.conservative_spline: the fine pixels of each coarse pixel average to it, with none of
    the steps the block correction leaves at the edges of bicubic's), block-corrected only where
    fill leaves a coarse pixel's fine pixels incomplete: the "spline, conserved" method; with
    ``where``, only on those pixels (conserved over them)."""
    out = []
    for t, c in enumerate(coarse):
        surface = sample(conservative_spline(c, nesting.f), nesting, rows, cols)
        if where is not None:
            surface = np.where(where[t], surface, np.nan)
        out.append(conserve_tile(surface, c, nesting, rows, cols))
    return np.stack(out).astype(np.float32)


def bicubic_conserved(coarse: np.ndarray, nesting, rows: slice, cols: slice,
                      where: np.ndarray | None = None) -> np.ndarray:
    """The "bicubic, conserved" map of ``bicubic_pair``."""
    return bicubic_pair(coarse, nesting, rows, cols, where)[1]


# the conserved interpolations of the coarse LST a fine map can be averaged with (lst-predict blend=)
CONSERVED_INTERPOLATIONS = {"bicubic": bicubic_conserved, "spline": spline_conserved}


def _sharpened(method, coarse: np.ndarray, fine_cov: list, nesting) -> np.ndarray:
    """One frame by a sharpener (float32); a frame with too few coarse pixels to fit one: repeated."""
    if np.isfinite(coarse).sum() < MIN_PIXELS:
        return repeat(coarse, nesting)
    return method(coarse, fine_cov, nesting).astype(np.float32)


def common_pixels(methods: dict, truth: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Where the truth is observed and every method has a value: the pixels all are scored on."""
    mask = seen & np.isfinite(truth)
    for values in methods.values():
        mask &= np.isfinite(values)
    return mask


def band_rmse(methods: dict, truth: np.ndarray, mask: np.ndarray, bands: list[str]) -> dict:
    """{method: {"all": K, "<band>": K}}: RMSE of each [T, H, W] method against ``truth`` on ``mask``,
    pooled and per band (``bands``: the band of each of the T frames)."""
    band_of = np.asarray(bands)
    rmse = {}
    for name, values in methods.items():
        err = (values - truth).astype(np.float64)
        rmse[name] = {}
        for band in ["all", *sorted(set(bands))]:
            m = mask & (True if band == "all" else (band_of == band)[:, None, None])
            rmse[name][band] = float(np.sqrt(np.mean(err[m] ** 2))) if m.any() else float("nan")
    return rmse


def format_scores(scores: dict) -> str:
    keys = list(scores["rmse"]["model"])
    lines = [f"fine truth: RMSE (K) on {scores['pixels']:,} fine pixels observed and predicted by every method",
             "  " + f"{'method':22s}" + "".join(f"{k:>9s}" for k in keys)]
    for name in METHODS:
        shown = scores.get("map", name) if name == "model" else name
        lines.append("  " + f"{shown:22s}" + "".join(f"{scores['rmse'][name][k]:9.4f}" for k in keys))
    steps = scores.get("edge_step_ratio") or {}
    if steps:
        lines.append("  steps across coarse pixel edges / steps inside a coarse pixel: "
                     + ", ".join(f"{name} {value:.3f}" for name, value in steps.items()))
    return "\n".join(lines)
