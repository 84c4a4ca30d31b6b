"""What the tests share besides fixtures (those live in conftest.py): paths and config composition."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SHARED_DATA = REPO.parent / "shared" / "data"


def compose_cfg(overrides=(), root: Path | None = None):
    """The train.py config for ``overrides`` with every output (run, logs, data) under ``root``,
    a test's temporary folder: required, so that no test writes to a shared place."""
    from omegaconf import open_dict

    from lst_lightning.config import compose

    if root is None:
        raise TypeError("compose_cfg: give the test's temporary folder as root")
    cfg = compose("train", list(overrides))
    with open_dict(cfg):
        cfg.paths.output_dir = str(Path(root) / "run")
        cfg.paths.log_dir = str(Path(root) / "logs")
        cfg.paths.data_dir = str(Path(root) / "data")
    return cfg


def load_script(name: str):
    """The module of ``scripts/<name>.py`` (scripts are files, not a package), imported afresh."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
