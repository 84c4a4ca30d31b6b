"""The coarse pixels a fine grid touches, as whole f x f blocks: the shared geometry of ATPRK and DMS.

A fine grid may start mid-block (``Nesting.row0/col0``), cover only part of the coarse grid or stick
out of it. Every block operation here works on a *canvas*: the fine grid padded with NaN to whole
blocks of the coarse window it touches, so that block means, repeats and per-block shifts are
plain reshapes ([h * f, w * f] <-> [h, f, w, f]) instead of index arithmetic per fine pixel.
Fine pixels outside the coarse grid are never on the canvas: they come back as NaN.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lst_lightning.downscale.grids import Nesting
from lst_lightning.errors import LSTError


@dataclass(frozen=True)
class Blocks:
    """The coarse window rows ``r0:r1``, cols ``c0:c1`` that the fine grid of ``nesting`` touches."""

    nesting: Nesting
    r0: int
    r1: int
    c0: int
    c1: int

    @classmethod
    def of(cls, nesting: Nesting) -> "Blocks":
        hf, wf = nesting.fine.shape
        h, w = nesting.coarse.shape
        rows = nesting.coarse_rows(np.array([0, hf - 1]))
        cols = nesting.coarse_cols(np.array([0, wf - 1]))
        r0, r1 = max(0, int(rows[0])), min(h, int(rows[1]) + 1)
        c0, c1 = max(0, int(cols[0])), min(w, int(cols[1]) + 1)
        if r1 <= r0 or c1 <= c0:
            raise LSTError(f"the fine grid ({nesting.fine.describe()}) does not overlap the LST grid "
                           f"({nesting.coarse.describe()})")
        return cls(nesting, r0, r1, c0, c1)

    @property
    def f(self) -> int:
        return self.nesting.f

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w): the coarse window's size."""
        return self.r1 - self.r0, self.c1 - self.c0

    @cached_property
    def on_grid(self) -> np.ndarray:
        """[h * f, w * f] bool: canvas pixels that are fine pixels (not padding to whole blocks)."""
        h, w = self.shape
        out = np.zeros((h * self.f, w * self.f), dtype=bool)
        _, _, kr, kc = self._spans()
        out[kr, kc] = True
        return out

    def _spans(self) -> tuple[slice, slice, slice, slice]:
        """(fine rows, fine cols, canvas rows, canvas cols) of the fine pixels on the canvas."""
        n, f = self.nesting, self.f
        hf, wf = n.fine.shape
        fr0, fr1 = max(0, self.r0 * f - n.row0), min(hf, self.r1 * f - n.row0)
        fc0, fc1 = max(0, self.c0 * f - n.col0), min(wf, self.c1 * f - n.col0)
        kr, kc = fr0 + n.row0 - self.r0 * f, fc0 + n.col0 - self.c0 * f
        return slice(fr0, fr1), slice(fc0, fc1), slice(kr, kr + fr1 - fr0), slice(kc, kc + fc1 - fc0)

    def to_canvas(self, fine: np.ndarray) -> np.ndarray:
        """[..., h * f, w * f] float64 canvas of ``fine`` [..., Hf, Wf]; NaN where no fine pixel."""
        fine = np.asarray(fine, dtype=np.float64)
        h, w = self.shape
        out = np.full(fine.shape[:-2] + (h * self.f, w * self.f), np.nan)
        fr, fc, kr, kc = self._spans()
        out[..., kr, kc] = fine[..., fr, fc]
        return out

    def from_canvas(self, canvas: np.ndarray) -> np.ndarray:
        """[..., Hf, Wf] float64: the fine pixels of ``canvas``; NaN outside the coarse grid."""
        out = np.full(canvas.shape[:-2] + tuple(self.nesting.fine.shape), np.nan)
        fr, fc, kr, kc = self._spans()
        out[..., fr, fc] = canvas[..., kr, kc]
        return out

    def window(self, coarse: np.ndarray) -> np.ndarray:
        """[..., h, w] float64: the coarse window of ``coarse`` [..., H, W]."""
        return np.asarray(coarse, dtype=np.float64)[..., self.r0:self.r1, self.c0:self.c1]

    def view(self, canvas: np.ndarray) -> np.ndarray:
        """[..., h, f, w, f]: ``canvas`` split into its blocks (a view, no copy)."""
        h, w = self.shape
        return canvas.reshape(canvas.shape[:-2] + (h, self.f, w, self.f))

    def means(self, canvas: np.ndarray) -> np.ndarray:
        """[..., h, w] mean of each block's finite values; NaN for a block with none."""
        total, n = self.sums(canvas)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    def sums(self, canvas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """([..., h, w] sum, [..., h, w] count) of each block's finite values."""
        v = self.view(canvas)
        ok = np.isfinite(v)
        return np.where(ok, v, 0.0).sum(axis=(-3, -1)), ok.sum(axis=(-3, -1))

    def repeat(self, window: np.ndarray) -> np.ndarray:
        """[..., h * f, w * f] canvas: each coarse window value over its whole block."""
        return np.repeat(np.repeat(window, self.f, axis=-2), self.f, axis=-1)


def fill_voids(canvas_cov: np.ndarray, blocks: Blocks) -> np.ndarray:
    """[C, h * f, w * f] covariates with each void (NaN) fine pixel given its block's mean of the
    finite ones: a void then predicts as its block's coarse covariate, and the block mean (the
    coarse covariate) is unchanged. Blocks with no finite value, and the padding, stay NaN."""
    means = blocks.repeat(blocks.means(canvas_cov))
    return np.where(np.isfinite(canvas_cov) | ~blocks.on_grid, canvas_cov, means)


def check_inputs(coarse: np.ndarray, fine_cov: np.ndarray | list, nesting: Nesting, what: str) -> np.ndarray:
    """``fine_cov`` as a [C, Hf, Wf] float64 array; LSTError naming what does not fit the nesting."""
    coarse = np.asarray(coarse)
    if coarse.shape != tuple(nesting.coarse.shape):
        raise LSTError(f"{what}: coarse LST is {coarse.shape}, the LST grid is {tuple(nesting.coarse.shape)}")
    cov = np.asarray(fine_cov, dtype=np.float64)
    if cov.ndim == 2:
        cov = cov[None]
    if cov.ndim != 3 or cov.shape[1:] != tuple(nesting.fine.shape) or cov.shape[0] == 0:
        raise LSTError(f"{what}: fine covariates are {cov.shape}, need [C >= 1, "
                       f"{nesting.fine.shape[0]}, {nesting.fine.shape[1]}] (the fine grid)")
    return cov
