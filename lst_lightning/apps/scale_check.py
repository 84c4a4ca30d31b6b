"""``lst-scale-check``: does a model that learned k x k coarse pixels -> one pixel still work one
scale down? Checked on real data, where no finer truth exists, by going one scale UP first.

1. The archive is aggregated by ``--factor`` f (downscale/aggregate.py) and written in the real
   formats; each model is cross-validated on it (``split.folds`` over blocks x dates, the blocks
   ``--block-px`` aggregated pixels a side).
2. For each fold, the aggregated LST of its held-out dates is downscaled back to the archive's own
   pixels with the archive's DEM (fine-scale prediction, conservation on) and compared with the
   real pixels inside its held-out blocks: truth that no model saw at any scale.
3. On the same pixels: the coarse value repeated, bilinear and bicubic interpolation (also
   conserved), a TsHARP-style regression on elevation (and NDVI) with residual correction, and
   (unless ``--no-native``) the same model trained at the archive's own scale on each fold's
   training blocks and dates (``split=given``) and applied the same way from the aggregated LST:
   what native labels would buy. The model's coarse residuals are spread smoothly (``residual=smooth``,
   downscale/fine.py) and, for comparison, block-wise and not at all.

RMSE in K per fold, per band and pooled; the mean over folds with its 95 % interval and paired
comparisons (evaluation/intervals.py). Written to ``<out>/<name>/scale_check.md`` with
``scale_check.json`` and figures.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from lst_lightning.apps.runs import open_run
from lst_lightning.apps.scale_report import write_scale_report
from lst_lightning.data.io.aggregate import aggregate_archive
from lst_lightning.data.io.archive import check_hours
from lst_lightning.data.io.formats import observed, raw_to_kelvin
from lst_lightning.data.io.rasters import read_landcover
from lst_lightning.data.loading.sources import input_files, resolve_cache, source_of, warn_default_hours
from lst_lightning.data.loading.splits import PARTS, save_plan
from lst_lightning.downscale.fine import Residuals, predict_tile_width
from lst_lightning.downscale.grids import nest
from lst_lightning.downscale.tiles import fine_inputs_from, upsample
from lst_lightning.downscale.truth import CONSERVED_INTERPOLATIONS, band_rmse, coarse_field_methods, common_pixels
from lst_lightning.evaluation.conformal import coverage_by
from lst_lightning.evaluation.intervals import mean_interval, paired_difference
from lst_lightning.training.jobs import compose_train, train_named

log = logging.getLogger(__name__)

PROG = "lst-scale-check"
DEFAULT_RESIDUAL, OTHER_RESIDUAL = "smooth", "block"  # how "model" spreads its coarse residuals
DATA_FILE_KEYS = ("lst_dir", "dem", "ndvi", "landcover", "oracle_dir")
# the mean of the model and a conserved interpolation (lst-predict blend=<name>), a method of its own:
# {its name: the interpolation's method name}
BLENDS = {f"model + conserved {name}": f"{name}, conserved" for name in CONSERVED_INTERPOLATIONS}


# ---------------------------------------------------------------- runs

def coarse_overrides(overrides: list[str], files: dict, hours: dict) -> list[str]:
    """The user's overrides for the aggregated archive: its files instead of the original ones, and
    the original's overpass ``hours`` (checked, or warned about, on the original)."""
    kept = [o for o in overrides if o.split("=")[0].lstrip("+~") not in
            ("data", *(f"data.{k}" for k in DATA_FILE_KEYS))]
    return (kept + ["data=custom"] + [f"data.{k}={v}" for k, v in files.items() if k != "oracle_dir" and v]
            + [f"data.hours.{band}={hour}" for band, hour in hours.items()] + ["data.hours_checked=true"])


def native_run(coarse_run, fine_cache, overrides: list[str], model: str, out: Path, name: str):
    """The model trained at the archive's own scale on the coarse fold's parts: their dates, and the
    archive pixels inside their usable aggregated pixels. No training window reaches a scored
    pixel's window: a usable aggregated pixel lies k // 2 aggregated pixels (f * (k // 2) archive
    pixels) inside its part's blocks, more than an archive window's k // 2. Returns the opened run."""
    cache, plan = coarse_run.dm.cache, coarse_run.dm.plan
    nesting = nest(fine_cache.grid, cache.grid, "the archive")
    hf, wf = fine_cache.grid.shape
    dates = {p: [cache.meta["frames"][int(i)]["date"] for i in plan[p].frames] for p in PARTS}
    masks = {p: upsample(plan[p].pixel_mask, nesting, np.arange(hf), np.arange(wf), False).astype(bool)
             for p in PARTS}
    out.mkdir(parents=True, exist_ok=True)
    save_plan(out / "plan.npz", dates, masks)
    train_named(overrides + [f"model={model}", "split=given", f"split.plan_file={out / 'plan.npz'}"], out, name, PROG)
    return open_run(str(out), "", out / "tmp")


