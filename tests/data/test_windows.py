"""centre_minus_mean: the downscaling target on a whole field, against a per-window loop."""
import numpy as np
import pytest

from lst_lightning.data.facts.windows import centre_minus_mean


@pytest.mark.parametrize("k", [3, 5, 9])
def test_centre_minus_mean_matches_a_loop(rng, k):
    field = rng.normal(300, 5, size=(2, 17, 14))
    got = centre_minus_mean(field, k)
    r = k // 2
    assert got.shape == (2, 17 - k + 1, 14 - k + 1)
    for i in range(got.shape[1]):
        for j in range(got.shape[2]):
            window = field[:, i:i + k, j:j + k]
            np.testing.assert_allclose(got[:, i, j], field[:, i + r, j + r] - window.mean(axis=(1, 2)), atol=1e-9)
