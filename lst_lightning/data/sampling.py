"""Index samplers over (frame, row, col) and the batched feature gather from the memmap cache.

Samples are never materialised: a batch is a set of indices, and its features are gathered for
the whole batch at once (no per-sample ``__getitem__`` + collate). Training draws random samples
(rejecting invalid windows); evaluation uses a fixed, seeded list visited exactly once.
"""
from __future__ import annotations

import numpy as np

from lst_lightning.data.cache import Cache
from lst_lightning.data.features import GROUP_COLUMNS, NEIGHBOURS, FeatureLayout
from lst_lightning.data.io.formats import FRAME_BANDS, LST_SCALE, QA_OBSERVED
from lst_lightning.data.landcover import column_map, union_labels
from lst_lightning.data.splits import SplitPart, SplitPlan, sample_bucket
from lst_lightning.errors import LSTError

# rows: band index in FRAME_BANDS; columns: QA code -> observed?
OBSERVED_TABLE = np.stack([QA_OBSERVED[b] for b in FRAME_BANDS])
COUNT_FRAMES_MAX = 2000  # beyond this many frames, sample counts are estimated from a subset


def layout_for(cache: Cache, groups) -> FeatureLayout:
    """The feature layout of ``groups`` on this cache (its k and land-cover classes)."""
    return FeatureLayout(k=cache.k, groups=tuple(groups),
                         landcover_classes=tuple(cache.meta.get("landcover_classes", ())))


def pool_layout(caches: dict, groups) -> FeatureLayout:
    """The feature layout of ``groups`` over a pool of archives (data=multi): land cover as the
    union of the archives' classes (landcover.union_labels), so archives of different biomes pool."""
    labels = [cache.meta.get("landcover_classes", ()) for cache in caches.values()]
    classes = union_labels(labels) if "landcover" in groups and any(labels) else ()
    return FeatureLayout(k=next(iter(caches.values())).k, groups=tuple(groups), landcover_classes=classes)


