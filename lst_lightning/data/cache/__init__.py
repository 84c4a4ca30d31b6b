"""The memory-mapped training cache: its format and opening (``store``), building it
(``build``), and the filesystem mechanics of building a directory once, atomically (``fs``)."""
from lst_lightning.data.cache.build import prepare_cache
from lst_lightning.data.cache.store import FORMAT_VERSION, META, Cache, open_cache

__all__ = ["Cache", "FORMAT_VERSION", "META", "open_cache", "prepare_cache"]
