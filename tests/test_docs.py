"""The documentation in the repository: every relative link in README.md and docs/*.md resolves (to a file,
and to a heading when it names one), nothing outside tests/ points at `../shared/` (a clone does not have
it), every setting is documented in docs/settings.md, and every problem code in docs/http-api.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from licensing.kit.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans (whose brackets are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text("utf-8"))
    return {slug(match) for match in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE)}


def relative_links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(page.read_text("utf-8")))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def repository_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    return sorted({name for name in out.decode().split("\0") if name and (REPO / name).is_file()})


def test_the_documentation_pages_exist() -> None:
    names = {page.name for page in DOCS.glob("*.md")}
    assert {"settings.md", "cli.md", "http-api.md", "file-formats.md", "verifiers.md", "operations.md"} <= names
    readme = (REPO / "README.md").read_text("utf-8")
    assert readme.startswith("# "), "the README starts with its title, then the two commands"
    assert readme.index("make serve") < readme.index("## Documentation")
    for name in names:
        assert f"(docs/{name})" in readme, f"README.md does not link docs/{name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    links = relative_links(page)
    for target in links:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(REPO), f"{page.name}: {target} points outside the repository"
        assert resolved.is_file(), f"{page.name}: {target} is not a file in the repository"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page.name}: {target}: no heading #{anchor} in {resolved.name}"


def test_links_are_found() -> None:
    """The link scanner itself: a page of known links gives exactly those."""
    assert "operations.md#signing-keys" in relative_links(DOCS / "cli.md") + relative_links(DOCS / "settings.md")
    assert slug("`licensing check`") == "licensing-check"
    assert slug("Stopping: SIGTERM and SIGKILL") == "stopping-sigterm-and-sigkill"


def test_nothing_outside_tests_points_at_the_shared_folder() -> None:
    offenders = []
    for name in repository_files():
        if name.startswith("tests/"):
            continue
        try:
            text = (REPO / name).read_text("utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a binary file
        if "../shared/" in text or "shared/SPEC.md" in text:
            offenders.append(name)
    assert not offenders, f"these point outside the repository (use docs/ instead): {offenders}"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "settings.md").read_text("utf-8")
    missing = [
        f"LICENSING_{name.upper()}" for name in Settings.model_fields if f"`LICENSING_{name.upper()}`" not in text
    ]
    assert not missing, f"docs/settings.md does not describe {missing}"


def test_every_problem_code_is_documented() -> None:
    codes: set[str] = set()
    for package in ("licensing", "api", "billing"):
        for source in (REPO / package).rglob("*.py"):
            codes |= set(re.findall(r'\bcode\s*=\s*"([a-z_]+)"', source.read_text("utf-8")))
    assert {"rate_limited", "webhooks_disabled", "license_not_found"} <= codes, "the scanner finds the codes"
    text = (DOCS / "http-api.md").read_text("utf-8")
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert not missing, f"docs/http-api.md does not list the problem codes {missing}"


def test_the_webhook_events_to_subscribe_are_those_the_service_handles() -> None:
    from billing.webhooks import ALLOWED_EVENTS

    text = (DOCS / "operations.md").read_text("utf-8")
    section = text.split("## Stripe", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`((?:checkout|customer|invoice|charge)\.[a-z_.]+)`", section))
    assert listed == set(ALLOWED_EVENTS), (sorted(listed - set(ALLOWED_EVENTS)), sorted(set(ALLOWED_EVENTS) - listed))


def test_every_command_and_option_is_in_the_cli_page() -> None:
    import typer

    from service.cli import app

    text = (DOCS / "cli.md").read_text("utf-8")
    found: list[str] = []
    missing: list[str] = []

    def walk(command: Any, path: str) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is not None:  # a group (typer's own click)
            for name, sub in subcommands.items():
                walk(sub, f"{path} {name}")
            return
        found.append(path)
        if f"`{path}" not in text:
            missing.append(path)
        for param in command.params:
            if getattr(param, "param_type_name", "") == "option":
                flags = [flag for flag in param.opts if flag.startswith("--") and flag != "--help"]
                missing.extend(f"{path} {flag}" for flag in flags if flag not in text)

    walk(typer.main.get_command(app), "licensing")
    assert {"licensing serve", "licensing keys rotate", "licensing billing events"} <= set(found), found
    assert not missing, f"docs/cli.md does not describe {missing}"
