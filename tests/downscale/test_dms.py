"""The data-mining sharpener (pyDMS-style): homogeneity weights, conservation, skill, missing data."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.downscale.dms import CV_PERCENTILE, MEAN_FLOOR, dms_sharpen, homogeneity
from lst_lightning.downscale.sharpening import interpolate, regression_sharpen
from lst_lightning.downscale.trees import EXTRAPOLATION, RIDGE, leaf_models
from lst_lightning.errors import LSTError
from tests.downscale.fields import block_members, brute_block_means, covariates, nested


def brute_homogeneity(cov: np.ndarray, n) -> tuple[np.ndarray, np.ndarray]:
    """CV and weight as the docstring of ``homogeneity`` states them, block by block."""
    cv = np.full(n.coarse.shape, np.nan)
    for r, c, rows, cols in block_members(n):
        per_band = []
        for band in cov:
            v = band[np.ix_(rows, cols)]
            v = v[np.isfinite(v)]
            per_band.append(v.std() / max(abs(v.mean()), MEAN_FLOOR) if v.size else np.nan)
        cv[r, c] = np.mean(per_band)
    cv[cv == 0] = np.nanmin(cv[cv > 0])
    weight = np.full(cv.shape, np.nan)
    ok = np.isfinite(cv)
    inv = 1 / cv[ok]
    w = (inv - inv.min()) / (inv.max() - inv.min())
    w[cv[ok] >= np.percentile(cv[ok], CV_PERCENTILE)] /= 2
    weight[ok] = w
    return cv, weight


def test_homogeneity_weights_match_a_loop_over_blocks(rng):
    n = nested(3, (9, 10), fine_shape=(26, 30), row0=2, col0=1)  # partial blocks on every side
    cov = covariates(n.fine.shape, rng)
    cov[0, 5, 5] = np.nan  # a void
    cov[:, 4:7, 8:11] = 7.0  # block (2, 3) constant in both covariates: CV 0
    cv, weight = homogeneity(cov, n)
    bcv, bweight = brute_homogeneity(cov, n)
    np.testing.assert_allclose(cv, bcv, rtol=1e-12)
    np.testing.assert_allclose(weight, bweight, rtol=1e-12, atol=1e-15)
    assert weight[2, 3] == np.nanmax(weight) == 1.0  # the constant block is the most homogeneous


def nonlinear_case(rng, f=4, size=(30, 30)):
    n = nested(f, size)
    cov = covariates(n.fine.shape, rng)
    z, ndvi = cov
    truth = 318.0 - 0.0065 * z - 14.0 * ndvi ** 2 + 2.0 * np.sin(z / 120.0) + rng.normal(0, 0.3, z.shape)
    return n, cov, truth


@pytest.mark.parametrize("mode", ["linear", "radiance"])
def test_block_means_equal_the_coarse_values(rng, mode):
    n, cov, truth = nonlinear_case(rng, f=3, size=(16, 18))
    coarse = brute_block_means(truth, n)
    coarse[3, 4] = np.nan
    out = dms_sharpen(coarse, cov, n, window=8, n_trees=3, mode=mode)
    ok = np.isfinite(coarse)
    power = 4 if mode == "radiance" else 1
    np.testing.assert_allclose(brute_block_means(out ** power, n)[ok] ** (1 / power), coarse[ok], atol=1e-5)
    assert np.isnan(out[9:12, 12:15]).all() and np.isfinite(out).sum() == out.size - 9


def test_it_beats_bicubic_and_tsharp_on_a_nonlinear_field(rng):
    n, cov, truth = nonlinear_case(rng)
    coarse = brute_block_means(truth, n)
    out = dms_sharpen(coarse, cov, n)

    def rmse(pred):
        return np.sqrt(np.nanmean((pred - truth) ** 2))

    tsharp = regression_sharpen(coarse, list(brute_block_means(c, n) for c in cov), list(cov), n)
    assert rmse(out) < 0.7 * rmse(interpolate(coarse, n, 3)) and rmse(out) < rmse(tsharp)
    np.testing.assert_array_equal(out, dms_sharpen(coarse, cov, n))  # seeded: the same every time


def test_covariate_voids_and_a_block_without_covariates(rng):
    n, cov, truth = nonlinear_case(rng, f=3, size=(16, 16))
    coarse = brute_block_means(truth, n)
    cov[1, 4, 4] = np.nan
    cov[:, 9:12, 9:12] = np.nan  # block (3, 3): no covariate at all
    out = dms_sharpen(coarse, cov, n, window=0, n_trees=2)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[9:12, 9:12], coarse[3, 3], atol=1e-9)
    np.testing.assert_allclose(brute_block_means(out, n), coarse, atol=1e-9)


def test_too_few_coarse_pixels_repeat_the_coarse_field(rng):
    n, cov, truth = nonlinear_case(rng, f=3, size=(4, 4))
    coarse = brute_block_means(truth, n)
    np.testing.assert_allclose(dms_sharpen(coarse, cov, n), np.repeat(np.repeat(coarse, 3, 0), 3, 1))


def test_bad_input_is_one_line_errors(rng):
    n, cov, truth = nonlinear_case(rng, f=3, size=(6, 6))
    coarse = brute_block_means(truth, n)
    with pytest.raises(LSTError, match="window must be"):
        dms_sharpen(coarse, cov, n, window=-1)
    with pytest.raises(LSTError, match="n_trees"):
        dms_sharpen(coarse, cov, n, n_trees=0)
    with pytest.raises(LSTError, match="fine covariates are"):
        dms_sharpen(coarse, cov[:, :-1], n)
    with pytest.raises(LSTError, match="conservation: unknown mode"):
        dms_sharpen(coarse, cov, n, mode="T4")


def test_the_leaf_regressions_are_each_leafs_weighted_ridge_fit(rng):
    z = rng.normal(size=(300, 2))
    y, w = z[:, 0] ** 2 + z[:, 1], rng.random(300)
    leaf = rng.choice([1, 3, 4, 6], 300)  # leaf ids of a 7-node tree; 0, 2 and 5 are inner nodes
    coef, lo, hi = leaf_models(z, y, w, leaf, 7)
    for k in (1, 3, 4, 6):
        m = leaf == k
        x1, wk = np.c_[np.ones(m.sum()), z[m]], w[m]
        gram = (x1 * wk[:, None]).T @ x1 + np.diag([0.0, 1.0, 1.0]) * RIDGE * wk.mean()
        np.testing.assert_allclose(coef[k], np.linalg.solve(gram, (x1 * wk[:, None]).T @ y[m]), rtol=1e-10)
        span = EXTRAPOLATION * np.ptp(y[m])
        assert lo[k] == y[m].min() - span and hi[k] == y[m].max() + span
