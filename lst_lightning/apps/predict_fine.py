"""``lst-predict run=... fine_dem=<GeoTIFF>``: a run's LST maps on a finer grid than its archive.

The model learned k x k coarse pixels -> one coarse pixel; here it is applied one scale down
(k x k fine pixels -> one fine pixel; the scale invariance thermal sharpening assumes), see
downscale/tiles.py for how each input is made at the fine scale. Conservation is on by default at
this scale (``conserve=false``: the raw model), the coarse residuals spread smoothly
(``residual=smooth``, downscale/fine.py ``Residuals``; ``residual=block``: the classic correction).

Written: ``lst_fine.nc`` (CF-1.8; lst_pred, lst_coarse, elevation on the fine grid),
``lst_fine_<date>_<band>.tif`` per map (tiled, zlib) and ``panel_fine_<date>_<band>.png``. A run with
prediction intervals also writes ``lst_halfwidth`` (NetCDF variable, ``lst_halfwidth_fine_<date>_<band>.tif``,
a panel): the interval the run calibrated at its own scale, for the fine inputs; how well it covers
one scale down is what ``lst-scale-check`` measures (``interval coverage``).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np

from lst_lightning.data.io.rasters import read_dem, read_landcover, read_raster
from lst_lightning.downscale.fine import Residuals, downscale
from lst_lightning.downscale.grids import nest
from lst_lightning.downscale.output import (
    HALFWIDTH,
    decimated,
    fine_netcdf,
    geotiff_from_netcdf,
    panel_step,
    read_tile,
    window,
    write_tile,
)
from lst_lightning.downscale.tiles import fine_inputs_from, tile_ranges, upsample
from lst_lightning.downscale.truth import CONSERVED_INTERPOLATIONS, format_scores, score, truth_frames
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.maps import detail_window, fine_panel
from lst_lightning.features import scale_bound
from lst_lightning.progress import progress_bar
from lst_lightning.training.rundir import write_json


def fine_inputs(cfg, run, picked: list[int]):
    """FineInputs of the chosen frames on the fine grid of ``cfg.fine_dem`` (checked: nesting,
    the covariates the model needs, each on the fine grid)."""
    cache, layout = run.dm.cache, run.dm.gatherer.layout
    for name in scale_bound(layout.groups):
        print(f"note: the model uses feature group {name}, measured not to carry one scale down "
              f"(lst_lightning/features/{name}.py); for maps below the archive's scale, train without it")
    dem, grid = read_dem(str(cfg.fine_dem))
    nesting = nest(grid, cache.grid, f"fine_dem {cfg.fine_dem}")
    covariates = {}
    for group, key, what in (("ndvi", "fine_ndvi", "NDVI"), ("landcover", "fine_landcover", "land cover")):
        path = cfg.get(key)
        if group in layout.groups and not path:
            raise LSTError(f"{key}: the model uses {what} (feature group {group}); give {key}=<GeoTIFF on the "
                           f"fine_dem grid>, or predict with a run trained without it (features.when_available=[])")
        if group not in layout.groups and path:
            print(f"note: {key} is not used: the model has no {group} input")
        elif path:
            covariates[group] = (read_landcover(str(path), grid) if group == "landcover"
                                 else read_raster(str(path), grid, key))
    if "ndvi" in covariates and covariates["ndvi"].shape[0] != cache.array("ndvi").shape[0]:
        raise LSTError(f"fine_ndvi {cfg.fine_ndvi}: {covariates['ndvi'].shape[0]} bands, but the run's NDVI has "
                       f"{cache.array('ndvi').shape[0]} (1 static or 12 monthly)")
    return fine_inputs_from(cache, picked, nesting, dem, layout, covariates.get("ndvi"), covariates.get("landcover"))


def check_blend(cfg) -> str | None:
    """``blend``: null or a conserved interpolation, and only on conserved maps (the mean of two
    conserved maps is one); ``auto``: the spline when the maps conserve the linear mean (the
    interpolations do), else none."""
    blend = cfg.get("blend")
    if blend == "auto":
        linear = (cfg.conserve is None or bool(cfg.conserve)) and cfg.get("conservation", "linear") == "linear"
        return "spline" if linear else None
    if blend is not None and blend not in CONSERVED_INTERPOLATIONS:
        raise LSTError(f"blend={blend}: choose {' or '.join(CONSERVED_INTERPOLATIONS)} (the mean of the model's map "
                       "and that conserved interpolation of the archive's LST), auto or null (the model alone)")
    if blend and cfg.conserve is not None and not cfg.conserve:
        raise LSTError(f"blend={blend}: the mean is of two conserved maps; it needs conserve=true (the default "
                       "with fine_dem), not conserve=false")
    return blend


def predict_fine_maps(cfg, run, picked: list[int]) -> list[Path]:
    """Stream the fine prediction of the chosen frames into the output files; returns them."""
    blend = check_blend(cfg)
    inputs = fine_inputs(cfg, run, picked)
    grid, nesting = inputs.nesting.fine, inputs.nesting
    conserve = True if cfg.conserve is None else bool(cfg.conserve)
    out = Path(cfg.output_dir)
    nc = out / "lst_fine.nc"
    history = (f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} lst-predict run={cfg.run} "
               f"fine_dem={cfg.fine_dem} f={nesting.f} conserve={conserve} residual={cfg.residual} "
               f"conservation={cfg.conservation} blend={blend} "
               f"model={run.model_file}")
    n_tiles = len(tile_ranges(nesting, int(cfg.tile)))
    print(f"fine grid: {grid.describe()}, factor {nesting.f} ({n_tiles} tiles, {len(picked)} maps)")
    spread = Residuals(str(cfg.residual), inputs.coarse_lst, nesting, str(cfg.conservation)) if conserve else None
    level = None if run.intervals is None else run.intervals.level
    with fine_netcdf(nc, grid, inputs.frames, inputs.dem, history, level) as ds:
        _write_maps(ds, inputs, run, spread, int(cfg.tile), n_tiles, f"fine_dem {cfg.fine_dem}", blend)
    files = [nc]
    name = run.cfg.model.get("name", "")
    label = "model" if blend is None else f"model + conserved {blend}"
    truth = _score_truth(cfg, nc, inputs, run, out, files, label) if cfg.get("fine_truth") else None
    for t, frame in enumerate(inputs.frames):
        stem = f"{frame['date']}_{frame['band']}"
        files.append(geotiff_from_netcdf(nc, t, grid, out / f"lst_fine_{stem}.tif"))
        if level is not None:
            files.append(geotiff_from_netcdf(nc, t, grid, out / f"lst_halfwidth_fine_{stem}.tif", HALFWIDTH))
        what = name if blend is None else f"mean of {name} and conserved {blend}"
        files.append(_panel(out / f"panel_fine_{stem}.png", nc, t, grid, truth,
                            f"{what} at 1/{nesting.f} of the LST pixel: {stem}", level))
    print(f"written: {', '.join(str(p) for p in files)}")
    return files


def _panel(path: Path, nc: Path, t: int, grid, truth, title: str, level: float | None) -> Path:
    """Map ``t``'s fine panel: the whole grid decimated, and a crop at full resolution."""
    step = panel_step(grid)
    fields = (("coarse", "lst_coarse"), ("pred", "lst_pred"), ("dem", "elevation"))
    fields += (("halfwidth", HALFWIDTH),) if level is not None else ()
    whole = {name: decimated(nc, var, t if var != "elevation" else None, step) for name, var in fields}
    rows, cols = detail_window(np.isfinite(whole["pred"]), whole["dem"], step, grid.shape)
    detail = {name: window(nc, var, t if var != "elevation" else None, rows, cols) for name, var in fields}
    detail.update(lat=grid.lat[rows], lon=grid.lon[cols])
    if truth is not None:
        values, seen = truth
        for part, where in ((whole, np.s_[t, ::step, ::step]), (detail, np.s_[t, rows, cols])):
            part.update(truth=values[where], unobserved=~seen[where] & np.isfinite(values[where]))
    return fine_panel(path, grid.lat[::step], grid.lon[::step], title, detail=detail, level=level, **whole)


