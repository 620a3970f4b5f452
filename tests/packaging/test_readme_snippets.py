"""The Python snippets of the README, the verifier wheel's README and docs/verifiers.md run as written.

Each ```python block is executed unchanged, as a new user would paste it, against the conformance
vectors' files. The only names given to it are its inputs, the text and values a product holds
(``bundled_jwks_text``, ``license_text``, ``show``...): never a name of the library, so a snippet that
forgets an import fails here. A damaged revocation list must reach the snippet's ``except``, never
crash the host program.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"
PAGES = [REPO / "README.md", REPO / "packaging" / "verifier" / "README.md", REPO / "docs" / "verifiers.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
INSTALLATION = "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f"
LIBRARY_NAMES = {"verify", "Keyring", "LicenseError", "load_revocations", "compare", "InstallationKey", "UsageLog"}


def snippets() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text("utf-8")
        for match in BLOCK.finditer(text):
            line = text[: match.start()].count("\n") + 2
            found.append((f"{page.relative_to(REPO)}:{line}", match.group(1)))
    return found


SNIPPETS = snippets()


def vector(name: str) -> str:
    return (VECTORS / name).read_text("utf-8")


def inputs(tmp_path: Path, shown: list[tuple[Any, ...]], **changes: Any) -> dict[str, Any]:
    """What a product holds: the names the snippets take as given, bound to vector files."""
    values: dict[str, Any] = {
        "bundled_jwks_text": vector("jwks.json"),
        "revocation_list_text": vector("rev-seq.lic"),
        "license_text": vector("time-far-future.lic"),  # valid for millennia: the snippets verify at now
        "new_license_text": vector("time-exp-null.lic"),
        "this_installation_id": INSTALLATION,
        "my_installation_id": INSTALLATION,
        "installation_key_pem": vector("airgap/installation-key.pem"),
        "usage_log_path": str(tmp_path / "usage.json"),
        "active_users": 42,
        "receipt_text": vector("airgap/receipt-1.lic"),  # a receipt for another report than the one made
        "show": lambda *args: shown.append(args),
        "use": lambda *args: shown.append(args),
    }
    values.update(changes)
    assert not LIBRARY_NAMES & set(values)
    return values


@contextmanager
def in_directory(path: Path) -> Iterator[None]:
    """The current directory, for the wheel README's ``open("jwks.json")``."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run(code: str, where: str, namespace: dict[str, Any], tmp_path: Path) -> None:
    shutil.copy(VECTORS / "jwks.json", tmp_path / "jwks.json")
    shutil.copy(VECTORS / "time-far-future.lic", tmp_path / "license.lic")
    with in_directory(tmp_path):
        exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the documentation's own code


def test_the_snippets_are_found() -> None:
    pages = {where.split(":")[0] for where, _code in SNIPPETS}
    assert pages == {"README.md", "packaging/verifier/README.md", "docs/verifiers.md"}
    assert len(SNIPPETS) >= 5
    readme = [code for where, code in SNIPPETS if where.startswith("README.md")]
    assert any("licensing.airgap" in code for code in readme)


@pytest.mark.parametrize(("where", "code"), SNIPPETS, ids=[where for where, _code in SNIPPETS])
def test_each_snippet_runs_as_written(
    where: str, code: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown: list[tuple[Any, ...]] = []
    namespace = inputs(tmp_path, shown)
    run(code, where, namespace, tmp_path)
    output = capsys.readouterr().out
    assert shown or output, "the snippet showed nothing"
    if "verify_receipt" in code:
        # The vectors' receipt is for another report than the one the snippet made: refused, and shown.
        assert shown[-1][0] == "malformed" and "another usage report" in shown[-1][1]
        assert (tmp_path / "usage.json").is_file()
    elif "compare(" in code:
        assert "warning: NEW does not supersede OLD: it may belong to another line" in output
    elif "load_revocations" in code:
        assert shown and shown[-1][0] == "valid", shown


@pytest.mark.parametrize(
    ("where", "code"),
    [(where, code) for where, code in SNIPPETS if "load_revocations(" in code],
    ids=[where for where, code in SNIPPETS if "load_revocations(" in code],
)
@pytest.mark.parametrize("damage", ["", "not a list", "-----BEGIN LICENSE REVOCATIONS-----\nAAAA", "truncated"])
def test_a_damaged_revocation_list_is_shown_not_crashing(where: str, code: str, damage: str, tmp_path: Path) -> None:
    shown: list[tuple[Any, ...]] = []
    text = vector("rev-seq.lic")[:200] if damage == "truncated" else damage
    run(code, where, inputs(tmp_path, shown, revocation_list_text=text), tmp_path)
    assert shown and shown[-1][0] == "malformed", shown


def test_a_revoked_license_is_shown(tmp_path: Path) -> None:
    (where, code) = next((w, c) for w, c in SNIPPETS if w.startswith("README.md") and "load_revocations(" in c)
    shown: list[tuple[Any, ...]] = []
    run(code, where, inputs(tmp_path, shown, license_text=vector("revoked.lic")), tmp_path)
    assert shown[-1][0] == "revoked"
