"""Conservation (the residual correction of thermal sharpening), in temperature or in radiance.

``linear``: each coarse pixel's finite fine values are shifted together so that their mean equals
the coarse LST (in float64 on the block canvas; fine maps apply it tile by tile: ``fine.conserve_tile``).

``radiance``: the sensor measures emitted radiance, and a coarse pixel's radiance is the mean of
its fine pixels' radiance, not of their temperatures. With broadband emission proportional to T^4
(Stefan-Boltzmann, emissivity taken equal inside a block, as pyDMS does) the block mean of T^4 must
equal the coarse T^4. We add one radiance residual d to every fine pixel of the block,
T' = (T^4 + d)^(1/4), d = T_coarse^4 - mean(T^4): the same residual correction as the linear one,
applied where averaging is physical (pyDMS adds its residual in radiance space the same way), and
exact in closed form. A multiplicative factor on T^4 would scale the block's contrasts with its
bias; the additive one leaves the radiance differences between the fine pixels as predicted. For
a block of equal temperatures both modes give the coarse value. Where d would drive a fine pixel's
T^4 to zero or below (a prediction far warmer than its coarse pixel), that block falls back to the
factor T' = T (T_coarse^4 / mean(T^4))^(1/4), which also conserves and stays positive.
"""
from __future__ import annotations

import numpy as np

from lst_lightning.downscale.blocks import Blocks
from lst_lightning.downscale.grids import Nesting
from lst_lightning.errors import LSTError

MODES = ("linear", "radiance")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise LSTError(f"conservation: unknown mode {mode!r}; choose from {list(MODES)}")
    return mode


def conserve(pred: np.ndarray, coarse: np.ndarray, nesting: Nesting, mode: str = "linear") -> np.ndarray:
    """[Hf, Wf] float64 fine LST (K) whose finite values in each coarse pixel average to the coarse
    LST ``coarse`` [H, W] (K): the plain mean (``linear``) or the mean of T^4 (``radiance``).
    Fine pixels of a missing (NaN) coarse pixel are left as predicted; fine NaN stay NaN; fine
    pixels outside the coarse grid are NaN."""
    check_mode(mode)
    blocks = Blocks.of(nesting)
    out = conserve_canvas(blocks.to_canvas(pred), blocks.window(coarse), blocks, mode)
    return blocks.from_canvas(out)


def conserve_radiance(pred: np.ndarray, coarse: np.ndarray, nesting: Nesting) -> np.ndarray:
    """``conserve(pred, coarse, nesting, "radiance")``: block means of T^4 equal coarse T^4."""
    return conserve(pred, coarse, nesting, "radiance")


def conserve_canvas(canvas: np.ndarray, window: np.ndarray, blocks: Blocks, mode: str) -> np.ndarray:
    """The block canvas [h * f, w * f] (K) conserved to the coarse window [h, w] (K)."""
    if mode == "linear":
        return shift_linear(canvas, window, blocks)
    return shift_radiance(canvas, window, blocks)


def shift_linear(canvas: np.ndarray, window: np.ndarray, blocks: Blocks) -> np.ndarray:
    shift = window - blocks.means(canvas)
    return canvas + blocks.repeat(np.where(np.isfinite(shift), shift, 0.0))


def shift_radiance(canvas: np.ndarray, window: np.ndarray, blocks: Blocks) -> np.ndarray:
    if np.nanmin(window, initial=np.inf) <= 0 or np.nanmin(canvas, initial=np.inf) <= 0:
        raise LSTError("radiance conservation needs temperatures in kelvin (all > 0); got values <= 0")
    rad = canvas ** 4
    mean_rad = blocks.means(rad)
    d = window ** 4 - mean_rad
    d = np.where(np.isfinite(d), d, 0.0)  # missing coarse pixel or no fine value: leave alone
    shifted = rad + blocks.repeat(d)
    # a block whose shift would make some T^4 <= 0 takes the multiplicative factor instead
    low = blocks.sums(np.where(np.isfinite(shifted), (shifted <= 0).astype(np.float64), np.nan))[0] > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(low & (mean_rad > 0), window ** 4 / mean_rad, 1.0)
    scaled = rad * blocks.repeat(factor)
    return np.where(blocks.repeat(low), scaled, shifted) ** 0.25
