"""Random fields of the synthetic archive: smooth large-scale noise (weather, clouds, the coast's
wiggle) and static fine-scale noise (soil, towns, NDVI patches)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage


class SmoothNoise:
    """Unit-variance smooth random fields as ``A @ Z @ B.T``: Gaussian interpolation of coarse
    white noise. Far cheaper than an FFT per frame (two small matrix products)."""

    def __init__(self, shape: tuple[int, int], spacing_px: float):
        self.a = self._basis(shape[0], spacing_px)
        self.b = self._basis(shape[1], spacing_px)
        var = np.outer((self.a ** 2).sum(1), (self.b ** 2).sum(1))
        self.norm = (1.0 / np.sqrt(var)).astype(np.float32)  # exact unit variance per pixel

    @staticmethod
    def _basis(n: int, spacing: float) -> np.ndarray:
        # nodes reach two spacings beyond the edges so border pixels get full support
        nodes = np.arange(-2 * spacing, n + 2 * spacing, spacing)
        x = np.arange(n)[:, None]
        return np.exp(-0.5 * ((x - nodes[None]) / spacing) ** 2).astype(np.float32)

    def draw(self, rng: np.random.Generator, count: int = 1) -> np.ndarray:
        z = rng.standard_normal((count, self.a.shape[1], self.b.shape[1]), dtype=np.float32)
        return (self.a @ z @ self.b.T) * self.norm


def fine_noise(rng: np.random.Generator, shape, sigma_px: float, land: np.ndarray) -> np.ndarray:
    """A static fine-scale correlated field with zero mean and unit std over land."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px, mode="reflect")
    return standardize(f, land)


def standardize(f: np.ndarray, land: np.ndarray) -> np.ndarray:
    """``f`` shifted and scaled to zero mean and unit std over land (float32)."""
    f = f - f[land].mean()
    return (f / max(float(f[land].std()), 1e-12)).astype(np.float32)
