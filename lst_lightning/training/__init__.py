"""Training: the LightningModule, run_training, baseline runs, tracking, sweeps."""
