"""lst-lightning: learn to downscale satellite Land Surface Temperature from k x k km windows."""

__version__ = "0.1.0"
