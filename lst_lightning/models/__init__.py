"""Plain ``nn.Module`` networks: ``forward(scalars [B, S], patch [B, C, k, k]) -> [B]`` (scaled inputs)."""
from lst_lightning.models.cnn import CNN
from lst_lightning.models.gated import GatedMLP
from lst_lightning.models.mlp import MLP

__all__ = ["CNN", "GatedMLP", "MLP"]