# ---------------------------------------------------------------- one fold

def fold_predictions(coarse_run, native_run, fine_cache, landcover_path) -> tuple[dict, dict]:
    """({method: [T, H, W] LST (K) on the fine grid}, {"frames", "mask", "truth", "bands"}) of one
    fold: every method on the fold's held-out frames, from the aggregated LST alone (and the fine
    rasters); ``mask`` = the pixels every method is scored on."""
    cache, plan = coarse_run.dm.cache, coarse_run.dm.plan
    nesting = nest(fine_cache.grid, cache.grid, "the archive")
    picked = [int(t) for t in plan["test"].frames]
    index = {(f["date"], f["band"]): i for i, f in enumerate(fine_cache.meta["frames"])}
    fine_frames = [index[(cache.meta["frames"][t]["date"], cache.meta["frames"][t]["band"])] for t in picked]
    hf, wf = fine_cache.grid.shape
    whole = (slice(0, hf), slice(0, wf))
    raw, width, inputs = downscaled(coarse_run, cache, picked, nesting, fine_cache, landcover_path)
    coarse_lst = inputs.coarse_lst
    spread = {mode: Residuals(mode, coarse_lst, nesting) for mode in Residuals.MODES}
    spread["smooth"].add(*whole, raw)
    preds = {"model": spread[DEFAULT_RESIDUAL].apply(*whole, raw),
             f"model, {OTHER_RESIDUAL} residual": spread[OTHER_RESIDUAL].apply(*whole, raw),
             "model, raw": raw}
    if native_run is not None:
        native_raw, _, _ = downscaled(native_run, cache, picked, nesting, fine_cache, landcover_path)
        native = Residuals(DEFAULT_RESIDUAL, coarse_lst, nesting)
        native.add(*whole, native_raw)
        preds["native-scale model"] = native.apply(*whole, native_raw)
    preds.update(coarse_field_methods(coarse_lst, nesting, [_covariates(cache, fine_cache, t) for t in picked]))
    # two ties need not make the same errors: their mean (conserved too: conservation is linear)
    for blend, interpolation in BLENDS.items():
        preds[blend] = 0.5 * (preds["model"] + preds[interpolation])
    lst = np.asarray(fine_cache.array("lst")[fine_frames])
    qa = np.asarray(fine_cache.array("qa")[fine_frames])
    bands = [fine_cache.meta["frames"][f]["band"] for f in fine_frames]
    truth = raw_to_kelvin(lst)
    seen = np.stack([observed(qa[i], b) for i, b in enumerate(bands)])
    test_pixels = upsample(plan["test"].pixel_mask, nesting, np.arange(hf), np.arange(wf), False).astype(bool)
    mask = common_pixels(preds, truth, seen & test_pixels[None])
    return preds, {"frames": fine_frames, "mask": mask, "truth": truth, "bands": bands, "halfwidth": width}


def downscaled(run, coarse_cache, picked: list[int], nesting, fine_cache, landcover_path):
    """([T, Hf, Wf] raw (unconserved) fine-scale prediction, the half-width of the run's intervals
    there (None without intervals), its FineInputs) of a run's model from the aggregated frames
    ``picked``: the model trained at either scale, applied the same way (downscale/)."""
    layout = run.dm.gatherer.layout
    ndvi = np.asarray(fine_cache.array("ndvi")) if "ndvi" in layout.groups else None
    codes = read_landcover(landcover_path, fine_cache.grid) if "landcover" in layout.groups else None
    inputs = fine_inputs_from(coarse_cache, picked, nesting, np.asarray(fine_cache.array("dem")), layout, ndvi, codes)
    hf, wf = nesting.fine.shape
    return (*predict_tile_width(inputs, layout, run.predict, slice(0, hf), slice(0, wf), run.intervals), inputs)


def _covariates(cache, fine_cache, t: int) -> tuple[list, list]:
    """The regression's (coarse, fine) covariates of frame t: elevation, and NDVI when the data has it."""
    coarse_cov, fine_cov = [np.asarray(cache.array("dem"))], [np.asarray(fine_cache.array("dem"))]
    if cache.has("ndvi") and fine_cache.has("ndvi"):
        layer = int(cache.meta["frames"][t]["date"][5:7]) - 1 if cache.array("ndvi").shape[0] == 12 else 0
        coarse_cov.append(np.asarray(cache.array("ndvi")[layer]))
        fine_cov.append(np.asarray(fine_cache.array("ndvi")[layer]))
    return coarse_cov, fine_cov


