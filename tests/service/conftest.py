"""Fixtures of the CLI tests; the helpers are in ``cli_support``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """The command line on a fresh keys directory and an (unmigrated) SQLite file under tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    runner = Cli(home=home, keys_dir=tmp_path / "keys", database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    yield runner
    runner.assert_no_secrets()
