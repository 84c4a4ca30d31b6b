"""From the ``data`` config to caches and the run's data module. A data config names its kind by
``_target_`` (conf/data/*.yaml): ``Files`` (an archive on disk: LST directory, DEM, covariates),
``Synthetic`` (the built-in synthetic archive, generated on first use, then as ``Files``) or
``Pool`` (several archives in one run, data=multi); each knows its optional inputs, its caches and
its data module (data/loading/datamodule.py, multi.py)."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from pathlib import Path

from lst_lightning.data import synthetic
from lst_lightning.data.cache import Cache, prepare_cache
from lst_lightning.data.cache.fs import build_in_place
from lst_lightning.data.facts.windows import DEFAULT_K
from lst_lightning.data.io.archive import check_hours, open_archive
from lst_lightning.data.io.formats import OVERPASS_HOUR
from lst_lightning.data.loading.datamodule import LSTDataModule, SampleData, held_out_samples
from lst_lightning.data.loading.gatherer import layout_for, pool_layout
from lst_lightning.data.loading.multi import MultiDataModule
from lst_lightning.data.loading.prefetch import check_prefetch
from lst_lightning.errors import LSTError
from lst_lightning.features import optional_inputs
from lst_lightning.targets import target_class

log = logging.getLogger(__name__)

SYNTH_DONE = "truth.json"  # written last by generate_archive: the archive is complete
SYNTH_NAME = re.compile(r"synth-[0-9a-f]{12}")  # the directory names of synthetic archives
MODULE = "lst_lightning.data.loading.sources"
# run configs saved before data configs named their _target_ said ``source:``
LEGACY_SOURCES = {"files": f"{MODULE}.Files", "synthetic": f"{MODULE}.Synthetic", "multi": f"{MODULE}.Pool"}


@dataclass(frozen=True)
class Scan:
    """What an archive's file scan tells before any cache exists: its dates in the run's bands and
    its grid's shape (None: not known without generating it). ``name``: the archive (data=multi)."""

    name: str
    dates: list
    shape: tuple[int, int] | None


@dataclass(kw_only=True)
class DataSource(ABC):
    """The settings every data config has (conf/data/*.yaml)."""

    k: int = DEFAULT_K
    bands: list = field(default_factory=lambda: ["night", "day"])
    hours: dict | None = None
    # true: the overpass hours are known to be right (no warning when they are the default, Aqua's)
    hours_checked: bool = False
    cache_root: str = "data/cache"
    eval_observed_only: bool = True
    loader: dict = field(default_factory=dict)
    # yearly NetCDFs whose time is a day of year: auto (0-based if a day 0 is present), 0 or 1
    time_base: str | int = "auto"
    # the true pixel side (m) for slopes and distances; null: from the grid's degrees
    pixel_size_m: float | None = None
    # the synthetic archive's settings: presets (debug=tiny, experiment=quick) size it whatever the
    # data; only data=synthetic reads them
    synthetic: dict = field(default_factory=dict)
    archive_dir: str = "data/synthetic"

    def __post_init__(self):
        check_prefetch(self.loader.get("prefetch", 0))  # before any cache exists

    @property
    def sites(self) -> list[str]:
        """The archives pooled by name (empty: one archive)."""
        return []

    def overpass_hours(self) -> dict:
        """The overpass hour (local solar) of each band the run uses: ``hours`` over the default
        (MODIS Aqua's, io/formats.py), as the cache reads them (data=multi: per archive)."""
        hours = check_hours(self.hours)
        return {band: hours.get(band) for band in self.bands}

    def hours_warnings(self) -> list[str]:
        """What to warn about the overpass hours before training (nothing: the hours are the data's own)."""
        return []

    def describe(self) -> str:
        """The archive in one line, as its settings read: kind, files, bands, overpass hours."""
        return f"{type(self).__name__}; {_bands_and_hours(self)}"

    @abstractmethod
    def inputs(self) -> set[str]:
        """The optional inputs (``features.optional_inputs()``) the data provides."""

    @abstractmethod
    def caches(self, progress: bool = True):
        """The prepared cache (several: name -> cache)."""

    def scan(self) -> list[Scan]:
        """Each archive's ``Scan`` (cheap: file headers, no cache)."""
        return []

    def held_out_samples(self, caches, split: dict, seed: int) -> dict[str, dict[str, int]]:
        """Each archive's validation and test samples under ``split`` (one archive: named "")."""
        return {"": held_out_samples(caches, split, self.bands, seed)}

    def datamodule(self, caches, groups, split: dict, seed: int, clip: float | None) -> SampleData:
        """The data module of feature ``groups`` under ``split`` over ``caches``."""
        if split.get("kind") == "sites":
            raise LSTError("split=sites holds one archive out of several: it needs data=multi with data.archives")
        return LSTDataModule(caches, layout_for(caches, groups), split, bands=tuple(self.bands), seed=seed,
                             **self.loader)


