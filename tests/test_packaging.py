"""The install recipes agree: the Dockerfile installs exactly what the Makefile installs."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pins(text: str, package: str) -> set[str]:
    return set(re.findall(rf"{package}==([\w.]+)", text))


def test_dockerfile_uses_the_makefile_pins():
    make, docker = (REPO / "Makefile").read_text(), (REPO / "Dockerfile").read_text()
    for package in ("torch", "hydra-optuna-sweeper"):
        assert pins(make, package) and pins(docker, package) == pins(make, package), package
    assert "-r requirements.txt" in docker and "--no-deps hydra-optuna-sweeper" in docker
    assert re.search(r'ENTRYPOINT \["python", "train.py"\]', docker)
