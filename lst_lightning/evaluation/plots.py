"""Figures people would rather look at than read (charts; maps: evaluation/maps.py). Matplotlib
with the Agg backend (no screen)."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np


def _pyplot():
    """pyplot on the Agg backend, chosen at each use (importing this module leaves the backend alone)."""
    matplotlib.use("Agg")
    return plt


def epoch_rows(series: dict[str, list[tuple[int, float]]]) -> list[dict]:
    """The learning-curve rows, one per epoch, from epoch-end metrics as (epoch, value) pairs:
    ``train/rmse_k`` (the epoch's training RMSE over all its samples) and ``val/rmse_k``. The one
    way both a training run (the module's record) and ``lst-evaluate`` (MLflow's metric history)
    make their curves; the epoch's training MSE is its training RMSE squared."""
    rows: dict[int, dict] = {}
    for key in ("train/rmse_k", "val/rmse_k"):
        for epoch, value in series.get(key, ()):
            rows.setdefault(int(epoch), {"epoch": int(epoch)})[key] = float(value)
    for row in rows.values():
        if "train/rmse_k" in row:
            row["train/mse_k2"] = row["train/rmse_k"] ** 2
    return [rows[e] for e in sorted(rows)]


def learning_curves(history: list[dict], path: Path, trivial_rmse: float | None = None) -> Path:
    """The epoch's training MSE and the validation RMSE per epoch (with the epoch's training RMSE
    beside it), and the trivial baseline for reference. ``history``: ``epoch_rows``."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [h["epoch"] for h in history]
    for key, ax, label in (("train/mse_k2", ax1, "train MSE of the epoch (K²)"), ("val/rmse_k", ax2, "val RMSE (K)")):
        values = [h.get(key) for h in history]
        pts = [(e, v) for e, v in zip(epochs, values) if v is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    train_rmse = [(e, h["train/rmse_k"]) for e, h in zip(epochs, history) if h.get("train/rmse_k") is not None]
    if train_rmse:  # the epoch's training RMSE beside validation: the gap shows over/underfitting
        ax2.plot(*zip(*train_rmse), marker=".", ls=":", color="tab:orange", label="train RMSE (K)")
    if trivial_rmse:
        ax2.axhline(trivial_rmse, color="grey", ls="--", label=f"trivial (0): {trivial_rmse:.3f} K")
    ax2.legend()
    if epochs:
        for ax in (ax1, ax2):
            ax.set_xticks(range(min(epochs), max(epochs) + 1, max(1, (max(epochs) - min(epochs)) // 10 + 1)))
    fig.suptitle("learning curves")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pred_vs_true(pred, target, path: Path, title: str = "") -> Path:
    """Hexbin of predicted vs true target (K) with the 1:1 line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    lo, hi = np.percentile(np.concatenate([pred, target]), [0.5, 99.5]) if len(target) else (-1, 1)
    hb = ax.hexbin(target, pred, gridsize=60, extent=(lo, hi, lo, hi), bins="log", mincnt=1, cmap="viridis")
    ax.plot([lo, hi], [lo, hi], color="red", lw=1, label="1:1")
    ax.axhline(0, color="grey", lw=0.8, ls="--", label="trivial (0)")
    fig.colorbar(hb, ax=ax, label="samples")
    ax.set_xlabel("true centre - window mean (K)")
    ax.set_ylabel("predicted (K)")
    ax.set_title(title or "predicted vs true")
    ax.legend(loc="upper left")
    return _save(fig, path)


def residual_vs_elevation(elevation, err, path: Path, title: str = "") -> Path:
    """Residual (pred - true, K) against the centre pixel's elevation, with the binned mean +- std."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    lo, hi = np.percentile(err, [0.5, 99.5]) if len(err) else (-1, 1)
    ax.hexbin(elevation, err, gridsize=60, bins="log", mincnt=1, cmap="Greys", extent=(
        float(np.min(elevation)), float(np.max(elevation)), lo, hi))
    edges = np.unique(np.percentile(elevation, np.linspace(0, 100, 16)))
    idx = np.clip(np.digitize(elevation, edges[1:-1]), 0, len(edges) - 2)
    centres, mean, std = [], [], []
    for b in range(len(edges) - 1):
        sel = err[idx == b]
        if sel.size:
            centres.append(0.5 * (edges[b] + edges[b + 1]))
            mean.append(sel.mean())
            std.append(sel.std())
    ax.errorbar(centres, mean, yerr=std, color="tab:red", marker="o", ms=3, capsize=2, label="binned mean +- std")
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("centre pixel elevation (m)")
    ax.set_ylabel("residual, pred - true (K)")
    ax.set_title(title or "residual vs elevation")
    ax.legend()
    return _save(fig, path)


def rmse_by_group(table: dict[str, dict], path: Path, xlabel: str = "month", title: str = "") -> Path:
    """Bars of model and trivial RMSE (K) per group of a breakdown table, sample counts on top."""
    plt = _pyplot()
    names = list(table)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names) + 2), 3.8))
    model = [table[n]["rmse_k"] for n in names]
    trivial = [table[n]["trivial_rmse_k"] for n in names]
    ax.bar(x - 0.2, trivial, 0.4, color="lightgrey", label="trivial (0)")
    ax.bar(x + 0.2, model, 0.4, color="tab:blue", label="model")
    for xi, n in zip(x, names):
        ax.annotate(f"{int(table[n]['n_samples']):,}", (xi, max(model[xi], trivial[xi])), ha="center",
                    va="bottom", fontsize=7, color="grey")
    ax.set_xticks(x, names)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("RMSE (K)")
    ax.set_title(title or f"RMSE per {xlabel} (numbers: samples)")
    ax.legend()
    return _save(fig, path)


def _grouped_bars(ax, values: dict[str, dict[str, float]], ylabel: str, title: str = "",
                  reference: tuple[str, float] | None = None, errors: dict | None = None) -> None:
    """``errors[series][category]``: the half-width of each bar's interval (cross-validated figures),
    drawn as an error bar; bars without one have none."""
    series = list(values)
    cats = list(dict.fromkeys(c for s in series for c in values[s]))
    x = np.arange(len(cats))
    width = 0.8 / max(len(series), 1)
    for i, s in enumerate(series):
        ys = [values[s].get(c, np.nan) for c in cats]
        err = [(errors or {}).get(s, {}).get(c, np.nan) for c in cats]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, ys, width, label=s,
               yerr=err if np.isfinite(err).any() else None, capsize=3, error_kw={"lw": 1})
    if reference:
        ax.axhline(reference[1], color="grey", ls="--", label=reference[0])
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, cats, rotation=20 if len(cats) > 5 else 0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)


def bars(values: dict[str, dict[str, float]], path: Path, ylabel: str, title: str = "",
         reference: tuple[str, float] | None = None, errors: dict | None = None) -> Path:
    """Grouped bars: ``values[series][category]``, with ``errors`` (same keys: 95 % half-widths) as
    error bars; an optional horizontal reference line."""
    plt = _pyplot()
    n_cats = len({c for s in values.values() for c in s})
    fig, ax = plt.subplots(figsize=(max(5.5, 0.9 * n_cats + 2), 3.8))
    _grouped_bars(ax, values, ylabel, title, reference, errors)
    return _save(fig, path)


def importance_bars(permutation: dict[str, dict[str, float]], ablation: dict[str, dict[str, float]],
                    path: Path, permutation_errors: dict | None = None) -> Path:
    """Feature-group importance, two panels: RMSE increase (K) when the group is shuffled on the
    test set (``permutation[model][group]``) and when the model is retrained without it
    (``ablation[model][group]``)."""
    plt = _pyplot()
    panels = [(v, t) for v, t in ((permutation, "permutation: shuffled on the test set"),
                                  (ablation, "ablation: retrained without the group")) if v]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(6 * max(len(panels), 1), 4), squeeze=False)
    for ax, (values, title) in zip(axes[0], panels):
        _grouped_bars(ax, values, "test RMSE increase (K)", title,
                      errors=permutation_errors if values is permutation else None)
    crossed = any(np.isfinite(hw) for row in (permutation_errors or {}).values() for hw in row.values())
    fig.suptitle("feature-group importance" + (" (error bars: 95 % interval over the folds)" if crossed else ""))
    return _save(fig, path)
