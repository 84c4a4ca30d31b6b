"""The data modules: ``SampleData`` is what training, baselines and evaluation rely on;
``LSTDataModule`` streams batches of (frame, row, col) samples gathered from one archive's memmap
cache (data/loading/multi.py ``MultiDataModule``: several archives)."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import lightning.pytorch as L
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from lst_lightning.data.cache import Cache
from lst_lightning.data.loading.gatherer import FeatureGatherer, Gatherer, to_torch
from lst_lightning.data.loading.prefetch import check_prefetch, prefetched
from lst_lightning.data.loading.sampling import count_samples, draw_samples, drawn_part, eval_indices
from lst_lightning.data.loading.splits import PARTS, SplitPlan, check_guarantees, make_split
from lst_lightning.errors import LSTError
from lst_lightning.features import FeatureLayout


def _readers() -> tuple[int, int, int, int]:
    """(rank, world size, worker, workers): this reader among the DDP ranks and its DataLoader's workers."""
    rank, world = 0, 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    info = get_worker_info()
    workers, worker = (info.num_workers, info.id) if info else (1, 0)
    return rank, world, worker, workers


class TrainStream(IterableDataset):
    """``batches`` random batches per epoch, split over ranks and workers, fresh draws each epoch.

    Every rank yields ``len(self)`` batches, the same count (DDP ranks step in lockstep: an extra
    step on one rank would wait forever for the others' gradients); its workers share them out."""

    def __init__(self, gatherer: Gatherer, plan: SplitPlan, batch_size: int, batches: int,
                 seed: int, observed_only: bool = False, epoch: int = 0, prefetch: int = 0):
        self.gatherer, self.plan, self.batch_size, self.batches = gatherer, plan, batch_size, batches
        self.seed, self.observed_only, self.epoch, self.prefetch = seed, observed_only, epoch, prefetch

    def __len__(self) -> int:
        return math.ceil(self.batches / _readers()[1])

    def _epoch(self) -> tuple[np.random.Generator, int, int, range]:
        """This reader's (generator, shard, shards, steps) for a new epoch."""
        rank, world, worker, workers = _readers()
        shard = rank * workers + worker
        info = get_worker_info()
        # worker processes get a new base seed from torch every epoch; the main process counts
        epoch_key = info.seed if info else self.epoch
        self.epoch += 1
        rng = np.random.default_rng([self.seed, epoch_key % (2 ** 63), shard])
        return rng, shard, world * workers, range(worker, math.ceil(self.batches / world), workers)

    def __iter__(self):
        """This epoch's batches; in the main process made ``prefetch`` batches ahead by a thread
        (data/loading/prefetch.py: the same batches; DataLoader workers already run ahead)."""
        batches = self._batches()
        return prefetched(batches, self.prefetch) if self.prefetch and get_worker_info() is None else batches

    def _batches(self):
        rng, shard, shards, steps = self._epoch()
        part = drawn_part(self.gatherer, self.plan["train"], shard, shards)
        for _ in steps:
            f, r, c = draw_samples(self.gatherer, self.plan, part, self.batch_size, rng, self.observed_only)
            yield to_torch(self.gatherer.gather(f, r, c))


