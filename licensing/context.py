"""What every part of the service is handed, and the one start of every entry point.

* :class:`Core`: what a service step needs besides its database session: the settings, the catalog, the
  signing keys and the one clock. Every service function takes ``(session, core, ...)`` and reads the
  time from ``core.now()`` alone.
* :class:`Runtime`: what an entry point holds: the core, the database engine and its sessions.
* :func:`start`: settings -> runtime, with the production checks. The ASGI app, the worker, ``serve``
  and every CLI command that touches the database start here, so they act on the same database and keys
  and none of them skips a check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from licensing.catalog import Catalog, load_catalog
from licensing.kit.clock import Clock, utcnow
from licensing.kit.db import describe_database, make_engine, make_sessionmaker, transaction
from licensing.kit.settings import Settings, get_settings
from licensing.signing.jws import Signer
from licensing.signing.keys import PUBLISHED_STATES, KeyInfo, KeyStore, KeyStoreError
from licensing.verify import Keyring


@dataclass
class Core:
    """The settings, catalog, signing keys and clock that service steps share."""

    settings: Settings
    catalog: Catalog
    keys: KeyStore
    clock: Clock = field(default=utcnow)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utcnow) -> Core:
        return cls(
            settings=settings,
            catalog=load_catalog(settings.catalog_path),
            keys=KeyStore(settings.keys_dir, settings.passphrase(), clock=clock),
            clock=clock,
        )

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    @property
    def public_url(self) -> str:
        return self.settings.public_url

    def now(self) -> datetime:
        return self.clock().replace(microsecond=0)

    def signer(self) -> Signer:
        return self.keys.signer()

    def keyring(self) -> Keyring:
        return self.keys.keyring()


class StartupRefused(RuntimeError):
    """This configuration must not serve; the message lists every reason."""


def production_problems(settings: Settings, keys: KeyStore) -> list[str]:
    """Why ``settings`` and ``keys`` must not serve production (empty when they may, or in development)."""
    if not settings.is_production:
        return []
    return configuration_problems(settings, keys)


def configuration_problems(settings: Settings, keys: KeyStore) -> list[str]:
    """Every reason ``settings`` and ``keys`` would be refused in production, whatever ``settings.env``
    says (``licensing check`` shows them in development too), each naming what to fix."""
    problems = settings.production_problems()
    try:
        listed = keys.list_keys()
    except KeyStoreError as exc:
        return [*problems, f"LICENSING_KEYS_DIR: {exc}"]
    for key in listed:
        if key.development and key.state == "active":
            problems.append(
                f"LICENSING_KEYS_DIR: the active signing key {key.kid} is a development key: make a real one "
                f"with `licensing keys generate`, `licensing keys rotate`, then `licensing keys retire {key.kid}`"
            )
        elif key.development and key.state in PUBLISHED_STATES:
            problems.append(
                f"LICENSING_KEYS_DIR: the development key {key.kid} is still published ({key.state}); "
                f"withdraw it with `licensing keys retire {key.kid}`"
            )
    if not any(key.state == "active" for key in listed):
        problems.append(
            f"LICENSING_KEYS_DIR: no active signing key in {settings.keys_dir}; run `licensing keys generate`"
        )
    return problems


def check_production(settings: Settings, keys: KeyStore) -> None:
    problems = production_problems(settings, keys)
    if problems:
        raise StartupRefused(refusal_message(problems))


def refusal_message(problems: list[str]) -> str:
    """Every finding, one a line (``licensing check`` shows the same list)."""
    lines = "".join(f"\n  - {problem}" for problem in problems)
    return f"refusing to start in production ({len(problems)} problem(s); `licensing check` lists them):{lines}"


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


def _prepare_keys(settings: Settings, keys: KeyStore) -> KeyInfo | None:
    """``serve``'s keys: a development key made when there are none (in development only), then an active
    key that loads. Returns the key made, if any; raises ``KeyStoreError`` or ``StartupRefused``."""
    created = None
    if keys.active() is None and not keys.list_keys() and not settings.is_production:
        created = keys.generate(development=True)
    check_production(settings, keys)
    if keys.active() is None:
        raise StartupRefused(f"no active signing key in {settings.keys_dir}; run `licensing keys rotate`")
    keys.signer()
    return created


@dataclass
class Runtime:
    """What a running entry point holds: its core (settings, catalog, keys, clock) and database."""

    core: Core
    engine: Engine
    sessions: sessionmaker[Session]
    created_key: KeyInfo | None = None  # the development key ``start(prepare_keys=True)`` made

    @property
    def settings(self) -> Settings:
        return self.core.settings

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
    prepare_keys: bool = False,
) -> Runtime:
    """Build the runtime for ``settings`` (the environment's by default; they replace those of a given
    ``core``). What serves or works (``serving``: the app, the worker) is refused in production when
    unsafe; administration commands are not. ``prepare_keys`` (``licensing serve``) also makes a
    development key when there is none in development, and refuses to start without a key that signs."""
    settings = settings or get_settings()
    core = replace(core, settings=settings) if core is not None else Core.from_settings(settings)
    created = _prepare_keys(settings, core.keys) if prepare_keys else None
    if serving:
        check_production(settings, core.keys)
    engine = engine or make_engine(settings.database_url)
    return Runtime(core=core, engine=engine, sessions=make_sessionmaker(engine), created_key=created)
