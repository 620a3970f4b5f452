"""Applying the Alembic migrations in ``migrations/`` from code (the CLI, ``serve`` and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head", *, catalog_path: Path | None = None) -> None:
    """Upgrade to ``revision``; data migrations that need the catalog read the one at ``catalog_path``
    (else ``LICENSING_CATALOG_PATH``, else the shipped one)."""
    config = alembic_config(database_url)
    config.attributes["catalog_path"] = catalog_path
    command.upgrade(config, revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise when the models and the migrations disagree (``alembic check``)."""
    command.check(alembic_config(database_url))
