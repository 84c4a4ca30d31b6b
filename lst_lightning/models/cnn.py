"""Convolutions over the k x k patch channels, then scalar features joined before a dense head.

The patch channels (elevation differences, plus NDVI when enabled) pass through
``Conv2d('same') -> [BatchNorm] -> activation -> [pool]`` blocks, are flattened, concatenated with
the scalar features, and a fully connected head (the MLP's blocks) gives one value per sample.
Works for any k; pooling (``max``/``avg``, 2 x 2, ceil mode) stops once the map is 1 x 1.
With no patch channels (``elev_diff`` ablated) the model is the head on the scalars alone.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from lst_lightning.errors import LSTError
from lst_lightning.features import FeatureLayout
from lst_lightning.models.mlp import ACTIVATIONS, INITS, check_choice, dense_stack, init_weights, make_activation
from lst_lightning.models.network import Network

POOLS = ("none", "max", "avg")


class CNN(Network):
    """``forward(scalars [B, S], patch [B, C, k, k]) -> [B]``."""

    def __init__(self, layout: FeatureLayout, channels: Sequence[int] = (32, 64), kernel_size: int = 3,
                 hidden: Sequence[int] = (256, 128), dropout: float = 0.0, batch_norm: bool = True,
                 activation: str = "relu", init: str = "he_normal", pool: str = "none"):
        super().__init__()
        check_choice("model.activation", activation, ACTIVATIONS)
        check_choice("model.init", init, INITS)
        check_choice("model.pool", pool, POOLS)
        if int(kernel_size) < 1:
            raise LSTError(f"model.kernel_size: must be >= 1, got {kernel_size}")
        self.layout = layout
        blocks: list[nn.Module] = []
        size, width = layout.k, layout.n_channels
        if width:
            for c in channels:
                c = int(c)
                if c < 1:
                    raise LSTError(f"model.channels: widths must be positive, got {list(channels)}")
                blocks.append(nn.Conv2d(width, c, int(kernel_size), padding="same", bias=not batch_norm))
                if batch_norm:
                    blocks.append(nn.BatchNorm2d(c))
                blocks.append(make_activation(activation))
                if pool != "none" and size >= 2:
                    cls = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
                    blocks.append(cls(2, ceil_mode=True))
                    size = math.ceil(size / 2)
                width = c
        self.conv = nn.Sequential(*blocks)
        self.conv_features = width * size * size if layout.n_channels else 0
        self.head, output = dense_stack(self.conv_features + layout.n_scalars, hidden, dropout, batch_norm,
                                        activation)
        init_weights(self, init, activation, output=output)

    def forward(self, scalars: torch.Tensor, patch: torch.Tensor | None = None) -> torch.Tensor:
        parts = [scalars]
        if self.conv_features and patch is not None:
            parts.append(self.conv(patch).flatten(1))
        return self.head(torch.cat(parts, dim=1)).squeeze(-1)
