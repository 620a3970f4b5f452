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
    good = Settings(
        env="production",
        stripe_webhook_secret="whsec_9b1c4d7e2f0a8c6b5d3e1f7a9c2b4d6e",
        stripe_secret_key="sk_live_51Hq8ZtLkq2vX0p9A7bC3dE5fG",
        secret_key="9f2c4e1a7b3d5f608e1c2a4b6d8f0e13579bdf2468ace0",
        _env_file=None,  # type: ignore[call-arg]
    )
    assert good.production_problems() == []
