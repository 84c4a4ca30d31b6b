"""The mean of finished cross-validations' models, fold by fold, without training again.

    python scripts/cv_ensemble.py logs/runs/<run A> logs/runs/<run B> [...]

The runs must be cross-validations of the same archive and folds (their test sets are checked to be
the same samples). Each fold's saved models predict the fold's test set; their plain mean (equal
weights, fixed in advance: nothing is fitted on a test part) is scored like a model. The table gives
the MSE improvement (%) of every member and of the mean, pooled and per band, as the mean over the
folds with its 95 % t interval, and the paired difference of the mean to each member; also written
as ``ensemble.json`` beside the first run.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from lst_lightning.apps.runs import open_run
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.intervals import mean_interval, paired_difference
from lst_lightning.evaluation.predictions import band_metrics, gather_all, part_metrics, predict_batched

MEAN = "mean"
KEY = "mse_improvement_pct"


def scores(pred: np.ndarray, batch: dict, run) -> dict[str, float]:
    """{"all": %, "<band>": %} of one prediction of a fold's test set."""
    observed_only = bool(run.cfg.data.eval_observed_only)
    out = {"all": part_metrics(pred, batch, observed_only)[KEY]}
    for key, value in band_metrics(pred, batch, run.dm.gatherer, observed_only).items():
        if key.endswith(f"/{KEY}"):
            out[key.split("/")[1]] = value
    return out


def fold_scores(folds: list[Path], names: list[str]) -> dict[str, dict[str, float]]:
    """{member or "mean": scores} of one fold, the members' models on the same test samples."""
    preds, batch, first = [], None, None
    for fold in folds:
        run = open_run(str(fold), "", fold / "ensemble_tmp")
        b = gather_all(run.dm.gatherer, run.dm.eval_index("test"), run.dm.eval_batch_size)
        if batch is None:
            batch, first = b, run
        elif not all(np.array_equal(b[k], batch[k]) for k in ("frame", "row", "col")):
            raise LSTError(f"{fold}: its test set is not {folds[0]}'s: the runs are not the same folds")
        preds.append(predict_batched(run.predict, b, run.dm.eval_batch_size))
    out = {name: scores(p, batch, first) for name, p in zip(names, preds)}
    out[MEAN] = scores(np.mean(preds, axis=0), batch, first)
    return out


def summary(per_fold: list[dict], names: list[str]) -> dict:
    views = list(per_fold[0][MEAN])
    table = {m: {v: mean_interval([f[m][v] for f in per_fold]) for v in views} for m in [*names, MEAN]}
    paired = {m: {v: paired_difference([f[MEAN][v] for f in per_fold], [f[m][v] for f in per_fold])
                  for v in views} for m in names}
    return {"mse_improvement_pct": table, "mean_minus": paired, "folds": len(per_fold), "members": names}


def short_names(dirs: list[Path]) -> list[str]:
    """The runs' names in the table: the shortest trailing parts of their paths that tell them apart."""
    for depth in range(1, max(len(d.parts) for d in dirs) + 1):
        names = ["/".join(d.parts[-depth:]) for d in dirs]
        if len(set(names)) == len(names):
            return names
    return [str(d) for d in dirs]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", type=Path, nargs="+", help="cross-validations' run directories (with fold_<i>/)")
    args = p.parse_args(argv)
    if len(args.run_dirs) < 2:
        print("error: give two or more run directories", file=sys.stderr)
        return 2
    folds = [sorted(d.glob("fold_*")) for d in args.run_dirs]
    if not folds[0] or any([f.name for f in fs] != [f.name for f in folds[0]] for fs in folds):
        print(f"error: the runs must hold the same fold_<i>/ directories ({', '.join(map(str, args.run_dirs))})",
              file=sys.stderr)
        return 2
    names = short_names([d.resolve() for d in args.run_dirs])
    try:
        result = summary([fold_scores(list(fs), names) for fs in zip(*folds)], names)
    except LSTError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    (args.run_dirs[0] / "ensemble.json").write_text(json.dumps(result, indent=1))
    table = result["mse_improvement_pct"]
    views = list(table[MEAN])
    print(f"MSE improvement (%), mean over {result['folds']} folds (95 % interval)")
    print(f"{'':24s} " + "  ".join(f"{v:>24s}" for v in views))
    for m, figures in table.items():
        print(f"{m:24s} " + "  ".join(
            f"{figures[v]['mean']:7.1f} ({figures[v]['low']:6.1f} .. {figures[v]['high']:6.1f})" for v in views))
    for m, diffs in result["mean_minus"].items():
        print(f"{'mean - ' + m:24s} " + "  ".join(
            f"{diffs[v]['mean']:+7.2f} ({diffs[v]['low']:+6.2f} .. {diffs[v]['high']:+6.2f})"
            + ("*" if diffs[v]["differs"] else " ") for v in views))
    print("* the paired interval over the folds excludes 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
