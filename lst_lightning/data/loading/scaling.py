"""Per-group feature scaling, fitted on training samples only, stored in the checkpoint.

Each feature group is scaled by one method:

* ``normalize``   min-max to [0, 1]:  (x - min) / (max - min)
* ``standardize`` (x - mean) / std   (population std, as numpy's default)
* ``raw``         unchanged

Scalar columns get one shift/scale each. A patch channel is scaled JOINTLY: all its k*k values
share one shift/scale (the 81 elevation differences keep their relative sizes). A constant
column or channel gets scale 1. Statistics are buffers, so ``state_dict`` (and a Lightning
checkpoint) carries them and a loaded model needs no training data to predict.

``clip`` (optional) also keeps each input inside the range the training samples spanned: a column
(or a patch channel, jointly) is clamped to its training quantiles ``clip`` and ``1 - clip``
(0 = the training min and max) before scaling. A network extrapolates beyond the data it saw
(a date warmer than any training date, a steeper coarse lapse), a tree does not; on small real
archives that extrapolation alone turned held-out folds negative (docs/research.md).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import nn

from lst_lightning.errors import LSTError
from lst_lightning.features import GROUPS, FeatureLayout, group

METHODS = ("normalize", "standardize", "raw")


def scaling_methods(groups, methods: Mapping[str, str] | None = None, default: str | None = None) -> dict[str, str]:
    """Each group's scaling method: ``methods`` (per group) first, then ``default`` (one method for
    the rest), then the group's own default (``FeatureGroup.scaling``: the original project's best
    setting for its groups: doy/tod raw, latlon/elev_mean/elev_diff normalize, ndvi raw, the rest
    standardize). Checked: known groups and methods."""
    methods, groups = dict(methods or {}), tuple(groups)
    unknown = [g for g in methods if g not in GROUPS and g not in groups]  # a checkpoint's groups are its own
    if unknown:
        raise LSTError(f"scaling.methods: unknown feature group(s) {unknown}; known groups are {list(GROUPS)}")
    for where, method in [*((f"methods.{g}", m) for g, m in methods.items()), ("default", default)]:
        if method is not None and method not in METHODS:
            raise LSTError(f"scaling.{where}: unknown {method!r}; choose from {', '.join(METHODS)}")
    return {g: methods.get(g) or default or group(g, "scaling").scaling for g in groups}


_CONSTANT_RTOL = 1e-7  # a spread this small relative to the values means "constant": scale 1


def _shift_scale(values: np.ndarray, method: str) -> tuple[float, float]:
    """Shift and scale of one column / channel (``values`` any shape; NaNs ignored)."""
    if method == "raw":
        return 0.0, 1.0
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    if method == "normalize":
        shift, scale = float(v.min()), float(v.max() - v.min())
    else:
        shift, scale = float(v.mean()), float(v.std())
    if not np.isfinite(scale) or scale <= _CONSTANT_RTOL * max(1.0, float(np.abs(v).max())):
        scale = 1.0
    return shift, scale


def _bounds(values: np.ndarray, clip: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``values`` [N, D]: its ``clip`` and ``1 - clip`` quantiles (NaNs ignored;
    a column without finite values stays unbounded)."""
    values = np.asarray(values, dtype=np.float64)
    lo, hi = np.full(values.shape[1], -np.inf), np.full(values.shape[1], np.inf)
    for j in range(values.shape[1]):
        v = values[:, j][np.isfinite(values[:, j])]
        if v.size:
            lo[j], hi[j] = np.quantile(v, clip), np.quantile(v, 1 - clip)
    return lo.astype(np.float32), hi.astype(np.float32)


def input_bounds(scalars: np.ndarray, patch: np.ndarray, clip: float) -> dict[str, np.ndarray]:
    """The clamp bounds of training inputs: ``scalar_lo``/``scalar_hi`` per column [S] and
    ``patch_lo``/``patch_hi`` per patch channel [C], jointly over its k x k cells."""
    channels = patch.shape[1]
    out = {}
    for part, values in (("scalar", scalars), ("patch", patch.swapaxes(0, 1).reshape(channels, -1).T)):
        out[f"{part}_lo"], out[f"{part}_hi"] = _bounds(values, clip)
    return out