def _write_maps(ds, inputs, run, spread, tile: int, n_tiles: int, what: str, blend: str | None = None) -> None:
    """Predict every tile into ``ds`` (with the smooth residual a second pass spreads the coarse
    residuals; with ``blend`` the final map is its mean with that conserved interpolation), under a progress bar
    of tiles; no fine pixel predicted at all is an error."""
    nesting = inputs.nesting

    def final(rows, cols, pred):  # the blend: the mean with the interpolation on the model's pixels
        if blend is None:
            return pred
        return 0.5 * (pred + CONSERVED_INTERPOLATIONS[blend](inputs.coarse_lst, nesting, rows, cols, np.isfinite(pred)))

    passes = 2 if spread is not None and spread.two_pass else 1
    one_pass = spread is not None and not spread.two_pass
    predicted = 0
    with progress_bar(total=n_tiles * passes, desc="fine tiles", unit="tile") as bar:
        for rows, cols, raw, width in downscale(inputs, run.dm.gatherer.layout, run.predict, tile, False,
                                                progress=bar.update, intervals=run.intervals):
            write_tile(ds, "lst_pred", rows, cols,
                       final(rows, cols, spread.apply(rows, cols, raw)) if one_pass else raw)
            if width is not None:
                write_tile(ds, HALFWIDTH, rows, cols, width)
            predicted += int(np.isfinite(raw).sum())
            if passes == 2:
                spread.add(rows, cols, raw)
            coarse = upsample(inputs.coarse_lst, nesting, np.arange(rows.start, rows.stop),
                              np.arange(cols.start, cols.stop), np.nan)
            write_tile(ds, "lst_coarse", rows, cols, coarse)
        if predicted == 0:
            raise LSTError(f"{what}: no fine pixel could be predicted: where its DEM holds elevations the chosen "
                           f"frames ({', '.join(f['date'] + ' ' + f['band'] for f in inputs.frames)}) have no LST")
        if passes == 2:  # the smooth residual needs every coarse pixel's residual: a second pass
            for rows, cols in tile_ranges(nesting, tile):
                write_tile(ds, "lst_pred", rows, cols,
                           final(rows, cols, spread.apply(rows, cols, read_tile(ds, "lst_pred", rows, cols))))
                bar.update(1)


def _score_truth(cfg, nc: Path, inputs, run, out: Path, files: list[Path], label: str) -> tuple[np.ndarray, np.ndarray]:
    """Score the written maps (``label``: what they are, the model or its blend) against
    ``cfg.fine_truth`` (downscale/truth.py): print the table, write fine_metrics.json; returns the
    truth [T, Hf, Wf] and where it was observed, for the panels."""
    truth, seen = truth_frames(str(cfg.fine_truth), inputs.nesting.fine, inputs.frames)
    with netCDF4.Dataset(nc) as ds:
        pred = np.ma.filled(ds["lst_pred"][:].astype(np.float32), np.nan)
    scores = score(pred, truth, seen, inputs, np.asarray(run.dm.cache.array("dem")),
                   [f["band"] for f in inputs.frames], label)
    print(format_scores(scores))
    write_json(out / "fine_metrics.json", {"fine_truth": str(cfg.fine_truth), **scores})
    files.append(out / "fine_metrics.json")
    return truth, seen
