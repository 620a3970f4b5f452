"""The container image's shape (no Docker engine runs here, so the Dockerfile is read, not built): a build
stage and a slim runtime stage that copies only what the build made, runs as a non-root user, checks
/readyz, stops on SIGTERM and serves with `licensing serve`; .dockerignore keeps secrets and clutter out."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
# What a runtime image must not install: compilers, build tools, test tools, the dev extras.
DEV_TOOLS = ("gcc", "g++", "build-essential", "make", "pytest", "mypy", "ruff", "hypothesis", "playwright", "[dev]")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction: comments dropped, continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not pending):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    found = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        found.append((keyword.upper(), args.strip()))
    return found


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            assert match, f"FROM {args}"
            result.append(Stage(base=match.group(1), name=match.group(2)))
        elif keyword not in ("ARG",) or result:
            assert result, f"{keyword} before the first FROM"
            result[-1].instructions.append((keyword, args))
    return result


def words(args: str) -> list[str]:
    """The arguments of an exec-form (JSON array) or shell-form instruction, as words."""
    if args.startswith("["):
        parsed = json.loads(args)
        assert isinstance(parsed, list)
        return [str(part) for part in parsed]
    return shlex.split(args)


def copy_sources(args: str) -> tuple[str | None, list[str]]:
    """The stage a COPY takes from (None: the build context) and its source paths."""
    parts = words(args)
    source_stage = None
    while parts and parts[0].startswith("--"):
        flag = parts.pop(0)
        if flag.startswith("--from="):
            source_stage = flag.removeprefix("--from=")
    assert len(parts) >= 2, f"COPY {args}"
    return source_stage, parts[:-1]


@pytest.fixture(scope="module")
def all_stages() -> list[Stage]:
    return stages(DOCKERFILE.read_text("utf-8"))


@pytest.fixture(scope="module")
def final(all_stages: list[Stage]) -> Stage:
    return all_stages[-1]


def test_more_than_one_stage_on_python_slim(all_stages: list[Stage]) -> None:
    assert len(all_stages) >= 2
    for stage in all_stages:
        assert stage.base.startswith("python:3.11-slim"), stage.base
    assert all_stages[0].name, "the build stage is named, so the runtime stage can COPY --from it"


def test_the_runtime_stage_copies_from_the_build_stage(all_stages: list[Stage], final: Stage) -> None:
    earlier = {stage.name for stage in all_stages[:-1]} | {str(i) for i in range(len(all_stages) - 1)}
    from_stages = [copy_sources(args)[0] for args in final.of("COPY")]
    assert any(source in earlier for source in from_stages), final.of("COPY")
    # Nothing from the build context: the runtime gets what the build stage made, never the source tree.
    assert all(source is not None for source in from_stages), final.of("COPY")
    assert not final.of("ADD")


def test_the_runtime_stage_installs_no_development_tools(final: Stage) -> None:
    for args in final.of("RUN"):
        lowered = args.lower()
        assert "apt-get install" not in lowered and "apk add" not in lowered, args
        for tool in DEV_TOOLS:
            assert not re.search(rf"(?<![\w-]){re.escape(tool)}(?![\w-])", lowered), (tool, args)
        if "pip install" in lowered:
            assert "--no-cache-dir" in lowered or "PIP_NO_CACHE_DIR" in str(final.of("ENV")), args


def test_the_runtime_stage_runs_as_a_non_root_user(final: Stage) -> None:
    users = final.of("USER")
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    # USER comes after every RUN (which may need root to create the user and the volume's folder).
    keywords = [kw for kw, _ in final.instructions]
    assert max(i for i, kw in enumerate(keywords) if kw == "USER") > max(
        (i for i, kw in enumerate(keywords) if kw == "RUN"), default=-1
    )


def test_workdir_volume_health_check_and_stop_signal(final: Stage) -> None:
    assert final.of("WORKDIR")
    volumes = " ".join(final.of("VOLUME"))
    assert "/data" in volumes
    env = " ".join(final.of("ENV"))
    assert "sqlite:////data/" in env, "the SQLite database lives in the volume"
    checks = final.of("HEALTHCHECK")
    assert len(checks) == 1
    assert "/readyz" in checks[0], checks[0]
    assert final.of("STOPSIGNAL") == ["SIGTERM"]


def test_the_command_is_licensing_serve_on_every_interface(final: Stage) -> None:
    commands = final.of("CMD")
    assert len(commands) == 1
    command = words(commands[0])
    assert command[:2] == ["licensing", "serve"], command
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - a container listens on every interface
    assert int(command[command.index("--workers") + 1]) >= 1
    assert not final.of("ENTRYPOINT"), "CMD alone, so `docker run IMAGE licensing worker` runs the worker"


def test_every_path_copied_from_the_context_exists(all_stages: list[Stage]) -> None:
    copied = 0
    for stage in all_stages:
        for args in stage.of("COPY"):
            source_stage, sources = copy_sources(args)
            if source_stage is not None:
                continue
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
                assert not is_ignored(source), f"COPY {source}: .dockerignore leaves it out of the context"
                copied += 1
    assert copied


def test_the_build_stage_builds_wheels(all_stages: list[Stage]) -> None:
    runs = " ".join(args for stage in all_stages[:-1] for args in stage.of("RUN"))
    assert "pip wheel" in runs or "python -m build" in runs, runs


def ignore_patterns() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def is_ignored(path: str) -> bool:
    from fnmatch import fnmatch

    for pattern in ignore_patterns():
        bare = pattern.removeprefix("**/")
        if fnmatch(path, pattern) or fnmatch(path, bare) or path.split("/")[0] == pattern:
            return True
    return False


@pytest.mark.parametrize(
    "path",
    [".venv", ".git", "data", "tests", "verifiers/ts/node_modules", "data/keys/kid.pem", ".env", "keys/secret_key"],
)
def test_dockerignore_keeps_out_clutter_and_key_material(path: str) -> None:
    assert is_ignored(path), f"{path} would be sent to the builder"
