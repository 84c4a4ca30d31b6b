"""Console entry points that need no Hydra: ``lst-synth``, ``lst-prepare`` and ``lst-resample-dem``;
the one-line-error ``Parser`` of every argparse app.

Each ``*_main`` parses its arguments first and only then imports the module that does the work (its
one lazy import), so ``--help`` answers at once.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from lst_lightning.data.facts.windows import DEFAULT_K
from lst_lightning.errors import EXIT_USER_ERROR, exit_on_user_error


class Parser(argparse.ArgumentParser):
    """argparse with the project's one-line error format (``error: ...``, exit 2)."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _synth_parser() -> argparse.ArgumentParser:
    p = Parser(prog="lst-synth", description=(
        "Write a synthetic LST archive in the real on-disk formats (yearly NetCDF or daily GeoTIFF, "
        "DEM GeoTIFF, monthly NDVI GeoTIFF) plus truth.json and per-frame oracle LST."))
    p.add_argument("out_dir", type=Path, help="directory to write (lst/, dem.tif, ndvi.tif, oracle/, truth.json)")
    p.add_argument("--years", type=int, nargs="+", default=[2020], help="years to generate (default: 2020)")
    p.add_argument("--day-step", type=int, default=1, help="keep every n-th day of each year (default: 1)")
    p.add_argument("--dem", type=Path, default=None,
                   help="use this DEM GeoTIFF as terrain (e.g. ../shared/data/israel_dem_1km.tif); "
                        "default: procedural Israel-like terrain")
    p.add_argument("--shape", type=int, nargs=2, default=[603, 409], metavar=("H", "W"),
                   help="procedural grid size (default: 603 409, the Israel grid)")
    p.add_argument("--form", choices=["netcdf", "geotiff"], default="netcdf", help="LST file form")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise-k", type=float, default=None, help="sensor noise std in K (default: calibrated)")
    p.add_argument("--hidden-k", type=float, default=None,
                   help="std (K) of the persistent component no input reveals (default: calibrated)")
    p.add_argument("--cloud-fraction", type=float, default=None, help="mean cloudy (gap-filled) fraction")
    p.add_argument("--fine-factor", type=int, default=None, metavar="F",
                   help="generate the physics on the (--dem) grid as fine truth under OUT_DIR/fine/ and write the "
                        "archive aggregated by F (F x F fine pixels per archive pixel) at the top level")
    return p


@exit_on_user_error
def synth_main(argv: list[str] | None = None) -> None:
    args = _synth_parser().parse_args(argv)
    # lazy: lst-synth --help answers before the data stack (scipy, netCDF4, tifffile) loads
    from lst_lightning.data.synthetic import generate_archive, generate_fine_archive

    options = {k: v for k, v in (("noise_k", args.noise_k), ("hidden_k", args.hidden_k),
                                                   ("cloud_fraction", args.cloud_fraction)) if v is not None}
    options.update(years=tuple(args.years), day_step=args.day_step, dem=args.dem, shape=tuple(args.shape),
                   seed=args.seed, form=args.form)
    if args.fine_factor is not None:
        truth = generate_fine_archive(args.out_dir, fine_factor=args.fine_factor, **options)
        print(f"synthetic archive written to {args.out_dir} ({truth['n_frames']} frames, "
              f"{truth['shape'][0]}x{truth['shape'][1]} pixels) with its fine truth at 1/{args.fine_factor} of a "
              f"pixel in {args.out_dir / 'fine'} ({truth['fine_shape'][0]}x{truth['fine_shape'][1]})")
        return
    truth = generate_archive(args.out_dir, **options)
    print(f"synthetic archive written to {args.out_dir} ({truth['n_frames']} frames)")


def _prepare_parser() -> argparse.ArgumentParser:
    p = Parser(prog="lst-prepare", description=(
        "Turn an LST archive + DEM into the memory-mapped training cache (window means, validity, "
        "terrain features). Reuses an existing cache with the same input fingerprint."))
    p.add_argument("lst_dir", type=Path, help="directory of yearly NetCDFs or daily GeoTIFFs")
    p.add_argument("--dem", type=Path, required=True, help="DEM GeoTIFF on the LST grid")
    p.add_argument("--ndvi", type=Path, default=None, help="optional NDVI GeoTIFF (1 or 12 bands) on the grid")
    p.add_argument("--landcover", type=Path, default=None,
                   help="optional land-cover GeoTIFF (1 band of integer class codes) on the grid")
    p.add_argument("--oracle-dir", type=Path, default=None, help="synthetic archives: per-frame oracle LST")
    p.add_argument("--k", type=int, default=DEFAULT_K, help=f"window size in pixels (odd, >= 3; default {DEFAULT_K})")
    p.add_argument("--cache-root", type=Path, default=Path("data/cache"), help="where caches live")
    p.add_argument("--time-base", choices=["auto", "0", "1"], default="auto",
                   help="yearly NetCDFs: the day number of 1 January in 'time' (default auto: 0 if a day 0 "
                        "is present, else 1)")
    return p


@exit_on_user_error
def prepare_main(argv: list[str] | None = None) -> None:
    args = _prepare_parser().parse_args(argv)
    from lst_lightning.data.cache import prepare_cache  # lazy: lst-prepare --help answers before the data stack

    prepare_cache(args.lst_dir, dem=args.dem, ndvi=args.ndvi, landcover=args.landcover, oracle_dir=args.oracle_dir,
                  k=args.k, cache_root=args.cache_root, time_base=args.time_base)


def _resample_parser() -> argparse.ArgumentParser:
    p = Parser(prog="lst-resample-dem", description=(
        "Put a DEM on the fine grid nested in an LST grid at an integer factor (each LST pixel holds "
        "factor x factor fine pixels, edges aligned), as lst-predict fine_dem=... needs it: bilinear "
        "from a coarser or similar DEM, averaged from a much finer one; voids stay voids. A GeoTIFF of "
        "several bands (e.g. 12 monthly NDVI for fine_ndvi=...) is resampled band by band."))
    p.add_argument("dem", type=Path, help="the DEM GeoTIFF to resample (any regular lat/lon grid)")
    p.add_argument("--like", type=Path, default=None,
                   help="a GeoTIFF on the LST grid (e.g. the archive's dem.tif): the grid to nest in")
    p.add_argument("--factor", type=int, default=None, help="fine pixels per LST pixel side (>= 2), with --like")
    p.add_argument("--onto", type=Path, default=None,
                   help="instead of --like/--factor: exactly the grid of this GeoTIFF (e.g. a fine DEM "
                        "written before, to put NDVI on the same grid)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the GeoTIFF to write")
    p.add_argument("--x-scaled-at", type=float, default=None, metavar="LAT",
                   help="the --like grid's x is the sinusoidal easting in degrees at this latitude, not "
                        "longitude (a MODIS tile kept pixel for pixel, e.g. 45 for the h18v04 archive: "
                        "true lon = x cos(LAT) / cos(lat)); the DEM is on true longitudes")
    return p


@exit_on_user_error
def resample_main(argv: list[str] | None = None) -> None:
    args = _resample_parser().parse_args(argv)
    from lst_lightning.downscale.resample import resample_dem_file  # lazy: lst-resample-dem --help answers first

    print(resample_dem_file(args.dem, args.like, args.factor, args.output, args.x_scaled_at, args.onto))
