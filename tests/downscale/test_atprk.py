"""ATPRK and its parts: the point variogram by deconvolution, area-to-point kriging, the trend."""
from __future__ import annotations

import gstools as gs
import numpy as np
import pytest

from lst_lightning.downscale.atprk import atprk, atprk_parts
from lst_lightning.downscale.kriging import atpk, tables
from lst_lightning.downscale.sharpening import interpolate, repeat
from lst_lightning.downscale.variogram import (
    PointVariogram,
    areal_fit,
    block_covariance,
    empirical_variogram,
    fit_point_variogram,
    lattice,
)
from lst_lightning.errors import LSTError
from tests.downscale.fields import brute_block_means, covariates, nested


def offset_case(rng, f=3):
    """A fine grid starting mid-block (row0 = 1, col0 = 2) and sticking out of a 14 x 15 coarse grid."""
    n = nested(f, (14, 15), fine_shape=(14 * f + 1, 15 * f - 4), row0=1, col0=2)
    return n, covariates(n.fine.shape, rng)


@pytest.mark.parametrize("mode", ["linear", "radiance"])
def test_coarse_means_are_conserved_on_a_random_field(rng, mode):
    n, cov = offset_case(rng)
    coarse = rng.normal(300, 3, n.coarse.shape)
    coarse[4, 6] = np.nan
    out = atprk(coarse, cov, n, mode=mode)
    ok = np.isfinite(coarse)
    power = 4 if mode == "radiance" else 1
    np.testing.assert_allclose(brute_block_means(out ** power, n)[ok] ** (1 / power), coarse[ok], atol=1e-5)
    rows = n.coarse_rows(np.arange(n.fine.shape[0]))
    assert np.isnan(out[rows >= 14]).all() and np.isfinite(out[rows < 14][:, :10]).all()


def test_a_constant_and_a_covariate_linear_field_are_reproduced_exactly(rng):
    n = nested(4, (12, 12))
    cov = covariates(n.fine.shape, rng)
    for truth in (np.full(n.fine.shape, 297.3), 305.0 - 0.0065 * cov[0] - 8.0 * cov[1]):
        out = atprk(brute_block_means(truth, n), cov, n)
        np.testing.assert_allclose(out, truth, atol=1e-6)


def smooth(shape, period):
    y, x = np.mgrid[0:shape[0], 0:shape[1]] + 0.5
    return 3 * np.sin(2 * np.pi * x / period) * np.cos(2 * np.pi * y / (1.3 * period)) + 0.02 * x


def test_atpk_of_a_smooth_field_beats_repeat_and_bicubic():
    n = nested(4, (30, 30))
    truth = smooth(n.fine.shape, 30)
    coarse = brute_block_means(truth, n)
    inner = np.s_[12:-12, 12:-12]  # bicubic's end conditions fade within ~3 coarse pixels of the edge

    def rmse(pred):
        return np.sqrt(np.mean((pred - truth)[inner] ** 2))

    kriged = atpk(coarse, n)
    np.testing.assert_allclose(brute_block_means(kriged, n), coarse, atol=1e-10)
    assert rmse(kriged) < 0.8 * rmse(interpolate(coarse, n, 3)) and rmse(kriged) < 0.2 * rmse(repeat(coarse, n))


