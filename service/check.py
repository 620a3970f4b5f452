"""``licensing check``: what production would refuse, the keys and the database, and the effective
settings (secrets masked), without starting anything: nothing is created, migrated or served.

A finding names its setting first and says how to fix it, as the refusals of ``licensing.context`` do
(the same list, plus what only a look at the keys and the database can tell).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from licensing.kit.settings import Settings

CONNECT_TIMEOUT = 5  # seconds; a check must not hang on a database that does not answer

# user:password@ in a URL's authority (up to the last @: a password may hold one); password=... in a query.
_URL_PASSWORD = re.compile(r"(?P<head>://[^:/?#@]*:)[^/?#]*@")
_QUERY_SECRET = re.compile(r"(?P<head>[?&](?:password|passwd|pass|secret|token|key)=)[^&#]*", re.IGNORECASE)
MASK = "***"


def mask_url(value: str) -> str:
    """``postgresql+psycopg://user:secret@host/db`` -> ``postgresql+psycopg://user:***@host/db``."""
    value = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", value)
    return _QUERY_SECRET.sub(lambda m: f"{m['head']}{MASK}", value)


def show_value(value: Any) -> str:
    """A setting's value as ``check`` prints it: secrets masked (a URL keeps all but its password)."""
    if value is None:
        return "(not set)"
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if "://" in secret:
            return mask_url(secret)
        return f"{MASK} (set)" if secret else "(empty)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return mask_url(str(value))


def secret_values(settings: Settings) -> list[str]:
    """Every secret ``settings`` holds (to scrub them from a message that might quote one)."""
    found = [v.get_secret_value() for v in settings.__dict__.values() if isinstance(v, SecretStr)]
    for match in _URL_PASSWORD.finditer(settings.database_url):
        found.append(match.group(0)[len(match["head"]) : -1])
    return [s for s in found if s]


def _scrub(text: str, settings: Settings) -> str:
    for secret in secret_values(settings):
        text = text.replace(secret, MASK)
    return mask_url(text)


@dataclass
class SettingRow:
    variable: str
    value: str
    source: str  # env, .env or default


def effective_settings(
    settings: Settings, environ: dict[str, str] | None = None, env_file: Path | None = None
) -> list[SettingRow]:
    """Every setting with its value (masked) and where it came from: the environment (which wins), the
    ``.env`` file of the working directory, or the default."""
    from dotenv import dotenv_values

    environ = dict(os.environ) if environ is None else environ
    in_env = {name.upper() for name in environ}
    env_file = env_file or Path(str(settings.model_config.get("env_file") or ".env"))
    in_file = {name.upper() for name in dotenv_values(env_file)} if env_file.is_file() else set()
    prefix = str(settings.model_config.get("env_prefix") or "")
    rows = []
    for name in type(settings).model_fields:
        variable = f"{prefix}{name}".upper()
        source = "env" if variable in in_env else ".env" if variable in in_file else "default"
        rows.append(SettingRow(variable, show_value(getattr(settings, name)), source))
    return rows


@dataclass
class Report:
    """What ``licensing check`` found: ``findings`` (what production refuses), and a line on the keys and
    on the database."""

    findings: list[str] = field(default_factory=list)
    keys: str = ""
    database: str = ""


def check_keys(settings: Settings, report: Report) -> None:
    """An active key that loads (with LICENSING_KEY_PASSPHRASE); makes no folder and no key."""
    from licensing.signing.keys import KeyStore, KeyStoreError

    directory = settings.keys_dir
    if not directory.is_dir():
        report.keys = f"no keys directory at {directory} (`licensing keys generate` makes it)"
        return  # production_problems says there is no active key
    keys = KeyStore(directory, settings.passphrase())
    try:
        active = keys.active()
        if active is None:
            report.keys = f"no active key in {directory}"
            return
        keys.signer()
    except KeyStoreError as exc:
        reason = _scrub(str(exc), settings)
        report.keys = f"the active key does not load: {reason}"
        report.findings.append(
            f"LICENSING_KEYS_DIR: the active signing key does not load ({reason}): check the folder and "
            "LICENSING_KEY_PASSPHRASE"
        )
        return
    kind = "a development key" if active.development else "a production key"
    report.keys = f"active key {active.kid} ({kind}) loads from {directory}"


