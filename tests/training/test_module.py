"""LSTRegressor: learning, Lightning wiring, observed-only evaluation, checkpoints, LR schedules, errors."""
from __future__ import annotations

import math
import warnings

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lst_lightning.errors import LSTError
from lst_lightning.evaluation.metrics import METRIC_KEYS, regression_metrics
from lst_lightning.features import ORIGINAL_GROUPS, FeatureLayout
from lst_lightning.training.module import LSTRegressor

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's few-workers / small-data hints

LAYOUT = {"k": 5, "groups": list(ORIGINAL_GROUPS)}
SMALL_MLP = {"_target_": "lst_lightning.models.mlp.MLP", "hidden": [32, 16]}
SMALL_CNN = {"_target_": "lst_lightning.models.cnn.CNN", "channels": [4], "hidden": [16]}
ADAM = {"name": "adam", "lr": 1e-2, "weight_decay": 0.0}


def make_batches(n_batches=4, b=64, layout=LAYOUT, seed=0, frame0=0):
    """Dict batches per the features.py contract; target linear in the (raw) features."""
    lay = FeatureLayout(k=layout["k"], groups=tuple(layout["groups"]))
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n_batches):
        scalars = torch.randn(b, lay.n_scalars, generator=g) * 3 + 10  # raw, unscaled
        scalars[:, 0] += 290  # lst_mean in K
        patch = torch.randn(b, lay.n_channels, lay.k, lay.k, generator=g) * 50  # elevation differences, m
        centre = patch[:, 0, lay.k // 2, lay.k // 2]
        oracle = -0.005 * centre + 0.2 * (scalars[:, 2] - 10)
        target = oracle + 0.1 * torch.randn(b, generator=g)
        out.append({"scalars": scalars, "patch": patch, "target": target, "oracle": oracle,
                    "observed": torch.rand(b, generator=g) < 0.7,
                    "frame": torch.randint(frame0, frame0 + 5, (b,), generator=g),
                    "row": torch.randint(0, 50, (b,), generator=g), "col": torch.randint(0, 50, (b,), generator=g)})
    return out


def loader(batches):
    return DataLoader(batches, batch_size=None)


def fitted_module(net=SMALL_MLP, batches=None, **kwargs) -> LSTRegressor:
    torch.manual_seed(0)
    module = LSTRegressor(net=net, layout=LAYOUT, optimizer=kwargs.pop("optimizer", ADAM), **kwargs)
    batches = batches or make_batches()
    module.scaler.fit(torch.cat([b["scalars"] for b in batches]).numpy(),
                      torch.cat([b["patch"] for b in batches]).numpy())
    return module


def trainer(**kwargs) -> L.Trainer:
    opts = dict(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                enable_checkpointing=False, num_sanity_val_steps=0)
    return L.Trainer(**{**opts, **kwargs})


@pytest.mark.parametrize("net", [SMALL_MLP, SMALL_CNN], ids=["mlp", "cnn"])
def test_optimisation_reduces_loss_on_a_linear_problem(net):
    batches = make_batches(n_batches=2)
    module = fitted_module(net, batches)
    opt = module.configure_optimizers()
    module.train()

    def loss():
        return sum(torch.nn.functional.mse_loss(module(b["scalars"], b["patch"]), b["target"]) for b in batches)

    start = loss().item()
    for _ in range(40):
        for b in batches:
            opt.zero_grad()
            torch.nn.functional.mse_loss(module(b["scalars"], b["patch"]), b["target"]).backward()
            opt.step()
    assert loss().item() < 0.3 * start


def test_fast_dev_run_fit_and_test_log_every_key():
    module = fitted_module(SMALL_CNN)
    tr = trainer(fast_dev_run=True)
    tr.fit(module, loader(make_batches()), loader(make_batches(seed=1)))
    keys = set(tr.callback_metrics)
    assert "train/loss" in keys and "val/loss" in keys
    for stage in ("train", "val"):
        assert {f"{stage}/{k}" for k in METRIC_KEYS} <= keys
    assert {"val/all_rmse_k", "val/all_trivial_rmse_k", "val/all_n_samples"} <= keys
    tr.test(module, loader(make_batches(seed=2)), verbose=False)
    assert {f"test/{k}" for k in METRIC_KEYS} | {"test/all_rmse_k", "test/loss"} <= set(tr.callback_metrics)
    assert module.final_metrics("test")["all_n_samples"] == 64  # fast_dev_run: one batch


def test_validation_uses_observed_pixels_and_reports_all():
    module = fitted_module()
    tr = trainer(max_epochs=1, limit_train_batches=2)
    val = make_batches(n_batches=3, seed=5)
    tr.fit(module, loader(make_batches()), loader(val))
    module.eval()
    with torch.no_grad():
        pred = torch.cat([module(b["scalars"], b["patch"]) for b in val]).numpy()
    target, oracle = (torch.cat([b[k] for b in val]).numpy() for k in ("target", "oracle"))
    observed = torch.cat([b["observed"] for b in val]).numpy()
    got = module.final_metrics("val")
    want = regression_metrics(pred[observed], target[observed], oracle[observed])
    everything = regression_metrics(pred, target, oracle)
    assert got["n_samples"] == observed.sum() < len(observed) == got["all_n_samples"]
    for key in METRIC_KEYS:
        assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), key
    assert got["all_rmse_k"] == pytest.approx(everything["rmse_k"], rel=1e-5)
    assert got["all_trivial_rmse_k"] == pytest.approx(everything["trivial_rmse_k"], rel=1e-6)
    assert float(tr.callback_metrics["val/rmse_k"]) == pytest.approx(want["rmse_k"], rel=1e-5)

    module.eval_observed_only = False
    tr.validate(module, loader(val), verbose=False)
    assert module.final_metrics("val")["n_samples"] == len(observed)


