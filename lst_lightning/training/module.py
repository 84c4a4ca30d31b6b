"""LSTRegressor: raw features in, Kelvin out; one shared step for train / val / test.

The feature scaler (statistics fitted on training samples, see ``data/scaling.py``) is a submodule,
so a checkpoint alone rebuilds the network, the scaling and its statistics:
``LSTRegressor.load_from_checkpoint(path)(scalars, patch)`` predicts in Kelvin.

Logged: ``{stage}/loss`` (train: per step; val/test: epoch mean) and at each epoch end
``{stage}/<key>`` for every key of ``metrics.METRIC_KEYS``. In val/test, with ``eval_observed_only``,
those use only samples whose centre pixel was really observed (``batch["observed"]``); a second
accumulator over all samples logs ``{stage}/all_rmse_k``, ``{stage}/all_trivial_rmse_k`` and
``{stage}/all_n_samples``. Training uses every sample of the batch. ``epoch_series`` keeps the train
and val RMSE of every epoch as (epoch, value): the run's learning curves (``plots.epoch_rows``).
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch

from lst_lightning.data.io.formats import FRAME_BANDS
from lst_lightning.data.loading.scaling import FeatureScaler
from lst_lightning.errors import LSTError
from lst_lightning.evaluation.metrics import ALL_KEYS, LSTMetrics
from lst_lightning.features import FeatureLayout
from lst_lightning.models.ensemble import Ensemble
from lst_lightning.models.network import Network
from lst_lightning.targets import build
from lst_lightning.training.schedules import Schedule

log = logging.getLogger(__name__)

STAGES = ("train", "val", "test")
# checkpoints saved before optimizers and schedules were chosen by _target_ named them
LEGACY = {"adam": "torch.optim.Adam", "adamw": "torch.optim.AdamW",
          "none": "lst_lightning.training.schedules.Constant",
          "exponential": "lst_lightning.training.schedules.Exponential",
          "cosine": "lst_lightning.training.schedules.Cosine"}


def build_ensemble(net: dict, layout: FeatureLayout, ensemble: int = 1) -> torch.nn.Module:
    """The network, or ``ensemble`` independently initialised copies of it (models.ensemble)."""
    if isinstance(ensemble, bool) or not isinstance(ensemble, int) or ensemble < 1:
        raise LSTError(f"model.ensemble: the number of networks must be an integer >= 1, got {ensemble!r}")
    if ensemble == 1:
        return build_net(net, layout)
    return Ensemble([build_net(net, layout) for _ in range(ensemble)])


def build_net(net: dict, layout: FeatureLayout) -> torch.nn.Module:
    """The network of a ``model.net`` config (its ``_target_``) for ``layout``."""
    return build(net, "model.net", Network, layout=layout)


def target_config(cfg: dict | None, default: dict) -> dict:
    """An optimizer or schedule config with its ``_target_`` (one saved as ``name: ...`` translated,
    one without either taking ``default``'s)."""
    cfg = dict(cfg or {})
    if "_target_" not in cfg:  # named the old way, or settings only: the default's target
        name = cfg.pop("name", None)
        cfg["_target_"] = default["_target_"] if name is None else LEGACY.get(name, name)
    return cfg


def _mse(squared: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """The mean of squared errors [B] or [B, members], each sample weighted by ``weight`` [B]."""
    if weight is None:
        return squared.mean()
    return (squared * weight.view(-1, *[1] * (squared.dim() - 1))).mean()


class LSTRegressor(L.LightningModule):
    def __init__(self, net: dict, layout: dict, optimizer: dict, scheduler: dict | None = None,
                 scaling: dict | None = None, eval_observed_only: bool = True, ensemble: int = 1,
                 clip: float | None = None, band_balance: bool = False):
        super().__init__()
        self.save_hyperparameters(logger=False)  # in the checkpoint; the run's config is logged once (tracking)
        self.layout = FeatureLayout.from_json(layout)
        self.optimizer_cfg = target_config(optimizer, {"_target_": LEGACY["adam"]})
        self.schedule: Schedule = build(target_config(scheduler, {"_target_": LEGACY["none"]}), "model.scheduler",
                                        Schedule)
        self.eval_observed_only = bool(eval_observed_only)
        self.scaler = FeatureScaler(self.layout, scaling, clip=clip)
        self.net = build_ensemble(net, self.layout, ensemble)
        # the training loss's weight of each band (night, day): 1, or with band_balance the inverse of
        # the band's target variance, so that a quiet band (night) counts as much as a lively one
        self.band_balance = bool(band_balance)
        self.register_buffer("band_weight", torch.ones(len(FRAME_BANDS)))
        build(self.optimizer_cfg, "model.optimizer", torch.optim.Optimizer, self.parameters())  # checked now
        # attributes, not a ModuleDict: 'train' is taken by nn.Module.train
        for stage in STAGES:
            setattr(self, f"{stage}_metrics", LSTMetrics())
        for stage in ("val", "test"):
            setattr(self, f"{stage}_all_metrics", LSTMetrics())
        self._final: dict[str, dict[str, float]] = {}
        self.epoch_series: dict[str, list[tuple[int, float]]] = {}

    def fit_band_weights(self, target: np.ndarray, band: np.ndarray) -> None:
        """With ``band_balance``: each band's weight 1 / its training target variance, scaled so that
        the training samples' mean weight is 1 (a band absent from training keeps weight 1)."""
        if not self.band_balance:
            return
        target, band = np.asarray(target, dtype=np.float64), np.asarray(band)
        weight = np.ones(len(FRAME_BANDS))
        for b in np.unique(band):
            weight[b] = 1.0 / max(float(target[band == b].var()), 1e-6)
        weight /= weight[band].mean()
        self.band_weight.copy_(torch.from_numpy(weight))
        log.info("loss weight per band (band_balance): " + ", ".join(
            f"{name} {w:.2f}" for name, w in zip(FRAME_BANDS, weight)))

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Checkpoints saved before the loss had band weights: weight 1 each, as they were trained."""
        checkpoint["state_dict"].setdefault("band_weight", torch.ones(len(FRAME_BANDS)))

    def forward(self, scalars: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
        """Raw (unscaled) features in, predicted centre-minus-window-mean LST (K) out, [B]."""
        return self.net(*self.scaler(scalars, patch))

    # --- one step for every stage -------------------------------------------------------------
    def _step(self, batch: dict, batch_idx: int, stage: str) -> torch.Tensor:
        target = batch["target"].float()
        n_batch = target.numel()
        weight = self.band_weight[batch["band"]] if stage == "train" and self.band_balance else None
        if stage == "train" and isinstance(self.net, Ensemble):  # each member on its own loss
            members = self.net.member_outputs(*self.scaler(batch["scalars"], batch["patch"])).float()
            pred, loss = members.mean(dim=1), _mse((members - target[:, None]) ** 2, weight)
        else:
            pred = self(batch["scalars"], batch["patch"]).float()
            loss = _mse((pred - target) ** 2, weight)
        if not torch.isfinite(loss):
            raise LSTError(self._nonfinite_message(loss, batch, batch_idx, stage))
        oracle = batch.get("oracle")
        if stage == "train":
            self.train_metrics.update(pred, target, oracle)
        else:
            getattr(self, f"{stage}_all_metrics").update(pred, target, oracle)
            observed = batch.get("observed") if self.eval_observed_only else None
            if observed is not None:
                keep = observed.bool()
                pred, target = pred[keep], target[keep]
                oracle = oracle[keep] if oracle is not None else None
            getattr(self, f"{stage}_metrics").update(pred, target, oracle)
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=stage != "train",
                 prog_bar=True, batch_size=n_batch, sync_dist=stage != "train")
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, batch_idx, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, batch_idx, "val")

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, batch_idx, "test")

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(batch["scalars"], batch["patch"])

    def _nonfinite_message(self, loss: torch.Tensor, batch: dict, batch_idx: int, stage: str) -> str:
        frames = batch.get("frame")
        frames = sorted(int(f) for f in torch.unique(frames).tolist()) if frames is not None else "unknown"
        bad = {k: int((~torch.isfinite(batch[k])).sum()) for k in ("scalars", "patch", "target") if k in batch}
        bad_txt = ", ".join(f"{k} {v}" for k, v in bad.items())
        hint = ("non-finite inputs; check the cache" if any(bad.values())
                else "inputs are finite: the training diverged; lower model.optimizer.lr")
        return (f"non-finite {stage} loss ({float(loss)}) at global step {self.global_step} "
                f"(batch {batch_idx}) in frames {frames}; non-finite values: {bad_txt} ({hint})")

    # --- epoch-level metrics --------------------------------------------------------------------
    def _log_epoch(self, stage: str) -> None:
        values = self._compute(getattr(self, f"{stage}_metrics"))
        if stage != "train":
            everything = self._compute(getattr(self, f"{stage}_all_metrics"))
            values.update({f"all_{k}": everything[k] for k in ALL_KEYS})
        self._final[stage] = values
        if stage != "test" and not self.trainer.sanity_checking:  # the epoch's figure, at its own epoch
            self.epoch_series.setdefault(f"{stage}/rmse_k", []).append((self.current_epoch, values["rmse_k"]))
        for key, value in values.items():
            # identical on every rank (the states were all-reduced), so the sync mean is exact;
            # a python float is put on the module's device by Lightning
            self.log(f"{stage}/{key}", float(value), sync_dist=True)

    @staticmethod
    def _compute(metric: LSTMetrics) -> dict[str, float]:
        with warnings.catch_warnings():  # an epoch without batches gives NaNs, not a warning
            warnings.filterwarnings("ignore", message=".*compute.*before.*update.*")
            values = dict(metric.compute())
        metric.reset()
        return values

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def final_metrics(self, stage: str) -> dict[str, float]:
        """The last epoch-end metric dict of ``stage`` (train / val / test), python floats."""
        if stage not in self._final:
            raise KeyError(f"no {stage} metrics computed yet (stages done: {sorted(self._final)})")
        return dict(self._final[stage])

    # --- optimisation -----------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        opt = build(self.optimizer_cfg, "model.optimizer", torch.optim.Optimizer, self.parameters())
        max_epochs = self.trainer.max_epochs if self._trainer is not None else None
        factor = self.schedule.factor(max_epochs)
        if factor is None:
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
