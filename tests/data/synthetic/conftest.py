"""The small default-settings archive most synthetic tests read (generated once per session)."""
from __future__ import annotations

import pytest

from lst_lightning.data.synthetic import generate_archive
from tests.data.synthetic.reading import SMALL


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    return out, generate_archive(out, **SMALL)
