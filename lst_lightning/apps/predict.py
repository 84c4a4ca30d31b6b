"""``lst-predict run=<...> dates=[2020-07-15] bands=[day]``: a run's 1 km LST maps.

For each chosen frame (date x band) the model predicts every pixel that has a full valid k x k
window: predicted LST = window-mean LST + predicted anomaly. Pixels without a valid window (sea,
grid edge, a window touching a missing pixel) stay fill: nothing is invented there.

Conservation (``conserve=true``), as thermal sharpening tools do: the grid is tiled into the
non-overlapping k x k cells a coarse sensor would see (from the top-left corner). In every cell
where all k*k pixels are predicted and observed, the predicted anomaly's cell mean is replaced by
the observed one, so the predicted fine pixels average exactly to the observed coarse value;
cells with a gap are left uncorrected.

With ``fine_dem=<GeoTIFF>`` the maps are made on that finer grid instead (predict_fine.py).

Written to the output directory: ``lst_prediction.nc`` (CF-1.8: lat/lon coordinates, time, the
band of each map, variables in K with _FillValue), one GeoTIFF per map
(``lst_pred_<date>_<band>.tif``, NaN = fill) and a PNG panel per map (window-mean input,
prediction, observation, error).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import xarray as xr

from lst_lightning.apps.predict_fine import predict_fine_maps
from lst_lightning.apps.runs import open_run
from lst_lightning.data.io.formats import LST_SCALE, observed
from lst_lightning.data.io.writers import atomic_path, write_geotiff
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.maps import map_panel
from lst_lightning.progress import progress_bar

FILL = np.float32(-9999.0)


def select_frames(frames: list[dict], dates, bands) -> list[int]:
    """Frame indices for every (date, band) asked for; an unknown date or band is an error."""
    index = {(f["date"], f["band"]): i for i, f in enumerate(frames)}
    known_bands = sorted({f["band"] for f in frames})
    for band in bands:
        if band not in known_bands:
            raise LSTError(f"bands: {band!r} is not in the data; it has {known_bands}")
    picked = []
    for date in dates:
        for band in bands:
            if (str(date), band) not in index:
                raise LSTError(f"dates: no {band} frame on {date} in the data (it covers "
                               f"{frames[0]['date']} .. {frames[-1]['date']}, with gaps)")
            picked.append(index[(str(date), band)])
    return picked


def predict_frame(predict, gatherer, frame: int, batch_size: int = 16384,
                  intervals=None) -> tuple[np.ndarray, np.ndarray | None]:
    """The predicted anomaly (K, float32) of every pixel with a valid window, NaN elsewhere; and
    with ``intervals`` (evaluation/conformal.py) the half-width (K) of each pixel's interval."""
    mean = gatherer.cache.window_mean[frame]
    rows, cols = np.nonzero(np.isfinite(mean))
    out = np.full(mean.shape, np.nan, dtype=np.float32)
    width = None if intervals is None else np.full(mean.shape, np.nan, dtype=np.float32)
    for s in range(0, rows.size, batch_size):
        r, c = rows[s:s + batch_size], cols[s:s + batch_size]
        batch = gatherer.gather(np.full(r.size, frame, dtype=np.int64), r, c)
        out[r, c] = np.asarray(predict(batch), dtype=np.float32).reshape(-1)
        if width is not None:
            width[r, c] = intervals.halfwidth(batch, np.full(r.size, gatherer.band_index[frame]))
    return out, width


def conserve(anomaly: np.ndarray, observed: np.ndarray, window_mean: np.ndarray, k: int) -> np.ndarray:
    """The predicted anomaly corrected so that, in every complete k x k coarse cell, the predicted
    LST (window mean + anomaly) averages to the observed LST (see the module docstring)."""
    h, w = anomaly.shape
    hc, wc = h // k, w // k
    pred = (window_mean + anomaly)[:hc * k, :wc * k].reshape(hc, k, wc, k)
    obs = observed[:hc * k, :wc * k].reshape(hc, k, wc, k)
    shift = obs.mean(axis=(1, 3)) - pred.mean(axis=(1, 3))  # NaN in any cell with a gap
    full = np.zeros_like(anomaly)
    full[:hc * k, :wc * k] = np.repeat(np.repeat(np.nan_to_num(shift, nan=0.0), k, axis=0), k, axis=1)
    return anomaly + full


