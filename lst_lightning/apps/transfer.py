"""``lst-transfer``: does what a model learned at some sites hold at a site it never saw?

For each model: leave one site out over the archives of ``data=multi`` (``split=sites``: trained on
the others, tested on every date and pixel of the held-out one), and, for comparison, the same
model cross-validated on each site alone (``split.folds`` over its own blocks x dates, the same
inputs). Written to ``<out>/<name>/transfer.md`` (+ ``transfer.json``): per held-out site and
model, the test RMSE and MSE improvement over the always-0 baseline trained elsewhere vs trained on
the site itself (the site's folds' mean with its 95 % interval). The two test sets differ (the whole
site vs its folds' held-out parts), both unseen by the model that is scored on them.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

from omegaconf import OmegaConf

from lst_lightning.data.io.writers import atomic_path
from lst_lightning.data.loading.sources import source_of
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.numbers import fmt
from lst_lightning.training.jobs import compose_train, train_named
from lst_lightning.training.run import resolve_features
from lst_lightning.training.rundir import write_json

log = logging.getLogger(__name__)
PROG = "lst-transfer"


def site_overrides(overrides: list[str], name: str, archive: dict) -> list[str]:
    """The overrides for one site alone: data=custom with that archive's files and settings."""
    def pooled_only(override: str) -> bool:
        key = override.split("=")[0].lstrip("+~")
        return key in ("data", "split", "data.balance") or key.startswith("data.archives")

    kept = [o for o in overrides if not pooled_only(o)]
    files = [f"data.{k}={v}" for k, v in archive.items() if v is not None and k in ("lst_dir", "dem", "ndvi",
                                                                                    "landcover", "oracle_dir")]
    extra = [f"data.bands=[{','.join(archive['bands'])}]"] if "bands" in archive else []
    extra += [f"data.hours.{b}={h}" for b, h in (archive.get("hours") or {}).items()]
    extra += ["data.hours_checked=true"] if archive.get("hours_checked") else []
    return kept + ["data=custom", *files, *extra]


def transfer(name: str, overrides: list[str], models, folds: int, out: Path) -> Path:
    base = compose_train(overrides + [f"model={models[0]}", "split=sites"], PROG)
    source = source_of(OmegaConf.to_container(base.data, resolve=True))
    if not source.sites:
        raise LSTError(f"{PROG}: give the sites as data=multi with data.archives (see conf/data/multi.yaml)")
    archives = {name: asdict(archive) for name, archive in source.archive_sources().items()}
    # the same inputs on both sides: what the site split uses (the inputs every site has; lat/lon
    # off unless split.keep_latlon)
    groups = resolve_features(base).features.groups
    same_inputs = [f"features.groups=[{','.join(groups)}]", "features.when_available=[]"]
    root = out / name
    table = {}
    for model in models:
        loso = train_named(overrides + [f"model={model}", "split=sites"], root / "runs" / f"sites_{model}",
                           f"transfer {name}: {model}, leave one site out", PROG)
        for fold, site in enumerate(archives):
            own = train_named(site_overrides(overrides, site, archives[site]) + same_inputs +
                              [f"model={model}", f"split.folds={folds}", "split.fold=null"],
                              root / "runs" / f"{site}_{model}", f"transfer {name}: {model} on {site} alone", PROG)
            elsewhere = loso["per_fold"][fold]
            table.setdefault(site, {})[model] = {
                "elsewhere": {k: elsewhere.get(f"test/site/{site}/{k}") for k in ("rmse_k", "trivial_rmse_k",
                                                                                   "mse_improvement_pct")},
                "own": {k: own["cv"][f"test/{k}"] for k in ("rmse_k", "trivial_rmse_k", "mse_improvement_pct")}}
    result = {"name": name, "data": source.describe(), "models": list(models), "folds": folds,
              "overrides": overrides, "sites": table}
    return write_transfer(root, result)


def write_transfer(root: Path, result: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "transfer.json", result)
    lines = [f"# Transfer: {result['name']}", "",
             "Per held-out site: each model trained on the other sites (tested on every date and pixel of the "
             f"site) vs trained on the site itself ({result['folds']}-fold cross-validation over its blocks x dates: "
             "mean [95 % interval]). Same inputs on both sides.", "",
             f"Command: `lst-transfer --name {result['name']} --models {','.join(result['models'])} "
             f"--folds {result['folds']} {' '.join(result['overrides'])}`", "", f"Data: `{result['data']}`.", "",
             "| held-out site | model | RMSE K, trained elsewhere | MSE %, trained elsewhere | RMSE K, trained on the "
             "site | MSE %, trained on the site | trivial K (elsewhere / site) |", "|---|---|---|---|---|---|---|"]
    def interval(s: dict, digits: int) -> str:
        return f"{fmt(s['mean'], digits)} [{fmt(s['low'], digits)}, {fmt(s['high'], digits)}]"

    for site, models in result["sites"].items():
        for model, row in models.items():
            e, o = row["elsewhere"], row["own"]
            lines.append(f"| {site} | {model} | {fmt(e['rmse_k'], 3)} | {fmt(e['mse_improvement_pct'], 1)} | "
                         f"{interval(o['rmse_k'], 3)} | {interval(o['mse_improvement_pct'], 1)} | "
                         f"{fmt(e['trivial_rmse_k'], 3)} / {fmt(o['trivial_rmse_k']['mean'], 3)} |")
    path = root / "transfer.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path
