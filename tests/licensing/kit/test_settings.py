"""Settings: production refuses placeholder Stripe secrets."""

from __future__ import annotations

import pytest

from licensing.kit.settings import Settings, is_placeholder


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "whsec_xxx",
        "REPLACE_ME",
        "whsec_replace_me_with_the_real_one",
        "changeme",
        "sk_test_placeholder",
        "whsec_aaaaaaaaaaaaaaaaaaaaaaaa",
        "whsec_example_secret_value_123",
        "short",
    ],
)
def test_placeholders_are_recognised(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize(
    "value",
    [
        "whsec_9b1c4d7e2f0a8c6b5d3e1f7a9c2b4d6e",
        "sk_live_51Hq8ZtLkq2vX0p9A7bC3dE5fG",
        "sk_test_51Hq8ZtLkq2vX0p9A7bC3dE5fG",
    ],
)
def test_real_looking_secrets_are_not(value: str) -> None:
    assert not is_placeholder(value)


def test_production_problems_name_the_variables() -> None:
    settings = Settings(env="production", stripe_webhook_secret="whsec_xxx", _env_file=None)  # type: ignore[call-arg]
    problems = settings.production_problems()
    assert any("LICENSING_STRIPE_WEBHOOK_SECRET" in p for p in problems)
    assert any("LICENSING_STRIPE_SECRET_KEY" in p for p in problems)
    assert any("LICENSING_SECRET_KEY" in p for p in problems)
    assert _production().production_problems() == []


# What a production deployment sets besides its secrets: every default below is refused there.
PRODUCTION = {
    "env": "production",
    "stripe_webhook_secret": "whsec_9b1c4d7e2f0a8c6b5d3e1f7a9c2b4d6e",
    "stripe_secret_key": "sk_live_51Hq8ZtLkq2vX0p9A7bC3dE5fG",
    "secret_key": "9f2c4e1a7b3d5f608e1c2a4b6d8f0e13579bdf2468ace0",
    "issuer": "licenses.example.com",
    "public_url": "https://licenses.example.com",
    "smtp_host": "smtp.example.com",
    "mail_from": "licenses@example.com",
    "sales_email": "sales@example.com",
}


def _production(**changes: object) -> Settings:
    values = {k: v for k, v in {**PRODUCTION, **changes}.items() if v is not None}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"issuer": None}, "LICENSING_ISSUER"),
        ({"issuer": "licensing-dev"}, "LICENSING_ISSUER"),
        ({"public_url": None}, "LICENSING_PUBLIC_URL"),
        ({"public_url": "http://licenses.example.com"}, "LICENSING_PUBLIC_URL"),
        ({"public_url": "https://localhost:8443"}, "LICENSING_PUBLIC_URL"),
        ({"public_url": "https://127.0.0.2"}, "LICENSING_PUBLIC_URL"),
        ({"public_url": "https://[::1]:8000"}, "LICENSING_PUBLIC_URL"),
        ({"public_url": "https://app.localhost"}, "LICENSING_PUBLIC_URL"),
        ({"smtp_host": None}, "LICENSING_SMTP_HOST"),
        ({"sales_email": None}, "LICENSING_SALES_EMAIL"),
        ({"sales_email": "sales@localhost"}, "LICENSING_SALES_EMAIL"),
        ({"mail_from": None}, "LICENSING_MAIL_FROM"),
        ({"mail_from": "licensing@127.0.0.1"}, "LICENSING_MAIL_FROM"),
        ({"metrics_token": "changeme"}, "LICENSING_METRICS_TOKEN"),
    ],
)
def test_each_production_finding_names_its_setting(changes: dict[str, object], setting: str) -> None:
    problems = _production(**changes).production_problems()
    assert len(problems) == 1, problems
    assert problems[0].startswith(setting), problems


def test_no_smtp_server_is_fine_when_self_serve_issues_at_once() -> None:
    assert _production(smtp_host=None, self_serve_confirmation="none").production_problems() == []


def test_every_finding_is_listed_at_once_and_says_how_to_fix_it() -> None:
    settings = Settings(env="production", _env_file=None)  # type: ignore[call-arg]
    problems = settings.production_problems()
    named = [p.split(" ", 1)[0] for p in problems]
    assert named == [
        "LICENSING_STRIPE_WEBHOOK_SECRET",
        "LICENSING_STRIPE_SECRET_KEY",
        "LICENSING_SECRET_KEY",
        "LICENSING_ISSUER",
        "LICENSING_PUBLIC_URL",
        "LICENSING_SMTP_HOST",
        "LICENSING_SALES_EMAIL",
        "LICENSING_MAIL_FROM",
    ]
    assert all(":" in p and "set" in p.lower() for p in problems), problems


def test_development_pages_have_a_sales_address_though_none_is_set() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.sales_email is None
    assert settings.sales_address == "sales@localhost"
    assert _production().sales_address == "sales@example.com"


def test_terms_and_privacy_urls_are_unset_by_default() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.terms_url is None
    assert settings.privacy_url is None