def test_a_missing_coarse_pixel_leaves_its_neighbours_kriged_from_the_others(rng):
    n = nested(3, (11, 11))
    coarse = brute_block_means(smooth(n.fine.shape, 12) + rng.normal(0, 0.2, n.fine.shape), n)
    vario = PointVariogram("exponential", 2.0, 1.5)
    full = atpk(coarse, n, vario)
    gappy = coarse.copy()
    gappy[5, 5] = np.nan
    out = atpk(gappy, n, vario)
    assert np.isnan(out[15:18, 15:18]).all() and np.isfinite(out).sum() == out.size - 9
    np.testing.assert_allclose(brute_block_means(out, n)[np.isfinite(gappy)], gappy[np.isfinite(gappy)], atol=1e-10)
    np.testing.assert_array_equal(out[:3, :3], full[:3, :3])  # (0, 0): its 5 x 5 does not reach (5, 5)
    # (4, 6): ordinary kriging (weights summing to 1) from its other 24 neighbours, written out
    cap, a = tables(vario, 3, 5)
    keep = np.ones(25, bool)
    keep[(1 + 2) * 5 + (-1 + 2)] = False  # (5, 5) sits at offset (+1, -1) of (4, 6)
    z = coarse[2:7, 4:9].ravel()[keep]
    system = np.ones((25, 25))
    system[:24, :24], system[24, 24] = a[:25, :25][np.ix_(keep, keep)], 0.0
    rhs = np.concatenate([cap.reshape(9, 25)[:, keep], np.ones((9, 1))], 1)
    weights = np.linalg.solve(system, rhs.T)[:24]
    np.testing.assert_allclose(out[12:15, 18:21].ravel(), weights.T @ z, atol=1e-9)


def test_covariate_voids_and_a_block_without_covariates(rng):
    n = nested(3, (12, 12))
    cov = covariates(n.fine.shape, rng)
    truth = 305.0 - 0.0065 * cov[0] + rng.normal(0, 0.3, n.fine.shape)
    coarse = brute_block_means(truth, n)
    cov[0, 4, 4] = np.nan  # one void in block (1, 1)
    cov[:, 9:12, 9:12] = np.nan  # block (3, 3) has no covariate at all
    out = atprk(coarse, cov, n)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(brute_block_means(out, n), coarse, atol=1e-8)
    np.testing.assert_allclose(out[9:12, 9:12], coarse[3, 3], atol=1e-8)


def test_the_deconvolved_point_variogram_is_the_simulated_one():
    f = 4
    x = np.arange(60.0 * f)
    fine = gs.SRF(gs.Exponential(dim=2, var=4.0, len_scale=2.0 * f), seed=9, mode_no=256).structured([x, x])
    coarse = brute_block_means(fine, nested(f, (60, 60)))
    vario = fit_point_variogram(coarse, f)
    assert vario.fitted and 1.3 < vario.len_scale < 2.8 and 3.0 < vario.var < 5.5
    lags, gamma, counts = empirical_variogram(coarse)
    assert areal_fit("exponential", lags, gamma, counts, float(np.var(coarse))).var < vario.var  # regularisation


def test_block_covariance_is_the_mean_over_point_pairs():
    vario = PointVariogram("spherical", 1.7, 2.5)
    pts = lattice(3)
    yy, xx = np.meshgrid(pts, pts, indexing="ij")
    p = np.stack([yy.ravel(), xx.ravel()], -1)
    for d in ([0.0, 0.0], [1.0, 2.0], [0.3, -1.4]):
        brute = vario.covariance(np.linalg.norm(p[:, None] - (p[None] + d), axis=-1)).mean()
        np.testing.assert_allclose(block_covariance(vario, np.array(d), 3), brute, rtol=1e-12)


def test_a_field_without_structure_uses_the_default_variogram(rng):
    n = nested(3, (12, 12))
    _, vario = atprk_parts(np.full(n.coarse.shape, 290.0), covariates(n.fine.shape, rng), n)
    assert not vario.fitted


def test_bad_input_is_one_line_errors(rng):
    n = nested(3, (12, 12))
    cov = covariates(n.fine.shape, rng)
    coarse = np.full(n.coarse.shape, 290.0)
    with pytest.raises(LSTError, match=r"fine covariates are \(2, 35, 36\)"):
        atprk(coarse, cov[:, 1:], n)
    with pytest.raises(LSTError, match="coarse LST is"):
        atprk(coarse[1:], cov, n)
    with pytest.raises(LSTError, match="odd number"):
        atprk(coarse, cov, n, neighbourhood=4)
    with pytest.raises(LSTError, match="variogram model 'gaussian'"):
        atprk(coarse, cov, n, model="gaussian")
