"""Writing a synthetic archive: the yearly (or daily) LST files, the oracle files, dem.tif,
ndvi.tif and truth.json, in the real product's on-disk formats."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lst_lightning.data.io import writers
from lst_lightning.data.io.aggregate import aggregate_archive, coarse_grid, write_aggregated_lst
from lst_lightning.data.io.archive import open_archive
from lst_lightning.data.io.formats import FRAME_BANDS, LST_SCALE, qa_code
from lst_lightning.data.synthetic.calibration import Calibration
from lst_lightning.data.synthetic.climate import Climate, build_climate
from lst_lightning.data.synthetic.physics import season_parameters
from lst_lightning.data.synthetic.settings import (
    DEFAULT_CLOUD_FRACTION,
    DEFAULT_HIDDEN_K,
    DEFAULT_NOISE_K,
    check_settings,
)
from lst_lightning.data.synthetic.terrain import ISRAEL_SHAPE, Terrain
from lst_lightning.errors import LSTError, removed_on_failure
from lst_lightning.progress import progress_bar

# Bumped whenever the same settings would give different data (3: a DEM's voids are nodata in
# dem.tif, not 0 m, and not sea for the physics; 2: inland continentality and the weather anomaly
# read by band name; version 1 had day and night swapped). Recorded in truth.json.
GENERATOR_VERSION = 3
DEM_NODATA = -32768  # SRTM's and GDAL's int16 void


def generate_archive(out_dir, *, years=(2020,), day_step: int = 1, dem=None, shape=ISRAEL_SHAPE,
                     seed: int = 0, form: str = "netcdf", noise_k: float = DEFAULT_NOISE_K,
                     cloud_fraction: float = DEFAULT_CLOUD_FRACTION, hidden_k: float = DEFAULT_HIDDEN_K,
                     progress: bool = True) -> dict:
    """Write a synthetic archive under ``out_dir`` and return truth.json's dict.

    ``years``: calendar years, each sampled on days 1, 1 + day_step, ... ``dem``: a DEM GeoTIFF to
    use as terrain (its grid replaces ``shape``; 0 = sea; nodata = a void: no LST there, nodata in
    dem.tif), else procedural terrain on
    the real grid's corner and pixel size with ``shape`` (rows, cols) pixels. ``form``: "netcdf"
    (yearly files) or "geotiff" (daily files). ``noise_k``: daytime sensor noise std (K; night
    x0.8); ``hidden_k``: std of the component no input reveals (K; night x0.8);
    ``cloud_fraction``: mean gap-filled fraction (cloudy winters, clear summers). The result is
    a function of the settings alone: a date's frames do not depend on the other dates.
    Bad settings raise LSTError naming the setting.
    """
    years = tuple(years) if isinstance(years, (list, tuple)) else (years,)
    shape = tuple(shape)
    check_settings(years, day_step, shape, form, noise_k, cloud_fraction, hidden_k)
    out = Path(out_dir)
    _clear_previous(out)
    with removed_on_failure(out):  # stopped or failed half-way: none of it stays
        return _write_archive(out, years, day_step, dem, shape, seed, form, noise_k, cloud_fraction, hidden_k,
                              progress)


def _write_archive(out: Path, years, day_step, dem, shape, seed, form, noise_k, cloud_fraction, hidden_k,
                   progress) -> dict:
    climate = build_climate(dem=dem, shape=shape, seed=seed, noise_k=noise_k, hidden_k=hidden_k,
                            cloud_fraction=cloud_fraction)
    terrain, grid = climate.t, climate.t.grid
    writers.write_geotiff(out / "dem.tif", grid, dem_int16(terrain), nodata=DEM_NODATA)
    writers.write_geotiff(out / "ndvi.tif", grid, climate.ndvi_raw, nodata=float("nan"))
    calib = Calibration(terrain, climate.p)
    n_frames, cloudy = 0, []
    for year in years:
        n, frac = _write_year(out, climate, calib, year, day_step, form, progress)
        n_frames += n
        cloudy += frac
    truth = _truth(climate, calib, years, day_step, form, n_frames, cloudy)
    with writers.atomic_path(out / "truth.json") as tmp:
        tmp.write_text(json.dumps(truth, indent=1))
    return truth


def generate_fine_archive(out_dir, *, fine_factor: int, **options) -> dict:
    """The physics on a fine grid and the archive a coarser sensor would see of it, in the real
    formats: ``fine/`` holds the fine truth (``generate_archive`` with ``options``: lst/, dem.tif,
    ndvi.tif, oracle/, truth.json); the top level holds it aggregated by ``fine_factor``
    (data/aggregate.py: lst/, dem.tif, ndvi.tif, oracle/) with truth.json written last, so that
    training reads the top level like any archive and the fine path is measured against ``fine/``."""
    if isinstance(fine_factor, bool) or int(fine_factor) != fine_factor or fine_factor < 2:
        raise LSTError(f"fine_factor must be an integer >= 2, got {fine_factor!r}")
    f, out = int(fine_factor), Path(out_dir)
    _clear_previous(out)
    with removed_on_failure(out):  # stopped or failed half-way: none of it stays
        return _write_fine_archive(out, f, options)


def _write_fine_archive(out: Path, f: int, options: dict) -> dict:
    fine = out / "fine"
    truth = generate_archive(fine, **options)
    grid = coarse_grid(open_archive(fine / "lst").grid, f)
    aggregate_archive(fine / "lst", fine / "dem.tif", out, f, ndvi=fine / "ndvi.tif")
    write_aggregated_lst(open_archive(fine / "oracle"), f, out / "oracle")
    truth = {**truth, "fine_factor": f, "fine_dir": "fine", "fine_shape": truth["shape"],
             "shape": list(grid.shape),
             "grid": {"west": grid.west, "north": grid.north, "dlon": grid.dlon, "dlat": grid.dlat},
             "aggregation": "every f x f block of fine/: LST mean where all f*f hold a value, QA observed where all "
                            "are, DEM and NDVI block means (data/aggregate.py)"}
    with writers.atomic_path(out / "truth.json") as tmp:
        tmp.write_text(json.dumps(truth, indent=1))
    return truth


def _truth(climate: Climate, calib: Calibration, years, day_step: int, form: str, n_frames: int,
           cloudy: list) -> dict:
    """truth.json: the settings, the parameters and the calibration figures of the archive."""
    terrain, physics, grid = climate.t, climate.p, climate.t.grid
    return {
        "generator": "lst_lightning.data.synthetic", "generator_version": GENERATOR_VERSION,
        "seed": climate.seed, "years": list(years), "day_step": day_step,
        "form": form, "dem": climate.dem_source, "shape": list(grid.shape),
        "grid": {"west": grid.west, "north": grid.north, "dlon": grid.dlon, "dlat": grid.dlat},
        "n_frames": n_frames, "n_dates": n_frames // 2, "frame_bands": list(FRAME_BANDS),
        "noise_k": climate.noise_k, "hidden_k": climate.hidden_k, "cloud_fraction": climate.cloud_fraction,
        "noise_std_k": {band: round(climate.noise_std(band), 4) for band in FRAME_BANDS},
        "hidden_std_k": {band: round(climate.hidden_k * (physics.hidden_night_ratio if band == "night" else 1.0), 4)
                         for band in FRAME_BANDS},
        "cloudy_fraction_measured": round(float(np.mean(cloudy)), 4) if cloudy else None,
        "land_fraction": round(float(terrain.land.mean()), 4),
        "physics": asdict(physics), "by_season": season_parameters(physics),
        "oracle": "input-visible physics only: no hidden component, no sensor noise, no gap filling",
        "gap_fill": "cloudy pixels hold the noise-free field (oracle + hidden)",
        "calibration": calib.table(),
    }


def dem_int16(t: Terrain) -> np.ndarray:
    """The DEM as the real product stores it: int16 metres, 0 = sea, DEM_NODATA (tagged) at the
    voids of a given DEM. A land pixel that would round to 0 becomes +-1 m so readers do not take it
    for sea."""
    elev = np.clip(np.rint(t.elev), -32767, 32767)
    elev[t.land & (elev == 0)] = np.where(t.elev[t.land & (elev == 0)] < 0, -1, 1)
    elev[~t.land] = 0
    if t.void is not None:
        elev[t.void] = DEM_NODATA
    return elev.astype(np.int16)


def _clear_previous(out: Path) -> None:
    """Regenerating into an earlier synthetic archive replaces it; any other files in lst/ or
    oracle/ (perhaps real data) make us stop rather than mix archives or delete them."""
    old = [p for sub in ("lst", "oracle") if (out / sub).is_dir() for p in (out / sub).iterdir()]
    if not old:
        return
    if not (out / "truth.json").is_file():
        raise LSTError(f"output directory {out} already holds files in lst/ or oracle/ that are not a "
                       "synthetic archive (no truth.json); choose an empty or new directory")
    (out / "truth.json").unlink()  # first, so an interrupted rewrite never looks complete
    for path in old:
        if path.is_file() and path.name.startswith("LST_"):
            path.unlink()


def archive_dates(years, day_step: int) -> list[dt.date]:
    """The dates an archive of these settings holds (each has a night and a day frame)."""
    return [d for year in years for d in _dates(int(year), int(day_step))]


def _dates(year: int, day_step: int) -> list[dt.date]:
    ndays = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    return [dt.date(year, 1, 1) + dt.timedelta(days=d) for d in range(0, ndays, day_step)]


def _pack(out: np.ndarray, night: np.ndarray, day: np.ndarray, qa: np.ndarray, land: np.ndarray) -> None:
    """Fill a (4, H, W) uint16 record: night, day, daily mean (0.02 K; 0 = missing, the sea) and QA."""
    for band, kelvin in enumerate((night, day)):
        out[band] = np.rint(np.where(land, kelvin * np.float32(1.0 / LST_SCALE), 0))
    out[2] = (out[0].astype(np.uint32) + out[1]) // 2  # both 0 on the sea
    out[3] = qa


def _write_year(out: Path, climate: Climate, calib: Calibration, year: int, day_step: int,
                form: str, progress: bool) -> tuple[int, list]:
    """Generate and write one year's LST files and oracle file; return (frames, cloudy fractions)."""
    grid, land = climate.t.grid, climate.t.land
    dates = _dates(year, day_step)
    shape = (len(dates), 4, *grid.shape)
    # the NetCDF form is written once per year; the GeoTIFF form needs only one day's record
    lst_year = np.zeros(shape, np.uint16) if form == "netcdf" else np.zeros((1, *shape[1:]), np.uint16)
    oracle_year = np.zeros(shape, np.uint16)
    oracle_qa = np.where(land, 3, 0).astype(np.uint16)  # the oracle "observes" every land pixel
    cloudy = []
    with progress_bar(dates, desc=f"synthetic {year}", unit="day", enabled=progress) as bar:
        for i, date in enumerate(bar):
            record = lst_year[i if form == "netcdf" else 0]
            cloudy.append(_fill_date(climate, calib, date, record, oracle_year[i], oracle_qa))
            if form == "geotiff":
                writers.write_lst_geotiff_day(out / "lst" / f"LST_{date:%Y_%m_%d}.tif", grid, record)
    doys = np.array([d.timetuple().tm_yday for d in dates])
    if form == "netcdf":
        writers.write_lst_netcdf(out / "lst" / f"LST_{year}_NetCDF.nc", grid, doys, lst_year)
    del lst_year
    writers.write_lst_netcdf(out / "oracle" / f"LST_{year}_oracle.nc", grid, doys, oracle_year)
    return len(dates) * len(FRAME_BANDS), cloudy


def _fill_date(climate: Climate, calib: Calibration, date: dt.date, record: np.ndarray,
               oracle_record: np.ndarray, oracle_qa: np.ndarray) -> float:
    """One date's frames into its archive and oracle records and the calibration sums; return the
    date's cloudy fraction of land."""
    land = climate.t.land
    f = climate.frames(date)
    for b, band in enumerate(FRAME_BANDS):
        calib.add(date, band, f["lst"][b], f["oracle"][b])
    night_obs, day_obs = f["observed"]
    qa = qa_code(day_obs & land, night_obs & land)  # 0 (no observation) on the sea
    _pack(record, *f["lst"], qa, land)
    _pack(oracle_record, *f["oracle"], oracle_qa, land)
    n_land = max(int(land.sum()), 1)
    return 1 - (np.count_nonzero(night_obs & land) + np.count_nonzero(day_obs & land)) / (2 * n_land)