def check_database(settings: Settings, report: Report) -> None:
    """Reachable, and at the latest migration; a SQLite file that does not exist is not made."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from licensing.kit.db import describe_database
    from service.migrate import alembic_config

    described = describe_database(settings.database_url)
    try:
        url = make_url(settings.database_url)
    except Exception:
        report.database = "LICENSING_DATABASE_URL is not a database URL"
        report.findings.append("LICENSING_DATABASE_URL is not a SQLAlchemy URL: set e.g. postgresql+psycopg://...")
        return
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or url.database == ":memory:" or not path.exists():
            report.database = f"{described} does not exist yet"
            report.findings.append(f"LICENSING_DATABASE_URL: {described} does not exist: run `licensing db upgrade`")
            return
        url = url.set(database=f"file:{path}", query={"mode": "ro", "uri": "true"})  # read only: never made
    elif url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    latest = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:
        reason = _scrub(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], settings)
        report.database = f"{described} is not reachable: {reason}"
        report.findings.append(
            f"LICENSING_DATABASE_URL: {described} is not reachable ({reason}): check the URL and the server"
        )
        return
    finally:
        engine.dispose()
    at = ", ".join(sorted(current)) or "no migration"
    if current == latest:
        report.database = f"{described} is reachable, at the latest migration ({at})"
        return
    report.database = f"{described} is reachable, at {at}; the latest migration is {', '.join(sorted(latest))}"
    report.findings.append(
        f"LICENSING_DATABASE_URL: {described} is at {at}, not at the latest migration "
        f"({', '.join(sorted(latest))}): run `licensing db upgrade`"
    )


def run_check(settings: Settings) -> Report:
    """Every finding: the configuration's (as production refuses them at start), the keys', the database's."""
    from licensing.context import configuration_problems
    from licensing.signing.keys import KeyStore

    report = Report(findings=configuration_problems(settings, KeyStore(settings.keys_dir, settings.passphrase())))
    check_keys(settings, report)
    check_database(settings, report)
    report.findings = [_scrub(finding, settings) for finding in report.findings]
    return report


def database_is_new(settings: Settings) -> bool:
    """No migration applied yet (a SQLite file that does not exist, or an empty database): ``serve``'s first
    run. False when the database cannot be asked (``serve``'s migration then says why)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    try:
        url = make_url(settings.database_url)
    except Exception:
        return False
    if url.get_backend_name() == "sqlite":
        return not url.database or url.database == ":memory:" or not Path(url.database).exists()
    connect_args = {"connect_timeout": CONNECT_TIMEOUT} if url.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            return not MigrationContext.configure(connection).get_current_heads()
    except Exception:
        return False
    finally:
        engine.dispose()


def next_steps(settings: Settings, base: str) -> list[str]:
    """What to do after ``licensing serve``'s first run in development: the pages, an API key, the mail."""
    if settings.smtp_host:
        mail = f"sent through the SMTP server {settings.smtp_host}:{settings.smtp_port}"
    else:
        mail = "not sent (LICENSING_SMTP_HOST is not set): each e-mail is shown on this terminal, links included"
    return [
        f"Next steps: the service is starting at {base}",
        "Open the pages:",
        f"  {base}/pricing   the offers, and buying (with Stripe configured)",
        f"  {base}/trial     a trial license",
        f"  {base}/portal    the customer portal",
        f"  {base}/docs      the sales-ops API",
        "Make an API key for the sales-ops API (the token is printed once):",
        "  .venv/bin/licensing apikeys create --name you --role admin",
        f"Mail: {mail}",
        "Check the configuration before production: .venv/bin/licensing check",
    ]
