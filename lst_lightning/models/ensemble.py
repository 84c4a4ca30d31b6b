"""A deep ensemble: N copies of a network, each initialised at random on its own, trained on the
same batches with its own loss (so they stay independent), predicting their mean. On small real
archives one network's test error moves by several MSE points with its seed alone; the mean of N
averages that variance away at N times the training cost."""
from __future__ import annotations

import torch
from torch import nn


class Ensemble(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def member_outputs(self, scalars: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
        """[B, N]: every member's prediction."""
        return torch.stack([m(scalars, patch) for m in self.members], dim=1)

    def forward(self, scalars: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
        return self.member_outputs(scalars, patch).mean(dim=1)
