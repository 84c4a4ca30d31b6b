"""Index samplers over (frame, row, col) of one archive: samples are never materialised, a batch
is a set of indices whose features a gatherer (data/loading/gatherer.py) reads for the whole batch
at once. Training draws random samples (rejecting invalid windows); evaluation uses a fixed,
seeded list visited exactly once.
"""
from __future__ import annotations

import numpy as np

from lst_lightning.data.loading.gatherer import FeatureGatherer
from lst_lightning.data.loading.splits import SplitPart, SplitPlan, sample_bucket
from lst_lightning.errors import LSTError

COUNT_FRAMES_MAX = 2000  # beyond this many frames, sample counts are estimated from a subset


def drawn_part(gatherer: FeatureGatherer, part: SplitPart, shard: int = 0, shards: int = 1) -> SplitPart:
    """The part as one reader draws from it: without the pixels that hold a sample in no frame
    (sea, windows never complete: on the real year h18v04 half the grid), which
    rejection sampling would only ever reject, and dealt out over the readers, so that each
    (frame, pixel) sample belongs to exactly one rank x worker and together they cover the part.
    The samples it holds, and the chance of each being drawn, are the part's."""
    mask = part.pixel_mask & (gatherer.cache.sample_frames > 0)
    if shards > 1:
        pixels = np.flatnonzero(mask.ravel())
        mask = np.zeros_like(part.pixel_mask)
        mask.flat[pixels[shard::shards]] = True
    return SplitPart(part.name, part.frames, mask, part.bucket)


def draw_samples(gatherer: FeatureGatherer, plan: SplitPlan, part: SplitPart, n: int,
                 rng: np.random.Generator, observed_only: bool = False,
                 max_rounds: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exactly ``n`` random valid samples of a part (with replacement), by rejection.
    ``observed_only`` keeps only centres really observed (QA), not gap-filled."""
    out_f, out_p, have, rate = [], [], 0, 0.5
    width = gatherer.width
    n_pixels = gatherer.height * width
    for _ in range(max_rounds):
        want = int((n - have) / max(rate, 0.01) * 1.2) + 16
        f = part.frames[rng.integers(0, part.frames.size, want)]
        p = part.pixels[rng.integers(0, part.pixels.size, want)]
        ok = gatherer.valid(f, p // width, p % width)
        if part.bucket is not None:
            ok &= sample_bucket(f, p, n_pixels, plan.seed, plan.fractions) == part.bucket
        if observed_only:
            ok &= gatherer.observed(f, p // width, p % width)
        rate = max(ok.mean(), 1e-3)
        out_f.append(f[ok]), out_p.append(p[ok])
        have += int(ok.sum())
        if have >= n:
            f, p = np.concatenate(out_f)[:n], np.concatenate(out_p)[:n]
            return f, p // width, p % width
    raise LSTError(f"split part '{part.name}' has (almost) no valid samples: "
                   f"{have} found after {max_rounds} rounds of rejection sampling")


def _frame_candidates(gatherer: FeatureGatherer, plan: SplitPlan, part: SplitPart, frame: int) -> np.ndarray:
    """Flat pixel indices of the valid samples of ``part`` in one frame."""
    ok = np.isfinite(gatherer.cache.window_mean[frame]).ravel()[part.pixels]
    pix = part.pixels[ok]
    if part.bucket is not None:
        n_pixels = gatherer.height * gatherer.width
        fr = np.full(pix.size, frame, dtype=np.int64)
        pix = pix[sample_bucket(fr, pix, n_pixels, plan.seed, plan.fractions) == part.bucket]
    return pix


def count_samples(gatherer: FeatureGatherer, plan: SplitPlan, part: SplitPart) -> tuple[int, bool]:
    """(number of valid samples in a part, whether it is an estimate from a subset of frames)."""
    frames = part.frames
    if frames.size == 0 or part.pixels.size == 0:  # e.g. a site held out whole has no train part
        return 0, False
    estimate = frames.size > COUNT_FRAMES_MAX
    subset = frames[np.linspace(0, frames.size - 1, COUNT_FRAMES_MAX).astype(int)] if estimate else frames
    total = sum(_frame_candidates(gatherer, plan, part, int(f)).size for f in subset)
    return int(round(total * frames.size / subset.size)), estimate


def eval_indices(gatherer: FeatureGatherer, plan: SplitPlan, part: SplitPart, max_samples: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed evaluation set: every valid sample of the part when there are at most
    ``max_samples``, else exactly ``max_samples`` drawn without replacement, spread over frames in
    proportion to their valid samples. Sorted by (frame, pixel) for cache-friendly reads."""
    rng = np.random.default_rng(seed)
    counts = np.array([_frame_candidates(gatherer, plan, part, int(f)).size for f in part.frames])
    total = int(counts.sum())
    if total == 0:
        raise LSTError(f"split part '{part.name}' has no valid sample")
    quota = counts if total <= max_samples else proportional(counts, max_samples)
    fs, ps = [], []
    for f, q in zip(part.frames, quota):
        if q == 0:
            continue
        pix = _frame_candidates(gatherer, plan, part, int(f))
        if q < pix.size:
            pix = np.sort(rng.choice(pix, size=int(q), replace=False))
        fs.append(np.full(pix.size, f, dtype=np.int64)), ps.append(pix)
    f, p = np.concatenate(fs), np.concatenate(ps)
    return f, p // gatherer.width, p % gatherer.width


def proportional(counts: np.ndarray, total: int) -> np.ndarray:
    """Integer quotas summing to ``total``, proportional to counts (largest remainder)."""
    exact = counts * (total / counts.sum())
    quota = np.floor(exact).astype(np.int64)
    remainder = total - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:remainder]] += 1
    return np.minimum(quota, counts)
