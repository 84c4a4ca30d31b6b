"""The box filter at the heart of the cache build, and the original project's per-window loop for
contrast (the ratio of the two is the table's "box filter vs per-window loop")."""
from __future__ import annotations

import numpy as np

from benchmarks.common import best_time, figure, stage
from benchmarks.inputs import synthetic_dem, synthetic_frames
from lst_lightning.data.io.formats import LST_SCALE

BLOCK_FRAMES = 16  # the cache builder's block of frames


@stage("window_mean")
def bench_window_mean(args) -> list[dict]:
    """Cumulative-sum box filter (window mean + validity) on blocks of 16 frames, as the cache does."""
    from lst_lightning.data.facts.windows import window_mean_raw

    n = min(args.frames, 64)
    frames = synthetic_frames(n, args.shape)

    def run():
        for i in range(0, n, BLOCK_FRAMES):
            window_mean_raw(frames[i:i + BLOCK_FRAMES], args.k, LST_SCALE)

    seconds = best_time(run, args.repeat)
    per_frame = frames[0].size
    return [figure("window_mean", n * per_frame / seconds, "window-samples/s", frames=n, shape=list(args.shape),
                   k=args.k, block_frames=BLOCK_FRAMES, seconds=round(seconds, 4),
                   ms_per_frame=round(1e3 * seconds / n, 3))]


@stage("naive_window_loop")
def bench_naive_window_loop(args) -> list[dict]:
    """The original project's way: a Python loop over windows building 83 features per sample
    (window-mean LST, window-mean elevation, 81 elevation differences), for contrast."""
    k, r = args.k, args.k // 2
    region = (60, 60)
    lst = synthetic_frames(1, (region[0] + 2 * r, region[1] + 2 * r))[0]
    dem = synthetic_dem(lst.shape)

    def run():
        rows = []
        for i in range(r, lst.shape[0] - r):
            for j in range(r, lst.shape[1] - r):
                win = lst[i - r:i + r + 1, j - r:j + r + 1]
                if (win == 0).any():
                    continue
                elev = dem[i - r:i + r + 1, j - r:j + r + 1].astype(np.float64)
                em = elev.mean()
                rows.append([win.mean() * LST_SCALE, em, *(elev - em).ravel()])
        return rows

    seconds = best_time(run, max(1, args.repeat // 2))
    n = region[0] * region[1]
    return [figure("naive_window_loop", n / seconds, "window-samples/s", windows=n, k=k,
                   features_per_sample=2 + k * k, seconds=round(seconds, 4))]