def test_checkpoint_round_trip_reproduces_predictions(tmp_path):
    module = fitted_module(SMALL_CNN, scheduler={"name": "exponential", "warmup_epochs": 1, "half_life_epochs": 2},
                           scaling={"elev_diff": "standardize", "latlon": "raw"})
    tr = trainer(max_epochs=2, limit_train_batches=2)
    tr.fit(module, loader(make_batches()), loader(make_batches(seed=1)))
    path = tmp_path / "model.ckpt"
    tr.save_checkpoint(path)
    loaded = LSTRegressor.load_from_checkpoint(path).eval()  # nothing but the checkpoint
    module.eval()
    batch = make_batches(n_batches=1, seed=9)[0]
    with torch.no_grad():
        assert torch.equal(loaded(batch["scalars"], batch["patch"]), module(batch["scalars"], batch["patch"]))
    assert loaded.scaler._is_fitted and loaded.scaler.patch_methods == ("standardize",)
    preds = trainer().predict(loaded, loader([batch]))
    assert preds[0].shape == (64,)
    torch.testing.assert_close(preds[0], module(batch["scalars"], batch["patch"]).detach())


class LRRecorder(L.Callback):
    def __init__(self):
        self.lrs = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize("scheduler, factors", [
    (None, [1, 1, 1, 1, 1]),
    ({"name": "none"}, [1, 1, 1, 1, 1]),
    ({"name": "exponential", "warmup_epochs": 2, "half_life_epochs": 1}, [1, 1, 0.5, 0.25, 0.125]),
    ({"name": "exponential", "warmup_epochs": 0, "half_life_epochs": 10},
     [2 ** (-e / 10) for e in range(1, 6)]),  # the original: / 2^0.1 every epoch
    ({"name": "cosine", "min_lr_ratio": 0.1},
     [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(5)]),
], ids=["null", "none", "exp_warmup", "exp_original", "cosine"])
def test_scheduler_lr_sequences(scheduler, factors):
    module = fitted_module(scheduler=scheduler)
    rec = LRRecorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer(max_epochs=5, limit_train_batches=1, limit_val_batches=0, callbacks=[rec]).fit(
            module, loader(make_batches(n_batches=1)))
    np.testing.assert_allclose(rec.lrs, [ADAM["lr"] * f for f in factors], rtol=1e-12)
    assert rec.lrs[-1] == pytest.approx(ADAM["lr"] * factors[-1])


