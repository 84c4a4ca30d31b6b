"""Below the archive's scale: a trained model applied on a finer grid (fine DEM) and its checks."""
