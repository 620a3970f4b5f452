"""`licensing staff add | list | remove`, as the real command against a migrated database: plain messages,
non-zero exits on bad input, addresses kept lower-case and unique, removal ending sessions, audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cli_support import Cli


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Iterator[Cli]:
    home = tmp_path / "home"
    home.mkdir()
    runner = Cli(home=home, keys_dir=tmp_path / "keys", database_url=database_url)
    yield runner
    runner.assert_no_secrets()


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_add_list_remove(cli: Cli) -> None:
    added = cli("staff", "add", "Ann.Lee@Vendor-C1i.example", "--role", "sales")
    assert added.returncode == 0, str(added)
    assert "added staff member ann.lee@vendor-c1i.example (sales)" in added.stdout
    assert cli("staff", "add", "root@vendor-c1i.example", "--role", "admin").returncode == 0
    listed = cli("staff", "list")
    assert listed.returncode == 0, str(listed)
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ROLE", "STATE", "ADDED", "EMAIL"]
    assert [line.split()[:2] + line.split()[-1:] for line in lines[1:]] == [
        ["sales", "enabled", "ann.lee@vendor-c1i.example"],
        ["admin", "enabled", "root@vendor-c1i.example"],
    ]
    removed = cli("staff", "remove", "ANN.LEE@vendor-c1i.example")
    assert removed.returncode == 0, str(removed)
    assert "removed staff member ann.lee@vendor-c1i.example" in removed.stdout
    assert "removed  " in cli("staff", "list").stdout
    audit = rows(cli.database_url, "SELECT actor, action FROM audit_events ORDER BY id")
    assert audit == [("cli", "staff.added"), ("cli", "staff.added"), ("cli", "staff.removed")]
    # Added again: enabled again, with the role given now.
    again = cli("staff", "add", "ann.lee@vendor-c1i.example", "--role", "readonly")
    assert again.returncode == 0, str(again)
    assert rows(cli.database_url, "SELECT email, role, disabled_at FROM staff_members ORDER BY email") == [
        ("ann.lee@vendor-c1i.example", "readonly", None),
        ("root@vendor-c1i.example", "admin", None),
    ]


def test_an_empty_list_says_how_to_add(cli: Cli) -> None:
    listed = cli("staff", "list")
    assert listed.returncode == 0 and "no staff members" in listed.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("staff", "add", "ann@vendor-c1i.example", "--role", "owner"), 2, "Unknown role 'owner'"),
        (("staff", "add", "not an address", "--role", "sales"), 2, "error: "),
        (("staff", "add", "ann@vendor-c1i.example"), 2, "--role"),
        (("staff", "remove", "nobody@vendor-c1i.example"), 1, "No staff member nobody@vendor-c1i.example"),
    ],
)
def test_bad_input_exits_non_zero_with_a_plain_message(
    cli: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    result = cli(*args)
    assert result.returncode == code, str(result)
    assert message in result.stderr and "Traceback" not in result.output
    assert rows(cli.database_url, "SELECT count(*) FROM staff_members") == [(0,)]


def test_an_enabled_member_cannot_be_added_twice(cli: Cli) -> None:
    assert cli("staff", "add", "ann@vendor-c1i.example", "--role", "sales").returncode == 0
    twice = cli("staff", "add", "ANN@vendor-c1i.example", "--role", "admin")
    assert twice.returncode == 2 and "already a staff member (sales)" in twice.stderr
    assert rows(cli.database_url, "SELECT role FROM staff_members") == [("sales",)]
