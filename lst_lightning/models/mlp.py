"""Fully connected network on the flattened inputs (the original project's model).

Default: 1024-512-256-128 hidden units, each ``Linear -> BatchNorm -> activation -> dropout``
(batch norm before the activation, as in the original), he_normal initialisation, one output.
The building blocks (activation, initialisation, fully connected stack) are shared with the CNN.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from lst_lightning.errors import LSTError
from lst_lightning.features import FeatureLayout
from lst_lightning.models.network import Network

ACTIVATIONS = ("relu", "leaky_relu", "gelu", "silu", "tanh")
INITS = ("he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "default")
LEAKY_SLOPE = 0.01


def check_choice(setting: str, value: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else an LSTError naming the setting."""
    if value not in choices:
        raise LSTError(f"{setting}: unknown {value!r}; choose from {', '.join(choices)}")
    return value


def make_activation(name: str) -> nn.Module:
    check_choice("model.activation", name, ACTIVATIONS)
    return {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(LEAKY_SLOPE), "gelu": nn.GELU,
            "silu": nn.SiLU, "tanh": nn.Tanh}[name]()


def init_weights(module: nn.Module, init: str, activation: str, output: nn.Module | None = None) -> None:
    """Initialise every Linear/Conv weight of ``module`` (biases to zero) with the ``init`` scheme.

    He schemes use the gain of ``activation`` (fan_in, like Keras' he_normal); the ``output`` layer,
    which feeds no activation, uses the linear gain. ``default`` keeps PyTorch's initialisation.
    """
    check_choice("model.init", init, INITS)
    check_choice("model.activation", activation, ACTIVATIONS)
    if init == "default":
        return
    # GELU/SiLU behave like ReLU for the variance argument behind He initialisation
    nonlin = {"gelu": "relu", "silu": "relu"}.get(activation, activation)
    for layer in module.modules():
        if not isinstance(layer, (nn.Linear, nn.Conv2d)):
            continue
        act = "linear" if layer is output else nonlin
        if init == "he_normal":
            nn.init.kaiming_normal_(layer.weight, a=LEAKY_SLOPE, mode="fan_in", nonlinearity=act)
        elif init == "he_uniform":
            nn.init.kaiming_uniform_(layer.weight, a=LEAKY_SLOPE, mode="fan_in", nonlinearity=act)
        elif init == "xavier_normal":
            nn.init.xavier_normal_(layer.weight)
        else:
            nn.init.xavier_uniform_(layer.weight)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def dense_stack(in_features: int, hidden: Sequence[int], dropout: float, batch_norm: bool,
                activation: str, out: int = 1) -> tuple[nn.Sequential, nn.Linear]:
    """``Linear -> [BatchNorm] -> activation -> [Dropout]`` per hidden width, then ``Linear -> out``."""
    if in_features < 1:
        raise LSTError("features.groups: the model has no inputs (every feature group was dropped)")
    if not 0.0 <= float(dropout) < 1.0:
        raise LSTError(f"model.dropout: {dropout} is not in [0, 1)")
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        h = int(h)
        if h < 1:
            raise LSTError(f"model.hidden: widths must be positive, got {list(hidden)}")
        layers.append(nn.Linear(width, h, bias=not batch_norm))  # BN's shift makes a bias redundant
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(make_activation(activation))
        if dropout > 0:
            layers.append(nn.Dropout(float(dropout)))
        width = h
    output = nn.Linear(width, out)
    layers.append(output)
    return nn.Sequential(*layers), output


class MLP(Network):
    """``forward(scalars [B, S], patch [B, C, k, k]) -> [B]`` on the concatenated, flattened inputs."""

    def __init__(self, layout: FeatureLayout, hidden: Sequence[int] = (1024, 512, 256, 128),
                 dropout: float = 0.0, batch_norm: bool = True, activation: str = "relu",
                 init: str = "he_normal"):
        super().__init__()
        check_choice("model.activation", activation, ACTIVATIONS)
        check_choice("model.init", init, INITS)
        self.layout = layout
        self.layers, output = dense_stack(layout.n_inputs, hidden, dropout, batch_norm, activation)
        init_weights(self.layers, init, activation, output=output)

    def forward(self, scalars: torch.Tensor, patch: torch.Tensor | None = None) -> torch.Tensor:
        parts = [scalars]
        if patch is not None and self.layout.n_channels:
            parts.append(patch.flatten(1))
        return self.layers(torch.cat(parts, dim=1)).squeeze(-1)
