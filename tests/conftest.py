"""Shared fixtures: keys, the core, databases (SQLite and PostgreSQL, built by the migrations),
the app and HTTP clients, and API keys.

Database tests take the ``database_url`` fixture, which runs them once on SQLite and once on
PostgreSQL (127.0.0.1:5432). Tests marked ``postgres`` use only PostgreSQL via ``pg_url``.
Each pytest-xdist worker gets its own PostgreSQL database; every test starts from empty tables.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from pgtools import fresh_database, unique_name
from sqlalchemy import Engine

from licensing.catalog import load_catalog
from licensing.context import Core
from licensing.kit.db import make_engine, make_sessionmaker, transaction
from licensing.kit.settings import Settings
from licensing.signing.keys import KeyStore
from licensing.verify import Keyring
from service import migrate

warnings.filterwarnings("ignore", message=".*httpx2.*")

# The fake Stripe server and its fixtures (fake_stripe, stripe_client, ...): tests/fakestripe/README.md.
pytest_plugins = ["fakestripe.fixtures"]

ISSUER = "test-issuer"


# --- keys and the core ---------------------------------------------------------------------------
@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def keystore(keys_dir: Path) -> KeyStore:
    store = KeyStore(keys_dir)
    store.generate()
    return store


@pytest.fixture
def keyring(keystore: KeyStore) -> Keyring:
    return Keyring.from_jwks(keystore.jwks())


class Clock:
    """A clock tests can move; defaults to the real time."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        self.fixed = moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def core(keystore: KeyStore, clock: Clock) -> Core:
    settings = Settings(keys_dir=keystore.directory, issuer=ISSUER, _env_file=None)  # type: ignore[call-arg]
    return Core(settings=settings, catalog=load_catalog(), keys=keystore, clock=clock)


# --- databases -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """This worker's PostgreSQL database, migrated to head once."""
    with fresh_database(unique_name("licensing_test")) as url:
        migrate.upgrade(url)
        yield url


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [
            t
            for (t,) in conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql("INSERT INTO revocation_lists (id, issued_at, entries, document) VALUES (1, now(), 0, '')")
    engine.dispose()


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A PostgreSQL database with empty tables."""
    _reset_postgres(pg_database)
    return pg_database


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "licensing.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> Callable[[], object]:
    """``with session_factory() as session:`` runs one committed transaction."""
    maker = make_sessionmaker(engine)
    return lambda: transaction(maker)


# --- the app -------------------------------------------------------------------------------------
@pytest.fixture
def self_serve_confirmation() -> str:
    """``LICENSING_SELF_SERVE_CONFIRMATION`` of the app under test. ``none`` (issue at once) for tests
    that are not about the confirmation; the self-serve tests override this fixture with ``email`` (the
    product's default) or parametrise it over both modes."""
    return "none"


@pytest.fixture
def settings(database_url: str, keys_dir: Path, self_serve_confirmation: str) -> Settings:
    return Settings(
        database_url=database_url,
        self_serve_confirmation=self_serve_confirmation,
        keys_dir=keys_dir,
        issuer=ISSUER,
        public_rate_limit=0,
        log_level="WARNING",
        worker_in_process=False,  # tests run the background loop themselves (service.worker)
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def app(settings: Settings, core: Core, engine: Engine):  # type: ignore[no-untyped-def]
    from api.app import create_app

    return create_app(settings, core=core, engine=engine)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """An httpx client speaking HTTP to the ASGI app (Starlette's TestClient is an httpx.Client)."""
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def make_api_key(session_factory: Callable[[], object], core: Core) -> Callable[..., str]:
    """Create an API key in the database; returns its bearer token."""
    from licensing.access.apikeys import create_api_key

    def make(role: str = "sales", name: str | None = None) -> str:
        with session_factory() as session:  # type: ignore[attr-defined]
            _key, token = create_api_key(session, core, name=name or f"{role}-tester", role=role, actor="test")
        return token

    return make


@pytest.fixture
def auth(make_api_key: Callable[..., str]) -> dict[str, str]:
    """Headers of a sales API key."""
    return {"Authorization": f"Bearer {make_api_key('sales', 'sally')}"}


@pytest.fixture
def admin_auth(make_api_key: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_api_key('admin', 'root')}"}


@pytest.fixture
def readonly_auth(make_api_key: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_api_key('readonly', 'reader')}"}
