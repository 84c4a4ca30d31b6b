"""Which (frame, row, col) samples belong to train / val / test.

* ``random``     every sample drawn at random into a part. Leaky (neighbouring windows overlap,
                 the same date is in every part): kept only to reproduce the original project.
* ``days``       whole dates held out (random dates, contiguous blocks of days, months, or years);
                 day and night frames of one date always stay together.
* ``space``      pixels held out in square blocks; a pixel is a sample of a part only if its whole
                 k x k window (plus an optional buffer) lies in that part's blocks, so no training
                 window overlaps a validation or test window.
* ``space_days`` test = test blocks x test dates, val likewise, train = train blocks x train dates;
                 the mixed combinations are used by none. The default.
* ``given``      a plan written by ``save_plan`` (``split.plan_file``): each part's dates and pixels,
                 e.g. the parts of another scale's split (the scale check); the same guarantees
                 are checked, and a plan that breaks them is refused.

K-fold cross-validation (``folds=K``, ``fold=i``; not for ``random``): the date units and the
spatial blocks are each dealt into K groups by one seeded permutation, the same for every fold, so
fold i's test part is group i's blocks x group i's dates and the K test parts are disjoint. The
validation part is drawn inside the rest (a ``val_fraction`` of all units, per fold), so model
selection never sees a test block or date.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np

from lst_lightning.data.facts.windows import box_sum
from lst_lightning.data.io.writers import atomic_path
from lst_lightning.errors import LSTError

log = logging.getLogger(__name__)
PARTS = ("train", "val", "test")
KINDS = ("random", "days", "space", "space_days", "given")
DAY_MODES = ("random", "blocks", "months", "years")


@dataclass
class SplitPart:
    """One part: its frames, its usable pixels (flat indices into H*W), and for the leaky random
    split the hash bucket a sample must fall in."""

    name: str
    frames: np.ndarray
    pixel_mask: np.ndarray
    bucket: int | None = None
    pixels: np.ndarray = field(init=False)

    def __post_init__(self):
        self.pixels = np.flatnonzero(self.pixel_mask.ravel())


@dataclass
class SplitPlan:
    kind: str
    parts: dict[str, SplitPart]
    fractions: tuple[float, float, float]
    seed: int

    @property
    def leaky(self) -> bool:
        return self.kind == "random"

    def __getitem__(self, name: str) -> SplitPart:
        return self.parts[name]


def make_split(frames_meta: list[dict], shape: tuple[int, int], k: int, *, kind: str = "space_days",
               days: dict | None = None, space: dict | None = None, bands=("night", "day"),
               fractions: tuple[float, float] = (0.15, 0.15), seed: int = 0,
               land: np.ndarray | None = None, folds: int | None = None, fold: int | None = 0,
               plan_file: str | None = None) -> SplitPlan:
    """Plan a split over the usable frames (``n_windows > 0`` and a selected band).

    ``fractions`` = (val, test) for the random split; ``days``/``space`` carry their own.
    ``land`` (bool [H, W], optional): pixels that can hold samples; spatial blocks without any
    are left out of the draw, so the fractions apply to blocks that matter (not the sea).
    """
    if kind not in KINDS:
        raise LSTError(f"split.kind: unknown {kind!r}; choose from {list(KINDS)}")
    days, space = dict(days or {}), dict(space or {})
    usable = np.array([i for i, f in enumerate(frames_meta) if f["n_windows"] > 0 and f["band"] in bands])
    if usable.size == 0:
        raise LSTError(f"no usable frame (with a valid window, bands {list(bands)}) in the cache")
    if kind == "given":
        return _given_plan(plan_file, frames_meta, usable, shape, k, seed, folds)
    cv = _check_folds(kind, folds, fold, seed)
    rng = np.random.default_rng(seed)
    frame_parts = _split_dates(frames_meta, usable, days, rng, cv) if kind in ("days", "space_days") \
        else {p: usable for p in PARTS}
    masks = _split_space(shape, k, space, rng, land, cv) if kind in ("space", "space_days") \
        else {p: _interior(shape, k) for p in PARTS}
    buckets = {p: i for i, p in enumerate(PARTS)} if kind == "random" else {p: None for p in PARTS}
    if kind == "random":
        val, test = (float(x) for x in fractions)
        _check_fractions(val, test, "split.fractions")
        fr = (1 - val - test, val, test)
    else:
        fr = (0.0, 0.0, 0.0)
    plan = SplitPlan(kind, {p: SplitPart(p, frame_parts[p], masks[p], buckets[p]) for p in PARTS}, fr, seed)
    for part in plan.parts.values():
        if part.frames.size == 0 or part.pixels.size == 0:
            raise LSTError(f"split {kind}: part '{part.name}' is empty ({part.frames.size} frames, "
                           f"{part.pixels.size} pixels); adjust the split fractions/blocks or add data")
    return plan


@dataclass(frozen=True)
class Fold:
    """Which fold of a K-fold cross-validation a split is, and the seed of its grouping."""

    folds: int
    fold: int
    seed: int


def _check_folds(kind: str, folds, fold, seed: int) -> Fold | None:
    if folds is None:
        return None
    if kind == "random":
        raise LSTError("split.folds: cross-validation needs held-out dates or blocks (split=days, space or "
                       "space_days), not the leaky random split")
    if isinstance(folds, bool) or int(folds) != folds or folds < 2:
        raise LSTError(f"split.folds must be an integer >= 2 (or null for one split), got {folds!r}")
    if fold is None:
        raise LSTError(f"split.fold is null: one training run is one fold of the {folds}; run them all through "
                       f"train.py (lst_lightning.training.experiment.run_experiment), or give split.fold")
    if isinstance(fold, bool) or int(fold) != fold or not 0 <= fold < folds:
        raise LSTError(f"split.fold must be one of 0..{int(folds) - 1} (split.folds={folds}), got {fold!r}")
    return Fold(int(folds), int(fold), int(seed))


def assign_fold(units: list, cv: Fold, val: float, what: str, salt: int) -> dict:
    """Part (0 train, 1 val, 2 test) of each unit in fold ``cv.fold``: units are dealt into
    ``cv.folds`` groups by a permutation that depends only on the seed; the fold's group is test, and
    a ``val`` fraction of all units (at least one) is drawn from the others for validation."""
    n = len(units)
    check_unit_count(n, cv.folds, what)
    if n // cv.folds < 2:  # one block or date group per test part: its figure is one place or time
        log.warning(f"split.folds={cv.folds}: each fold tests on only {n // cv.folds} of the {n} {what}; "
                    f"consider fewer folds or smaller {what.split(' (')[0]}")
    group = np.empty(n, dtype=int)
    group[np.random.default_rng([cv.seed, salt]).permutation(n)] = np.arange(n) % cv.folds
    rest = np.flatnonzero(group != cv.fold)
    n_val = min(max(1, int(round(val * n))), rest.size - 1)
    part = np.zeros(n, dtype=int)
    part[group == cv.fold] = 2
    part[np.random.default_rng([cv.seed, salt, cv.fold]).choice(rest, n_val, replace=False)] = 1
    return {u: int(part[i]) for i, u in enumerate(units)}


def check_unit_count(n: int, folds: int, what: str, at_most: bool = False) -> None:
    """K folds need K test groups plus validation: at least K + 1 units (dates or blocks)."""
    if n < folds + 1:
        raise LSTError(f"split.folds={folds}: {'at most ' if at_most else 'only '}{n} {what} to deal into {folds} "
                       f"test groups plus validation; lower split.folds or make the {what} smaller")


def check_fold_counts(split: dict, dates: list[dt.date], shape: tuple[int, int] | None) -> None:
    """What a K-fold split needs that the archive's scan already tells, before any cache exists:
    enough date groups (of the archive's dates in the run's bands) and spatial blocks (of its grid:
    blocks without land, unknown yet, only make fewer), with the message the split would give."""
    folds, kind = split.get("folds"), split.get("kind")
    if folds is None or kind not in ("days", "space", "space_days"):
        return
    if kind in ("days", "space_days"):
        days = split.get("days") or {}
        mode = days.get("mode", "random")
        units = set(_date_units(sorted(set(dates)), mode, int(days.get("block_days", 30))))
        check_unit_count(len(units), int(folds), f"date groups (mode={mode})", at_most=True)
    if kind in ("space", "space_days") and shape is not None:
        block = int((split.get("space") or {}).get("block_px", 32))
        if block >= 1:
            blocks = -(-shape[0] // block) * -(-shape[1] // block)
            check_unit_count(blocks, int(folds), f"spatial blocks (split.space.block_px={block})", at_most=True)


def _check_fractions(val: float, test: float, where: str) -> None:
    if not (0 < val < 1 and 0 < test < 1 and val + test < 1):
        raise LSTError(f"{where}: val and test fractions must be in (0, 1) and sum below 1, got {val}, {test}")


# ---------------------------------------------------------------- a given plan

def save_plan(path, dates: dict[str, list[str]], masks: dict[str, np.ndarray]) -> None:
    """Write a plan for ``split=given``: per part, its dates (ISO) and its usable pixels (bool [H, W])."""
    arrays = {f"{p}_dates": np.asarray(sorted(dates[p]), dtype="U10") for p in PARTS}
    arrays.update({f"{p}_pixels": np.asarray(masks[p], dtype=bool) for p in PARTS})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def _given_plan(plan_file, frames_meta: list[dict], usable: np.ndarray, shape, k: int, seed: int,
                folds) -> SplitPlan:
    where = f"split.plan_file={plan_file}"
    if not plan_file:
        raise LSTError("split.kind=given needs split.plan_file (a plan written by splits.save_plan)")
    if folds:
        raise LSTError(f"{where}: a given plan is one split; leave split.folds null")
    try:
        with np.load(plan_file) as npz:
            saved = {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as err:
        raise LSTError(f"{where}: cannot read the plan ({err})") from None
    missing = [f"{p}_{x}" for p in PARTS for x in ("dates", "pixels") if f"{p}_{x}" not in saved]
    if missing:
        raise LSTError(f"{where}: not a split plan (no {', '.join(missing)})")
    parts = {}
    for p in PARTS:
        mask = saved[f"{p}_pixels"]
        if mask.shape != tuple(shape):
            raise LSTError(f"{where}: its pixel masks are {mask.shape[0]}x{mask.shape[1]}, the grid is "
                           f"{shape[0]}x{shape[1]}")
        dates = set(str(d) for d in saved[f"{p}_dates"])
        parts[p] = SplitPart(p, np.array([i for i in usable if frames_meta[i]["date"] in dates], dtype=np.int64),
                             mask & _interior(shape, k))
    plan = SplitPlan("given", parts, (0.0, 0.0, 0.0), seed)
    try:
        check_guarantees(plan, frames_meta, k)
    except AssertionError as err:
        raise LSTError(f"{where}: {err}") from None
    for part in parts.values():
        if part.frames.size == 0 or part.pixels.size == 0:
            raise LSTError(f"{where}: part '{part.name}' is empty here ({part.frames.size} usable frames, "
                           f"{part.pixels.size} pixels)")
    return plan


# ---------------------------------------------------------------- dates

def _date_units(dates: list[dt.date], mode: str, block_days: int) -> list:
    if mode == "random":
        return dates
    if mode == "blocks":
        if block_days < 1:
            raise LSTError(f"split.days.block_days must be >= 1, got {block_days}")
        return [d.toordinal() // block_days for d in dates]
    if mode == "months":
        return [(d.year, d.month) for d in dates]
    return [d.year for d in dates]


def _split_dates(frames_meta: list[dict], usable: np.ndarray, cfg: dict, rng,
                 cv: Fold | None = None) -> dict[str, np.ndarray]:
    mode = cfg.get("mode", "random")
    if mode not in DAY_MODES:
        raise LSTError(f"split.days.mode: unknown {mode!r}; choose from {list(DAY_MODES)}")
    dates = [dt.date.fromisoformat(frames_meta[i]["date"]) for i in usable]
    units = _date_units(dates, mode, int(cfg.get("block_days", 30)))
    unique = sorted(set(units))
    if cv is not None:
        assign = assign_fold(unique, cv, float(cfg.get("val_fraction", 0.15)), f"date groups (mode={mode})", 1)
    elif mode == "years" and cfg.get("test_years"):
        assign = _assign_years(unique, cfg)
    else:
        val, test = float(cfg.get("val_fraction", 0.15)), float(cfg.get("test_fraction", 0.15))
        _check_fractions(val, test, "split.days")
        assign = _assign_units(unique, val, test, rng)
    part_of = np.array([assign[u] for u in units])
    return {p: usable[part_of == i] for i, p in enumerate(PARTS)}


def _assign_years(years: list[int], cfg: dict) -> dict:
    test = {int(y) for y in cfg.get("test_years") or []}
    val = {int(y) for y in cfg.get("val_years") or []}
    missing = sorted((test | val) - set(years))
    if missing:
        raise LSTError(f"split.days: years {missing} are not in the data (years present: {years})")
    if test & val:
        raise LSTError(f"split.days: years {sorted(test & val)} are both val_years and test_years")
    return {y: 2 if y in test else 1 if y in val else 0 for y in years}


def _assign_units(units: list, val: float, test: float, rng) -> dict:
    """Shuffle units and cut by fraction; every part gets at least one unit when possible."""
    n = len(units)
    order = rng.permutation(n)
    n_test = max(1, int(round(test * n))) if n >= 3 else 0
    n_val = max(1, int(round(val * n))) if n >= 3 else 0
    part = np.zeros(n, dtype=int)
    part[order[:n_test]] = 2
    part[order[n_test:n_test + n_val]] = 1
    return {u: int(part[i]) for i, u in enumerate(units)}


# ---------------------------------------------------------------- space

def _interior(shape: tuple[int, int], k: int) -> np.ndarray:
    r = k // 2
    mask = np.zeros(shape, dtype=bool)
    mask[r:shape[0] - r, r:shape[1] - r] = True
    return mask


def block_labels(shape: tuple[int, int], block_px: int, val: float, test: float, rng,
                 land: np.ndarray | None = None, cv: Fold | None = None) -> np.ndarray:
    """Part index (0 train, 1 val, 2 test) of every pixel, constant over block_px squares.
    Blocks without land are not drawn (they hold no sample) and stay in train."""
    if block_px < 1:
        raise LSTError(f"split.space.block_px must be >= 1, got {block_px}")
    nb_r, nb_c = -(-shape[0] // block_px), -(-shape[1] // block_px)
    if land is None:
        drawn = np.arange(nb_r * nb_c)
    else:
        padded = np.zeros((nb_r * block_px, nb_c * block_px), dtype=bool)
        padded[:shape[0], :shape[1]] = land
        drawn = np.flatnonzero(padded.reshape(nb_r, block_px, nb_c, block_px).any(axis=(1, 3)))
    if cv is None:
        assign = _assign_units(list(drawn), val, test, rng)
    else:
        assign = assign_fold(list(drawn), cv, val, f"spatial blocks (split.space.block_px={block_px})", 2)
    blocks = np.zeros(nb_r * nb_c, dtype=int)
    blocks[drawn] = [assign[i] for i in drawn]
    blocks = blocks.reshape(nb_r, nb_c)
    return np.repeat(np.repeat(blocks, block_px, 0), block_px, 1)[:shape[0], :shape[1]]


def _split_space(shape: tuple[int, int], k: int, cfg: dict, rng, land=None,
                 cv: Fold | None = None) -> dict[str, np.ndarray]:
    val, test = float(cfg.get("val_fraction", 0.15)), float(cfg.get("test_fraction", 0.15))
    _check_fractions(val, test, "split.space")
    buffer_px = int(cfg.get("buffer_px", 0))
    if buffer_px < 0:
        raise LSTError(f"split.space.buffer_px must be >= 0, got {buffer_px}")
    labels = block_labels(shape, int(cfg.get("block_px", 32)), val, test, rng, land, cv)
    # A pixel is usable for its part when every pixel within k//2 + buffer lies in the same part:
    # then its window sits inside its own part's blocks and cannot overlap another part's window.
    reach = 2 * (k // 2 + buffer_px) + 1
    return {p: fully_inside(labels == i, reach) for i, p in enumerate(PARTS)}


def fully_inside(region: np.ndarray, reach: int) -> np.ndarray:
    """Pixels whose reach x reach neighbourhood lies entirely in ``region``."""
    inside = np.zeros(region.shape, dtype=bool)
    if min(region.shape) < reach:
        return inside
    r = reach // 2
    inside[r:region.shape[0] - r, r:region.shape[1] - r] = box_sum(region, reach) == reach * reach
    return inside


# ---------------------------------------------------------------- guarantees and counts

def sample_bucket(frame: np.ndarray, flat_pixel: np.ndarray, n_pixels: int, seed: int,
                  fractions: tuple[float, float, float]) -> np.ndarray:
    """Leaky random split: a fixed pseudo-random part for each (frame, pixel), by hashing."""
    x = ((frame.astype(np.uint64) * np.uint64(n_pixels) + flat_pixel.astype(np.uint64))
         ^ np.uint64(seed * 0x9E3779B9 + 1))
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    u = (x >> np.uint64(11)).astype(np.float64) / float(2 ** 53)
    return np.searchsorted(np.cumsum(fractions)[:-1], u, side="right")


def check_guarantees(plan: SplitPlan, frames_meta: list[dict], k: int) -> None:
    """Raise if a date is in two parts or two parts' windows could overlap (never for `random`)."""
    if plan.leaky:
        return
    if plan.kind in ("days", "space_days", "given"):
        dates = {p: {frames_meta[i]["date"] for i in plan[p].frames} for p in PARTS}
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = dates[a] & dates[b]
            if shared:
                raise AssertionError(f"split {plan.kind}: dates {sorted(shared)[:3]} are in both {a} and {b}")
    if plan.kind in ("space", "space_days", "given", "sites"):
        # the footprint of a part = union of its samples' windows; footprints must be disjoint
        feet = [box_sum(np.pad(plan[p].pixel_mask, k // 2), k) > 0 for p in PARTS]
        for i in range(3):
            for j in range(i + 1, 3):
                if np.any(feet[i] & feet[j]):
                    raise AssertionError(f"split {plan.kind}: windows of {PARTS[i]} and {PARTS[j]} overlap")
