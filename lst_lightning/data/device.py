"""Device-resident sampling (``data.loader.device_resident=true``): the cache on the accelerator.

``DeviceGatherer`` copies the arrays a batch needs (window means, LST, QA, terrain, NDVI, oracle
and the per-frame tables) to one torch device once, then gathers every batch there with tensor
indexing: no DataLoader workers, no host-to-device copy per batch. The random indices are still
drawn on the host by ``draw_samples`` with the same numpy generator (only the validity tests run
on the device), so a seed gives exactly the same samples, and the features are computed with the
same float32 operations as ``FeatureGatherer``: the batches are identical (tested on CPU).

Memory: about 7 bytes per pixel and frame (float32 window mean, uint16 LST, uint8 QA) plus the
static layers: the 19-year Israel archive (13,900 frames) needs about 24 GB of device memory.
"""
from __future__ import annotations

import numpy as np
import torch

from lst_lightning.data.features import GROUP_COLUMNS, NEIGHBOURS
from lst_lightning.data.io.formats import LST_SCALE
from lst_lightning.data.sampling import OBSERVED_TABLE, FeatureGatherer
from lst_lightning.errors import LSTError


class DeviceGatherer:
    """The FeatureGatherer interface (valid, observed, gather, width, height, ...) on a torch device;
    ``gather`` returns a dict of tensors on that device."""

    def __init__(self, host: FeatureGatherer, device: str | torch.device):
        self.host, self.device = host, torch.device(device)
        self.cache, self.layout = host.cache, host.layout
        self.height, self.width = host.height, host.width
        self.band_index, self.month = host.band_index, host.month
        names = ["window_mean", "lst", "qa", "terrain"] + [
            n for n in ("terrain_extra", "ndvi", "landcover", "frame_lapse", "oracle_target") if self.cache.has(n)]
        self._check_memory(names)
        t = {n: self._put(self.cache.array(n)) for n in names}
        pixels = self.height * self.width
        self.window_mean, self.lst, self.qa = t["window_mean"], t["lst"], t["qa"]
        self.terrain = t["terrain"].reshape(pixels, -1)
        self.terrain_extra = t["terrain_extra"].reshape(pixels, -1) if "terrain_extra" in t else None
        self.ndvi = t["ndvi"].reshape(t["ndvi"].shape[0], -1) if "ndvi" in t else None
        self.landcover = t["landcover"].reshape(pixels, -1) if "landcover" in t else None
        self.lapse = t.get("frame_lapse")
        self.oracle = t.get("oracle_target")
        self.frame_table = {k: self._put(v) for k, v in host.frame_table.items()}
        self.band = self._put(host.band_index)
        self.month_t = self._put(host.month)
        self.observed_table = self._put(OBSERVED_TABLE)
        self.lat, self.lon = self._put(host.lat), self._put(host.lon)
        self.patch_offsets = self._put(host.patch_offsets)

    def _put(self, array: np.ndarray, chunk_bytes: int = 2 ** 28) -> torch.Tensor:
        """A copy of ``array`` (a memmap, possibly read-only) on the device, moved in chunks of
        leading rows so that the host never holds a second copy of a large array."""
        # torch lacks uint16 arithmetic kernels on some devices: widen LST to int32
        dtype = np.dtype(np.int32) if array.dtype == np.uint16 else array.dtype
        out = torch.empty(array.shape, dtype=torch.from_numpy(np.zeros(0, dtype)).dtype, device=self.device)
        if array.ndim == 0 or array.size == 0:
            return out.copy_(torch.from_numpy(np.array(array, dtype=dtype)))
        rows = max(1, chunk_bytes // max(1, array[:1].nbytes))
        for s in range(0, array.shape[0], rows):
            out[s:s + rows] = torch.from_numpy(np.array(array[s:s + rows], dtype=dtype))
        return out

    def _check_memory(self, names: list[str]) -> None:
        if self.device.type != "cuda":
            return
        need = sum(self.cache.array(n).size * (4 if n == "lst" else self.cache.array(n).itemsize) for n in names)
        free, _ = torch.cuda.mem_get_info(self.device)
        if need > 0.9 * free:
            raise LSTError(f"data.loader.device_resident: the cache needs {need / 2**30:.1f} GiB on "
                           f"{self.device}, only {free / 2**30:.1f} GiB are free; use the host sampler")

    def _index(self, *arrays) -> list[torch.Tensor]:
        return [torch.as_tensor(np.asarray(a, dtype=np.int64)).to(self.device) for a in arrays]

    # host-side answers for draw_samples (the rejection loop stays on the host's numpy generator)
    def valid(self, f, r, c) -> np.ndarray:
        f, r, c = self._index(f, r, c)
        return torch.isfinite(self.window_mean[f, r, c]).cpu().numpy()

    def observed(self, f, r, c) -> np.ndarray:
        f, r, c = self._index(f, r, c)
        return self.observed_table[self.band[f], self.qa[f, r, c].long()].cpu().numpy()

    def _context(self, f, r, c, mean, elev_mean) -> dict[str, torch.Tensor]:
        """FeatureGatherer._context on the device (same formula, same zeros)."""
        k, h, w = self.layout.k, self.height, self.width
        out = {"ctx_lapse": self.lapse[f]}
        zero = torch.zeros((), dtype=torch.float32, device=self.device)
        for name, dr, dc in NEIGHBOURS:
            rr, cc = r + dr * k, c + dc * k
            inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            rr, cc = rr.clamp(0, h - 1), cc.clamp(0, w - 1)
            lst = self.window_mean[f, rr, cc] - mean
            height = self.terrain[rr * w + cc, 0] - elev_mean
            out[f"ctx_lst_{name}"] = torch.where(inside & torch.isfinite(lst), lst, zero)
            out[f"ctx_elev_{name}"] = torch.where(inside & torch.isfinite(height), height, zero)
        return out

    def gather(self, f, r, c) -> dict[str, torch.Tensor]:
        f, r, c = self._index(f, r, c)
        layout, n, k = self.layout, f.numel(), self.layout.k
        mean = self.window_mean[f, r, c]
        centre = self.lst[f, r, c].to(torch.float32) * torch.tensor(LST_SCALE, dtype=torch.float32,
                                                                     device=self.device)
        pix = r * self.width + c
        terrain = self.terrain[pix]
        columns = {"lst_mean": mean, "elev_mean": terrain[:, 0], "lat": self.lat[r], "lon": self.lon[c],
                   **{name: table[f] for name, table in self.frame_table.items()}}
        if "terrain" in layout.groups:
            extra = self.terrain_extra[pix]
            columns.update({name: extra[:, j] for j, name in enumerate(GROUP_COLUMNS["terrain"])})
        if "landcover" in layout.groups:
            values = self.landcover[pix]
            columns.update({name: values[:, j] for j, name in enumerate(layout.group_columns("landcover"))})
        if "context" in layout.groups:
            columns.update(self._context(f, r, c, mean, terrain[:, 0]))
        scalars = torch.stack([columns[name].to(torch.float32) for name in layout.scalar_names], dim=1)
        channels = []
        for name in layout.patch_channels:
            if name == "elev_diff":
                channels.append(terrain[:, 1:].reshape(n, k, k))
            else:  # ndvi: the frame's month (or the static layer), k x k around the centre
                layer = self.month_t[f] if self.ndvi.shape[0] == 12 else torch.zeros_like(f)
                channels.append(self.ndvi[layer[:, None], pix[:, None] + self.patch_offsets].reshape(n, k, k))
        patch = torch.stack([ch.to(torch.float32) for ch in channels], dim=1)
        oracle = (self.oracle[f, r, c].to(torch.float32) if self.oracle is not None
                  else torch.full_like(mean, float("nan")))
        observed = self.observed_table[self.band[f], self.qa[f, r, c].long()]
        return {"scalars": scalars, "patch": patch, "target": centre - mean, "oracle": oracle,
                "observed": observed, "frame": f, "row": r, "col": c}
