"""Several archives in one run (``data=multi``): each archive keeps its own cache, grid, bands and
overpass hours, and its own LSTDataModule; this module pools them.

A sample of the pool is (frame, row, col) with ``frame`` a *global* frame index: archive a's frames
are numbered from ``offsets[a]``, its rows and columns are its own grid's. ``MultiGatherer`` gathers
a mixed batch archive by archive (from each memmap cache, no copies of the caches) and puts the rows
back in order, so everything downstream (networks, baselines, metrics per band) sees one stream.

Training batches hold each archive's share in fixed proportions (``data.balance``: ``samples``, in
proportion to the archives' training samples, or ``equal``), drawn inside each archive's train part.
Splits apply within each archive (``split=space_days`` etc.), or across them (``split=sites``: one
archive held out whole as the test part; the others split by blocks into train and validation).
"""
from __future__ import annotations

import numpy as np
from torch.utils.data import DataLoader

from lst_lightning.data.loading.datamodule import EvalStream, SampleData, SplitSummary, TrainStream, epoch_batches
from lst_lightning.data.loading.gatherer import FeatureGatherer, Gatherer, to_torch
from lst_lightning.data.loading.prefetch import check_prefetch
from lst_lightning.data.loading.sampling import draw_samples, drawn_part, proportional
from lst_lightning.data.loading.scaling import input_bounds
from lst_lightning.data.loading.splits import PARTS, SplitPart, SplitPlan, fully_inside
from lst_lightning.errors import LSTError

BALANCES = ("samples", "equal")


