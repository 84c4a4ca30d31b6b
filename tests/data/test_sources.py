"""From the data config to an archive and a cache: the synthetic archive is generated once,
atomically (built in place like the cache), and bad settings name the setting."""
from __future__ import annotations

import json
import logging

import pytest

from lst_lightning.data import synthetic
from lst_lightning.data.loading.sources import (
    SYNTH_DONE,
    hours_text,
    resolve_cache,
    source_of,
    synthetic_archive,
    warn_default_hours,
)
from lst_lightning.errors import LSTError


@pytest.fixture
def fake_generator(monkeypatch):
    """generate_archive replaced by a recorder that writes a token archive (truth.json last)."""
    calls = []

    def fake(out, progress=True, **options):
        calls.append((out, options))
        if options.get("seed") == 666:
            (out / "lst").mkdir()
            raise RuntimeError("generator crashed")
        (out / "dem.tif").write_bytes(b"dem")
        (out / SYNTH_DONE).write_text(json.dumps({"seed": options.get("seed")}))

    monkeypatch.setattr(synthetic, "generate_archive", fake)
    return calls


def test_generated_once_then_reused(tmp_path, fake_generator, caplog):
    caplog.set_level(logging.INFO, logger="lst_lightning")
    out = synthetic_archive({"seed": 1, "years": [2020]}, tmp_path)
    assert out.parent == tmp_path and out.name.startswith("synth-")
    assert (out / SYNTH_DONE).is_file() and len(fake_generator) == 1
    assert fake_generator[0][0].name.startswith(f".tmp-{out.name}-")  # built beside, then renamed
    assert fake_generator[0][1]["years"] == (2020,) and fake_generator[0][1]["shape"] == (603, 409)
    assert "generating the synthetic archive" in caplog.text
    assert synthetic_archive({"seed": 1, "years": [2020]}, tmp_path) == out
    assert len(fake_generator) == 1  # reused
    assert synthetic_archive({"seed": 2, "years": [2020]}, tmp_path) != out  # a folder per setting
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("synth-")) == []


def test_a_new_generator_version_is_not_served_an_old_archive(tmp_path, fake_generator, monkeypatch):
    old = synthetic_archive({"seed": 1}, tmp_path)
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", synthetic.GENERATOR_VERSION + 1)
    new = synthetic_archive({"seed": 1}, tmp_path)
    assert new != old and len(fake_generator) == 2
    assert "generator_version" not in fake_generator[1][1]  # a key of the folder, not a generator option


