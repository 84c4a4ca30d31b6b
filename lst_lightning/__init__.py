"""lst-lightning: learn to downscale satellite Land Surface Temperature from k x k km windows."""
# first, before anything loads numpy, torch or LightGBM: their OpenMP runtimes read it only then
from lst_lightning.threads import configure_threads

configure_threads()

__version__ = "0.1.0"
