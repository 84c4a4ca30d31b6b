"""progress_bar: the bar is closed before an exception leaves the block, so the error is
printed on a line of its own, not onto the bar."""
from __future__ import annotations

import sys

import pytest

from lst_lightning.progress import progress_bar
from tests.terminal import screen_lines


def test_terminal_model():
    assert screen_lines("abc\rx\n") == ["xbc", ""]
    assert screen_lines("bar 0%\rbar 50%| error") == ["bar 50%| error"]


def test_an_exception_closes_the_bar_first(capsys):
    with pytest.raises(RuntimeError, match="boom") as caught:
        with progress_bar(total=10, desc="preparing frames", unit="frame") as bar:
            bar.update(3)
            raise RuntimeError("boom")
    assert bar.disable  # closed (tqdm marks a closed bar disabled) ...
    drawn = capsys.readouterr().err
    assert "preparing frames" in drawn  # ... after it was drawn
    print(f"error: {caught.value}", file=sys.stderr)  # what the entry point prints next
    shown = screen_lines(drawn + capsys.readouterr().err)
    assert [line for line in shown if "boom" in line] == ["error: boom"]
    assert not any("preparing frames" in line for line in shown)  # the bar cleared its line


def test_normal_use_and_iteration(capsys):
    with progress_bar(range(4), desc="items") as bar:
        assert list(bar) == [0, 1, 2, 3]
    assert bar.disable and "items" in capsys.readouterr().err
    with progress_bar(total=4, desc="quiet", enabled=False) as bar:
        bar.update(4)
    assert capsys.readouterr().err == ""
    with progress_bar(total=2, desc="kept", leave=True) as bar:
        bar.update(2)
    assert any("kept" in line and "2/2" in line for line in screen_lines(capsys.readouterr().err))
