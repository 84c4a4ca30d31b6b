"""The install recipes agree (Dockerfile = Makefile pins), and an installed package works outside the checkout."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common import REPO


def pins(text: str, package: str) -> set[str]:
    return set(re.findall(rf"{package}==([\w.]+)", text))


def test_dockerfile_uses_the_makefile_pins():
    make, docker = (REPO / "Makefile").read_text(), (REPO / "Dockerfile").read_text()
    for package in ("torch", "hydra-optuna-sweeper"):
        assert pins(make, package) and pins(docker, package) == pins(make, package), package
    assert "-r requirements.txt" in docker and "--no-deps hydra-optuna-sweeper" in docker
    assert re.search(r'ENTRYPOINT \["python", "train.py"\]', docker)


@pytest.mark.e2e
def test_a_non_editable_install_works_from_another_directory(tmp_path):
    """``pip install --target`` (a real, non-editable build) ships the configs inside the package;
    its apps find them from any directory and write nothing next to the installed package."""
    target, work, source = tmp_path / "site", tmp_path / "work", tmp_path / "source"
    work.mkdir()
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources
    outputs = {".git", ".venv", "data", "logs", "reports", "mlruns", "build", "multirun", "outputs"}
    shutil.copytree(REPO, source, symlinks=True, ignore=lambda folder, names: [
        n for n in names if (Path(folder) == REPO and n in outputs) or n == "__pycache__" or n.endswith(".egg-info")])
    build = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                            "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    package = target / "lst_lightning"
    assert (package / "conf" / "train.yaml").is_file() and (package / "conf" / "model" / "mlp.yaml").is_file()
    before = sorted(p.relative_to(target) for p in target.rglob("*") if "__pycache__" not in p.parts)
    env = {k: v for k, v in os.environ.items() if k != "LST_ROOT"}
    env["PYTHONPATH"] = str(target)  # the installed copy, not the checkout

    def app(code: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=work,
                              env=env, timeout=120)

    where = app("import lst_lightning.config as c; print(c.CONF_DIR); print(c.compose('train').model.name)")
    assert where.returncode == 0, where.stderr
    assert where.stdout.split() == [str(package / "conf"), "gated"]  # the default model
    # lst-evaluate: Hydra composes the packaged config, the user's mistake is one line, exit 2
    proc = app("from lst_lightning.apps.run_cli import evaluate_main; evaluate_main()", f"run={work}/no_such.ckpt")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"error: run={work}/no_such.ckpt: no such file or directory"
    proc = app("from lst_lightning.apps.run_cli import predict_main; predict_main()", "--help")
    assert proc.returncode == 0 and "bbox" in proc.stdout, proc.stderr
    after = sorted(p.relative_to(target) for p in target.rglob("*") if "__pycache__" not in p.parts)
    assert after == before  # nothing written next to the package: outputs go under the current directory