def source_of(data: dict) -> DataSource:
    """The data config (a plain dict) as its ``_target_`` class; one line for a bad kind or setting."""
    settings = dict(data)
    legacy = LEGACY_SOURCES.get(settings.pop("source", None))
    settings["_target_"] = settings.get("_target_") or legacy
    cls = target_class(settings, "data", DataSource)
    del settings["_target_"]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise LSTError(f"data: unknown setting(s) {unknown} for {cls.__name__}; known: {sorted(known)}")
    return cls(**settings)


@dataclass(kw_only=True)
class Files(DataSource):
    """An archive on disk: a directory of yearly NetCDFs or daily GeoTIFFs, a DEM and optional
    covariates on the same grid (data=custom, data=israel)."""

    lst_dir: str | None = None
    dem: str | None = None
    ndvi: str | None = None
    landcover: str | None = None
    oracle_dir: str | None = None

    def inputs(self) -> set[str]:
        return {name for name in optional_inputs() if getattr(self, name, None)}

    def hours_warnings(self) -> list[str]:
        """An archive of one's own on the default hours unless ``hours_checked``: the default is Aqua's
        overpass; another sensor's data (Terra: 10:30 / 22:30) would get a wrong time of day and
        sun position (tod, illumination) without a word."""
        on_default = {b: h for b, h in self.overpass_hours().items() if h == OVERPASS_HOUR.get(b)}
        if self.hours_checked or not on_default:
            return []
        return [f"data.hours: {self.lst_dir} is read with the default overpass hours, MODIS Aqua's "
                f"({hours_text(on_default)}), for time of day and the sun's position (tod, illumination); "
                "MODIS Terra passes at 10:30 / 22:30 (data.hours.day=10.5 data.hours.night=22.5). Set your "
                "sensor's hours, or data.hours_checked=true if Aqua's are right"]

    def describe(self) -> str:
        files = " ".join(f"data.{k}={getattr(self, k)}" for k in FILE_KEYS if getattr(self, k))
        return f"{type(self).__name__}: {files}; {_bands_and_hours(self)}"

    def input_files(self, progress: bool = True) -> dict[str, Path | None]:
        """lst_dir, dem, ndvi, landcover, oracle_dir (None when absent)."""
        optional = {key: Path(getattr(self, key)) if getattr(self, key) else None
                    for key in ("ndvi", "landcover", "oracle_dir")}
        return {"lst_dir": _required(self.lst_dir, "lst_dir"), "dem": _required(self.dem, "dem"), **optional}

    def scan(self) -> list[Scan]:
        inputs = [getattr(self, key) for key in ("dem", "ndvi", "landcover") if getattr(self, key, None)]
        archive = open_archive(_required(self.lst_dir, "lst_dir"), hours=self.hours, exclude=inputs,
                               time_base=self.time_base)
        return [Scan("", [f.date for f in archive.frames if f.band in self.bands], archive.grid.shape)]

    def caches(self, progress: bool = True) -> Cache:
        files = self.input_files(progress)
        return prepare_cache(files["lst_dir"], dem=files["dem"], ndvi=files["ndvi"], landcover=files["landcover"],
                             oracle_dir=files["oracle_dir"], k=self.k, cache_root=self.cache_root, hours=self.hours,
                             time_base=self.time_base, pixel_size_m=self.pixel_size_m, progress=progress)