def write_netcdf(path: Path, grid, frames: list[dict], fields: dict[str, np.ndarray], history: str,
                 attrs: dict | None = None) -> None:
    """CF-1.8 NetCDF of (time, lat, lon) float32 maps in K, written atomically (``attrs``: more
    global attributes)."""
    times = np.array([np.datetime64(f["date"]) + np.timedelta64(int(round(f["hour"] * 60)), "m")
                      for f in frames], dtype="datetime64[ns]")
    long_names = {"lst_pred": "predicted 1 km land surface temperature",
                  "lst_halfwidth": "half-width of the prediction interval (lst_pred +- it; level in "
                                   "the attribute interval_level)",
                  "lst_window_mean": "k x k window-mean land surface temperature (model input)",
                  "lst_obs": "observed 1 km land surface temperature"}
    data_vars = {name: (("time", "lat", "lon"), values.astype(np.float32),
                        {"units": "K", "long_name": long_names[name],
                         **({"standard_name": "surface_temperature"} if name != "lst_halfwidth" else {})})
                 for name, values in fields.items()}
    data_vars["band"] = (("time",), np.array([f["band"] for f in frames]), {"long_name": "overpass"})
    ds = xr.Dataset(data_vars, coords={
        "time": ("time", times, {"standard_name": "time"}),
        "lat": ("lat", grid.lat.astype(np.float64), {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("lon", grid.lon.astype(np.float64), {"units": "degrees_east", "standard_name": "longitude"}),
    }, attrs={"Conventions": "CF-1.8", "title": "lst-lightning 1 km LST prediction", "history": history,
              **(attrs or {})})
    encoding = {name: {"_FillValue": FILL, "zlib": True} for name in fields}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, encoding=encoding)


def predict_maps(cfg) -> list[Path]:
    """The whole ``lst-predict`` job; returns the files written."""
    out = Path(cfg.output_dir)
    run = open_run(str(cfg.run), str(cfg.tracking_uri), out / "run", device=str(cfg.device))
    cache = run.dm.cache
    frames = cache.meta["frames"]
    dates = list(cfg.dates) if cfg.dates else [frames[int(run.dm.plan["test"].frames[0])]["date"]]
    picked = select_frames(frames, [str(d) for d in dates], list(cfg.bands))
    if cfg.get("fine_dem"):
        return predict_fine_maps(cfg, run, picked)
    fields: dict[str, list[np.ndarray]] = {"lst_pred": [], "lst_window_mean": [], "lst_obs": []}
    if run.intervals is not None:
        fields["lst_halfwidth"] = []
    files = []
    with progress_bar(total=len(picked), desc="maps", unit="map") as bar:
        for f in picked:
            files += _one_map(cfg, run, f, fields, out)
            bar.update(1)
    history = (f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} lst-predict run={cfg.run} "
               f"conserve={bool(cfg.conserve)} model={run.model_file}")
    nc = out / "lst_prediction.nc"
    level = {} if run.intervals is None else {"interval_level": run.intervals.level}
    write_netcdf(nc, cache.grid, [frames[f] for f in picked],
                 {k: np.stack(v) for k, v in fields.items()}, history, level)
    files.insert(0, nc)
    print(f"written: {', '.join(str(p) for p in files)}")
    return files


def _one_map(cfg, run, f: int, fields: dict, out: Path) -> list[Path]:
    """Predict frame ``f`` (its maps appended to ``fields``); write its GeoTIFF and panel."""
    gatherer, cache = run.dm.gatherer, run.dm.cache
    frame = cache.meta["frames"][f]
    mean = np.asarray(cache.array("window_mean")[f], dtype=np.float32)
    raw = cache.array("lst")[f]
    obs = np.where(raw > 0, raw.astype(np.float32) * np.float32(LST_SCALE), np.nan).astype(np.float32)
    anomaly, width = predict_frame(run.predict, gatherer, f, intervals=run.intervals)
    if cfg.conserve:  # null (the default) = off at the archive's scale
        anomaly = conserve(anomaly, obs, mean, cache.k)
    pred = mean + anomaly  # NaN wherever the window is not valid
    for name, value in (("lst_pred", pred), ("lst_window_mean", mean), ("lst_obs", obs), ("lst_halfwidth", width)):
        if name in fields:
            fields[name].append(value)
    stem = f"{frame['date']}_{frame['band']}"
    tif = out / f"lst_pred_{stem}.tif"
    write_geotiff(tif, cache.grid, pred, nodata=float("nan"))
    tifs = [tif]
    if width is not None:  # the interval's half-width, a GeoTIFF beside the prediction's
        tifs.append(out / f"lst_halfwidth_{stem}.tif")
        write_geotiff(tifs[-1], cache.grid, width, nodata=float("nan"))
    gap_filled = ~observed(np.asarray(cache.array("qa")[f]), frame["band"])
    return [*tifs, map_panel(out / f"panel_{stem}.png", cache.grid, f"{run.cfg.model.get('name', '')}: {stem}",
                             mean, pred, obs, bbox=cfg.get("bbox"), dem=cache.array("dem"), gap_filled=gap_filled,
                             halfwidth=width, level=run.intervals.level if run.intervals else None)]
