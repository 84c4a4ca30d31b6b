"""The context group against a per-sample loop over the raw archive, and the frame lapse rate."""
from __future__ import annotations

import numpy as np

from lst_lightning.data.facts.context import LAPSE_PRIOR_M, frame_lapse
from lst_lightning.data.io.formats import LST_SCALE
from lst_lightning.features.context import NEIGHBOURS

K = 5


def loop_window_mean(raw: np.ndarray, dem: np.ndarray, i: int, j: int) -> float | None:
    """Mean LST (K) of the k x k window at (i, j) of one frame; None unless inside the grid with every
    pixel observed and on known ground."""
    r, (h, w) = K // 2, raw.shape
    if not (r <= i < h - r and r <= j < w - r):
        return None
    win = raw[i - r:i + r + 1, j - r:j + r + 1].astype(np.float64)
    if (win == 0).any() or not np.isfinite(dem[i - r:i + r + 1, j - r:j + r + 1]).all():
        return None
    return float(win.mean() * LST_SCALE)


def loop_elev_mean(dem: np.ndarray, i: int, j: int) -> float | None:
    r, (h, w) = K // 2, dem.shape
    if not (r <= i < h - r and r <= j < w - r):
        return None
    return float(dem[i - r:i + r + 1, j - r:j + r + 1].astype(np.float64).mean())


def loop_lapse(raw: np.ndarray, dem: np.ndarray) -> float:
    """Least-squares slope (K/km), shrunk by var / (var + prior**2)."""
    xs, ys = [], []
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            m = loop_window_mean(raw, dem, i, j)
            if m is not None:
                xs.append(loop_elev_mean(dem, i, j)), ys.append(m)
    var = np.var(xs)
    return float(np.polyfit(xs, ys, 1)[0] * 1000.0 * var / (var + LAPSE_PRIOR_M ** 2))


