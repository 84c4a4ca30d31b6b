"""Cloud gaps (flagged blobs holding the noise-free field), sensor noise, and the oracle archive."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from lst_lightning.data.io.formats import LST_SCALE, observed
from lst_lightning.data.synthetic import generate_archive
from tests.data.synthetic.reading import read_all


def test_clouds_are_flagged_blobs_holding_the_noise_free_field(tmp_path):
    truth = generate_archive(tmp_path, shape=(64, 56), day_step=31, noise_k=1.0, hidden_k=0.0,
                             cloud_fraction=0.4, seed=2, progress=False)
    _, lst, qa = read_all(tmp_path / "lst")
    _, oracle, oracle_qa = read_all(tmp_path / "oracle")
    land = lst[0] > 0
    bands = ["night", "day"] * (lst.shape[0] // 2)
    obs = np.stack([observed(q, b) for q, b in zip(qa, bands)]) & land
    cloudy = ~obs & land
    assert 0.15 < cloudy[:, land].mean() < 0.7
    assert truth["cloudy_fraction_measured"] == pytest.approx(cloudy[:, land].mean(), abs=1e-4)
    # blobs, not salt and pepper: few connected components for many cloudy pixels
    n_blobs = sum(ndimage.label(c)[1] for c in cloudy)
    assert cloudy.sum() / n_blobs > 20
    diff = (lst.astype(np.int64) - oracle) * LST_SCALE
    # with no hidden component a gap-filled pixel is exactly the noise-free (oracle) field ...
    assert (diff[cloudy] == 0).all()
    # ... and an observed one carries the sensor noise (night retrievals less noisy than day)
    day_obs, night_obs = obs[1::2], obs[0::2]
    assert diff[1::2][day_obs].std() == pytest.approx(1.0, rel=0.1)
    assert diff[0::2][night_obs].std() == pytest.approx(truth["noise_std_k"]["night"], rel=0.1)
    assert (oracle_qa[:, land] == 3).all() and (oracle_qa[:, ~land] == 0).all()


def test_gap_filled_values_are_smoother_than_observed_ones(small):
    out, _ = small  # default noise and hidden component
    _, lst, qa = read_all(out / "lst")
    kelvin = lst * LST_SCALE
    lap = np.abs(4 * kelvin[:, 1:-1, 1:-1] - kelvin[:, :-2, 1:-1] - kelvin[:, 2:, 1:-1]
                 - kelvin[:, 1:-1, :-2] - kelvin[:, 1:-1, 2:])
    bands = ["night", "day"] * (lst.shape[0] // 2)
    obs = np.stack([observed(q, b) for q, b in zip(qa, bands)])
    land = lst[0] > 0
    ones = np.ones((1, 3, 3))  # pixels whose whole 3x3 neighbourhood is cloudy / clear land
    all_cloudy = ndimage.minimum_filter((~obs & land).astype(int), footprint=ones)[:, 1:-1, 1:-1] == 1
    all_clear = ndimage.minimum_filter((obs & land).astype(int), footprint=ones)[:, 1:-1, 1:-1] == 1
    assert all_cloudy.sum() > 100 and all_clear.sum() > 100
    assert lap[all_cloudy].mean() < 0.75 * lap[all_clear].mean()


def test_oracle_archive_has_identical_frames(small):
    out, _ = small
    lst_archive, lst, _ = read_all(out / "lst")
    oracle_archive, oracle, _ = read_all(out / "oracle")
    assert [f.label() for f in oracle_archive.frames] == [f.label() for f in lst_archive.frames]
    assert oracle_archive.grid.matches(lst_archive.grid)
    assert ((oracle == 0) == (lst == 0)).all()
    diff = (lst.astype(np.int64) - oracle)[lst > 0] * LST_SCALE
    assert 0.3 < diff.std() < 1.5 and abs(diff.mean()) < 0.3  # hidden + noise, no bias
