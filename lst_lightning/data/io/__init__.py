"""Files <-> arrays: the real archive formats (NetCDF, GeoTIFF), the grid, writers."""
