"""Database engine, sessions and column types shared by SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from licensing.kit.paths import make_private_dirs

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


CONNECT_TIMEOUT_SECONDS = 10


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    """A prefixed id that sorts by creation time: 48 bits of milliseconds, 80 random bits."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return f"{prefix}_{''.join(reversed(chars))}"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets its folder created, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            _private_file(Path(database))
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, say when transactions begin, so BEGIN IMMEDIATE takes the
            # write lock up front and two writers queue instead of failing with "database is locked".
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # A database host that does not answer at all must not hold a request for the kernel's TCP timeout
    # (minutes): the request fails with a 503 instead (api.errors). A connect_timeout in the URL wins.
    if "connect_timeout" not in parsed.query:
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **kwargs.get("connect_args", {})}
    # A pooled connection is checked before use, so one the server dropped (a restart, a failover) is
    # replaced rather than handed to a request.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _private_file(path: Path) -> None:
    """Create the SQLite file and its folder readable by their owner alone (licenses, customers and
    API key hashes are in it); an existing file is narrowed to that too. SQLite gives its -wal and
    -shm files the database file's mode."""
    make_private_dirs(path.parent)  # only the folders it makes: an existing one is left as it is
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


def is_database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or dropped the connection (restarted, failed over, shutting down),
    or the pool had no connection to give in time: worth a retry, not a bug. A driver error that is not
    an operational one (a constraint, bad SQL) is not this."""
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def unavailable_reason(exc: BaseException) -> str:
    """The driver's first line about it, for the log (no SQL, no parameters)."""
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"[:300]


def describe_database(url: str) -> str:
    """Which database ``url`` names, for people: backend, host and name, never a password."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"sqlite {parsed.database or ':memory:'}"
    where = f"{parsed.host or 'localhost'}{f':{parsed.port}' if parsed.port else ''}"
    return f"{backend} {parsed.database or ''} on {where}"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_sessionmaker(engine: Engine, sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for one-statement reads: autocommit on PostgreSQL (no BEGIN and COMMIT round trips);
    ``sessions`` itself elsewhere (SQLite's transactions are local and cheap)."""
    if engine.dialect.name != "postgresql":
        return sessions
    return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    with factory() as session, session.begin():
        yield session


P = ParamSpec("P")
R = TypeVar("R")


def atomic(function: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """Run a service function inside a savepoint of the caller's transaction: when it raises, every
    row it wrote is gone and the caller's transaction is still usable (a webhook handler or a loop
    that catches the error can go on and commit the rest); when it returns, nothing is committed."""

    @wraps(function)
    def wrapper(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with session.begin_nested():
            return function(session, *args, **kwargs)

    return wrapper


def lock_name(session: Session, name: str) -> None:
    """Hold a lock on ``name`` until the session's transaction ends, so check-then-insert on a value no
    unique index can hold (a customer's address, where duplicates may be allowed) runs one at a time.
    PostgreSQL: a transaction-scoped advisory lock on a 64-bit hash of the name. SQLite: nothing to do,
    its writers already run one at a time (``BEGIN IMMEDIATE``)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})


def insert_ignoring_duplicates(session: Session, model: type[Base], conflict: list[str], **values: Any) -> bool:
    """``INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING`` of one row in the session's transaction,
    on PostgreSQL and SQLite alike: True when the row was added, False when one with the same
    ``conflict`` columns already existed (or was being added by a transaction that then committed)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(model).on_conflict_do_nothing(index_elements=conflict)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(model).on_conflict_do_nothing(index_elements=conflict)
    else:  # pragma: no cover - only the two databases above are supported
        raise RuntimeError(f"no INSERT ... ON CONFLICT for {dialect}")
    primary_key = model.__table__.primary_key.columns.values()[0]  # type: ignore[attr-defined]
    inserted = session.execute(statement.values(**values).returning(primary_key)).first()
    return inserted is not None
