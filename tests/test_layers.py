"""The house rules, checked on the source: data flows one way (no module imports a higher layer,
function-level imports included) and there is no import circle."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.common import REPO

PACKAGE = REPO / "lst_lightning"
# lowest first; a module may import its own layer and those below
LAYERS = [
    # "": the package's own __init__, which sets the thread environment (threads) before anything loads
    ("base", ("", "errors", "log", "progress", "config", "config_groups", "targets", "threads")),
    ("io", ("data.io",)),
    ("facts", ("data.facts", "features")),
    ("cache", ("data.cache",)),
    ("data", ("data",)),
    ("downscale", ("downscale",)),
    ("models", ("models",)),
    ("evaluation", ("evaluation",)),
    ("training", ("training",)),
    ("apps", ("apps",)),
]
# models are plain modules: of the data stage they may use only the feature layout and its facts
MODELS_MAY_USE = ("base", "facts", "models")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(name: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    assert best is not None, f"lst_lightning.{name} is in no layer of tests/test_layers.py"
    return best[0]


def imports(path: Path) -> set[str]:
    """lst_lightning modules imported anywhere in the file (names relative to the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("lst_lightning.") and is_module(name.removeprefix("lst_lightning.")):
                found.add(name.removeprefix("lst_lightning."))
    return found


def is_module(name: str) -> bool:
    """A module or package of lst_lightning (not a function or class imported from one)."""
    path = PACKAGE.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) - {module_name(p)} for p in PACKAGE.rglob("*.py")}


def test_no_module_imports_a_higher_layer():
    wrong = []
    for mod, deps in graph().items():
        for dep in deps:
            if layer(dep) > layer(mod):
                wrong.append(f"{mod} ({LAYERS[layer(mod)][0]}) imports {dep} ({LAYERS[layer(dep)][0]})")
            if LAYERS[layer(mod)][0] == "models" and LAYERS[layer(dep)][0] not in MODELS_MAY_USE:
                wrong.append(f"{mod} (a model) imports the data pipeline's {dep}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_circle():
    # a module importing its own package's __init__ (lst_lightning.data.cache.build -> data.cache) is no circle
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph().items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


def test_the_check_sees_imports():
    """A check that finds nothing because it reads nothing would pass forever."""
    g = graph()
    assert "data.cache.build" in g and "data.io.archive" in g["data.cache.build"]
    assert "training.module" in g["apps.runs"]
    assert "apps.report.jobs" in g["apps.study_cli"]  # a function-level import (lst-report's lazy one)
