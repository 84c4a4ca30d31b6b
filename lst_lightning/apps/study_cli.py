"""Console entry points of the studies: ``lst-report``, ``lst-scale-check`` and ``lst-transfer``.

Each ``*_main`` parses its arguments first and only then imports the module that runs the study
(``report/jobs.py``, ``scale_check.py``, ``transfer.py``: its one lazy import), so ``--help``
answers before torch, Lightning and MLflow load.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from lst_lightning.apps.cli import Parser
from lst_lightning.apps.report import ABLATION_MODEL, IMPORTANCE_MODELS, MODELS, SPLITS
from lst_lightning.config_groups import group_options
from lst_lightning.errors import LSTError, exit_on_user_error

NONE = "none"  # --importance-models none, --ablation-model none: skip it
SEVERAL = "several values are one comma-separated value, e.g. --models lightgbm,gated"


def looks_like_override(value: str) -> bool:
    """``key=value``, ``+key=value``, ``~key``: what Hydra reads as an override."""
    return "=" in value or value.startswith(("~", "+"))


def override(value: str) -> str:
    """argparse type of the positional train.py overrides: a word that is no override is most often
    a second value of a list option given with spaces (``--models lightgbm gated``), which would
    otherwise reach Hydra as a broken override or, worse, take an override's place."""
    if not looks_like_override(value):
        raise argparse.ArgumentTypeError(f"{value!r} is no train.py override (key=value); an option's {SEVERAL}")
    return value


def options_of(group: str, what: str, none: bool = False) -> Callable[[str], list[str]]:
    """argparse type of a list option: ONE comma-separated value naming options of the config group
    ``group`` (``--models lightgbm,gated``), so the overrides after it stay overrides; an unknown
    name, or an override in its place, is an error that says what is valid. ``none``: 'none' = []."""
    valid = group_options(group) or []

    def parse(value: str) -> list[str]:
        if none and value == NONE:
            return []
        names = value.split(",")
        for name in names:
            if looks_like_override(name):
                raise argparse.ArgumentTypeError(
                    f"{name!r} is a train.py override, not a {what}: put the overrides after the options "
                    f"({SEVERAL})")
            if name not in valid:
                raise argparse.ArgumentTypeError(f"no {what} {name!r}; choose from {', '.join(valid)}"
                                                 f"{' or ' + NONE if none else ''} ({SEVERAL})")
        return names

    return parse


def report_parser(prog: str, description: str, overrides_help: str, models: list[str]) -> Parser:
    """The arguments every study shares: train.py overrides, --name, --models, --out; each adds its own."""
    p = Parser(prog=prog, description=description)
    p.add_argument("overrides", nargs="*", type=override, help=overrides_help)
    p.add_argument("--name", default="default", help="report name: <out>/<name>/ (default: default)")
    p.add_argument("--models", type=options_of("model", "model"), default=list(models), metavar="MODEL,...",
                   help=f"models, comma-separated (default: {','.join(models)}; the options of model=...)")
    p.add_argument("--out", type=Path, default=Path("reports"),
                   help="where reports go (default: reports/ in the current directory)")
    return p


# ---------------------------------------------------------------- lst-report

def _report_parser() -> Parser:
    p = report_parser("lst-report", (
        "Answer the research questions on the configured data: train the networks and baselines under "
        "split=space_days and the leaky random split, feature ablation and permutation importance, and "
        "write reports/<name>/report.md with figures. Extra arguments are train.py overrides applied to "
        "every run, e.g. data=israel data.lst_dir=... or debug=tiny."),
        "train.py overrides for every run (default preset: experiment=report)", list(MODELS))
    p.add_argument("--splits", type=options_of("split", "split"), default=list(SPLITS), metavar="SPLIT,...",
                   help=f"splits, comma-separated; the first is the honest one (default: {','.join(SPLITS)})")
    p.add_argument("--ablation-model", type=options_of("model", "model", none=True), default=None, metavar="MODEL",
                   help=f"the model retrained without each feature group, one of --models (default: "
                        f"{ABLATION_MODEL} when among them; '{NONE}' to skip)")
    p.add_argument("--importance-models", type=options_of("model", "model", none=True), default=None,
                   metavar="MODEL,...", help="models of --models whose permutation importance is measured, "
                   f"comma-separated (default: those of {','.join(IMPORTANCE_MODELS)} among them; '{NONE}' to skip)")
    p.add_argument("--repeats", type=int, default=3, help="permutation repeats per group (default: 3)")
    p.add_argument("--folds", type=int, default=None, help="cross-validate every run over K folds of blocks x "
                   "dates: means with 95 %% intervals and paired comparisons (default: one split)")
    return p


