"""FeatureScaler: statistics from exactly the given samples, joint patch scaling, exact inverse."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lst_lightning.data.loading.scaling import FeatureScaler, scaling_methods
from lst_lightning.errors import LSTError
from lst_lightning.features import ALL_GROUPS, ORIGINAL_GROUPS, FeatureLayout
from tests.common import CONF

CONF = CONF / "scaling"
# the original project's best setting (doy/tod as sin/cos are already in [-1, 1])
ORIGINAL_SCALING = {"doy": "raw", "tod": "raw", "latlon": "normalize", "lst_mean": "standardize",
                    "elev_mean": "normalize", "elev_diff": "normalize", "ndvi": "raw", "terrain": "standardize"}


def features(layout: FeatureLayout, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    scalars = (rng.normal(size=(n, layout.n_scalars)) * rng.uniform(1, 50, layout.n_scalars)
               + rng.uniform(-300, 300, layout.n_scalars)).astype(np.float32)
    patch = (rng.normal(size=(n, layout.n_channels, layout.k, layout.k)) * 40
             + np.arange(layout.k * layout.k).reshape(layout.k, layout.k)).astype(np.float32)
    return scalars, patch


def test_stats_equal_numpy_per_method_on_the_given_samples_only():
    layout = FeatureLayout(k=5, groups=ORIGINAL_GROUPS + ("ndvi",))
    scalars, patch = features(layout, 400)
    methods = {"doy": "raw", "tod": "raw", "latlon": "normalize", "lst_mean": "standardize",
               "elev_mean": "normalize", "elev_diff": "normalize", "ndvi": "standardize"}
    scalars[300:] += 1000.0  # samples the scaler is NOT given: they would move every statistic
    patch[300:] *= 10.0
    train = slice(0, 300)
    sc = FeatureScaler(layout, methods).fit(scalars[train], patch[train])
    s64, p64 = scalars[train].astype(np.float64), patch[train].astype(np.float64)
    for j, group in enumerate(layout.scalar_groups):
        col = s64[:, j]
        expect = {"raw": (0.0, 1.0), "normalize": (col.min(), col.max() - col.min()),
                  "standardize": (col.mean(), col.std())}[methods[group]]
        np.testing.assert_allclose([sc.scalar_shift[j].item(), sc.scalar_scale[j].item()], expect, rtol=1e-6)
    # one shift/scale per patch channel, over all of its k*k values jointly
    assert sc.patch_shift.shape == (2,) and sc.patch_scale.shape == (2,)
    elev, ndvi = p64[:, 0], p64[:, 1]
    np.testing.assert_allclose([sc.patch_shift[0].item(), sc.patch_scale[0].item()],
                               [elev.min(), elev.max() - elev.min()], rtol=1e-6)
    np.testing.assert_allclose([sc.patch_shift[1].item(), sc.patch_scale[1].item()],
                               [ndvi.mean(), ndvi.std()], rtol=1e-6)
    # fitting on everything gives other statistics: the scaler used only what it was given
    everything = FeatureScaler(layout, methods).fit(scalars, patch)
    assert not torch.allclose(everything.scalar_scale[6:], sc.scalar_scale[6:])
    assert everything.scalar_shift[0] > sc.scalar_shift[0] + 100  # lst_mean mean
    assert not torch.allclose(everything.patch_scale, sc.patch_scale)


def test_joint_patch_scaling_keeps_relative_sizes():
    layout = FeatureLayout(k=9)
    scalars, patch = features(layout, 200)
    sc = FeatureScaler(layout, ORIGINAL_SCALING).fit(scalars, patch)
    _, scaled = sc(torch.from_numpy(scalars), torch.from_numpy(patch))
    assert scaled.min().item() == pytest.approx(0.0, abs=1e-6)
    assert scaled.max().item() == pytest.approx(1.0, abs=1e-6)
    # a single affine map for all 81 positions (per-position scaling would break these ratios)
    span = float(patch.max() - patch.min())
    np.testing.assert_allclose(scaled.numpy() * span + patch.min(), patch, atol=1e-3)
    per_position_min = scaled.amin(dim=0)[0]
    assert (per_position_min > 0.01).sum() > 40  # most positions do not reach 0 themselves


def test_a_group_left_out_takes_its_own_default_and_raw_is_identity():
    layout = FeatureLayout(k=3, groups=("lst_mean", "doy", "elev_diff"))
    scalars, patch = features(layout, 100)
    sc = FeatureScaler(layout, {"doy": "raw", "elev_diff": "standardize"}).fit(scalars, patch)
    s, p = sc(torch.from_numpy(scalars), torch.from_numpy(patch))
    assert s[:, 0].mean().item() == pytest.approx(0.0, abs=1e-4)  # lst_mean: its default, standardize
    assert s[:, 0].std(unbiased=False).item() == pytest.approx(1.0, rel=1e-4)
    assert torch.equal(s[:, 1:], torch.from_numpy(scalars[:, 1:]))
    assert p.mean().item() == pytest.approx(0.0, abs=1e-4)
    _, p = FeatureScaler(layout, {"doy": "raw"}).fit(scalars, patch)(torch.from_numpy(scalars), torch.from_numpy(patch))
    assert (p.min().item(), p.max().item()) == pytest.approx((0.0, 1.0), abs=1e-6)  # elev_diff: normalize


@pytest.mark.parametrize("method", ["normalize", "standardize", "raw"])
def test_inverse_round_trip(method):
    layout = FeatureLayout(k=5, groups=ALL_GROUPS)
    scalars, patch = features(layout, 150)
    sc = FeatureScaler(layout, {g: method for g in ALL_GROUPS}).fit(scalars, patch)
    s, p = torch.from_numpy(scalars), torch.from_numpy(patch)
    s2, p2 = sc.inverse(*sc(s, p))
    torch.testing.assert_close(s2, s, rtol=1e-6, atol=1e-4)  # float32 precision at |x| ~ 300
    torch.testing.assert_close(p2, p, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("method", ["normalize", "standardize"])
def test_constant_column_and_channel_are_safe(method):
    layout = FeatureLayout(k=3, groups=("lst_mean", "elev_mean", "elev_diff"))
    scalars, patch = features(layout, 50)
    scalars[:, 1] = 123.4
    patch[:] = 0.0  # a flat window everywhere
    sc = FeatureScaler(layout, {g: method for g in layout.groups}).fit(scalars, patch)
    assert sc.scalar_scale[1].item() == 1.0 and sc.patch_scale[0].item() == 1.0
    s, p = sc(torch.from_numpy(scalars), torch.from_numpy(patch))
    assert torch.isfinite(s).all() and torch.isfinite(p).all()


def test_state_dict_round_trip_and_unfitted_error():
    layout = FeatureLayout(k=5)
    scalars, patch = features(layout, 80)
    fitted = FeatureScaler(layout, ORIGINAL_SCALING).fit(scalars, patch)
    state = fitted.state_dict()
    assert {"scalar_shift", "scalar_scale", "patch_shift", "patch_scale", "fitted"} <= set(state)
    fresh = FeatureScaler(layout, ORIGINAL_SCALING)
    s, p = torch.from_numpy(scalars), torch.from_numpy(patch)
    with pytest.raises(LSTError, match="not fitted"):
        fresh(s, p)
    fresh.load_state_dict(state)
    for a, b in zip(fresh(s, p), fitted(s, p)):
        assert torch.equal(a, b)


def test_bad_settings_and_shapes():
    layout = FeatureLayout(k=3)
    with pytest.raises(LSTError, match=r"scaling.methods.latlon: unknown 'minmax'; choose from normalize"):
        FeatureScaler(layout, {"latlon": "minmax"})
    with pytest.raises(LSTError, match="scaling.methods: unknown feature group"):
        FeatureScaler(layout, {"height": "raw"})
    scalars, patch = features(layout, 10)
    with pytest.raises(LSTError, match="scalars must be"):
        FeatureScaler(layout).fit(scalars[:, :3], patch)
    with pytest.raises(LSTError, match="no training samples"):
        FeatureScaler(layout).fit(scalars[:0], patch[:0])


def test_original_scaling_is_each_groups_default_and_the_config_file():
    from omegaconf import OmegaConf

    conf = OmegaConf.to_container(OmegaConf.load(CONF / "original.yaml"))
    assert scaling_methods(ORIGINAL_SCALING, conf["methods"], conf["default"]) == ORIGINAL_SCALING
    assert scaling_methods(["landcover", "context"]) == {"landcover": "standardize", "context": "standardize"}
    normalize = OmegaConf.to_container(OmegaConf.load(CONF / "normalize.yaml"))
    assert set(scaling_methods(ALL_GROUPS, normalize["methods"], normalize["default"]).values()) == {"normalize"}


@pytest.mark.parametrize("clip", [0.0, 0.05])
def test_clip_keeps_inputs_inside_the_training_quantiles(clip):
    layout = FeatureLayout(k=3, groups=ORIGINAL_GROUPS + ("ndvi",))
    scalars, patch = features(layout, 400)
    sc = FeatureScaler(layout, {g: "raw" for g in layout.groups}, clip=clip).fit(scalars, patch)
    lo, hi = np.quantile(scalars, clip, axis=0), np.quantile(scalars, 1 - clip, axis=0)
    plo = np.quantile(patch.swapaxes(0, 1).reshape(layout.n_channels, -1), clip, axis=1)  # joint per channel
    phi = np.quantile(patch.swapaxes(0, 1).reshape(layout.n_channels, -1), 1 - clip, axis=1)
    far_s = np.stack([lo - 1000, hi + 1000, (lo + hi) / 2]).astype(np.float32)
    far_p = np.stack([np.full((3, 3), v, np.float32)[None].repeat(layout.n_channels, 0) for v in (-1e4, 1e4, 0.0)])
    s, p = sc(torch.from_numpy(far_s), torch.from_numpy(far_p))
    np.testing.assert_allclose(s[0].numpy(), lo, rtol=1e-5)
    np.testing.assert_allclose(s[1].numpy(), hi, rtol=1e-5)
    np.testing.assert_allclose(s[2].numpy(), far_s[2])  # inside: unchanged
    np.testing.assert_allclose(p[0, :, 0, 0].numpy(), plo, rtol=1e-5)
    np.testing.assert_allclose(p[1, :, 2, 2].numpy(), phi, rtol=1e-5)
    assert torch.all(p[2] == 0)


def test_no_clip_by_default_and_old_checkpoints_load():
    layout = FeatureLayout(k=3)
    scalars, patch = features(layout, 50)
    sc = FeatureScaler(layout, {g: "raw" for g in layout.groups}).fit(scalars, patch)
    big = torch.full((1, layout.n_scalars), 1e6)
    assert torch.all(sc(big, torch.zeros(1, 1, 3, 3))[0] == 1e6)
    state = {k: v for k, v in sc.state_dict().items() if not k.endswith(("_lo", "_hi"))}  # saved before clipping
    fresh = FeatureScaler(layout, {g: "raw" for g in layout.groups})
    fresh.load_state_dict(state)
    assert torch.all(fresh(big, torch.zeros(1, 1, 3, 3))[0] == 1e6)
    with pytest.raises(LSTError, match=r"model.clip_inputs: .* must be in \[0, 0.5\)"):
        FeatureScaler(layout, clip=0.5)
