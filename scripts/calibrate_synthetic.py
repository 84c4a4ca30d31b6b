"""Calibration table of the synthetic archive: how large the downscaling target is and how much of it
any model could explain.

Generates one year (every ``--day-step``-th day) on a DEM (default: the real Israel DEM in
../shared/data, else procedural terrain) in a temporary directory and prints, per season and band:
the target RMS (centre pixel minus its k x k window mean, k = the project's default 9, over windows
fully on land), the oracle floor RMS (target minus the input-visible physics' target: what no model
can explain), and the part a lapse rate alone explains. With ``--components`` it also prints each
physical component's own target RMS on mid-month dates; with ``--markdown`` the season table as in
docs/calibration.md. One JSON line per figure follows the table.

    python scripts/calibrate_synthetic.py                 # real DEM if present, day_step 7
    python scripts/calibrate_synthetic.py --procedural --day-step 3 --components
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DEM = REPO.parent / "shared" / "data" / "israel_dem_1km.tif"

log = logging.getLogger("calibrate_synthetic")


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--day-step", type=int, default=7, help="keep every n-th day (default 7)")
    p.add_argument("--dem", type=Path, default=None, help=f"DEM GeoTIFF (default {DEFAULT_DEM} if present)")
    p.add_argument("--procedural", action="store_true", help="use the procedural terrain even if the DEM exists")
    p.add_argument("--year", type=int, default=2020)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise-k", type=float, default=None)
    p.add_argument("--hidden-k", type=float, default=None)
    p.add_argument("--cloud-fraction", type=float, default=None)
    p.add_argument("--months", action="store_true", help="also print the per-month table")
    p.add_argument("--components", action="store_true", help="target RMS of each physical component")
    p.add_argument("--markdown", action="store_true", help="also print the season table in Markdown")
    return p.parse_args(argv)


def log_table(cal: dict, kind: str) -> None:
    log.info(f"{kind:>6} {'band':>5} {'target':>8} {'floor':>8} {'lapse':>8} {'after-lapse':>11} {'samples':>10}")
    for name, bands in cal[kind].items():
        for band, f in bands.items():
            log.info(f"{name:>6} {band:>5} {f['target_rms_k']:8.3f} {f['oracle_floor_rms_k']:8.3f} "
                     f"{f['lapse_rms_k']:8.3f} {f['after_lapse_rms_k']:11.3f} {f['n_samples']:10d}")


def markdown_table(cal: dict) -> list[str]:
    """The season table as docs/calibration.md shows it (K)."""
    lines = ["| season | night target | night floor | night lapse | day target | day floor | day lapse |",
             "|---|---|---|---|---|---|---|"]
    for name, bands in cal["season"].items():
        cells = [f"{bands[b][key]:.2f}" for b in ("night", "day")
                 for key in ("target_rms_k", "oracle_floor_rms_k", "lapse_rms_k")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def component_table(options: dict, year: int) -> list[dict]:
    """Each component's own target RMS (K) on the 15th of every month."""
    from lst_lightning.data.facts.windows import centre_minus_mean
    from lst_lightning.data.io.formats import FRAME_BANDS
    from lst_lightning.data.synthetic import Calibration, build_climate

    climate = build_climate(**options)
    calib = Calibration(climate.t, climate.p)
    rows = []
    for month in range(1, 13):
        date = dt.date(year, month, 15)
        rng = np.random.default_rng(0)
        weather = climate.weather.draw(rng, 1)[0]
        for band in FRAME_BANDS:
            parts = climate.components(date, band, weather)
            parts["hidden"] = climate.hidden_term(date, band)
            parts["noise"] = climate.noise_std(band) * rng.standard_normal(climate.t.shape)
            row = {"month": month, "band": band}
            for name, value in parts.items():
                field = np.broadcast_to(np.asarray(value, dtype=np.float64), climate.t.shape)
                target = centre_minus_mean(np.where(climate.t.land, field, 0.0), calib.k).ravel()[calib.valid]
                row[name] = round(float(np.sqrt(np.mean(target ** 2))), 3)
            rows.append(row)
    return rows


def main(argv=None) -> int:
    args = parse(argv)
    from lst_lightning.data.facts.windows import DEFAULT_K
    from lst_lightning.data.synthetic import generate_archive

    dem = None if args.procedural else (args.dem or (DEFAULT_DEM if DEFAULT_DEM.is_file() else None))
    options = {k: v for k, v in (("noise_k", args.noise_k), ("hidden_k", args.hidden_k),
                                 ("cloud_fraction", args.cloud_fraction)) if v is not None}
    log.info(f"terrain: {dem or 'procedural'}; year {args.year}, day_step {args.day_step}, seed {args.seed}")
    with tempfile.TemporaryDirectory(prefix="lst-calibrate-") as tmp:
        start = time.perf_counter()
        truth = generate_archive(tmp, years=(args.year,), day_step=args.day_step, dem=dem, seed=args.seed,
                                 progress=False, **options)
        seconds = time.perf_counter() - start
    cal = truth["calibration"]
    log.info(f"{truth['n_frames']} frames in {seconds:.1f} s; {cal['n_valid_windows']} full land windows; "
             f"centre-minus-window-mean elevation RMS {cal['elev_centre_minus_mean_rms_m']:.1f} m; "
             f"noise std {truth['noise_std_k']}, hidden std {truth['hidden_std_k']}, "
             f"cloudy {truth['cloudy_fraction_measured']}")
    log.info(f"RMS in K: target = centre - {DEFAULT_K}x{DEFAULT_K} mean; floor = target - oracle target; "
             "lapse = lapse-rate-only part; after-lapse = target - lapse part")
    log_table(cal, "season")
    if args.months:
        log_table(cal, "month")
    if args.markdown:
        for line in markdown_table(cal):
            log.info(line)
    if args.components:
        log.info("per-component target RMS (K), 15th of each month:")
        for row in component_table({"dem": dem, "seed": args.seed, **options}, args.year):
            log.info("  " + " ".join(f"{k}={v}" for k, v in row.items()))
    for kind in ("season", "month"):
        for name, bands in cal[kind].items():
            for band, figures in bands.items():
                log.info(json.dumps({"terrain": "dem" if dem else "procedural", kind: name, "band": band, **figures}))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    sys.exit(main())
