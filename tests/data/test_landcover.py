"""Land cover as input: window class fractions against a brute-force count, the rare-class
"other" bin, and every bad raster as one line."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.facts.landcover import (
    MIN_SHARE,
    class_fractions,
    class_labels,
    column_map,
    landcover_classes,
    union_labels,
)
from lst_lightning.data.io.writers import write_geotiff
from lst_lightning.errors import LSTError
from tests.data.inputs import make_grid, write_random_archive

NODATA = 255


def random_codes(rng, shape) -> np.ndarray:
    """uint8 classes 1, 4, 7 common, 9 rare (below MIN_SHARE), some nodata."""
    codes = rng.choice(np.array([1, 4, 7], dtype=np.uint8), size=shape)
    flat = codes.reshape(-1)
    flat[rng.choice(flat.size, size=max(1, int(MIN_SHARE * flat.size) - 1), replace=False)] = 9
    flat[rng.choice(flat.size, size=20, replace=False)] = NODATA
    return codes


def brute_fractions(codes: np.ndarray, labels: list[str], k: int) -> np.ndarray:
    h, w = codes.shape
    r = k // 2
    out = np.full((h, w, len(labels)), np.nan)
    named = [int(c) for c in labels[:-1]]
    for i in range(r, h - r):
        for j in range(r, w - r):
            win = codes[i - r:i + r + 1, j - r:j + r + 1].ravel().tolist()
            for n, c in enumerate(named):
                out[i, j, n] = sum(v == c for v in win) / (k * k)
            out[i, j, -1] = sum(v not in named for v in win) / (k * k)
    return out


def test_fractions_equal_a_brute_force_count(rng):
    codes = random_codes(rng, (23, 19)).astype(np.int32)
    codes[codes == NODATA] = -1
    classes = landcover_classes(codes)
    assert classes == [1, 4, 7]  # 9 is rarer than MIN_SHARE: it goes to "other" with nodata
    got = class_fractions(codes, classes, 5)
    want = brute_fractions(codes, class_labels(classes), 5)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], atol=1e-6)
    inner = got[2:-2, 2:-2]
    np.testing.assert_allclose(inner.sum(axis=-1), 1.0, atol=1e-6)


@pytest.fixture(scope="module")
def landcover_archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("landcover")
    arch = write_random_archive(root, shape=(40, 36), n_days=6)
    codes = random_codes(np.random.default_rng(5), arch["grid"].shape)
    write_geotiff(root / "landcover.tif", arch["grid"], codes, nodata=NODATA)
    return {**arch, "landcover": root / "landcover.tif", "codes": codes, "root": root}


def prepare(arch, landcover, root):
    from lst_lightning.data.cache import prepare_cache

    return prepare_cache(arch["lst_dir"], dem=arch["dem"], landcover=landcover, k=5,
                         cache_root=root / "cache", progress=False, quiet=True)


def test_gathered_landcover_columns_are_the_window_fractions_and_the_centre_class(landcover_archive, tmp_path):
    from lst_lightning.data.loading.gatherer import FeatureGatherer, layout_for

    cache = prepare(landcover_archive, landcover_archive["landcover"], tmp_path)
    labels = cache.meta["landcover_classes"]
    assert labels == ["1", "4", "7", "other"]
    layout = layout_for(cache, ("lst_mean", "landcover"))
    assert layout.scalar_names == ("lst_mean", "lc_1", "lc_4", "lc_7", "lc_other",
                                   "lc_centre_1", "lc_centre_4", "lc_centre_7", "lc_centre_other")
    codes = landcover_archive["codes"].astype(np.int64)
    codes = np.where(codes == NODATA, -1, codes)
    want = brute_fractions(codes, labels, 5)
    f, r, c = np.array([0, 3, 5, 1]), np.array([2, 10, 37, 20]), np.array([2, 20, 33, 8])
    batch = FeatureGatherer(cache, layout).gather(f, r, c)
    np.testing.assert_allclose(batch["scalars"][:, 1:5], want[r, c], atol=1e-6)
    centre = [labels.index(str(v)) if str(v) in labels else len(labels) - 1 for v in codes[r, c]]
    np.testing.assert_array_equal(batch["scalars"][:, 5:], np.eye(len(labels))[centre])


def test_landcover_group_needs_a_landcover_raster(random_cache):
    from lst_lightning.data.loading.gatherer import FeatureGatherer, layout_for

    with pytest.raises(LSTError, match=r"group 'landcover' needs a land-cover raster \(data.landcover\)"):
        FeatureGatherer(random_cache, layout_for(random_cache, ("lst_mean", "landcover")))


def test_a_model_of_other_classes_is_refused(landcover_archive, tmp_path):
    from lst_lightning.data.loading.gatherer import FeatureGatherer
    from lst_lightning.features import FeatureLayout

    cache = prepare(landcover_archive, landcover_archive["landcover"], tmp_path)
    with pytest.raises(LSTError, match=r"land-cover classes \['1', '4', 'other'\] differ from the cache's"):
        layout = FeatureLayout(k=5, groups=("landcover",), meta={"landcover_classes": ["1", "4", "other"]})
        FeatureGatherer(cache, layout)


@pytest.mark.parametrize("case, message", [
    ("float", r"land cover .*landcover.tif holds float32 values; expected integer class codes"),
    ("bands", r"land cover .*landcover.tif has 2 bands; expected 1 \(class codes\)"),
    ("grid", r"land cover .*landcover.tif.*grid"),
    ("missing", r"land cover file .*landcover.tif does not exist"),
])
def test_bad_landcover_rasters_are_one_line_and_leave_nothing(landcover_archive, tmp_path, case, message):
    grid, codes = landcover_archive["grid"], landcover_archive["codes"]
    path = tmp_path / "landcover.tif"
    if case == "float":
        write_geotiff(path, grid, codes.astype(np.float32))
    elif case == "bands":
        write_geotiff(path, grid, np.stack([codes, codes]))
    elif case == "grid":
        other = make_grid(*grid.shape, dlat=0.02)
        write_geotiff(path, other, codes)
    with pytest.raises(LSTError, match=message) as err:
        prepare(landcover_archive, path, tmp_path)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_pooled_classes_are_the_union_and_each_cache_maps_into_them():
    assert union_labels([("11", "2", "other"), ("6", "11", "other")]) == ("2", "6", "11", "other")  # numeric order
    # layout 2, 6, 11, other: fractions then centre one-hot; a cache of 2, 11, other fills 6 with 0 (-1)
    np.testing.assert_array_equal(column_map(("2", "11", "other"), ("2", "6", "11", "other")),
                                  [0, -1, 1, 2, 3, -1, 4, 5])
    assert column_map(("2", "11", "other"), ("2", "11", "other")).tolist() == list(range(6))  # alone: identity
    assert column_map(("2", "7", "other"), ("2", "11", "other")) is None  # class 7 would have nowhere to go
