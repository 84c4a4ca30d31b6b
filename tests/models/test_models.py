"""MLP and CNN: output shapes for several k and feature layouts, the original architecture, errors."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lst_lightning.errors import LSTError
from lst_lightning.features import ALL_GROUPS, ORIGINAL_GROUPS, FeatureLayout
from lst_lightning.models import CNN, MLP

LAYOUTS = {
    "original": ORIGINAL_GROUPS,
    "with_ndvi": ORIGINAL_GROUPS + ("ndvi",),
    "all": ALL_GROUPS,
    "no_patch": ("lst_mean", "elev_mean", "doy", "tod", "latlon"),
    "no_scalars": ("elev_diff",),
    "only_patches": ("elev_diff", "ndvi"),
}


def inputs(layout: FeatureLayout, b: int = 6):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(b, layout.n_scalars, generator=g),
            torch.randn(b, layout.n_channels, layout.k, layout.k, generator=g))


@pytest.mark.parametrize("k", [3, 5, 9])
@pytest.mark.parametrize("groups", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_mlp_shapes(k, groups):
    layout = FeatureLayout(k=k, groups=groups)
    net = MLP(layout, hidden=(16, 8), dropout=0.1)
    out = net(*inputs(layout))
    assert out.shape == (6,) and torch.isfinite(out).all()
    first = next(m for m in net.modules() if isinstance(m, nn.Linear))
    assert first.in_features == layout.n_inputs


@pytest.mark.parametrize("k", [3, 5, 9, 11])
@pytest.mark.parametrize("pool", ["none", "max", "avg"])
@pytest.mark.parametrize("groups", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_cnn_shapes(k, pool, groups):
    layout = FeatureLayout(k=k, groups=groups)
    net = CNN(layout, channels=(4, 6, 5), kernel_size=3, hidden=(8,), pool=pool)
    out = net(*inputs(layout))
    assert out.shape == (6,) and torch.isfinite(out).all()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if layout.n_channels == 0:  # ablated elev_diff: the head on the scalars alone
        assert convs == [] and net.conv_features == 0
        assert net.head[0].in_features == layout.n_scalars
    else:
        assert convs[0].in_channels == layout.n_channels
        size = k if pool == "none" else max(1, math.ceil(k / 8))  # three 2x2 ceil-mode pools, floor 1
        assert net.conv_features == 5 * size * size
        assert net.head[0].in_features == net.conv_features + layout.n_scalars


def test_cnn_kernel_5_same_padding_and_no_conv_layers():
    layout = FeatureLayout(k=3, groups=ORIGINAL_GROUPS + ("ndvi",))
    assert CNN(layout, channels=(4,), kernel_size=5, hidden=())(*inputs(layout)).shape == (6,)
    flat = CNN(layout, channels=(), hidden=(8,))  # no convolutions: flattened patch joins the scalars
    assert flat.conv_features == layout.n_channels * 9
    assert flat(*inputs(layout)).shape == (6,)


def test_cnn_patch_matters_and_scalars_matter():
    layout = FeatureLayout(k=5)
    net = CNN(layout, channels=(4,), hidden=(8,), batch_norm=False).eval()
    s, p = inputs(layout)
    base = net(s, p)
    assert not torch.allclose(base, net(s, p + 1.0))
    assert not torch.allclose(base, net(s + 1.0, p))


def test_mlp_default_is_the_original_architecture():
    layout = FeatureLayout(k=9)
    net = MLP(layout)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (layout.n_inputs, 1024), (1024, 512), (512, 256), (256, 128), (128, 1)]
    assert layout.n_inputs == 1 + 1 + 81 + 2 + 2 + 2
    kinds = [type(m) for m in net.layers]
    # batch norm before the activation, no dropout by default
    assert kinds[:3] == [nn.Linear, nn.BatchNorm1d, nn.ReLU] and nn.Dropout not in kinds
    assert [type(m) for m in MLP(layout, hidden=(8,), dropout=0.2).layers] == [
        nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Linear]
    assert [type(m) for m in MLP(layout, hidden=(8,), batch_norm=False, activation="tanh").layers] == [
        nn.Linear, nn.Tanh, nn.Linear]


def test_he_normal_init_scale():
    torch.manual_seed(0)
    net = MLP(FeatureLayout(k=9), hidden=(1024, 512))
    w = net.layers[3].weight  # Linear(1024, 512)
    assert w.std().item() == pytest.approx(math.sqrt(2 / 1024), rel=0.03)
    xavier = MLP(FeatureLayout(k=9), hidden=(1024, 512), init="xavier_uniform").layers[3].weight
    assert xavier.std().item() == pytest.approx(math.sqrt(2 / (1024 + 512)), rel=0.03)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "silu", "tanh"])
@pytest.mark.parametrize("init", ["he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "default"])
def test_every_activation_and_init_builds(activation, init):
    layout = FeatureLayout(k=3)
    for cls in (MLP, CNN):
        out = cls(layout, hidden=(8,), activation=activation, init=init)(*inputs(layout))
        assert out.shape == (6,) and torch.isfinite(out).all()


@pytest.mark.parametrize("cls", [MLP, CNN])
@pytest.mark.parametrize("setting, kwargs", [("model.activation", {"activation": "foo"}),
                                             ("model.init", {"init": "foo"})])
def test_unknown_names_are_clear_errors(cls, setting, kwargs):
    with pytest.raises(LSTError, match=rf"{setting}: unknown 'foo'; choose from "):
        cls(FeatureLayout(k=3), **kwargs)


def test_cnn_bad_pool_and_empty_inputs():
    with pytest.raises(LSTError, match="model.pool: unknown 'median'; choose from none, max, avg"):
        CNN(FeatureLayout(k=3), pool="median")
    with pytest.raises(LSTError, match="model.dropout"):
        MLP(FeatureLayout(k=3), dropout=1.5)
