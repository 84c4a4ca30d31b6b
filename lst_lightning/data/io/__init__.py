"""Files <-> arrays, the lowest data stage (no torch, no cache): ``archive`` opens an LST archive
directory (one form: yearly NetCDFs or daily GeoTIFFs; excluded files left out) into its grid, its
(date, band) ``Frame`` list and pixel blocks; ``netcdf`` scans and reads the yearly NetCDF form,
``netcdf_classic`` parses classic NetCDF headers to catch truncated files; ``geotiff`` reads
GeoTIFF tags, georeference and pixels and the daily LST form; ``decode`` turns stored values (fill
values, scales, Kelvin floats, QA codes) into the raw 0.02 K uint16 + QA form and rejects
implausible ones; ``rasters`` reads the DEM and covariate rasters on the LST grid; ``grid`` is the
pixel grid they share; ``formats`` holds the product's constants; ``writers`` writes the real
formats atomically.
"""
