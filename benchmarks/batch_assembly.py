"""Training batches from the memmap cache at batch 4096, default features: the gather alone, the
whole training stream, and both again with the cache resident on the device
(data.loader.device_resident; the GPU when there is one, else the CPU as a reference)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import best_time, child, figure, peak_rss_kb, run_child, stage
from benchmarks.inputs import bench_cache, bench_datamodule, resident_datamodule

BATCH = 4096


@stage("batch_assembly")
def bench_batch_assembly(args) -> list[dict]:
    """Training batches from the memmap cache, default features, batch 4096 (target >= 1.5 M/s)."""
    with tempfile.TemporaryDirectory(prefix="lst-bench-") as tmp:
        res = run_child("batches", bench_cache(Path(tmp), args.day_step, args.shape).path, BATCH,
                        args.assembly_batches)
    sizes = dict(batch=BATCH, batches=args.assembly_batches, frames=res["frames"], shape=list(args.shape),
                 features="original")
    return [figure("gather", res["gather"], "samples/s", note="FeatureGatherer.gather alone", **sizes),
            figure("train_stream", res["stream"], "samples/s",
                   note="draw valid samples + gather + torch tensors (the DataLoader's work)", **sizes),
            figure("batch_assembly_peak_rss", res["maxrss_kb"] / 1024, "MiB", **sizes),
            figure("device_gather", res["device_gather"], "samples/s", device=res["device"],
                   note="data.loader.device_resident: gather on the device", **sizes),
            figure("device_stream", res["device_stream"], "samples/s", device=res["device"],
                   note="device_resident training stream (host draws the indices)", **sizes)]


@child("batches")
def batches_child(cache_path: str, batch_size: str, batches: str) -> dict:
    """Batch assembly: gather alone, and the whole training stream (draw + gather + tensors)."""
    from lst_lightning.data.cache import open_cache
    from lst_lightning.data.loading.sampling import draw_samples

    batch_size, batches = int(batch_size), int(batches)
    # the archive was generated and prepared by the parent: this RSS is the pipeline's own
    cache = open_cache(cache_path)
    dm = bench_datamodule(cache, batch_size, batches)
    rng = np.random.default_rng(0)
    index = draw_samples(dm.gatherer, dm.plan, dm.plan["train"], batch_size * batches, rng)
    chunks = [tuple(a[i * batch_size:(i + 1) * batch_size] for a in index) for i in range(batches)]
    dm.gatherer.gather(*chunks[0])  # warm the page cache and the allocator

    def gather_all():
        for f, r, c in chunks:
            dm.gatherer.gather(f, r, c)

    def stream_all():
        for _ in dm.train_dataloader():
            pass

    gather_s, stream_s = best_time(gather_all, 3), best_time(stream_all, 3)
    n = batch_size * batches
    out = {"gather": n / gather_s, "stream": n / stream_s, "frames": len(cache.meta["frames"]),
           "maxrss_kb": peak_rss_kb()}
    out.update(device_figures(cache, chunks, batch_size, batches))
    return out


def device_figures(cache, chunks, batch_size: int, batches: int) -> dict:
    """data.loader.device_resident: the same gather and stream with the cache on the GPU (the CPU
    when there is none, as a reference)."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    resident = resident_datamodule(cache, batch_size, batches, device)
    gatherer = resident.batch_gatherer()

    def gather_all():
        for f, r, c in chunks:
            gatherer.gather(f, r, c)
        sync()

    def stream_all():
        for _ in resident.train_dataloader():
            pass
        sync()

    gather_all()
    n = batch_size * batches
    return {"device": device, "device_gather": n / best_time(gather_all, 3),
            "device_stream": n / best_time(stream_all, 3)}