def test_non_finite_loss_names_step_and_frames():
    batches = make_batches(n_batches=3, frame0=100)
    bad = batches[2]
    bad["target"][5] = float("nan")
    bad["frame"] = torch.tensor([107, 103, 107] + [103] * 61)
    module = fitted_module(batches=batches[:2])
    with pytest.raises(LSTError, match=r"non-finite train loss .* global step 2 .*frames \[103, 107\]"):
        trainer(max_epochs=1, limit_val_batches=0).fit(module, loader(batches))


def test_bad_settings_are_clear_errors():
    with pytest.raises(LSTError, match=r"model.optimizer._target_: unknown 'torch.optim.SGDx'; choose from "
                                       r".*torch.optim.Adam, torch.optim.AdamW"):
        LSTRegressor(SMALL_MLP, LAYOUT, {"_target_": "torch.optim.SGDx"})
    with pytest.raises(LSTError, match="model.optimizer._target_: unknown 'sgdx'"):  # named the old way
        LSTRegressor(SMALL_MLP, LAYOUT, {"name": "sgdx"})
    with pytest.raises(LSTError, match=r"model.scheduler._target_: unknown 'step'; choose from "
                                       r"lst_lightning.training.schedules.Constant, .*Cosine, .*Exponential"):
        LSTRegressor(SMALL_MLP, LAYOUT, ADAM, {"name": "step"})
    with pytest.raises(LSTError, match=r"model.scheduler \(Cosine\): .*'gamma'"):
        LSTRegressor(SMALL_MLP, LAYOUT, ADAM, {"name": "cosine", "gamma": 0.5})
    with pytest.raises(LSTError, match=r"model.optimizer \(Adam\): Invalid learning rate"):
        LSTRegressor(SMALL_MLP, LAYOUT, {"name": "adam", "lr": -1.0})
    with pytest.raises(LSTError, match="model.net"):
        LSTRegressor({"_target_": "lst_lightning.models.mlp.MLP", "hiden": [4]}, LAYOUT, ADAM)
    with pytest.raises(LSTError, match="model.activation: unknown 'foo'"):
        LSTRegressor({**SMALL_MLP, "activation": "foo"}, LAYOUT, ADAM)
    module = LSTRegressor(SMALL_MLP, LAYOUT, ADAM)
    b = make_batches(n_batches=1)[0]
    with pytest.raises(LSTError, match="not fitted"):
        module(b["scalars"], b["patch"])


def test_band_balance_weights_each_band_by_its_inverse_target_variance():
    module = fitted_module(band_balance=True)
    rng = np.random.default_rng(0)
    band = np.repeat([0, 1], [300, 700])  # night, day
    target = np.where(band == 0, rng.normal(0, 0.5, 1000), rng.normal(0, 1.5, 1000))
    module.fit_band_weights(target, band)
    w = module.band_weight.numpy()
    night, day = 1 / target[band == 0].var(), 1 / target[band == 1].var()
    np.testing.assert_allclose(w, np.array([night, day]) / np.mean(np.where(band == 0, night, day)), rtol=1e-6)
    batch = {**make_batches(1)[0]}
    batch["band"] = torch.from_numpy(rng.integers(0, 2, batch["target"].numel()))
    with torch.no_grad():
        pred = module(batch["scalars"], batch["patch"])
        expect = (module.band_weight[batch["band"]] * (pred - batch["target"]) ** 2).mean()
        assert torch.allclose(module._step(batch, 0, "train"), expect)
        assert torch.allclose(module._step(batch, 0, "val"), ((pred - batch["target"]) ** 2).mean())  # eval: plain
    plain = fitted_module()
    plain.fit_band_weights(target, band)
    assert torch.equal(plain.band_weight, torch.ones(2))  # off by default
