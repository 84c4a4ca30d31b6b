"""Area-to-point kriging (ATPK, Kyriakidis 2004; Wang et al. 2015): a coarse field (block means)
made fine, each fine pixel from the n x n coarse pixels around its own.

Ordinary kriging in dual form. For the coarse pixel V with neighbourhood values z [K] (K = n^2),
[C_AA 1; 1' 0] [alpha; beta] = [z; 0], and every fine point x in V gets
z(x) = C_Ap(x)' alpha + beta, with C_AA [K, K] the area-to-area and C_Ap(x) [K] the area-to-point
covariances. Every coarse pixel sees the same geometry (the same C_AA, the same C_Ap per position
inside the block), so the tables are computed once per frame: C_Ap as [f, f, K], and one inverse
of the kriging matrix serves every complete neighbourhood (a matrix product for all of them).
Neighbourhoods with missing pixels (NaN, or off the coarse window) get their masked system solved
in batches: a missing neighbour's row and column are replaced by the identity's, so its weight is
0 and the others are the kriging weights of the neighbours that exist. A missing centre pixel
gives NaN fine pixels.

Discretisation: the prediction points are the f x f fine pixel centres; each source block is an
s x s lattice (s = min(f, MAX_LATTICE)). C_AA(V_0, V_o) is defined as the mean of C_Ap over the
f x f prediction points of V_0, so the block mean of the fine predictions equals the coarse value
exactly (the centre row of the system) for any s; with s = f it is the usual f^2 x f^2 average.
"""
from __future__ import annotations

import numpy as np

from lst_lightning.downscale.blocks import Blocks
from lst_lightning.downscale.grids import Nesting
from lst_lightning.downscale.variogram import MAX_LATTICE, PointVariogram, check_model, fit_point_variogram, lattice
from lst_lightning.errors import LSTError

DEFAULT_NEIGHBOURHOOD = 5  # coarse pixels a side: 25 neighbours, the usual ATPK choice
BATCH = 4096  # masked systems solved at once: 4096 x 26 x 26 float64 = 22 MB


def check_neighbourhood(n: int) -> int:
    if not isinstance(n, (int, np.integer)) or n < 3 or n % 2 == 0:
        raise LSTError(f"ATPK neighbourhood must be an odd number of coarse pixels >= 3, got {n!r}")
    return int(n)


def offsets(n: int) -> np.ndarray:
    """[n * n, 2] (row, col) offsets of an n x n neighbourhood, row-major."""
    k = np.arange(n) - n // 2
    dy, dx = np.meshgrid(k, k, indexing="ij")
    return np.stack([dy.ravel(), dx.ravel()], -1)


