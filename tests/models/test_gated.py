"""GatedMLP: the column split, shapes for several layouts, that gains multiply responses (a frame
lapse times an elevation difference is learnt where a same-size MLP struggles), errors."""
from __future__ import annotations

import pytest
import torch

from lst_lightning.errors import LSTError
from lst_lightning.features import ALL_GROUPS, ORIGINAL_GROUPS, FeatureLayout
from lst_lightning.models.gated import DEFAULT_CONDITIONS, GatedMLP, condition_columns
from tests.models.test_models import LAYOUTS, inputs


def test_conditions_split_columns_by_name_and_group():
    layout = FeatureLayout(k=3, groups=ORIGINAL_GROUPS + ("context", "landcover"),
                           meta={"landcover_classes": ["1", "2"]})
    cond, local = condition_columns(layout, DEFAULT_CONDITIONS)
    names = [layout.scalar_names[i] for i in cond]
    assert names == ["lst_mean", "elev_mean", "doy_sin", "doy_cos", "tod_sin", "tod_cos", "lat", "lon", "ctx_lapse"]
    rest = [layout.scalar_names[i] for i in local]
    assert "ctx_lst_n" in rest and "ctx_elev_nw" in rest and "lc_centre_2" in rest and "ctx_lapse" not in rest
    assert sorted(cond + local) == list(range(layout.n_scalars))


@pytest.mark.parametrize("groups", [g for g in LAYOUTS.values() if g != ("lst_mean", "elev_mean", "doy", "tod",
                                                                         "latlon")], ids=lambda g: "-".join(g))
def test_shapes(groups):
    layout = FeatureLayout(k=5, groups=groups)
    net = GatedMLP(layout, responses=3, hidden=(8,), gate_hidden=(4,))
    out = net(*inputs(layout))
    assert out.shape == (6,) and torch.isfinite(out).all()


def test_only_conditions_left_is_a_clear_error():
    layout = FeatureLayout(k=3, groups=("lst_mean", "doy"))
    with pytest.raises(LSTError, match="model=gated: no local inputs left"):
        GatedMLP(layout)


def test_unknown_condition_and_bad_responses():
    layout = FeatureLayout(k=3, groups=ALL_GROUPS)
    with pytest.raises(LSTError, match=r"model.net.conditions: unknown column or group\(s\) \['lapse'\]"):
        GatedMLP(layout, conditions=("lapse",))
    with pytest.raises(LSTError, match="model.net.responses: must be >= 1"):
        GatedMLP(layout, responses=0)


def test_a_varying_lapse_rate_times_elevation_is_learnt():
    """Target = (frame lapse) x (centre elevation difference): the gated net fits it to a small
    fraction of its variance where an MLP of the same width, same steps, is clearly worse."""
    torch.manual_seed(0)
    layout = FeatureLayout(k=3, groups=("elev_diff", "context"))
    n = 4096
    scalars = torch.zeros(n, layout.n_scalars)
    lapse = torch.rand(n) * 2 - 1
    scalars[:, layout.scalar_names.index("ctx_lapse")] = lapse
    patch = torch.randn(n, 1, 3, 3)
    target = lapse * patch[:, 0, 1, 1]

    def fitted_mse(net):
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for step in range(600):
            rows = torch.randint(0, n, (256,))
            loss = torch.mean((net(scalars[rows], patch[rows]) - target[rows]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            return float(torch.mean((net(scalars, patch) - target) ** 2) / target.var())

    from lst_lightning.models.mlp import MLP

    gated = fitted_mse(GatedMLP(layout, conditions=("ctx_lapse",), responses=4, hidden=(32,), gate_hidden=(16,),
                                dropout=0.0, batch_norm=False))
    plain = fitted_mse(MLP(layout, hidden=(32,), batch_norm=False))
    assert gated < 0.05 and gated < plain / 2, (gated, plain)


def test_starts_at_the_trivial_baseline():
    layout = FeatureLayout(k=5, groups=ALL_GROUPS)
    out = GatedMLP(layout, hidden=(16,), gate_hidden=(8,)).eval()(*inputs(layout))
    assert torch.all(out == 0)
