"""The scale check's report: ``scale_check.md`` (tables per model and band: mean RMSE over folds
with its 95 % interval, and the paired differences of the model to every other method),
``scale_check.json`` (every per-fold figure) and two figures (RMSE bars with intervals, maps of one
held-out frame)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lst_lightning.data.io.writers import atomic_path
from lst_lightning.downscale.truth import COARSE_METHODS
from lst_lightning.evaluation.maps import data_window, detail_window
from lst_lightning.evaluation.numbers import fmt
from lst_lightning.evaluation.plots import _pyplot, _save
from lst_lightning.training.rundir import write_json

LABELS = {"model": "model downscaled (smooth residual, conserved)",
          "model, block residual": "model downscaled (block residual, conserved)",
          "model, raw": "model downscaled, raw (not conserved)",
          "native-scale model": "model trained at the native scale, applied the same way",
          "model + conserved bicubic": "mean of the model downscaled and conserved bicubic",
          "model + conserved spline": "mean of the model downscaled and the conservative spline",
          **COARSE_METHODS}
ORDER = tuple(LABELS)
EXAMPLE_PX = 96  # the example maps' largest side (archive pixels)


def _interval(s: dict, digits: int = 3) -> str:
    return f"{fmt(s['mean'], digits)} [{fmt(s['low'], digits)}, {fmt(s['high'], digits)}]"


def model_table(summary: dict) -> list[str]:
    """One model's markdown table: a row per method, a column per band (pooled first)."""
    rmse = summary["rmse"]
    keys = list(rmse["model"])
    lines = ["| method | " + " | ".join(f"RMSE {k} (K)" for k in keys) + " | model - method, all (K) |",
             "|---|" + "---|" * (len(keys) + 1)]
    for method in [m for m in ORDER if m in rmse]:
        diff = summary["model_minus"].get(method, {}).get("all")
        verdict = "" if diff is None else (
            f"{fmt(diff['mean'], 3)} [{fmt(diff['low'], 3)}, {fmt(diff['high'], 3)}]"
            + (" (differs)" if diff["differs"] else " (within the folds' spread)"))
        lines.append(f"| {LABELS[method]} | " + " | ".join(_interval(rmse[method][k]) for k in keys)
                     + f" | {verdict} |")
    return lines


def interval_lines(summary: dict) -> list[str]:
    """The model's prediction intervals (calibrated at the aggregated scale) around its downscaled,
    conserved prediction: coverage of the real pixels and mean half-width, mean over folds."""
    iv = summary.get("intervals")
    if not iv:
        return []
    keys = list(iv["coverage"])
    return ["Its prediction intervals (calibrated on the aggregated archive's validation dates), around the "
            "downscaled prediction, one scale down:", "",
            "| | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys),
            "| coverage (%) | " + " | ".join(_interval(iv["coverage"][k], 1) for k in keys) + " |",
            "| mean half-width (K) | " + " | ".join(_interval(iv["halfwidth"][k]) for k in keys) + " |", ""]


def verdicts(model: str, summary: dict) -> list[str]:
    """Plain sentences: which methods the downscaled model beats, by how much, with what certainty."""
    out = []
    for method, diff in summary["model_minus"].items():
        d = diff["all"]
        if method.startswith("model,"):
            continue
        if d["differs"]:
            word = "beats" if d["mean"] < 0 else "loses to"
            out.append(f"- {model} {word} {LABELS[method]} by {fmt(abs(d['mean']), 3)} K "
                       f"(paired over folds, 95 % interval {fmt(d['low'], 3)} .. {fmt(d['high'], 3)} K)")
        else:
            out.append(f"- {model} vs {LABELS[method]}: {fmt(d['mean'], 3)} K, not distinguishable over the folds "
                       f"({fmt(d['low'], 3)} .. {fmt(d['high'], 3)} K)")
    return out


