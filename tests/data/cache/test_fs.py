"""Building a directory once, atomically: the lock (waiters reuse, no lock file is left), the
temporary directory (removed on failure, leftovers of killed builds cleaned), and the same
through whole preparations in separate processes (SIGKILL midway, two at once)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lst_lightning.data.cache import fs, open_cache, prepare_cache
from lst_lightning.errors import LSTError
from tests.data.cache.common import cache_dirs, lock_files, prep, start_prepare, wait_for_build


def entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


# ---------------------------------------------------------------- build_in_place

def test_builds_once_then_reuses(tmp_path):
    final = tmp_path / "thing"
    with fs.build_in_place(final, marker="done", what="this thing") as tmp:
        assert tmp is not None and tmp.parent == tmp_path and tmp.name.startswith(".tmp-thing-")
        assert entries(tmp) == [] and not final.exists()
        (tmp / "data").write_text("payload")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "part").write_text("more")
        (tmp / "done").write_text("")
    assert entries(tmp_path) == ["thing"]  # no temporary directory, no lock file
    assert (final / "data").read_text() == "payload" and (final / "sub" / "part").read_text() == "more"
    with fs.build_in_place(final, marker="done", what="this thing") as tmp:
        assert tmp is None
    assert entries(tmp_path) == ["thing"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt(), LSTError("bad input")])
def test_a_failed_build_leaves_nothing(tmp_path, error):
    final = tmp_path / "thing"
    with pytest.raises(type(error)):
        with fs.build_in_place(final, marker="done", what="this thing") as tmp:
            (tmp / "data").write_text("half")
            raise error
    assert entries(tmp_path) == []


def test_a_build_without_its_marker_is_not_published(tmp_path):
    with pytest.raises(RuntimeError, match="without writing done"):
        with fs.build_in_place(tmp_path / "thing", marker="done", what="this thing") as tmp:
            (tmp / "data").write_text("no marker")
    assert entries(tmp_path) == []


def test_an_incomplete_result_is_replaced(tmp_path):
    final = tmp_path / "thing"
    final.mkdir()
    (final / "junk").write_text("left by hand")
    with fs.build_in_place(final, marker="done", what="this thing") as tmp:
        (tmp / "done").write_text("")
    assert entries(final) == ["done"] and entries(tmp_path) == ["thing"]


def test_a_waiter_is_told_and_reuses(tmp_path, caplog):
    """The second builder waits on the lock while the first builds, then finds the result."""
    caplog.set_level("INFO", logger="lst_lightning")
    final, inside, release = tmp_path / "thing", threading.Event(), threading.Event()
    built, second = [], []

    def first():
        with fs.build_in_place(final, marker="done", what="this thing") as tmp:
            inside.set()
            release.wait(10)
            (tmp / "done").write_text("")
            built.append(tmp)

    def waiter():
        with fs.build_in_place(final, marker="done", what="this thing") as tmp:
            second.append(tmp)

    t1 = threading.Thread(target=first)
    t1.start()
    assert inside.wait(10)
    t2 = threading.Thread(target=waiter)
    t2.start()
    deadline = time.monotonic() + 10
    while "another process is preparing this thing; waiting" not in caplog.text:
        assert time.monotonic() < deadline, "the second builder never waited"
        time.sleep(0.01)
    release.set()
    t1.join(10)
    t2.join(10)
    assert len(built) == 1 and second == [None]
    assert entries(tmp_path) == ["thing"]


def test_the_lock_excludes_while_its_file_comes_and_goes(tmp_path):
    """Many holders in turn, each removing the lock file on release while others wait on it:
    never two inside at once, and no lock file at the end."""
    lock = tmp_path / ".thing.lock"
    inside, overlaps, rounds = [], [], []

    def worker():
        for _ in range(30):
            with fs.build_lock(lock):
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(len(inside))
                time.sleep(0.0005)
                inside.pop()
                rounds.append(1)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(rounds) == 180 and overlaps == []
    assert entries(tmp_path) == []


def test_a_lock_file_that_cannot_be_created(tmp_path):
    with pytest.raises(LSTError, match="cannot create the lock file"):
        with fs.build_lock(tmp_path / "no" / "such" / ".x.lock"):
            pass


def test_stale_siblings_are_removed_only_when_unlocked(tmp_path):
    family = re.compile(r"thing-\d")
    busy, idle, stranger = (tmp_path / n for n in (".tmp-thing-1-111", ".tmp-thing-2-222", ".tmp-other-333"))
    for d in (busy, idle, stranger):
        d.mkdir()
    (tmp_path / ".thing-2.lock").write_text("")  # left by the killed build of thing-2
    with fs.build_lock(tmp_path / ".thing-1.lock"):  # thing-1 is being built right now
        with fs.build_in_place(tmp_path / "thing-3", marker="done", what="thing 3", family=family) as tmp:
            (tmp / "done").write_text("")
        assert busy.exists() and not idle.exists() and stranger.exists()
        assert entries(tmp_path) == [".thing-1.lock", ".tmp-other-333", ".tmp-thing-1-111", "thing-3"]


# ---------------------------------------------------------------- through prepare_cache

def test_reuse_needs_no_lock(small, monkeypatch):
    """A complete cache is reused without taking the lock (works in a read-only cache root)."""
    first = prep(small, quiet=True)

    def no_lock(*a, **kw):
        raise AssertionError("the lock was taken")

    monkeypatch.setattr(fs, "build_lock", no_lock)
    assert prep(small, quiet=True).path == first.path


def test_stale_tmp_is_cleaned_and_rebuilt(small):
    name = prep(small, quiet=True).path.name
    shutil.rmtree(small["root"] / name)
    stale = small["root"] / f".tmp-{name}-999999"
    stale.mkdir()
    (stale / "lst.npy").write_bytes(b"half written")
    other = small["root"] / ".tmp-lst-k7-0123456789abcdef-999999"  # a killed build of another cache
    other.mkdir()
    c = prep(small, quiet=True)
    assert c.path.name == name and (c.path / "meta.json").is_file()
    assert not stale.exists() and not other.exists()
    assert cache_dirs(small["root"]) == [name]
    assert lock_files(small["root"]) == []
    # a final directory without meta.json (never usable) is replaced too
    (c.path / "meta.json").unlink()
    assert (prep(small, quiet=True).path / "meta.json").is_file()


def test_sigkill_midway_then_rebuild(big_archive, tmp_path):
    lst_dir, dem = big_archive
    root = tmp_path / "cache"
    proc = start_prepare(lst_dir, dem, root)
    tmp_dir = wait_for_build(proc, root)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not [p for p in root.glob("lst-*") if (p / "meta.json").exists()]  # nothing complete-looking
    assert tmp_dir.exists()  # the killed build's leftover ...
    c = prepare_cache(lst_dir, dem=dem, cache_root=root, progress=False, quiet=True)
    assert not tmp_dir.exists()  # ... is cleaned by the next run, which rebuilds
    assert cache_dirs(root) == [c.path.name]
    assert lock_files(root) == []  # the killed build's lock file too
    assert c.array("lst").shape == (200, 200, 200) and c.n_windows.min() > 0
    assert np.isfinite(c.array("window_mean")[-1, 100, 100])


def test_two_processes_build_once(big_archive, tmp_path):
    """The second process arrives while the first is midway (held there with SIGSTOP, so the
    overlap is certain): it waits on the lock, then reuses what the first one built."""
    lst_dir, dem = big_archive
    root = tmp_path / "cache"
    builder = start_prepare(lst_dir, dem, root)
    wait_for_build(builder, root)
    os.kill(builder.pid, signal.SIGSTOP)
    try:
        waiter = start_prepare(lst_dir, dem, root)
        said = ""
        for said in waiter.stderr:  # blocks until the waiter has reached the lock (or ended)
            if "another process is preparing this cache; waiting" in said:
                break
        assert "waiting" in said and waiter.poll() is None, said
    finally:
        os.kill(builder.pid, signal.SIGCONT)
    outs = [p.communicate(timeout=120) for p in (builder, waiter)]
    assert [p.returncode for p in (builder, waiter)] == [0, 0], [o[1] for o in outs]
    assert outs[0][0] == outs[1][0]  # the same cache path
    assert "cache ready" in outs[0][1] and "reusing cache" not in outs[0][1]
    assert "reusing cache" in outs[1][1] and "cache ready" not in outs[1][1]
    c = open_cache(outs[0][0].strip())
    assert cache_dirs(root) == [c.path.name]
    assert lock_files(root) == []  # neither the builder nor the waiter left its lock file
    assert c.array("window_mean").shape == (200, 200, 200) and c.meta["n_windows_total"] > 0