class FeatureScaler(nn.Module):
    """``forward(scalars [B, S], patch [B, C, k, k]) -> (scalars, patch)`` scaled; ``inverse`` undoes it."""

    def __init__(self, layout: FeatureLayout, methods: Mapping[str, str] | None = None,
                 clip: float | None = None):
        super().__init__()
        if clip is not None and not 0.0 <= float(clip) < 0.5:
            raise LSTError(f"model.clip_inputs: the share of training values outside the clipping range, in each "
                           f"tail, must be in [0, 0.5) (0 = training min/max; null = no clipping), got {clip}")
        self.clip = None if clip is None else float(clip)
        self.layout = layout
        methods = scaling_methods(layout.groups, methods)  # a checkpoint names every group's
        self.scalar_methods = tuple(methods[g] for g in layout.scalar_groups)
        self.patch_methods = tuple(methods[g] for g in layout.patch_channels)
        s, c = layout.n_scalars, layout.n_channels
        self.register_buffer("scalar_shift", torch.zeros(s))
        self.register_buffer("scalar_scale", torch.ones(s))
        self.register_buffer("patch_shift", torch.zeros(c))
        self.register_buffer("patch_scale", torch.ones(c))
        for part, n in (("scalar", s), ("patch", c)):  # clipping bounds: unbounded until fitted with clip
            self.register_buffer(f"{part}_lo", torch.full((n,), -torch.inf))
            self.register_buffer(f"{part}_hi", torch.full((n,), torch.inf))
        self.register_buffer("fitted", torch.tensor(False))
        self._is_fitted = False  # python mirror of the buffer: no device sync per batch

    @torch.no_grad()
    def fit(self, scalars: np.ndarray, patch: np.ndarray) -> "FeatureScaler":
        """Statistics from exactly the samples given (the datamodule passes training samples only)."""
        scalars, patch = np.asarray(scalars), np.asarray(patch)
        lay = self.layout
        if scalars.ndim != 2 or scalars.shape[1] != lay.n_scalars:
            raise LSTError(f"FeatureScaler.fit: scalars must be [N, {lay.n_scalars}] "
                           f"({', '.join(lay.scalar_names)}), got {list(scalars.shape)}")
        if patch.shape[1:] != (lay.n_channels, lay.k, lay.k) or patch.shape[0] != scalars.shape[0]:
            raise LSTError(f"FeatureScaler.fit: patch must be [N, {lay.n_channels}, {lay.k}, {lay.k}] with "
                           f"N = {scalars.shape[0]}, got {list(patch.shape)}")
        if scalars.shape[0] == 0:
            raise LSTError("FeatureScaler.fit: no training samples to fit the feature scaling on")
        s_stats = [_shift_scale(scalars[:, j], m) for j, m in enumerate(self.scalar_methods)]
        p_stats = [_shift_scale(patch[:, j], m) for j, m in enumerate(self.patch_methods)]
        for buf, stats, i in ((self.scalar_shift, s_stats, 0), (self.scalar_scale, s_stats, 1),
                              (self.patch_shift, p_stats, 0), (self.patch_scale, p_stats, 1)):
            buf.copy_(torch.tensor([st[i] for st in stats], dtype=torch.float64))
        if self.clip is not None:
            for name, bound in input_bounds(scalars, patch, self.clip).items():
                getattr(self, name).copy_(torch.from_numpy(bound))
        self.fitted.fill_(True)
        self._is_fitted = True
        return self

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("scalar_lo", "scalar_hi", "patch_lo", "patch_hi"):  # checkpoints from before clipping
            state_dict.setdefault(prefix + name, getattr(self, name))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._is_fitted = bool(self.fitted)

    def _check(self) -> None:
        if not self._is_fitted:
            raise LSTError("FeatureScaler is not fitted: call scaler.fit(scalars, patch) on training features "
                           "first (or load a checkpoint that holds the statistics)")

    def forward(self, scalars: torch.Tensor, patch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check()
        if self.clip is not None:
            scalars = torch.clamp(scalars, self.scalar_lo, self.scalar_hi)
            patch = torch.clamp(patch, self.patch_lo.view(1, -1, 1, 1), self.patch_hi.view(1, -1, 1, 1))
        scalars = (scalars - self.scalar_shift) / self.scalar_scale
        patch = (patch - self.patch_shift.view(1, -1, 1, 1)) / self.patch_scale.view(1, -1, 1, 1)
        return scalars, patch

    def inverse(self, scalars: torch.Tensor, patch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check()
        scalars = scalars * self.scalar_scale + self.scalar_shift
        patch = patch * self.patch_scale.view(1, -1, 1, 1) + self.patch_shift.view(1, -1, 1, 1)
        return scalars, patch

    def extra_repr(self) -> str:
        groups = dict(zip(self.layout.scalar_groups, self.scalar_methods))
        groups.update(zip(self.layout.patch_channels, self.patch_methods))
        clip = "" if self.clip is None else f", clip={self.clip}"
        return ", ".join(f"{g}={m}" for g, m in groups.items()) + clip