def write_scale_report(root: Path, result: dict, examples: dict, fine_cache) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "scale_check.json", result)
    figures = [rmse_bars(root / "scale_check_rmse.png", result["summary"])]
    for model, (preds, info) in examples.items():
        figures.append(example_maps(root / f"scale_check_maps_{model}.png", model, preds, info, fine_cache))
    f = result["factor"]
    lines = [f"# Scale check: {result['name']}", "",
             f"Trained on the archive aggregated by {f} (k x k windows of {f}-pixel blocks), downscaled back to the "
             f"archive's pixels on each fold's held-out blocks x dates and scored against the real pixels. "
             f"{result['folds']}-fold cross-validation, blocks of {result['block_px']} aggregated pixels; every "
             "method is scored on the same pixels (observed, inside the test blocks, where every method has a "
             "value). RMSE in K: mean over folds [95 % t interval].", "",
             f"Command: `lst-scale-check --name {result['name']} --factor {f} --folds {result['folds']} "
             f"--block-px {result['block_px']} --models {','.join(result['models'])} {' '.join(result['overrides'])}`",
             f"({result['seconds'] / 60:.1f} min)", "", f"Data: `{result['data']}`.", ""]
    for model, summary in result["summary"].items():
        lines += [f"## {model}", "", f"Pixels scored per fold: {', '.join(str(n) for n in summary['pixels'])}", ""]
        lines += model_table(summary) + [""] + verdicts(model, summary) + [""] + interval_lines(summary)
    lines += ["## Figures", ""] + [f"![{p.stem}]({p.name})" for p in figures] + [""]
    path = root / "scale_check.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path


def rmse_bars(path: Path, summary: dict) -> Path:
    """Per model: every method's RMSE (mean over folds, 95 % interval), and its paired difference
    to the model (method minus model: right of 0 = the model is better), whose interval decides."""
    plt = _pyplot()
    models = list(summary)
    fig, axes = plt.subplots(len(models), 2, figsize=(13, 3.6 * len(models)), squeeze=False)
    for (ax, ax_diff), model in zip(axes, models):
        rmse, paired = summary[model]["rmse"], summary[model]["model_minus"]
        methods = [m for m in ORDER if m in rmse][::-1]
        ax.barh(range(len(methods)), [rmse[m]["all"]["mean"] for m in methods],
                xerr=np.nan_to_num([rmse[m]["all"]["half_width"] for m in methods]), color="tab:blue", capsize=3)
        ax.set_yticks(range(len(methods)), [LABELS[m] for m in methods], fontsize=8)
        ax.set_xlabel("RMSE (K): mean over folds, 95 % interval")
        ax.set_title(model)
        others = [m for m in methods if m in paired]
        diff = [-paired[m]["all"]["mean"] for m in others]
        ax_diff.barh(range(len(others)), diff, xerr=np.nan_to_num([paired[m]["all"]["half_width"] for m in others]),
                     color=["tab:green" if d > 0 else "tab:red" for d in diff], capsize=3)
        ax_diff.axvline(0, color="black", lw=0.8)
        ax_diff.set_yticks(range(len(others)), [LABELS[m] for m in others], fontsize=8)
        ax_diff.set_xlabel(f"method - {model} RMSE (K)\npaired over folds, 95 % interval\n> 0 (green): {model} better")
    return _save(fig, path)


def example_maps(path: Path, model: str, preds: dict, info: dict, fine_cache) -> Path:
    """The first held-out frame of fold 0: truth, the methods and the model, on the test pixels."""
    plt = _pyplot()
    t = int(np.argmax(info["mask"].sum(axis=(1, 2))))  # the frame with most scored pixels
    mask = info["mask"][t]
    rs, cs = data_window(mask)
    if max(rs.stop - rs.start, cs.stop - cs.start) > EXAMPLE_PX:  # test blocks scattered over a large grid:
        # specks on a whole-grid map; show the crop with the most scored pixels on the most varied ground
        rs, cs = detail_window(mask, np.asarray(fine_cache.array("dem")), 1, mask.shape, EXAMPLE_PX)
    shown = [("truth", info["truth"][t])] + [(m, preds[m][t]) for m in ORDER if m in preds
                                            and not m.startswith("model,")]
    values = np.concatenate([v[rs, cs][mask[rs, cs]] for _, v in shown])
    lo, hi = np.percentile(values, [1, 99])
    cols = min(5, len(shown))
    rows = -(-len(shown) // cols)
    # one narrow column more for the colour bar, which every panel shares
    fig, grid = plt.subplots(rows, cols + 1, figsize=(3.2 * cols + 0.8, 3.4 * rows + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * cols + [0.07]})
    axes = grid[:, :cols].ravel()
    for ax in [*axes[len(shown):], *grid[1:, cols]]:
        ax.set_axis_off()
    for ax, (name, field) in zip(axes, shown):
        image = ax.imshow(np.where(mask, field, np.nan)[rs, cs], cmap="inferno", vmin=lo, vmax=hi,
                          interpolation="nearest")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(image, cax=grid[0, cols], label="LST (K)")
    frame = fine_cache.meta["frames"][info["frames"][t]]
    fig.suptitle(f"{model}: {frame['date']} {frame['band']} (held-out blocks of fold 0), K")
    return _save(fig, path)
