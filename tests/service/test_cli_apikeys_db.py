"""`licensing apikeys create | list | revoke` and `licensing db upgrade`, as the real command.

SPEC section 4: the token is printed once, alone on the last line; only its SHA-256 hash is stored;
listing never shows tokens or hashes. `db upgrade` builds the schema on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cli_support import Cli, assert_plain_error
from pgtools import fresh_database, unique_name

from licensing.access.apikeys import authenticate
from licensing.kit.db import make_engine, make_sessionmaker, transaction
from licensing.kit.errors import DomainError
from service import migrate

TOKEN = re.compile(r"^lsk_[0-9a-z]{26}_[A-Za-z0-9_-]{20,}$")
SCHEMA_TABLES = {"api_keys", "audit_events", "customers", "licenses", "revocation_lists", "alembic_version"}


@pytest.fixture
def db_cli(cli: Cli, database_url: str) -> Cli:
    cli.database_url = database_url
    return cli


def secret_part(token: str) -> str:
    """``lsk_<key id, 26 characters>_<secret>``: the secret (which may itself contain ``_``)."""
    return token[len("lsk_") + 26 + 1 :]


def every_cell(url: str) -> list[str]:
    """Every value of every table, as text."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            cells = []
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    cells += [str(value) for value in row]
            return cells
    finally:
        engine.dispose()


def api_key_rows(url: str) -> list[dict[str, object]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text("SELECT * FROM api_keys ORDER BY id"))]
    finally:
        engine.dispose()


