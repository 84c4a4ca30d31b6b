"""The base every network derives from, and what it promises: ``Network(layout=..., **settings)``
built from ``model.net`` (its ``_target_``); ``forward(scalars [B, S], patch [B, C, k, k]) -> [B]``,
raw features already scaled by the model's FeatureScaler, the prediction in K."""
from __future__ import annotations

from torch import nn


class Network(nn.Module):
    """A network of the project (MLP, CNN, GatedMLP, ...): ``model.net._target_`` names one."""