class FeatureGatherer:
    """Turns index arrays into feature arrays (numpy) following a FeatureLayout."""

    def __init__(self, cache: Cache, layout: FeatureLayout):
        if layout.k != cache.k:
            raise LSTError(f"features k={layout.k} differs from the cache's k={cache.k}")
        if "ndvi" in layout.groups and not cache.has("ndvi"):
            raise LSTError("features: group 'ndvi' needs an NDVI raster (data.ndvi) in the cache")
        if "landcover" in layout.groups:
            classes = tuple(cache.meta.get("landcover_classes", ()))
            if not classes:
                raise LSTError("features: group 'landcover' needs a land-cover raster (data.landcover) in the cache")
            source = column_map(classes, layout.landcover_classes)
            if source is None:
                raise LSTError(f"features: the layout's land-cover classes {list(layout.landcover_classes)} "
                               f"differ from the cache's {list(classes)} (the cache's must be among them)")
            # None: the cache's columns are the layout's (a run over this archive alone), no remap per batch
            self.lc_source = None if np.array_equal(source, np.arange(source.size)) else source
        self.cache, self.layout = cache, layout
        frames = cache.meta["frames"]
        doy = np.array([f["doy"] for f in frames], dtype=np.float64)
        hour = np.array([f["hour"] for f in frames], dtype=np.float64)
        self.frame_table = {
            "doy_sin": np.sin(2 * np.pi * doy / 365.25), "doy_cos": np.cos(2 * np.pi * doy / 365.25),
            "tod_sin": np.sin(2 * np.pi * hour / 24), "tod_cos": np.cos(2 * np.pi * hour / 24),
        }
        self.frame_table = {k: v.astype(np.float32) for k, v in self.frame_table.items()}
        self.band_index = np.array([FRAME_BANDS.index(f["band"]) for f in frames], dtype=np.int64)
        self.month = np.array([int(f["date"][5:7]) - 1 for f in frames], dtype=np.int64)
        grid = cache.grid
        self.lat, self.lon = grid.lat.astype(np.float32), grid.lon.astype(np.float32)
        self.height, self.width = grid.shape
        r = layout.k // 2
        dr, dc = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
        self.patch_offsets = (dr * self.width + dc).ravel()  # flat offsets of a window, row-major

    def valid(self, f: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.isfinite(self.cache.array("window_mean")[f, r, c])

    def observed(self, f: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return OBSERVED_TABLE[self.band_index[f], self.cache.array("qa")[f, r, c]]

    def gather(self, f: np.ndarray, r: np.ndarray, c: np.ndarray) -> dict[str, np.ndarray]:
        cache, layout, n = self.cache, self.layout, len(f)
        mean = np.asarray(cache.array("window_mean")[f, r, c], dtype=np.float32)
        centre = cache.array("lst")[f, r, c].astype(np.float32) * np.float32(LST_SCALE)
        pix = r * self.width + c
        terrain = cache.array("terrain").reshape(self.height * self.width, -1)[pix]
        columns = {
            "lst_mean": mean, "elev_mean": terrain[:, 0],
            "lat": self.lat[r], "lon": self.lon[c],
            **{name: table[f] for name, table in self.frame_table.items()},
        }
        if "terrain" in layout.groups:
            extra = cache.array("terrain_extra").reshape(self.height * self.width, -1)[pix]
            columns.update(zip(GROUP_COLUMNS["terrain"], extra.T))  # terrain_extra.npy's column order
        if "landcover" in layout.groups:
            values = cache.array("landcover").reshape(self.height * self.width, -1)[pix]
            if self.lc_source is not None:  # a pool's union of classes: 0 where this archive lacks one
                values = np.where(self.lc_source >= 0, values[:, np.maximum(self.lc_source, 0)], np.float32(0))
            columns.update(zip(layout.group_columns("landcover"), values.T))  # layout order (a pool: the union)
        if "context" in layout.groups:
            columns.update(self._context(f, r, c, mean, terrain[:, 0]))
        scalars = np.empty((n, layout.n_scalars), dtype=np.float32)
        for j, name in enumerate(layout.scalar_names):
            scalars[:, j] = columns[name]
        k = layout.k
        patch = np.empty((n, layout.n_channels, k, k), dtype=np.float32)
        for ch, name in enumerate(layout.patch_channels):
            if name == "elev_diff":
                patch[:, ch] = terrain[:, 1:].reshape(n, k, k)
            else:  # ndvi: the frame's month (or the static layer), k x k around the centre
                ndvi = cache.array("ndvi")
                layer = self.month[f] if ndvi.shape[0] == 12 else np.zeros(n, dtype=np.int64)
                flat = ndvi.reshape(ndvi.shape[0], -1)
                patch[:, ch] = flat[layer[:, None], pix[:, None] + self.patch_offsets].reshape(n, k, k)
        oracle = (np.asarray(cache.array("oracle_target")[f, r, c], dtype=np.float32)
                  if cache.has("oracle_target") else np.full(n, np.nan, dtype=np.float32))
        return {"scalars": scalars, "patch": patch, "target": centre - mean, "oracle": oracle,
                "observed": self.observed(f, r, c), "frame": f, "row": r, "col": c}

    def _context(self, f, r, c, mean, elev_mean) -> dict[str, np.ndarray]:
        """The context group's columns (context.py): neighbouring windows minus the own window,
        0 where a neighbour leaves the grid or is not valid; the frame's lapse rate."""
        k, h, w = self.layout.k, self.height, self.width
        window_mean = self.cache.array("window_mean")
        elev = self.cache.array("terrain").reshape(h * w, -1)
        out = {"ctx_lapse": np.asarray(self.cache.array("frame_lapse")[f], dtype=np.float32)}
        for name, dr, dc in NEIGHBOURS:
            rr, cc = r + dr * k, c + dc * k
            inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            rr, cc = np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)
            lst = np.asarray(window_mean[f, rr, cc], dtype=np.float32) - mean
            height = elev[rr * w + cc, 0] - elev_mean
            out[f"ctx_lst_{name}"] = np.where(inside & np.isfinite(lst), lst, np.float32(0))
            out[f"ctx_elev_{name}"] = np.where(inside & np.isfinite(height), height, np.float32(0))
        return out


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
    ok = np.isfinite(gatherer.cache.array("window_mean")[frame]).ravel()[part.pixels]
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
    quota = counts if total <= max_samples else _proportional(counts, max_samples)
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


def _proportional(counts: np.ndarray, total: int) -> np.ndarray:
    """Integer quotas summing to ``total``, proportional to counts (largest remainder)."""
    exact = counts * (total / counts.sum())
    quota = np.floor(exact).astype(np.int64)
    remainder = total - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:remainder]] += 1
    return np.minimum(quota, counts)
