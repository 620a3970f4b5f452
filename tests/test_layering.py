"""The house's rooms and the arrows between them (the README's "What is here"): every import of the
service's own code, including those inside functions and under ``TYPE_CHECKING``, read from the source.

* The core (``licensing``) never imports ``api``, ``billing``, ``service`` or ``migrations``; ``billing``
  never imports ``api`` or ``service``.
* Inside the core the areas form layers: ``kit`` imports no other part of the service; ``catalog``,
  ``models`` and ``signing`` only ``kit`` (and the verifier); the areas above never import each other
  in a circle.
* No module imports itself back through others (no import cycle), and the verifier imports nothing of
  the service (its own tests check it imports only the standard library and ``cryptography``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("licensing", "api", "billing", "service", "migrations")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = _modules()


def _imported(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


IMPORTS = {name: {m for m in _imported(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def area(module: str) -> str:
    """``licensing.<package>`` inside the core, ``licensing.<module>`` for its top-level modules, else the
    top-level package."""
    parts = module.split(".")
    if parts[0] != "licensing":
        return parts[0]
    return ".".join(parts[:2]) if len(parts) > 1 else module


def arrows() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, imported in IMPORTS.items():
        for other in imported:
            if area(other) != area(module):
                graph.setdefault(area(module), set()).add(area(other))
    return graph


def test_the_source_is_read() -> None:
    assert {"licensing.verify", "licensing.context", "licensing.licenses.issuance", "service.cli"} <= set(MODULES)
    assert "licensing.licenses.issuance" in IMPORTS["licensing.licenses.revocations"]


@pytest.mark.parametrize(
    ("lower", "higher"),
    [("licensing", ("api", "billing", "service", "migrations")), ("billing", ("api", "service"))],
)
def test_no_arrow_runs_up(lower: str, higher: tuple[str, ...]) -> None:
    upward = sorted(
        f"{module} imports {other}"
        for module, imported in IMPORTS.items()
        if module.split(".")[0] == lower
        for other in imported
        if other.split(".")[0] in higher
    )
    assert upward == []


LAYERS = {
    "licensing.kit": set(),
    "licensing.catalog": {"licensing.kit"},
    "licensing.models": {"licensing.kit"},
    "licensing.signing": {"licensing.kit", "licensing.verify"},
    "licensing.verify": set(),
    # The air-gapped exchanges ship in the verifier's wheel: they stand on the verifier alone.
    "licensing.airgap": {"licensing.verify"},
}


@pytest.mark.parametrize("room", sorted(LAYERS))
def test_the_foundations_import_only_what_is_below_them(room: str) -> None:
    assert arrows().get(room, set()) <= LAYERS[room]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(IMPORTS) == []


def test_no_cycle_between_the_cores_rooms() -> None:
    core = {room: {o for o in others if o.startswith("licensing")} for room, others in arrows().items()}
    assert _cycles({room: others for room, others in core.items() if room.startswith("licensing")}) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
