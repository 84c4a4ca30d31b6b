"""Data stages, one folder each: readers/writers of the real formats (``io``), the synthetic
archive (``synthetic``), window and terrain facts (``facts``), the memmap cache (``cache``), and
loading samples for training (``loading``: splits, samplers, gatherers, scaling, data modules)."""
