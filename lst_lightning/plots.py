"""Figures people would rather look at than read. Matplotlib with the Agg backend (no screen)."""
from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curves(history: list[dict], path: Path, trivial_rmse: float | None = None) -> Path:
    """Training loss and validation RMSE per epoch, with the trivial baseline for reference."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [h["epoch"] for h in history]
    for key, ax, label in (("train/loss", ax1, "train MSE (K²)"), ("val/rmse_k", ax2, "val RMSE (K)")):
        values = [h.get(key) for h in history]
        pts = [(e, v) for e, v in zip(epochs, values) if v is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if trivial_rmse:
        ax2.axhline(trivial_rmse, color="grey", ls="--", label=f"trivial (0): {trivial_rmse:.3f} K")
    ax2.legend()
    fig.suptitle("learning curves")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
