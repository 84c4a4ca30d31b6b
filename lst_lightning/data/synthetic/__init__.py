"""A physically plausible synthetic LST archive, written in the real on-disk formats.

Why: on a fresh machine with no data the whole pipeline (readers -> cache -> training -> report)
runs on this archive, and because we know how it was made we also know the best any model could
do. Each frame is a sum of named components:

* input-visible physics (the *oracle*): seasonal/day-night climatology by latitude and distance
  inland, an elevation lapse rate (by band and season), daytime slope illumination from the sun's
  position at the overpass, night-time cold-air pooling by topographic position, NDVI cooling by
  day, sea-breeze cooling near the coast, and a large-scale smooth daily weather anomaly;
* a spatially correlated, persistent component no input reveals (soil moisture/albedo, towns);
* sensor noise on observed pixels. Cloudy pixels (blobs) hold a smooth gap-filled value
  (the noise-free field) and are flagged in QA, as in the real product.

Magnitudes follow the real Israel DEM (GUIDE.md): the centre-minus-window-mean elevation RMS is
only ~51 m, so a lapse rate explains ~0.26 K of the ~1.1 K daytime target RMS; the defaults give a
January daytime target RMS of ~1.1 K on the real DEM (docs/calibration.md,
``scripts/calibrate_synthetic.py``).

``generate_fine_archive`` runs the physics on a fine grid (``fine/``) and writes the archive
aggregated by an integer factor at the top level: fine-scale truth for downscaling below 1 km.

Outputs under ``out_dir``: ``lst/`` (yearly NetCDF or daily GeoTIFF), ``dem.tif``, ``ndvi.tif``
(12 monthly bands), ``oracle/LST_<year>_oracle.nc`` (the oracle field per frame, same layout and
dates) and ``truth.json`` (parameters and calibration figures).

Modules, lowest first: ``settings`` (defaults, validation), ``fields`` (random fields),
``physics`` (parameters and formulas), ``terrain`` (the static world), ``climate`` (the frames
of a date), ``calibration`` (target-RMS figures), ``archive`` (writing it all).
"""
from lst_lightning.data.synthetic.archive import (
    GENERATOR_VERSION,
    archive_dates,
    generate_archive,
    generate_fine_archive,
)
from lst_lightning.data.synthetic.calibration import Calibration
from lst_lightning.data.synthetic.climate import Climate, build_climate
from lst_lightning.data.synthetic.physics import ByBand, Physics
from lst_lightning.data.synthetic.terrain import ISRAEL_SHAPE, israel_grid

__all__ = ["GENERATOR_VERSION", "ByBand", "archive_dates", "Calibration", "Climate", "ISRAEL_SHAPE", "Physics",
           "build_climate", "generate_archive", "generate_fine_archive", "israel_grid"]