def tables(vario: PointVariogram, f: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(C_Ap [f, f, K]: covariance of fine point (p, q) of a block with each neighbour block;
    A [K + 1, K + 1]: the ordinary-kriging matrix of the neighbourhood), sill 1."""
    unit, pts, src = vario.unit(), lattice(f), lattice(min(f, MAX_LATTICE))
    x = np.stack(np.meshgrid(pts, pts, indexing="ij"), -1).reshape(-1, 1, 2)  # [f*f, 1, 2]
    y = np.stack(np.meshgrid(src, src, indexing="ij"), -1).reshape(1, -1, 2)  # [1, s*s, 2]
    wide = offsets(2 * n - 1)  # every difference of two neighbours' offsets
    cap_wide = np.stack([unit.covariance(np.linalg.norm(x - (o + y), axis=-1)).mean(-1) for o in wide], -1)
    caa_wide = cap_wide.mean(axis=0)  # [len(wide)]
    near = offsets(n)
    diff = near[None, :, :] - near[:, None, :] + (n - 1)  # [K, K, 2] as indices into ``wide``
    caa = caa_wide[diff[..., 0] * (2 * n - 1) + diff[..., 1]]
    cap = cap_wide[:, (near[:, 0] + n - 1) * (2 * n - 1) + near[:, 1] + n - 1]
    k = len(near)
    a = np.ones((k + 1, k + 1))
    a[:k, :k], a[k, k] = caa, 0.0
    return cap.reshape(f, f, k), a


def neighbourhoods(window: np.ndarray, n: int) -> np.ndarray:
    """[h, w, K] the n x n neighbourhood values of each coarse pixel; NaN off the window."""
    pad = n // 2
    padded = np.pad(window, pad, constant_values=np.nan)
    return np.lib.stride_tricks.sliding_window_view(padded, (n, n)).reshape(window.shape + (n * n,))


def dual_weights(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """[h, w, K + 1] (alpha, beta) of every coarse pixel from its neighbourhood ``z`` [h, w, K]."""
    k = z.shape[-1]
    valid = np.isfinite(z)
    out = np.full(z.shape[:-1] + (k + 1,), np.nan)
    rhs = np.concatenate([np.where(valid, z, 0.0), np.zeros(z.shape[:-1] + (1,))], -1)
    complete = valid.all(-1)
    out[complete] = rhs[complete] @ np.linalg.inv(a).T  # one inverse serves every complete neighbourhood
    partial = ~complete & valid[..., k // 2]
    out[partial] = masked_solve(a, valid[partial], rhs[partial])
    return out


def masked_solve(a: np.ndarray, valid: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """[M, K + 1] solutions of the kriging system ``a`` restricted to each row's ``valid`` [M, K]
    neighbours (the others get weight 0), right-hand sides ``rhs`` [M, K + 1]."""
    out = np.empty(rhs.shape)
    k = valid.shape[-1]
    for s in range(0, len(rhs), BATCH):
        keep = np.concatenate([valid[s:s + BATCH], np.ones((len(rhs[s:s + BATCH]), 1), bool)], -1)
        am = a[None] * (keep[:, :, None] & keep[:, None, :])
        am[:, np.arange(k), np.arange(k)] += ~valid[s:s + BATCH]  # a missing neighbour: alpha = 0
        out[s:s + BATCH] = np.linalg.solve(am, rhs[s:s + BATCH, :, None])[..., 0]
    return out


def atpk_canvas(window: np.ndarray, blocks: Blocks, vario: PointVariogram,
                n: int = DEFAULT_NEIGHBOURHOOD) -> np.ndarray:
    """[h * f, w * f] ATPK prediction on the block canvas of the coarse window ``window`` [h, w]."""
    cap, a = tables(vario, blocks.f, n)
    dual = dual_weights(neighbourhoods(window, n), a)
    k = cap.shape[-1]
    fine = np.einsum("hwk,pqk->hpwq", dual[..., :k], cap) + dual[:, None, :, None, k]
    h, w = window.shape
    return fine.reshape(h * blocks.f, w * blocks.f)


def atpk(coarse: np.ndarray, nesting: Nesting, vario: PointVariogram | None = None,
         neighbourhood: int = DEFAULT_NEIGHBOURHOOD, model: str = "exponential") -> np.ndarray:
    """[Hf, Wf] float64 ATPK of the coarse field ``coarse`` [H, W] (any unit; NaN = missing) on
    the fine grid of ``nesting``. ``vario``: the point variogram (default: deconvolved from the
    coarse window the fine grid touches, ``model`` exponential or spherical). The fine pixels of
    each complete coarse pixel average to it exactly; NaN where the coarse pixel is missing."""
    check_neighbourhood(neighbourhood)
    if vario is None:
        check_model(model)
    coarse = np.asarray(coarse, dtype=np.float64)
    if coarse.shape != tuple(nesting.coarse.shape):
        raise LSTError(f"ATPK: the coarse field is {coarse.shape}, the LST grid is {tuple(nesting.coarse.shape)}")
    blocks = Blocks.of(nesting)
    window = blocks.window(coarse)
    vario = vario or fit_point_variogram(window, nesting.f, model)
    return blocks.from_canvas(atpk_canvas(window, blocks, vario, neighbourhood))
