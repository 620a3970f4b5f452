"""`make serve` installs the service alone (`pip install -e .`), not the `dev` extras: no module the
service runs (licensing, api, billing, service, migrations) may import a package only the extras bring,
at the top or inside a function. Read from the source, like tests/test_layering.py."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import packages_distributions

from test_layering import MODULES, ROOT, _imported


def _distribution(requirement: str) -> str:
    name = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _import_names(distributions: set[str]) -> set[str]:
    """The top-level import names the installed ``distributions`` provide (pyjwt -> jwt, ...)."""
    names = set()
    for top, dists in packages_distributions().items():
        if any(_distribution(d) in distributions for d in dists):
            names.add(top)
    return names


def test_no_runtime_module_imports_a_dev_only_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    runtime = {_distribution(r) for r in project["dependencies"]}
    dev_only = {_distribution(r) for r in project["optional-dependencies"]["dev"]} - runtime
    forbidden = _import_names(dev_only) - _import_names(runtime)
    assert {"pytest", "playwright", "aiosmtpd", "jwt"} <= forbidden  # the mapping found the dev packages
    found = sorted(
        (module, imported)
        for module, path in MODULES.items()
        for imported in _imported(path)
        if imported.split(".")[0] in forbidden
    )
    assert found == []
