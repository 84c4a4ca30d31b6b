"""From the ``data`` config to a prepared cache: generate the synthetic archive if needed, then
prepare (or reuse) the memmap cache."""
from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

from lst_lightning.data.cache import Cache, prepare_cache
from lst_lightning.data.cache.fs import build_in_place
from lst_lightning.data.features import OPTIONAL_INPUTS
from lst_lightning.data.windows import DEFAULT_K
from lst_lightning.errors import LSTError

log = logging.getLogger(__name__)

SYNTH_DONE = "truth.json"  # written last by generate_archive: the archive is complete
SYNTH_NAME = re.compile(r"synth-[0-9a-f]{12}")  # the directory names of synthetic archives


def resolve_cache(data: dict, progress: bool = True) -> Cache:
    """Return the cache for a ``data`` config (plain dict)."""
    files = input_files(data, progress)
    return prepare_cache(files["lst_dir"], dem=files["dem"], ndvi=files["ndvi"], landcover=files["landcover"],
                         oracle_dir=files["oracle_dir"], k=data.get("k", DEFAULT_K),
                         cache_root=data["cache_root"], hours=data.get("hours"),
                         time_base=data.get("time_base", "auto"), progress=progress)


def input_files(data: dict, progress: bool = True) -> dict[str, Path | None]:
    """The input files of a ``data`` config: lst_dir, dem, ndvi, landcover, oracle_dir (None when
    absent); the synthetic archive is generated first if needed."""
    source = data.get("source")
    if source == "synthetic":
        archive = synthetic_archive(data["synthetic"], Path(data["archive_dir"]), progress)
        return {"lst_dir": archive / "lst", "dem": archive / "dem.tif", "ndvi": archive / "ndvi.tif",
                "landcover": None, "oracle_dir": archive / "oracle"}
    if source == "multi":
        raise LSTError("data=multi holds several archives: this command reads one (give its files with data=custom)")
    if source == "files":
        optional = {key: Path(data[key]) if data.get(key) else None for key in ("ndvi", "landcover", "oracle_dir")}
        return {"lst_dir": _required(data, "lst_dir"), "dem": _required(data, "dem"), **optional}
    raise LSTError(f"data.source must be 'synthetic' or 'files', got {source!r}")


def available_inputs(data: dict) -> set[str]:
    """The optional inputs (features.OPTIONAL_INPUTS) a ``data`` config provides: the synthetic
    archive always has its monthly NDVI; files sources what is configured; several archives
    (data=multi) what every one of them provides."""
    if data.get("source") == "synthetic":
        return {"ndvi"}
    if data.get("source") == "multi":
        return set.intersection(*(available_inputs(a) for a in archive_configs(data).values()))
    return {name for name in OPTIONAL_INPUTS if data.get(name)}


ARCHIVE_KEYS = ("lst_dir", "dem", "ndvi", "landcover", "oracle_dir", "bands", "hours", "time_base")


def archive_configs(data: dict) -> dict[str, dict]:
    """data=multi: each archive's own data config (source files), its settings over the shared ones."""
    archives = data.get("archives")
    if not isinstance(archives, dict) or len(archives) < 2:
        raise LSTError("data.archives: data=multi needs at least two archives, name -> {lst_dir, dem, ...}")
    shared = {k: v for k, v in data.items() if k not in ("archives", "source", "balance")}
    out = {}
    for name, archive in archives.items():
        unknown = sorted(set(archive or {}) - set(ARCHIVE_KEYS))
        if unknown:
            raise LSTError(f"data.archives.{name}: unknown keys {unknown}; an archive takes {list(ARCHIVE_KEYS)}")
        out[str(name)] = {**shared, "ndvi": None, "landcover": None, "oracle_dir": None, **dict(archive),
                          "source": "files"}
    return out


def resolve_caches(data: dict, progress: bool = True) -> dict[str, Cache]:
    """data=multi: each archive's cache (the one a single-archive run over it would use)."""
    out = {}
    for name, archive in archive_configs(data).items():
        try:
            out[name] = resolve_cache(archive, progress)
        except LSTError as err:
            raise LSTError(f"data.archives.{name}: {err}") from None
    return out


def _required(data: dict, key: str) -> Path:
    value = data.get(key)
    if value in (None, "", "???"):
        raise LSTError(f"data.{key} is not set: give it on the command line, e.g. data.{key}=/path/to/...")
    return Path(value)


def synthetic_archive(params: dict, root: Path, progress: bool = True) -> Path:
    """Generate (once) the synthetic archive for these parameters; a folder per distinct setting."""
    from lst_lightning.data.synthetic import GENERATOR_VERSION, ISRAEL_SHAPE, generate_archive, generate_fine_archive

    params = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in params.items()}
    if params.get("fine_factor") is None:  # not part of the key when unused: existing archives stay valid
        params.pop("fine_factor", None)
    # a generator that would write other data for the same settings gets a new folder, so an archive
    # made before a physics fix is never reused
    params["generator_version"] = GENERATOR_VERSION
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
    options["shape"] = tuple(options.get("shape", ISRAEL_SHAPE))
    with build_in_place(out, marker=SYNTH_DONE, what="this synthetic archive", family=SYNTH_NAME) as tmp:
        if tmp is not None:
            log.info(f"generating the synthetic archive {out} (first use only)")
            if options.get("fine_factor"):
                generate_fine_archive(tmp, progress=progress, **options)
            else:
                generate_archive(tmp, progress=progress, **options)
    return out
