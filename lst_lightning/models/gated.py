"""A frame-conditioned network: local responses weighted by gains set by the frame's conditions.

    anomaly = sum_m  g_m(conditions) * h_m(local inputs)

``h`` (the MLP's blocks) maps what differs from pixel to pixel -- the k x k elevation differences,
NDVI, land cover, terrain, the neighbouring windows -- to ``responses`` local patterns (cold
valley floor, warm south slope, warm bare soil, ...). ``g`` maps what is shared by the whole
window or frame -- window-mean LST and elevation, day of year, time of day (so day and night get
their own gains: the band-conditioned layer), lat/lon, the frame's coarse lapse rate -- to how
strongly each pattern shows in LST at that time and place. The lapse rate of a frame times an
elevation difference is the physics this product can express exactly; a plain MLP must learn
the product from data, which a small real archive (tens of frames) does not hold enough of.

Columns are split by name: a scalar column goes to ``g`` when its name or its group's name is in
``conditions``; every other column and all patch channels go to ``h``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from lst_lightning.errors import LSTError
from lst_lightning.features import GROUPS, FeatureLayout
from lst_lightning.models.mlp import ACTIVATIONS, INITS, check_choice, dense_stack, init_weights
from lst_lightning.models.network import Network

DEFAULT_CONDITIONS = ("lst_mean", "elev_mean", "doy", "tod", "latlon", "ctx_lapse")


def condition_columns(layout: FeatureLayout, conditions: Sequence[str]) -> tuple[list[int], list[int]]:
    """(indices of the scalar columns that condition, indices of the rest)."""
    known = (set(GROUPS) | {c for g in GROUPS.values() for c in g.columns}
             | set(layout.scalar_names))  # a group's or column's name, or one of this layout's (land cover)
    unknown = [c for c in conditions if c not in known]
    if unknown:
        raise LSTError(f"model.net.conditions: unknown column or group(s) {unknown}; "
                       f"the run's scalar columns are {list(layout.scalar_names)}")
    wanted = set(conditions)
    cond = [i for i, (n, g) in enumerate(zip(layout.scalar_names, layout.scalar_groups)) if n in wanted or g in wanted]
    return cond, [i for i in range(layout.n_scalars) if i not in cond]


class GatedMLP(Network):
    """``forward(scalars [B, S], patch [B, C, k, k]) -> [B]``: sum of gains x local responses."""

    def __init__(self, layout: FeatureLayout, conditions: Sequence[str] = DEFAULT_CONDITIONS,
                 responses: int = 8, hidden: Sequence[int] = (256, 128), gate_hidden: Sequence[int] = (64,),
                 dropout: float = 0.2, batch_norm: bool = True, activation: str = "relu", init: str = "he_normal"):
        super().__init__()
        check_choice("model.activation", activation, ACTIVATIONS)
        check_choice("model.init", init, INITS)
        if int(responses) < 1:
            raise LSTError(f"model.net.responses: must be >= 1, got {responses}")
        self.layout = layout
        cond, local = condition_columns(layout, tuple(conditions))
        self.register_buffer("cond_idx", torch.tensor(cond, dtype=torch.long), persistent=False)
        self.register_buffer("local_idx", torch.tensor(local, dtype=torch.long), persistent=False)
        n_local = len(local) + layout.n_channels * layout.k * layout.k
        if n_local == 0:
            raise LSTError("model=gated: no local inputs left (every input is a condition); "
                           "drop some from model.net.conditions")
        self.local, out_h = dense_stack(n_local, hidden, dropout, batch_norm, activation, out=int(responses))
        # no conditions (all ablated): constant gains, i.e. the responses summed
        self.gate, out_g = dense_stack(max(len(cond), 1), gate_hidden, 0.0, False, activation, out=int(responses))
        init_weights(self.local, init, activation, output=out_h)
        init_weights(self.gate, init, activation, output=out_g)
        # gains start at zero, so the network starts at the trivial baseline (prediction 0): two
        # He-initialised outputs multiplied and summed start at several K, more than a small
        # archive's hundred-odd training steps undo
        nn.init.zeros_(out_g.weight)
        nn.init.zeros_(out_g.bias)

    def forward(self, scalars: torch.Tensor, patch: torch.Tensor | None = None) -> torch.Tensor:
        parts = [scalars.index_select(1, self.local_idx)]
        if patch is not None and self.layout.n_channels:
            parts.append(patch.flatten(1))
        cond = (scalars.index_select(1, self.cond_idx) if self.cond_idx.numel()
                else scalars.new_ones(scalars.shape[0], 1))
        return (self.gate(cond) * self.local(torch.cat(parts, dim=1))).sum(dim=1)