class EvalStream(IterableDataset):
    """A fixed index list in batches; each sample is visited exactly once across ranks/workers.

    Rank r takes samples r, r + world, ...: every rank gets a share (a rank without batches would
    stop Lightning), and ``len(self)`` is exactly its batch count, which its workers share out."""

    def __init__(self, gatherer: Gatherer, index: tuple[np.ndarray, np.ndarray, np.ndarray], batch_size: int):
        self.gatherer, self.index, self.batch_size = gatherer, index, batch_size

    def _rank_index(self, rank: int, world: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(a[rank::world] for a in self.index)

    def __len__(self) -> int:
        rank, world, _, _ = _readers()
        return math.ceil(self._rank_index(rank, world)[0].size / self.batch_size)

    def __iter__(self):
        rank, world, worker, workers = _readers()
        f, r, c = self._rank_index(rank, world)
        for b in range(worker, math.ceil(f.size / self.batch_size), workers):
            s = slice(b * self.batch_size, (b + 1) * self.batch_size)
            yield to_torch(self.gatherer.gather(f[s], r[s], c[s]))


@dataclass
class SplitSummary:
    kind: str
    leaky: bool
    frames: dict[str, int]
    pixels: dict[str, int]
    samples: dict[str, int]
    estimated: dict[str, bool]
    eval_samples: dict[str, int]

    def as_metrics(self) -> dict[str, float]:
        out = {}
        for p in PARTS:
            out[f"split/{p}_samples"] = float(self.samples[p])
            out[f"split/{p}_frames"] = float(self.frames[p])
            out[f"split/{p}_pixels"] = float(self.pixels[p])
        return out


def epoch_batches(samples_per_epoch: int, batch_size: int, train_samples: int, passes: float | None) -> int:
    """Batches per training epoch: ``samples_per_epoch`` samples, but at most ``passes`` times the
    train part's size. On a small archive (tens of thousands of training samples) a fixed 100 000
    per epoch is many passes over the same pixels, and the networks overfit them."""
    n = int(samples_per_epoch)
    if passes is not None:
        if not float(passes) > 0:
            raise LSTError(f"data.loader.epoch_passes: must be > 0 (or null for no limit), got {passes}")
        n = min(n, int(float(passes) * train_samples))
    return max(1, n // int(batch_size))


def land(cache: Cache, n_frames: int = 16) -> np.ndarray:
    """Pixels with a valid window in any of a few frames spread over the archive."""
    usable = np.flatnonzero(cache.n_windows > 0)
    if usable.size == 0:
        return np.zeros(cache.grid.shape, dtype=bool)
    pick = usable[np.linspace(0, usable.size - 1, min(n_frames, usable.size)).astype(int)]
    return np.isfinite(cache.window_mean[np.sort(pick)]).any(axis=0)


def plan_split(cache: Cache, split: dict, bands, seed: int) -> SplitPlan:
    """The split ``split`` (a split config) of ``cache``'s frames of ``bands`` and pixels."""
    return make_split(cache.meta["frames"], cache.grid.shape, cache.k, kind=split.get("kind", "space_days"),
                      days=split.get("days"), space=split.get("space"), bands=tuple(bands),
                      fractions=tuple(split.get("fractions", (0.15, 0.15))), seed=int(split.get("seed", seed)),
                      land=land(cache), folds=split.get("folds"), fold=split.get("fold"),
                      plan_file=split.get("plan_file"))


def held_out_samples(cache: Cache, split: dict, bands, seed: int) -> dict[str, int]:
    """The valid samples of the validation and test parts of a split: what a cross-validation checks
    for every fold before the first one trains (an empty part would stop it half-way)."""
    plan = plan_split(cache, split, bands, seed)
    gatherer = FeatureGatherer(cache, FeatureLayout(k=cache.k, groups=("lst_mean",)))
    return {p: count_samples(gatherer, plan, plan[p])[0] for p in ("val", "test")}


class SampleData(L.LightningDataModule, ABC):
    """What a run needs of its data, one archive or several: the layout and gatherer, the split's
    summary, fixed evaluation sets and training draws. ``sites``: each archive's split summary by
    name when several are pooled (data=multi), empty for one archive."""

    layout: FeatureLayout
    gatherer: Gatherer | None
    summary: "SplitSummary | None"
    eval_batch_size: int
    scaler_samples: int
    seed: int

    @property
    def sites(self) -> dict[str, "SplitSummary"]:
        return {}

    @property
    def batch_thread(self) -> bool:
        """Whether a background thread makes the training batches (data.loader.prefetch)."""
        return False

    @abstractmethod
    def eval_index(self, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fixed evaluation samples (frame, row, col) of ``part`` (val or test)."""

    @abstractmethod
    def draw_train(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` random training samples (frame, row, col): the scaler's and the baselines' draws."""

    def scaler_batch(self) -> dict:
        """A seeded random set of TRAINING samples, gathered: what the scaler (and the loss's band
        weights) are fitted on."""
        self.setup()
        return self.gatherer.gather(*self.draw_train(self.scaler_samples, np.random.default_rng([self.seed, 7])))

    def scaler_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Features of ``scaler_batch``, to fit the scaler on."""
        batch = self.scaler_batch()
        return batch["scalars"], batch["patch"]


class LSTDataModule(SampleData):
    def __init__(self, cache: Cache, layout: FeatureLayout, split: dict, bands=("night", "day"),
                 batch_size: int = 1024, eval_batch_size: int = 8192, samples_per_epoch: int = 100_000,
                 eval_samples: int = 100_000, num_workers: int = 0, pin_memory: bool = False,
                 train_observed_only: bool = False, scaler_samples: int = 50_000, seed: int = 0,
                 device_resident: bool = False, epoch_passes: float | None = None, prefetch: int = 0):
        super().__init__()
        self.cache, self.layout, self.split_cfg, self.bands = cache, layout, dict(split), tuple(bands)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.samples_per_epoch, self.eval_samples = int(samples_per_epoch), int(eval_samples)
        self.epoch_passes = epoch_passes
        self.num_workers, self.pin_memory = int(num_workers), bool(pin_memory)
        self.prefetch = check_prefetch(prefetch)
        self.train_observed_only, self.scaler_samples, self.seed = train_observed_only, scaler_samples, seed
        self.plan: SplitPlan | None = None
        self.gatherer = FeatureGatherer(cache, layout)  # checks the cache gives every group
        self.summary: SplitSummary | None = None
        self._eval: dict[str, tuple] = {}
        self.device_resident, self._device_gatherer = bool(device_resident), None
        self._train_stream: TrainStream | None = None
        self._train_epoch = 0  # epochs drawn so far: restored from a checkpoint when resuming

    def setup(self, stage: str | None = None) -> None:
        if self.plan is None:
            self.use_plan(plan_split(self.cache, self.split_cfg, self.bands, self.seed))

    def use_plan(self, plan: SplitPlan) -> None:
        """Take ``plan`` as this module's split (checked), with its fixed evaluation sets; a part
        without samples (a site held out whole, a training site's unused test part) gets none."""
        check_guarantees(plan, self.cache.meta["frames"], self.cache.k)
        self.plan = plan
        empty = (np.zeros(0, np.int64),) * 3
        for part in ("val", "test"):
            has = plan[part].frames.size and plan[part].pixels.size
            self._eval[part] = (eval_indices(self.gatherer, plan, plan[part], self.eval_samples,
                                             seed=self.seed + (1 if part == "val" else 2)) if has else empty)
        counts = {p: count_samples(self.gatherer, plan, plan[p]) for p in PARTS}
        self.summary = SplitSummary(
            kind=plan.kind, leaky=plan.leaky,
            frames={p: int(plan[p].frames.size) for p in PARTS},
            pixels={p: int(plan[p].pixels.size) for p in PARTS},
            samples={p: counts[p][0] for p in PARTS}, estimated={p: counts[p][1] for p in PARTS},
            eval_samples={p: int(self._eval[p][0].size) for p in ("val", "test")})

    @property
    def batch_thread(self) -> bool:
        return bool(self.prefetch) and self.num_workers == 0 and not self.device_resident

    def draw_train(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` random training samples (frame, row, col): the scaler's and the baselines' draws."""
        self.setup()
        part = drawn_part(self.gatherer, self.plan["train"])
        return draw_samples(self.gatherer, self.plan, part, n, rng, self.train_observed_only)

    def batch_gatherer(self):
        """Where batches are gathered: the host memmaps, or (device_resident) the training device."""
        if not self.device_resident:
            return self.gatherer
        if self._device_gatherer is None:
            trainer = self.trainer  # set by Lightning when this module is fitted; None when used alone
            device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
            self._device_gatherer = self.gatherer.on(device)
        return self._device_gatherer

    def _loader(self, dataset: IterableDataset) -> DataLoader:
        if self.device_resident:  # batches are born on the device: no workers, nothing to pin
            return DataLoader(dataset, batch_size=None, num_workers=0)
        return DataLoader(dataset, batch_size=None, num_workers=self.num_workers, pin_memory=self.pin_memory,
                          persistent_workers=False)

    def train_dataloader(self) -> DataLoader:
        batches = epoch_batches(self.samples_per_epoch, self.batch_size, self.summary.samples["train"],
                                self.epoch_passes)
        self._train_stream = TrainStream(self.batch_gatherer(), self.plan, self.batch_size, batches, self.seed,
                                         self.train_observed_only, epoch=self._train_epoch,
                                         prefetch=self.prefetch if self.batch_thread else 0)
        return self._loader(self._train_stream)

    # Saved in checkpoints: a run resumed with ckpt_path=last draws the batches the uninterrupted
    # run would have drawn (in the main process; DataLoader workers draw from torch's worker seeds).
    def state_dict(self) -> dict:
        return {"train_epoch": self._train_stream.epoch if self._train_stream else self._train_epoch}

    def load_state_dict(self, state: dict) -> None:
        self._train_epoch = int(state.get("train_epoch", 0))
        if self._train_stream is not None:
            self._train_stream.epoch = self._train_epoch

    def val_dataloader(self) -> DataLoader:
        return self._loader(EvalStream(self.batch_gatherer(), self._eval["val"], self.eval_batch_size))

    def test_dataloader(self) -> DataLoader:
        return self._loader(EvalStream(self.batch_gatherer(), self._eval["test"], self.eval_batch_size))

    def eval_index(self, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.setup()
        return self._eval[part]