class MultiGatherer(Gatherer):
    """The gatherer of several archives (global frame indices): each archive's ``FeatureGatherer``
    reads its own samples, and the rows are put back in order."""

    def __init__(self, gatherers: list[FeatureGatherer], names: list[str]):
        self.parts, self.names = gatherers, list(names)
        self.offsets = np.cumsum([0] + [len(g.frames) for g in gatherers])
        self.layout = gatherers[0].layout
        self.frames = [f for g in gatherers for f in g.frames]
        self.band_index = np.concatenate([g.band_index for g in gatherers])
        self.month = np.concatenate([g.month for g in gatherers])
        self.bounds: dict[int, tuple[np.ndarray, ...]] = {}  # archive -> clamp bounds (clip_to_training)

    def clip_to_training(self, a: int, scalars: np.ndarray, patch: np.ndarray, clip: float) -> None:
        """Clamp archive ``a``'s inputs to ITS training quantiles ``clip``, ``1 - clip`` (``scalars``,
        ``patch``: its training samples) from now on. Why: a network's scaler clamps to the pool's
        range, which a small archive's held-out dates fall inside of while being outside its own
        (pooled real sites without this: stpetersburg 8.4 % MSE improvement instead of 11.1, docs/data.md)."""
        b = input_bounds(scalars, patch, clip)
        self.bounds[a] = (b["scalar_lo"], b["scalar_hi"], b["patch_lo"][:, None, None], b["patch_hi"][:, None, None])

    def archive_of(self, frame: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.offsets, np.asarray(frame), side="right") - 1

    def _each(self, f, r, c, read) -> list[tuple[np.ndarray, dict | np.ndarray]]:
        """(rows, ``read(archive, its gatherer, f, r, c)``) for each archive among the samples."""
        f, r, c = np.asarray(f), np.asarray(r), np.asarray(c)
        which = self.archive_of(f)
        return [(which == a, read(a, self.parts[a], f[which == a] - self.offsets[a], r[which == a], c[which == a]))
                for a in np.unique(which)]

    def valid(self, f, r, c) -> np.ndarray:
        out = np.zeros(np.shape(f), dtype=bool)
        for sel, values in self._each(f, r, c, lambda a, g, *index: g.valid(*index)):
            out[sel] = values
        return out

    def observed(self, f, r, c) -> np.ndarray:
        out = np.zeros(np.shape(f), dtype=bool)
        for sel, values in self._each(f, r, c, lambda a, g, *index: g.observed(*index)):
            out[sel] = values
        return out

    def gather(self, f: np.ndarray, r: np.ndarray, c: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for sel, part in self._each(f, r, c, self._gather_one):
            part["frame"] = np.asarray(f)[sel]
            for key, values in part.items():
                if key not in out:
                    out[key] = np.empty((np.size(f), *values.shape[1:]), dtype=values.dtype)
                out[key][sel] = values
        return out

    def _gather_one(self, a: int, gatherer: FeatureGatherer, f, r, c) -> dict:
        part = gatherer.gather(f, r, c)
        if a in self.bounds:
            slo, shi, plo, phi = self.bounds[a]
            part["scalars"], part["patch"] = np.clip(part["scalars"], slo, shi), np.clip(part["patch"], plo, phi)
        return part


class MultiTrainStream(TrainStream):
    """TrainStream over several archives: every batch holds ``quota[a]`` samples of archive a."""

    def __init__(self, modules: list, gatherer: MultiGatherer, quota: np.ndarray, batches: int, seed: int,
                 epoch: int = 0, prefetch: int = 0):
        super().__init__(gatherer, None, int(quota.sum()), batches, seed, epoch=epoch, prefetch=prefetch)
        self.modules, self.quota = modules, quota

    def _batches(self):
        rng, shard, shards, steps = self._epoch()
        live = [a for a, q in enumerate(self.quota) if q > 0]
        parts = {a: drawn_part(self.modules[a].gatherer, self.modules[a].plan["train"], shard, shards)
                 for a in live}
        for _ in steps:
            index = {a: draw_samples(self.modules[a].gatherer, self.modules[a].plan, parts[a], int(self.quota[a]),
                                     rng, self.modules[a].train_observed_only) for a in live}
            f = np.concatenate([index[a][0] + self.gatherer.offsets[a] for a in live])
            r, c = (np.concatenate([index[a][i] for a in live]) for i in (1, 2))
            yield to_torch(self.gatherer.gather(f, r, c))


def sites_plans(modules: dict, held_out: str) -> None:
    """split=sites: the held-out archive's every usable sample is test; each other archive's own
    (space) split becomes train (its train and test blocks) and validation (its val blocks)."""
    for name, dm in modules.items():
        try:
            dm.setup()
        except LSTError as err:
            raise LSTError(f"data.archives.{name}: {err}") from None
        plan = dm.plan
        if name == held_out:
            interior = fully_inside(np.ones(plan["test"].pixel_mask.shape, bool), dm.cache.k)
            usable = np.unique(np.concatenate([plan[p].frames for p in PARTS]))
            none = SplitPart("train", np.zeros(0, np.int64), np.zeros_like(interior))
            parts = {"train": none, "val": SplitPart("val", none.frames, none.pixel_mask),
                     "test": SplitPart("test", usable, interior)}
        else:
            empty = SplitPart("test", np.zeros(0, np.int64), np.zeros_like(plan["test"].pixel_mask))
            train = SplitPart("train", np.union1d(plan["train"].frames, plan["test"].frames),
                              plan["train"].pixel_mask | plan["test"].pixel_mask)
            parts = {"train": train, "val": plan["val"], "test": empty}
        dm.use_plan(SplitPlan("sites", parts, plan.fractions, plan.seed))


class MultiDataModule(SampleData):
    """The pool of several archives' data modules (``modules``: name -> LSTDataModule)."""

    def __init__(self, modules: dict, balance: str = "samples", held_out: str | None = None,
                 batch_size: int = 1024, eval_batch_size: int = 8192, samples_per_epoch: int = 100_000,
                 scaler_samples: int = 50_000, seed: int = 0, epoch_passes: float | None = None,
                 clip: float | None = None, prefetch: int = 0):
        super().__init__()
        if balance not in BALANCES:
            raise LSTError(f"data.balance: unknown {balance!r}; choose from {list(BALANCES)}")
        if held_out is not None and held_out not in modules:
            raise LSTError(f"split: the held-out site {held_out!r} is not among data.archives {list(modules)}")
        self.modules, self.names = modules, list(modules)
        self.balance, self.held_out = balance, held_out
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.samples_per_epoch, self.scaler_samples, self.seed = int(samples_per_epoch), int(scaler_samples), seed
        self.epoch_passes, self.clip, self.prefetch = epoch_passes, clip, check_prefetch(prefetch)
        self.layout = next(iter(modules.values())).layout
        self.gatherer: MultiGatherer | None = None
        self.summary: SplitSummary | None = None
        self._train_stream, self._train_epoch = None, 0

    def setup(self, stage: str | None = None) -> None:
        if self.gatherer is not None:
            return
        if self.held_out is not None:
            sites_plans(self.modules, self.held_out)
        for name, dm in self.modules.items():
            try:
                dm.setup()
            except LSTError as err:
                raise LSTError(f"data.archives.{name}: {err}") from None
        dms = list(self.modules.values())
        self.gatherer = MultiGatherer([dm.gatherer for dm in dms], self.names)
        self.offsets = self.gatherer.offsets
        s = [dm.summary for dm in dms]
        self.summary = SplitSummary(
            kind=s[0].kind, leaky=any(x.leaky for x in s),
            **{key: {p: sum(getattr(x, key)[p] for x in s) for p in PARTS}
               for key in ("frames", "pixels", "samples")},
            estimated={p: any(x.estimated[p] for x in s) for p in PARTS},
            eval_samples={p: sum(x.eval_samples[p] for x in s) for p in ("val", "test")})
        if self.clip is not None:
            self._clip_archives()

    def _clip_archives(self) -> None:
        """model.clip_inputs under data=multi: each archive with a training part clamped to its own
        training range (the held-out site of split=sites has none: the pool's range applies)."""
        for a, dm in enumerate(self.modules.values()):
            if dm.summary.samples["train"] > 0:
                rng = np.random.default_rng([self.seed, 7, a])
                batch = dm.gatherer.gather(*dm.draw_train(self.scaler_samples, rng))
                self.gatherer.clip_to_training(a, batch["scalars"], batch["patch"], float(self.clip))

    @property
    def sites(self) -> dict[str, SplitSummary]:
        self.setup()
        return {name: dm.summary for name, dm in self.modules.items()}

    def quota(self, n: int) -> np.ndarray:
        """Samples of each archive among ``n`` (largest remainder; 0 for archives without training part)."""
        train = np.array([dm.summary.samples["train"] for dm in self.modules.values()], dtype=np.float64)
        weights = train if self.balance == "samples" else (train > 0).astype(np.float64)
        if weights.sum() == 0:
            raise LSTError("data=multi: no archive has training samples")
        return np.asarray(proportional(weights / weights.sum() * 1e9, n), dtype=np.int64)

    def draw_train(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.setup()
        quota, dms = self.quota(n), list(self.modules.values())
        out = {a: dms[a].draw_train(int(q), rng) for a, q in enumerate(quota) if q > 0}
        return (np.concatenate([o[0] + self.offsets[a] for a, o in out.items()]),
                np.concatenate([o[1] for o in out.values()]), np.concatenate([o[2] for o in out.values()]))

    def eval_index(self, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.setup()
        index = [dm.eval_index(part) for dm in self.modules.values()]
        return (np.concatenate([i[0] + self.offsets[a] for a, i in enumerate(index)]),
                np.concatenate([i[1] for i in index]), np.concatenate([i[2] for i in index]))

    @property
    def batch_thread(self) -> bool:
        return bool(self.prefetch)

    def _loader(self, dataset) -> DataLoader:
        return DataLoader(dataset, batch_size=None, num_workers=0)

    def train_dataloader(self) -> DataLoader:
        batches = epoch_batches(self.samples_per_epoch, self.batch_size, self.summary.samples["train"],
                                self.epoch_passes)
        self._train_stream = MultiTrainStream(list(self.modules.values()), self.gatherer, self.quota(self.batch_size),
                                              batches, self.seed, self._train_epoch, self.prefetch)
        return self._loader(self._train_stream)

    def val_dataloader(self) -> DataLoader:
        return self._loader(EvalStream(self.gatherer, self.eval_index("val"), self.eval_batch_size))

    def test_dataloader(self) -> DataLoader:
        return self._loader(EvalStream(self.gatherer, self.eval_index("test"), self.eval_batch_size))

    def state_dict(self) -> dict:
        return {"train_epoch": self._train_stream.epoch if self._train_stream else self._train_epoch}

    def load_state_dict(self, state: dict) -> None:
        self._train_epoch = int(state.get("train_epoch", 0))