def test_a_failed_generation_leaves_nothing(tmp_path, fake_generator):
    with pytest.raises(RuntimeError, match="generator crashed"):
        synthetic_archive({"seed": 666}, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary directory, no lock file
    out = synthetic_archive({"seed": 3}, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_a_killed_generation_is_cleaned_up(tmp_path, fake_generator):
    out = synthetic_archive({"seed": 4}, tmp_path)
    for p in sorted(out.iterdir()):
        p.unlink()
    out.rmdir()
    stale = tmp_path / f".tmp-{out.name}-999999"
    stale.mkdir()
    (tmp_path / f".{out.name}.lock").write_text("")
    assert synthetic_archive({"seed": 4}, tmp_path) == out
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_a_real_small_archive(tmp_path):
    out = synthetic_archive({"shape": [16, 18], "years": [2020], "day_step": 90, "seed": 5}, tmp_path)
    truth = json.loads((out / SYNTH_DONE).read_text())
    assert truth["shape"] == [16, 18] and truth["n_frames"] == 2 * truth["n_dates"] > 0
    assert (out / "dem.tif").is_file() and [p.name for p in tmp_path.iterdir()] == [out.name]


def test_bad_settings(tmp_path):
    with pytest.raises(LSTError, match="data.synthetic.dem: file .* does not exist"):
        synthetic_archive({"dem": str(tmp_path / "nope.tif")}, tmp_path)
    with pytest.raises(LSTError, match=r"data._target_: unknown 'ftp.Archive'; choose from .*sources.Files"):
        resolve_cache({"_target_": "ftp.Archive"})
    with pytest.raises(LSTError, match=r"data: unknown setting\(s\) \['lst_path'\] for Files"):
        resolve_cache({"_target_": "lst_lightning.data.loading.sources.Files", "lst_path": "x"})
    with pytest.raises(LSTError, match="data.lst_dir is not set"):
        resolve_cache({"source": "files", "lst_dir": "???"})


def test_time_base_reaches_the_cache_and_its_fingerprint(tmp_path):
    from tests.data.inputs import write_random_archive

    arch = write_random_archive(tmp_path, shape=(12, 10), n_days=3)  # days 1, 4, 7 of 2020
    data = {"source": "files", "lst_dir": str(arch["lst_dir"]), "dem": str(arch["dem"]), "k": 3,
            "cache_root": str(tmp_path / "cache")}
    auto = resolve_cache(data, progress=False)
    zero = resolve_cache({**data, "time_base": 0}, progress=False)
    assert zero.path != auto.path  # another base, another cache
    assert [f["date"] for f in auto.meta["frames"][::2]] == ["2020-01-01", "2020-01-04", "2020-01-07"]
    assert [f["date"] for f in zero.meta["frames"][::2]] == ["2020-01-02", "2020-01-05", "2020-01-08"]
    assert resolve_cache({**data, "time_base": "auto"}, progress=False).path == auto.path
    with pytest.raises(LSTError, match="data.time_base"):
        resolve_cache({**data, "time_base": "one"}, progress=False)


# ---------------------------------------------------------------- overpass hours

FILES = {"_target_": "lst_lightning.data.loading.sources.Files", "lst_dir": "/terra/lst", "dem": "/terra/dem.tif"}


def test_an_archive_of_ones_own_on_the_default_hours_is_warned_about():
    """data.hours defaults to MODIS Aqua's overpass; Terra data read with it gets wrong times of day
    and sun positions without a word."""
    source = source_of(FILES)
    assert source.overpass_hours() == {"night": 1.5, "day": 13.5}
    [warning] = source.hours_warnings()
    assert warning.startswith("data.hours: /terra/lst is read with the default overpass hours, MODIS Aqua's "
                              "(night 01:30, day 13:30)")
    assert "data.hours.day=10.5 data.hours.night=22.5" in warning and "data.hours_checked=true" in warning


@pytest.mark.parametrize("settings", [{"hours": {"day": 10.5, "night": 22.5}}, {"hours_checked": True},
                                      {"bands": ["day"], "hours": {"day": 10.5}}])
def test_hours_set_or_checked_are_not_warned_about(settings):
    assert source_of({**FILES, **settings}).hours_warnings() == []


def test_only_the_bands_used_count():
    source = source_of({**FILES, "bands": ["day"], "hours": {"day": 10.5}})
    assert source.overpass_hours() == {"day": 10.5}  # night (on the default) is not read
    assert "day 10:30" in source.describe() and "night" not in source.describe()


def test_the_synthetic_archive_and_each_pooled_archive():
    assert source_of({"_target_": "lst_lightning.data.loading.sources.Synthetic"}).hours_warnings() == []
    pool = source_of({"_target_": "lst_lightning.data.loading.sources.Pool", "archives": {
        "aqua": {"lst_dir": "/aqua/lst", "dem": "/aqua/dem.tif"},
        "terra": {"lst_dir": "/terra/lst", "dem": "/terra/dem.tif", "hours": {"day": 10.5, "night": 22.5}},
        "checked": {"lst_dir": "/c/lst", "dem": "/c/dem.tif", "hours_checked": True}}})
    assert pool.overpass_hours()["terra"] == {"night": 22.5, "day": 10.5}
    assert [w.split(" is read")[0] for w in pool.hours_warnings()] == ["data.hours: /aqua/lst"]
    assert hours_text(pool.overpass_hours()).startswith("aqua: night 01:30, day 13:30 | terra: night 22:30")


def test_the_warning_is_logged_once(caplog):
    caplog.set_level(logging.WARNING, logger="lst_lightning")
    source = source_of({**FILES, "lst_dir": "/once/lst"})
    warn_default_hours(source)
    warn_default_hours(source_of({**FILES, "lst_dir": "/once/lst"}))
    assert [r.getMessage()[:29] for r in caplog.records] == ["data.hours: /once/lst is read"]


def test_bad_hours_are_one_line():
    with pytest.raises(LSTError, match="overpass hours: unknown band 'noon'"):
        source_of({**FILES, "hours": {"noon": 12}}).hours_warnings()