@exit_on_user_error
def report_main(argv: list[str] | None = None) -> None:
    """Console script ``lst-report``."""
    args = _report_parser().parse_args(argv)
    ablation, importance = analysed_models(args.models, args.ablation_model, args.importance_models)
    from lst_lightning.apps.report.jobs import build_report  # lazy: lst-report --help answers before torch loads

    path = build_report(args.name, args.overrides, args.models, args.splits, ablation, importance, args.repeats,
                        args.out, args.folds)
    print(f"\nreport written: {path}")


def analysed_models(models: list[str], ablation: list[str] | None,
                    importance: list[str] | None) -> tuple[str | None, list[str]]:
    """(the ablation model or None, the importance models): the defaults among ``models``; a model
    named on the command line must be one of them (the report analyses only the models it trains)."""
    if importance is None:
        importance = [m for m in IMPORTANCE_MODELS if m in models]
    if ablation is None:
        ablation = [ABLATION_MODEL] if ABLATION_MODEL in models else []
    if len(ablation) > 1:
        raise LSTError(f"--ablation-model {','.join(ablation)}: one model is retrained without each feature group")
    for option, names in (("--importance-models", importance), ("--ablation-model", ablation)):
        missing = [m for m in names if m not in models]
        if missing:
            raise LSTError(f"{option} {','.join(missing)}: not among --models ({','.join(models)}); the report "
                           "analyses the models it trains: add it to --models")
    return (ablation[0] if ablation else None), importance


# ---------------------------------------------------------------- lst-scale-check

def _scale_check_parser() -> Parser:
    p = report_parser("lst-scale-check", (
        "Validate downscaling one scale up, on real data: aggregate the archive by --factor, cross-validate "
        "each model there, downscale the held-out blocks x dates back to the archive's pixels and score them "
        "against the real pixels, next to interpolation, TsHARP-style regression and the model trained at the "
        "native scale. Extra arguments are train.py overrides (the data, the inputs, the training)."),
        "train.py overrides, e.g. data=custom data.lst_dir=... data.dem=...", ["lightgbm"])
    p.add_argument("--factor", type=int, default=3, help="aggregation factor (default: 3)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    p.add_argument("--block-px", type=int, default=8,
                   help="spatial block side in aggregated pixels (default: 8; native runs use factor x this)")
    p.add_argument("--no-native", action="store_true", help="skip training each model at the native scale")
    return p


@exit_on_user_error
def scale_check_main(argv: list[str] | None = None) -> None:
    """Console script ``lst-scale-check``."""
    args = _scale_check_parser().parse_args(argv)
    if args.factor < 2:
        raise LSTError(f"--factor {args.factor}: aggregate by at least 2")
    from lst_lightning.apps.scale_check import scale_check  # lazy: lst-scale-check --help answers before torch loads

    path = scale_check(args.name, args.overrides, args.models, args.factor, args.folds, args.block_px,
                       not args.no_native, args.out)
    print(f"\nscale check written: {path}")


# ---------------------------------------------------------------- lst-transfer

def _transfer_parser() -> Parser:
    p = report_parser("lst-transfer", (
        "Leave one site out over the archives of data=multi, each model also cross-validated on each site "
        "alone: what transfers to a site never seen. Extra arguments are train.py overrides (data=multi "
        "'data.archives={a: {lst_dir: ..., dem: ...}, b: {...}}' ...)."),
        "train.py overrides: data=multi data.archives=... and the rest", ["lightgbm"])
    p.add_argument("--folds", type=int, default=5, help="folds of each site's own cross-validation (default: 5)")
    return p


@exit_on_user_error
def transfer_main(argv: list[str] | None = None) -> None:
    """Console script ``lst-transfer``."""
    args = _transfer_parser().parse_args(argv)
    from lst_lightning.apps.transfer import transfer  # lazy: lst-transfer --help answers before torch loads

    path = transfer(args.name, args.overrides, args.models, args.folds, args.out)
    print(f"\ntransfer report written: {path}")