def fold_scores(preds: dict, info: dict) -> dict:
    """{"rmse": {method: {"all": K, "<band>": K}}, "pixels"} of one fold, every method on the same
    pixels; with the model's intervals also their "coverage" (%) and mean "halfwidth" (K) there,
    around the conserved downscaled prediction, pooled and per band."""
    out = {"rmse": band_rmse(preds, info["truth"], info["mask"], info["bands"]), "pixels": int(info["mask"].sum())}
    if info.get("halfwidth") is not None:
        out.update(interval_coverage(preds["model"], info["halfwidth"], info["truth"], info["mask"], info["bands"]))
    return out


def interval_coverage(pred: np.ndarray, width: np.ndarray, truth: np.ndarray, mask: np.ndarray,
                      bands: list[str]) -> dict:
    """{"coverage": {"all": %, "<band>": %}, "halfwidth": {...: K}} of ``pred`` +- ``width`` on ``mask``
    (NaN for a band with no pixel)."""
    band_of = np.asarray(bands)
    keys = ["all", *sorted(set(bands))]
    parts = {k: mask & (True if k == "all" else (band_of == k)[:, None, None]) for k in keys}
    figures = coverage_by(np.abs(pred - truth) <= width, width, parts)
    nan = (float("nan"), float("nan"))
    return {figure: {k: figures.get(k, nan)[i] for k in keys} for i, figure in enumerate(("coverage", "halfwidth"))}


# ---------------------------------------------------------------- summary

def summarise(per_fold: list[dict]) -> dict:
    """Per model and method: the folds' RMSE mean with its interval, per band; the paired
    differences of the model against every other method (negative: the model is better)."""
    summary = {}
    for model in per_fold[0]:
        methods = per_fold[0][model]["rmse"]
        keys = list(methods["model"])

        def folds_of(method, key):
            return [f[model]["rmse"][method][key] for f in per_fold]

        summary[model] = {
            "rmse": {m: {k: mean_interval(folds_of(m, k)) for k in keys} for m in methods},
            "model_minus": {m: {k: paired_difference(folds_of("model", k), folds_of(m, k)) for k in keys}
                            for m in methods if m != "model"},
            "pixels": [f[model]["pixels"] for f in per_fold]}
        if all("coverage" in f[model] for f in per_fold):
            summary[model]["intervals"] = {
                figure: {k: mean_interval([f[model][figure][k] for f in per_fold]) for k in keys}
                for figure in ("coverage", "halfwidth")}
    return summary


# ---------------------------------------------------------------- the whole job

def scale_check(name: str, overrides: list[str], models, factor: int, folds: int, block_px: int,
                native: bool, out: Path) -> Path:
    """Aggregate, cross-validate each model at both scales, score every fold; returns the report."""
    start = time.perf_counter()
    root = out / name
    base = compose_train(overrides + [f"model={models[0]}"], PROG)
    data = OmegaConf.to_container(base.data, resolve=True)
    warn_default_hours(source_of(data))
    files = input_files(data)
    fine_cache = resolve_cache(data)
    log.info(f"[scale check] aggregating {files['lst_dir']} by {factor} into {root / 'archive'}")
    agg = aggregate_archive(files["lst_dir"], files["dem"], root / "archive", factor, hours=data.get("hours"),
                            ndvi=files["ndvi"], landcover=files["landcover"])
    split = [f"split.folds={folds}", "split.fold=null"]
    on_aggregated = coarse_overrides(overrides, agg, check_hours(data.get("hours")))
    per_fold: list[dict] = [{} for _ in range(folds)]
    examples = {}
    for model in models:
        coarse = root / "runs" / f"coarse_{model}"
        train_named(on_aggregated + [f"model={model}", *split, f"split.space.block_px={block_px}"],
                    coarse, f"scale check {name}: {model} at {factor}x", PROG)
        for fold in range(folds):
            run = open_run(str(coarse / f"fold_{fold}"), "", root / "tmp")
            nat = native_run(run, fine_cache, overrides, model, root / "runs" / f"native_{model}" / f"fold_{fold}",
                             f"scale check {name}: {model} native [fold {fold}/{folds}]") if native else None
            log.info(f"[scale check] {model} fold {fold}: downscaling its held-out dates")
            preds, info = fold_predictions(run, nat, fine_cache, files["landcover"])
            per_fold[fold][model] = fold_scores(preds, info)
            if fold == 0:
                examples[model] = (preds, info)
    summary = summarise(per_fold)
    result = {"name": name, "data": source_of(data).describe(), "factor": factor, "folds": folds,
              "block_px": block_px, "overrides": list(overrides), "models": list(models), "summary": summary,
              "per_fold": per_fold, "seconds": time.perf_counter() - start, "aggregated_archive": str(root / "archive")}
    return write_scale_report(root, result, examples, fine_cache)
