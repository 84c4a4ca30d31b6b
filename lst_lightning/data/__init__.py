"""Data layer: readers/writers of the real formats, the synthetic archive, the memmap cache,
splits, samplers, scaling and the LightningDataModule."""