@dataclass(kw_only=True)
class Synthetic(Files):
    """The built-in synthetic archive (data=synthetic): generated once per setting, then read as files."""

    def inputs(self) -> set[str]:
        return {"ndvi"}  # its monthly NDVI

    def hours_warnings(self) -> list[str]:
        return []  # generated with these hours

    def describe(self) -> str:
        settings = ", ".join(f"{k}: {v}" for k, v in self.synthetic.items() if v is not None)
        return f"Synthetic (generated): data.synthetic={{{settings}}}; {_bands_and_hours(self)}"

    def scan(self) -> list[Scan]:
        """From the settings (the archive may not exist yet); a given DEM's grid is not read."""
        settings = self.synthetic
        f = int(settings.get("fine_factor") or 1)
        shape = settings.get("shape") or synthetic.ISRAEL_SHAPE
        shape = None if settings.get("dem") else tuple(int(n) // f for n in shape)
        dates = synthetic.archive_dates(settings.get("years") or (2020,), settings.get("day_step") or 1)
        return [Scan("", dates, shape)]

    def input_files(self, progress: bool = True) -> dict[str, Path | None]:
        archive = synthetic_archive(self.synthetic, Path(self.archive_dir), progress)
        return {"lst_dir": archive / "lst", "dem": archive / "dem.tif", "ndvi": archive / "ndvi.tif",
                "landcover": None, "oracle_dir": archive / "oracle"}


FILE_KEYS = ("lst_dir", "dem", "ndvi", "landcover", "oracle_dir")
ARCHIVE_KEYS = (*FILE_KEYS, "bands", "hours", "hours_checked", "time_base", "pixel_size_m")


@dataclass(kw_only=True)
class Pool(DataSource):
    """Several archives in one run (data=multi): each its own files, bands and hours (``archives``:
    name -> settings over the shared ones), cache and split; batches drawn across them."""

    archives: dict | None = None
    balance: str = "samples"

    @property
    def sites(self) -> list[str]:
        return list(self.archive_sources())

    def archive_sources(self) -> dict[str, Files]:
        """Each archive's own data config: its settings over the shared ones."""
        if not isinstance(self.archives, dict) or len(self.archives) < 2:
            raise LSTError("data.archives: data=multi needs at least two archives, name -> {lst_dir, dem, ...}")
        shared = {f.name: getattr(self, f.name) for f in fields(DataSource)
                  if f.name not in ("synthetic", "archive_dir")}
        out = {}
        for name, archive in self.archives.items():
            unknown = sorted(set(archive or {}) - set(ARCHIVE_KEYS))
            if unknown:
                raise LSTError(f"data.archives.{name}: unknown keys {unknown}; an archive takes {list(ARCHIVE_KEYS)}")
            out[str(name)] = Files(**{**shared, **dict(archive or {})})
        return out

    def inputs(self) -> set[str]:
        return set.intersection(*(a.inputs() for a in self.archive_sources().values()))

    def overpass_hours(self) -> dict:
        return {name: a.overpass_hours() for name, a in self.archive_sources().items()}

    def hours_warnings(self) -> list[str]:
        return [w for a in self.archive_sources().values() for w in a.hours_warnings()]

    def describe(self) -> str:
        archives = self.archive_sources()
        return f"Pool of {len(archives)} archives: " + " | ".join(f"{n} = {a.describe()}" for n, a in archives.items())

    def scan(self) -> list[Scan]:
        out = []
        for name, archive in self.archive_sources().items():
            try:
                out += [Scan(name, s.dates, s.shape) for s in archive.scan()]
            except LSTError as err:
                raise LSTError(f"data.archives.{name}: {err}") from None
        return out

    def caches(self, progress: bool = True) -> dict[str, Cache]:
        out = {}
        for name, archive in self.archive_sources().items():
            try:
                out[name] = archive.caches(progress)
            except LSTError as err:
                raise LSTError(f"data.archives.{name}: {err}") from None
        return out

    def held_out_samples(self, caches, split: dict, seed: int) -> dict[str, dict[str, int]]:
        archives = self.archive_sources()
        return {name: held_out_samples(cache, split, archives[name].bands, seed) for name, cache in caches.items()}

    def datamodule(self, caches, groups, split: dict, seed: int, clip: float | None) -> SampleData:
        """One LSTDataModule per archive (its own split: the configured one, or under split=sites
        its blocks), pooled by data/loading/multi.py; land cover on the union of their classes."""
        if self.loader.get("device_resident"):
            raise LSTError("data.loader.device_resident: not available with data=multi (one cache per device)")
        archives, held_out = self.archive_sources(), None
        if split.get("kind") == "sites":
            names, site = list(archives), split.get("site")
            if site is None or not 0 <= int(site) < len(names):
                raise LSTError(f"split.site: the site held out, 0..{len(names) - 1} ({', '.join(names)}), got {site!r}")
            held_out = names[int(site)]
            split = {"kind": "space", "space": split.get("space"), "seed": split.get("seed")}
        layout = pool_layout(caches, groups)
        modules = {}
        for name, cache in caches.items():
            try:  # an input it lacks: the error names the archive
                modules[name] = LSTDataModule(cache, layout, split, bands=tuple(archives[name].bands), seed=seed,
                                              **self.loader)
            except LSTError as err:
                raise LSTError(f"data.archives.{name}: {err}") from None
        sizes = {k: self.loader[k] for k in ("batch_size", "eval_batch_size", "samples_per_epoch", "scaler_samples",
                                            "epoch_passes", "prefetch") if k in self.loader}
        return MultiDataModule(modules, balance=self.balance, held_out=held_out, seed=seed, clip=clip, **sizes)


def resolve_cache(data: dict, progress: bool = True) -> Cache:
    """The cache of a single-archive ``data`` config (plain dict)."""
    source = source_of(data)
    if source.sites:
        raise LSTError("data=multi holds several archives: this command reads one (give its files with data=custom)")
    return source.caches(progress)


def resolve_caches(data: dict, progress: bool = True) -> dict[str, Cache]:
    """data=multi: each archive's cache (the one a single-archive run over it would use)."""
    return source_of(data).caches(progress)


def input_files(data: dict, progress: bool = True) -> dict[str, Path | None]:
    """The input files of a single-archive ``data`` config (the synthetic archive generated first)."""
    source = source_of(data)
    if not isinstance(source, Files):
        raise LSTError("data=multi holds several archives: this command reads one (give its files with data=custom)")
    return source.input_files(progress)


def available_inputs(data: dict) -> set[str]:
    """The optional inputs a ``data`` config provides (data=multi: what every archive provides)."""
    return source_of(data).inputs()


def hours_text(hours: dict) -> str:
    """``night 01:30, day 13:30`` (local solar time; data=multi: ``a: day 10:30 | b: ...``)."""
    if any(isinstance(v, dict) for v in hours.values()):
        return " | ".join(f"{name}: {hours_text(h)}" for name, h in hours.items())

    def clock(hour) -> str:
        if isinstance(hour, bool) or not isinstance(hour, (int, float)):
            return repr(hour)
        minutes = round(float(hour) * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return ", ".join(f"{band} {clock(hour)}" for band, hour in hours.items())


def _bands_and_hours(source: DataSource) -> str:
    return f"bands {', '.join(source.bands)}; overpass hours {hours_text(source.overpass_hours())} (local solar)"


def warn_default_hours(source: DataSource) -> None:
    """Log the source's overpass-hour warnings, each once per process (a report or a cross-validation
    trains many runs on the same archive)."""
    for message in source.hours_warnings():
        _warn_once(message)


@functools.cache
def _warn_once(message: str) -> None:
    log.warning(message)


def _required(value, key: str) -> Path:
    if value in (None, "", "???"):
        raise LSTError(f"data.{key} is not set: give it on the command line, e.g. data.{key}=/path/to/...")
    return Path(value)


def synthetic_archive(params: dict, root: Path, progress: bool = True) -> Path:
    """Generate (once) the synthetic archive for these parameters; a folder per distinct setting."""
    params = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in params.items()}
    if params.get("fine_factor") is None:  # not part of the key when unused: existing archives stay valid
        params.pop("fine_factor", None)
    # a generator that would write other data for the same settings gets a new folder, so an archive
    # made before a physics fix is never reused
    params["generator_version"] = synthetic.GENERATOR_VERSION
    if params.get("dem"):
        dem = Path(params["dem"])
        if not dem.is_file():
            raise LSTError(f"data.synthetic.dem: file {dem} does not exist")
        params["dem_sha256"] = hashlib.sha256(dem.read_bytes()).hexdigest()
    key = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:12]
    out = root / f"synth-{key}"
    root.mkdir(parents=True, exist_ok=True)
    options = {k: v for k, v in params.items() if v is not None and k not in ("dem_sha256", "generator_version")}
    options["years"] = tuple(options.get("years", (2020,)))
    options["shape"] = tuple(options.get("shape", synthetic.ISRAEL_SHAPE))
    with build_in_place(out, marker=SYNTH_DONE, what="this synthetic archive", family=SYNTH_NAME) as tmp:
        if tmp is not None:
            log.info(f"generating the synthetic archive {out} (first use only)")
            if options.get("fine_factor"):
                synthetic.generate_fine_archive(tmp, progress=progress, **options)
            else:
                synthetic.generate_archive(tmp, progress=progress, **options)
    return out
