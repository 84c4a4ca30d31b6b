"""model.ensemble=N: independent members (own init, own loss), the mean as the prediction, and a
checkpoint that reloads the whole ensemble."""
from __future__ import annotations

import pytest
import torch

from lst_lightning.errors import LSTError
from lst_lightning.models.ensemble import Ensemble
from lst_lightning.training.module import LSTRegressor
from tests.training.test_module import ADAM, LAYOUT, SMALL_MLP, fitted_module, loader, make_batches, trainer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_members_start_apart_and_the_prediction_is_their_mean():
    module = fitted_module(ensemble=3).eval()
    assert isinstance(module.net, Ensemble) and len(module.net.members) == 3
    b = make_batches(n_batches=1)[0]
    with torch.no_grad():
        members = module.net.member_outputs(*module.scaler(b["scalars"], b["patch"]))
        assert members.shape == (64, 3)
        assert not torch.allclose(members[:, 0], members[:, 1])  # independent random starts
        torch.testing.assert_close(module(b["scalars"], b["patch"]), members.mean(dim=1))


def test_each_member_learns_on_its_own_loss(tmp_path):
    """Training the ensemble moves every member as training that member alone would: its
    gradient is its own loss's, not the mean prediction's."""
    module = fitted_module(ensemble=2)
    b = make_batches(n_batches=1)[0]
    scaled = module.scaler(b["scalars"], b["patch"])
    module.train()
    loss = module._step(b, 0, "train")
    loss.backward()
    for member in module.net.members:
        own = torch.nn.functional.mse_loss(member(*scaled), b["target"]) / 2
        grads = torch.autograd.grad(own, list(member.parameters()))
        for p, g in zip(member.parameters(), grads):
            torch.testing.assert_close(p.grad, g)
        member.zero_grad()


def test_ensemble_checkpoint_round_trip(tmp_path):
    module = fitted_module(ensemble=2)
    tr = trainer(max_epochs=1, limit_train_batches=2)
    tr.fit(module, loader(make_batches()), loader(make_batches(seed=1)))
    tr.save_checkpoint(tmp_path / "e.ckpt")
    loaded = LSTRegressor.load_from_checkpoint(tmp_path / "e.ckpt").eval()
    b = make_batches(n_batches=1, seed=9)[0]
    with torch.no_grad():
        assert torch.equal(loaded(b["scalars"], b["patch"]), module.eval()(b["scalars"], b["patch"]))


def test_ensemble_size_is_checked():
    with pytest.raises(LSTError, match=r"model.ensemble: the number of networks must be an integer >= 1, got 0"):
        LSTRegressor(SMALL_MLP, LAYOUT, ADAM, ensemble=0)
