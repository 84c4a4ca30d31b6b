"""Permutation importance of a finished cross-validation, per band, without training again.

    python scripts/cv_importance.py logs/runs/<time> [--repeats 2]

Each fold's saved model is scored on its own test set with one feature group shuffled at a time,
within each band (evaluation/importance.py, as ``lst-report --importance-models`` does); the table
gives the MSE increase (%) per group, pooled and per band, as the mean over the folds with its
95 % t interval, and is also written as ``importance.json`` in the run directory.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from lst_lightning.apps.runs import open_run
from lst_lightning.data.io.formats import FRAME_BANDS
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.importance import permutation_importance
from lst_lightning.evaluation.intervals import mean_interval
from lst_lightning.evaluation.predictions import gather_all


def fold_importance(fold: Path, repeats: int) -> dict:
    """{group: figures (pooled, and per band under "by")} of one fold's model on its test set."""
    run = open_run(str(fold), "", fold / "importance_tmp")
    batch = gather_all(run.dm.gatherer, run.dm.eval_index("test"), run.dm.eval_batch_size)
    band = run.dm.gatherer.band_index[batch["frame"]]
    strata = {FRAME_BANDS[b]: band == b for b in np.unique(band)}
    return permutation_importance(run.predict, batch, run.dm.layout, bool(run.cfg.data.eval_observed_only),
                                  repeats, seed=int(run.cfg.seed), strata=strata)


def summary(per_fold: list[dict]) -> dict:
    out = {}
    for group in per_fold[0]:
        out[group] = {"all": mean_interval([f[group]["mse_increase_pct"] for f in per_fold])}
        for b in per_fold[0][group]["by"]:
            out[group][b] = mean_interval([f[group]["by"][b]["mse_increase_pct"] for f in per_fold])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, help="a cross-validation's run directory (with fold_<i>/)")
    p.add_argument("--repeats", type=int, default=2, help="shuffles per group (default 2)")
    args = p.parse_args(argv)
    folds = sorted(args.run_dir.glob("fold_*"))
    if not folds:
        print(f"error: {args.run_dir}: no fold_<i>/ (not a cross-validation's run directory)", file=sys.stderr)
        return 2
    try:
        table = summary([fold_importance(f, args.repeats) for f in folds])
    except LSTError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    (args.run_dir / "importance.json").write_text(json.dumps(table, indent=1))
    views = [v for v in ("all", "day", "night") if v in next(iter(table.values()))]
    print(f"MSE increase (%) when a group is shuffled, mean over {len(folds)} folds (95 % interval)")
    print(f"{'group':14s} " + "  ".join(f"{v:>24s}" for v in views))
    for group, figures in sorted(table.items(), key=lambda kv: -kv[1]["all"]["mean"]):
        print(f"{group:14s} " + "  ".join(
            f"{figures[v]['mean']:7.1f} ({figures[v]['low']:6.1f} .. {figures[v]['high']:6.1f})" for v in views))
    return 0


if __name__ == "__main__":
    sys.exit(main())
