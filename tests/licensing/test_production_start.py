"""Every entry point refuses production with a development key active or still published (SPEC 7):
the ASGI app itself too, for those who run it with `uvicorn --factory api.app:create_app`."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.app import create_app
from licensing.context import StartupRefused, production_problems
from licensing.kit.settings import Settings
from licensing.signing.keys import KeyStore

REAL = {
    "stripe_webhook_secret": "whsec_9b1c4d7e2f0a8c6b5d3e1f7a9c2b4d6e",
    "stripe_secret_key": "sk_live_51Hq8ZtLkq2vX0p9A7bC3dE5fG",
    "secret_key": "9f2c4e1a7b3d5f608e1c2a4b6d8f0e13579bdf2468ace0",
    "issuer": "licenses.example.com",
    "public_url": "https://licenses.example.com",
    "smtp_host": "127.0.0.1",
    "sales_email": "sales@example.com",
    "mail_from": "licenses@example.com",
}


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        env="production",
        database_url=f"sqlite:///{tmp_path}/licensing.db",
        keys_dir=tmp_path / "keys",
        _env_file=None,  # type: ignore[call-arg]
        **{**REAL, **extra},  # type: ignore[arg-type]
    )


def test_the_app_refuses_an_active_development_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    dev = KeyStore(settings.keys_dir).generate(development=True)
    with pytest.raises(StartupRefused, match=f"{dev.kid} is a development key"):
        create_app(settings)


def test_the_app_refuses_a_development_key_still_published_after_a_rotate(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    store = KeyStore(settings.keys_dir)
    dev = store.generate(development=True)
    store.generate()
    store.rotate()
    assert store.get(dev.kid).state == "previous"
    with pytest.raises(StartupRefused, match=f"{dev.kid}.*published"):
        create_app(settings)
    store.retire(dev.kid)
    assert production_problems(settings, store) == []
    create_app(settings)  # starts once the development key is withdrawn


def test_the_app_refuses_placeholder_secrets(tmp_path: Path) -> None:
    settings = _settings(tmp_path, stripe_webhook_secret="whsec_xxx")
    KeyStore(settings.keys_dir).generate()
    with pytest.raises(StartupRefused, match="LICENSING_STRIPE_WEBHOOK_SECRET"):
        create_app(settings)


def test_development_starts_with_a_development_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(update={"env": "development"})
    KeyStore(settings.keys_dir).generate(development=True)
    assert production_problems(settings, KeyStore(settings.keys_dir)) == []
    create_app(settings)


def test_the_app_lists_every_problem_at_once_one_a_line(tmp_path: Path) -> None:
    settings = Settings(
        env="production",
        database_url=f"sqlite:///{tmp_path}/licensing.db",
        keys_dir=tmp_path / "keys",
        _env_file=None,  # type: ignore[call-arg]
    )
    dev = KeyStore(settings.keys_dir).generate(development=True)
    with pytest.raises(StartupRefused) as refused:
        create_app(settings)
    lines = str(refused.value).splitlines()
    assert lines[0].startswith("refusing to start in production")
    findings = [line.strip().removeprefix("- ") for line in lines[1:]]
    for setting in (
        "LICENSING_STRIPE_WEBHOOK_SECRET",
        "LICENSING_STRIPE_SECRET_KEY",
        "LICENSING_SECRET_KEY",
        "LICENSING_ISSUER",
        "LICENSING_PUBLIC_URL",
        "LICENSING_SMTP_HOST",
        "LICENSING_SALES_EMAIL",
        "LICENSING_MAIL_FROM",
    ):
        assert sum(finding.startswith(setting + " ") for finding in findings) == 1, (setting, findings)
    assert sum(dev.kid in finding for finding in findings) == 1, findings
    assert len(findings) == 9, findings


def test_development_refuses_none_of_the_production_findings(tmp_path: Path) -> None:
    settings = Settings(keys_dir=tmp_path / "keys", database_url=f"sqlite:///{tmp_path}/db", _env_file=None)  # type: ignore[call-arg]
    keys = KeyStore(settings.keys_dir)
    keys.generate(development=True)
    assert settings.production_problems()  # what production would refuse...
    assert production_problems(settings, keys) == []  # ...is not refused in development
    create_app(settings)