def authenticated_id(url: str, token: str) -> str:
    engine = make_engine(url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return authenticate(session, token).id
    finally:
        engine.dispose()


def create(cli: Cli, name: str, role: str) -> tuple[str, str]:
    """``apikeys create``; (key id, token)."""
    result = cli("apikeys", "create", "--name", name, "--role", role)
    assert result.returncode == 0, str(result)
    lines = result.stdout.rstrip("\n").split("\n")
    token = lines[-1]
    assert TOKEN.match(token), "the last line is not a token alone"
    assert all(token not in line for line in lines[:-1])
    assert token not in result.stderr
    (key_id,) = re.findall(r"key_[0-9a-z]{26}", result.stdout.replace(token, ""))
    return key_id, token


# --- apikeys ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["admin", "sales", "readonly"])
def test_create_prints_the_token_once_and_stores_only_its_hash(db_cli: Cli, role: str) -> None:
    key_id, token = create(db_cli, f"alice-{role}", role)
    secret = secret_part(token)

    (row,) = api_key_rows(db_cli.database_url)
    assert (row["id"], row["name"], row["role"]) == (key_id, f"alice-{role}", role)
    assert row["token_hash"] in {
        hashlib.sha256(token.encode()).hexdigest(),
        hashlib.sha256(secret.encode()).hexdigest(),
    }
    # No column of any table (api_keys, audit_events, ...) holds the token or its secret part.
    cells = every_cell(db_cli.database_url)
    assert not any(token in cell or secret in cell for cell in cells)
    # The printed token is the one that works.
    assert authenticated_id(db_cli.database_url, token) == key_id


def test_list_shows_keys_but_never_tokens_or_hashes(db_cli: Cli) -> None:
    first_id, first_token = create(db_cli, "alice", "admin")
    second_id, second_token = create(db_cli, "bob", "readonly")
    hashes = [str(row["token_hash"]) for row in api_key_rows(db_cli.database_url)]

    result = db_cli("apikeys", "list")
    assert result.returncode == 0, str(result)
    assert first_id in result.stdout and second_id in result.stdout
    assert "alice" in result.stdout and "bob" in result.stdout
    assert "admin" in result.stdout and "readonly" in result.stdout
    for secret in [first_token, second_token, secret_part(first_token), secret_part(second_token), *hashes]:
        assert secret not in result.output
    # Nor even a long hex run that could be part of a hash.
    assert not re.search(r"[0-9a-f]{32}", result.output)


def test_revoke_stops_the_key(db_cli: Cli) -> None:
    key_id, token = create(db_cli, "carol", "sales")
    other_id, other_token = create(db_cli, "dave", "sales")
    result = db_cli("apikeys", "revoke", key_id)
    assert result.returncode == 0, str(result)
    assert key_id in result.stdout

    with pytest.raises(DomainError) as caught:
        authenticated_id(db_cli.database_url, token)
    assert caught.value.code == "api_key_revoked"
    assert authenticated_id(db_cli.database_url, other_token) == other_id
    listed = db_cli("apikeys", "list")
    (line,) = [line for line in listed.stdout.splitlines() if key_id in line]
    assert "revoked" in line
    (other_line,) = [line for line in listed.stdout.splitlines() if other_id in line]
    assert "revoked" not in other_line


def test_revoke_of_an_unknown_key_is_a_plain_error(db_cli: Cli) -> None:
    result = db_cli("apikeys", "revoke", "key_00000000000000000000000000")
    assert_plain_error(result)
    assert "key_00000000000000000000000000" in result.stderr


@pytest.mark.parametrize("role", ["root", "ADMIN", ""])
def test_create_with_a_bad_role_is_refused_plainly(db_cli: Cli, role: str) -> None:
    result = db_cli("apikeys", "create", "--name", "eve", "--role", role)
    assert_plain_error(result)
    assert "role" in result.stderr.lower()
    assert "readonly" in result.stderr  # says which roles exist
    assert not TOKEN.search(result.stdout)
    assert api_key_rows(db_cli.database_url) == []


def test_create_without_a_name_is_refused_plainly(db_cli: Cli) -> None:
    assert_plain_error(db_cli("apikeys", "create", "--role", "sales"))
    assert_plain_error(db_cli("apikeys", "create", "--name", "  ", "--role", "sales"))
    assert api_key_rows(db_cli.database_url) == []


def test_apikeys_on_an_unmigrated_database_is_a_plain_error(cli: Cli) -> None:
    for args in (
        ["apikeys", "create", "--name", "x", "--role", "admin"],
        ["apikeys", "list"],
        ["apikeys", "revoke", "key_x"],
    ):
        result = cli(*args)
        assert_plain_error(result)
        assert "db upgrade" in result.stderr
        assert not re.search(r"[0-9a-f]{64}", result.output)  # SQLAlchemy's parameters (the hash) are not shown


# --- db upgrade -------------------------------------------------------------------------------------
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert head
    return head


def assert_at_head(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) >= SCHEMA_TABLES
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
    finally:
        engine.dispose()


@pytest.mark.parametrize("exists", [True, False], ids=["empty-file", "no-file"])
def test_db_upgrade_migrates_a_new_sqlite_database(cli: Cli, tmp_path: Path, exists: bool) -> None:
    path = tmp_path / "sub" / "fresh.db"
    if exists:
        path.parent.mkdir()
        path.touch()
    cli.database_url = f"sqlite:///{path}"
    result = cli("db", "upgrade")
    assert result.returncode == 0, str(result)
    assert_at_head(cli.database_url)
    # Again: nothing to do, still fine; and the database is usable by the other commands.
    assert cli("db", "upgrade").returncode == 0
    create(cli, "after-upgrade", "admin")


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database of this test's own."""
    with fresh_database(unique_name("licensing_cli")) as url:
        yield url


@pytest.mark.postgres
def test_db_upgrade_migrates_an_empty_postgres_database(cli: Cli, empty_pg_database: str) -> None:
    cli.database_url = empty_pg_database
    engine = sa.create_engine(empty_pg_database)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()
    result = cli("db", "upgrade")
    assert result.returncode == 0, str(result)
    assert_at_head(empty_pg_database)
    assert cli("db", "upgrade").returncode == 0
    create(cli, "after-upgrade", "admin")


def test_db_upgrade_of_an_unreachable_database_is_a_plain_error(cli: Cli) -> None:
    cli.database_url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=5"
    assert_plain_error(cli("db", "upgrade"))


def test_every_database_command_says_which_database(db_cli: Cli) -> None:
    """An operator who forgot LICENSING_DATABASE_URL sees at once that the token went to SQLite."""
    from licensing.kit.db import describe_database

    said = f"database: {describe_database(db_cli.database_url)}"
    assert said.startswith("database: sqlite") or (said.startswith("database: postgresql") and ":5432" in said)
    for args in (("apikeys", "create", "--name", "ops"), ("apikeys", "list"), ("db", "upgrade")):
        result = db_cli(*args)
        assert result.returncode == 0, str(result)
        assert said in result.stderr, str(result)
        assert "password" not in result.stderr.lower()


def test_a_too_long_api_key_name_is_refused_plainly(db_cli: Cli) -> None:
    result = db_cli("apikeys", "create", "--name", "k" * 101, "--role", "sales")
    assert_plain_error(result, code=2)
    assert "at most 100" in result.stderr