def test_context_columns_equal_a_loop_reference(tmp_path):
    from lst_lightning.data.cache import prepare_cache
    from lst_lightning.data.loading.gatherer import FeatureGatherer, layout_for
    from tests.data.inputs import write_random_archive

    arch = write_random_archive(tmp_path, shape=(30, 26), n_days=3)
    cache = prepare_cache(arch["lst_dir"], dem=arch["dem"], k=K, cache_root=tmp_path / "cache",
                          progress=False, quiet=True)
    layout = layout_for(cache, ("lst_mean", "elev_mean", "context"))
    rng = np.random.default_rng(0)
    f, r, c = cache_samples(cache, rng, 60)
    batch = FeatureGatherer(cache, layout).gather(f, r, c)
    got = dict(zip(layout.scalar_names, batch["scalars"].T))
    dem = arch["dem_array"].astype(np.float64)
    frames = [(int(fr["date"][8:10]), fr["band"]) for fr in cache.meta["frames"]]
    raw_of = lambda t: arch["data"][t // 2, 1 if frames[t][1] == "day" else 0]  # noqa: E731 - frame -> raw
    for n, (t, i, j) in enumerate(zip(f, r, c)):
        own_lst, own_elev = loop_window_mean(raw_of(t), dem, i, j), loop_elev_mean(dem, i, j)
        for name, dr, dc in NEIGHBOURS:
            lst = loop_window_mean(raw_of(t), dem, i + dr * K, j + dc * K)
            elev = loop_elev_mean(dem, i + dr * K, j + dc * K)
            assert got[f"ctx_lst_{name}"][n] == pytest_approx(0.0 if lst is None else lst - own_lst)
            assert got[f"ctx_elev_{name}"][n] == pytest_approx(0.0 if elev is None else elev - own_elev)
        assert got["ctx_lapse"][n] == pytest_approx(loop_lapse(raw_of(t), dem), rel=1e-4)


def cache_samples(cache, rng, n):
    """Random valid samples (frame, row, col), half of them near the grid's edge."""
    mean = np.asarray(cache.array("window_mean"))
    f, r, c = np.nonzero(np.isfinite(mean))
    edge = (r < 6) | (c < 6) | (r >= mean.shape[1] - 6) | (c >= mean.shape[2] - 6)
    pick = np.concatenate([rng.choice(np.flatnonzero(edge), n // 2), rng.choice(np.flatnonzero(~edge), n // 2)])
    return f[pick], r[pick], c[pick]


def pytest_approx(value, rel=1e-5):
    import pytest

    return pytest.approx(value, rel=rel, abs=2e-3)


def test_frame_lapse_recovers_a_constant_lapse_rate():
    rng = np.random.default_rng(1)
    elev = rng.uniform(0, 2000, (30, 30)).astype(np.float32)
    frames = np.stack([300 - 6.5e-3 * elev, 290 + 2.0e-3 * elev]).astype(np.float32)
    frames[0, :5] = np.nan  # invalid windows are left out of the fit
    shrink = [np.var(elev[5:]) / (np.var(elev[5:]) + LAPSE_PRIOR_M ** 2),
              np.var(elev) / (np.var(elev) + LAPSE_PRIOR_M ** 2)]
    assert min(shrink) > 0.99  # 2 km of relief: the fit is the plain least-squares slope
    np.testing.assert_allclose(frame_lapse(frames, elev), np.array([-6.5, 2.0]) * shrink, rtol=1e-4)
    assert frame_lapse(np.full((1, 4, 4), np.nan, np.float32), elev[:4, :4])[0] == 0.0  # no windows
    flat = rng.uniform(0, 10, (30, 30)).astype(np.float32)  # 10 m of relief: the slope is mostly prior
    assert abs(frame_lapse((300 - 6.5e-3 * flat)[None], flat)[0]) < 0.3


def ridge_by_augmented_rows(y, e, v, prior_e_km, prior_v):
    """The local fit's slopes as an augmented least-squares problem: rows [1, e, v] -> y, plus two
    prior rows sqrt(n) * prior -> 0 on the two slopes (ridge with n times the prior variance)."""
    n = y.size
    design = np.column_stack([np.ones(n), e, v])
    prior = np.sqrt(n) * np.array([[0, prior_e_km, 0], [0, 0, prior_v]])
    coef = np.linalg.lstsq(np.vstack([design, prior]), np.concatenate([y, [0, 0]]), rcond=None)[0]
    return coef[1], coef[2]


def test_local_fit_equals_ridge_least_squares_and_recovers_a_planted_relation():
    from lst_lightning.data.facts.context import MIN_WINDOWS_FOR_LOCAL, NDVI_PRIOR, local_fit

    rng = np.random.default_rng(5)
    n, m = 40, 25
    e, v = rng.normal(0.8, 0.6, (n, m)), rng.uniform(0.1, 0.8, (n, m))
    y = 290 - 6.5 * e + rng.normal(0, 1, (n, 1)) * 8 * v + rng.normal(0, 0.3, (n, m))
    ok = rng.random((n, m)) > 0.2
    ok[0, :MIN_WINDOWS_FOR_LOCAL - 1], ok[0, MIN_WINDOWS_FOR_LOCAL - 1:] = True, False  # too few windows
    lapse, slope = local_fit(np, y.astype(np.float32), e.astype(np.float32), v.astype(np.float32), ok)
    assert lapse.dtype == slope.dtype == np.float32 and lapse.shape == (n,)
    assert lapse[0] == slope[0] == 0
    for i in range(1, n):
        sel = ok[i]
        want = ridge_by_augmented_rows(y[i, sel], e[i, sel], v[i, sel], LAPSE_PRIOR_M / 1000, NDVI_PRIOR)
        np.testing.assert_allclose([lapse[i], slope[i]], want, rtol=1e-4, atol=1e-3)
    # a relation that holds exactly, with spreads far above the priors: its slopes come back
    e, v = rng.normal(1.0, 1.5, (n, m)), rng.uniform(-0.3, 1.0, (n, m))
    lapse, slope = local_fit(np, 300 + 4.0 * e - 15.0 * v, e, v, np.ones((n, m), dtype=bool))
    np.testing.assert_allclose(lapse, 4.0, rtol=0.03)
    np.testing.assert_allclose(slope, -15.0, rtol=0.03)
