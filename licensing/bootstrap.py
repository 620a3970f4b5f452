"""One start for every entry point: settings -> engine, sessions and the core, with the production
checks. The ASGI app, every CLI command that touches the database and the background worker start
here, so they act on the same database and keys and none of them skips a check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from licensing.core import Core
from licensing.db import describe_database, make_engine, make_sessionmaker, transaction
from licensing.keys import PUBLISHED_STATES, KeyStore, KeyStoreError
from licensing.settings import Settings, get_settings


class StartupRefused(RuntimeError):
    """This configuration must not serve production; the message lists every reason."""


def production_problems(settings: Settings, keys: KeyStore) -> list[str]:
    """Why ``settings`` and ``keys`` must not serve production (empty when they may, or in development)."""
    if not settings.is_production:
        return []
    problems = settings.production_problems()
    try:
        listed = keys.list_keys()
    except KeyStoreError as exc:
        return [*problems, str(exc)]
    for key in listed:
        if key.development and key.state == "active":
            problems.append(f"the active signing key {key.kid} is a development key")
        elif key.development and key.state in PUBLISHED_STATES:
            problems.append(
                f"the development key {key.kid} is still published ({key.state}); "
                f"withdraw it with `licensing keys retire {key.kid}`"
            )
    if not any(key.state == "active" for key in listed):
        problems.append(f"no active signing key in {settings.keys_dir}; run `licensing keys generate`")
    return problems


def check_production(settings: Settings, keys: KeyStore) -> None:
    problems = production_problems(settings, keys)
    if problems:
        raise StartupRefused("refusing to start in production: " + "; ".join(problems))


def development_key_warning(keys: KeyStore) -> str | None:
    """A warning while a development key signs (on every start, not only the one that made it)."""
    try:
        active = keys.active()
    except KeyStoreError:
        return None
    if active is None or not active.development:
        return None
    return (
        f"DEVELOPMENT SIGNING KEY {active.kid} is signing licenses (in {keys.directory}). Licenses it signs are "
        "for trying the service only; production refuses to start with it. Generate a real key there."
    )


@dataclass
class Runtime:
    """What a running entry point holds: its settings, database and core."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    core: Core

    @property
    def database(self) -> str:
        return describe_database(self.settings.database_url)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: committed when the block succeeds, rolled back when it raises."""
        with transaction(self.sessions) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def start(
    settings: Settings | None = None,
    *,
    core: Core | None = None,
    engine: Engine | None = None,
    serving: bool = True,
) -> Runtime:
    """Build the runtime for ``settings`` (the environment's by default). What serves or works (``serving``:
    the app, the worker) is refused in production when unsafe; administration commands are not."""
    settings = settings or get_settings()
    core = core or Core.from_settings(settings)
    if serving:
        check_production(settings, core.keys)
    engine = engine or make_engine(settings.database_url)
    return Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine), core=core)
