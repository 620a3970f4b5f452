"""PostgreSQL databases of a test's own, made and dropped on the server at 127.0.0.1:5432."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("LICENSING_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def unique_name(prefix: str) -> str:
    """A database name no other test, worker or concurrent test run uses."""
    return f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@contextmanager
def fresh_database(name: str) -> Iterator[str]:
    """A new, empty database called ``name``; its URL; dropped on the way out."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except sa.exc.OperationalError:
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; run `make postgres`")
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except sa.exc.OperationalError:
            pass
        admin.dispose()
