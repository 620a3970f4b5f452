"""Settings, from LICENSING_* environment variables or an .env file. One object for every command."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_WORDS = ("change", "replace", "placeholder", "example", "dummy", "secret", "xxx", "todo", "fixme", "test")
MIN_SECRET_LENGTH = 20


def is_placeholder(value: str) -> bool:
    """Empty, short, or made of words people put in templates (``whsec_xxx``, ``REPLACE_ME``...).

    Stripe's own test-mode prefix (``sk_test_``) is not a placeholder: staging runs on it.
    """
    value = value.strip()
    body = value.lower().removeprefix("whsec_").removeprefix("sk_live_").removeprefix("sk_test_").removeprefix("rk_")
    return len(value) < MIN_SECRET_LENGTH or any(word in body for word in PLACEHOLDER_WORDS) or len(set(body)) < 6


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LICENSING_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./data/licensing.db"
    keys_dir: Path = Path("./data/keys")
    key_passphrase: SecretStr | None = None
    issuer: str = "licensing-dev"
    public_url: str = "http://127.0.0.1:8000"
    catalog_path: Path | None = None
    # Signs what browsers hold (the pages' CSRF tokens). Every worker needs the same value; development
    # without one keeps a generated secret in <keys_dir>/secret_key.
    secret_key: SecretStr | None = None

    stripe_secret_key: SecretStr | None = None
    # Empty: the webhook route answers 404 webhooks_disabled instead of accepting anything.
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None  # Stripe's own address when unset; a stand-in's for tests
    # The SDK's retries of a failed call (with the same idempotency key); the worker retries on top.
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)
    # Stripe Tax at checkout: automatic tax, a required billing address and tax IDs; the pages say "plus
    # applicable tax". Turn on once Stripe Tax is set up in the Stripe account (its origin address, registrations).
    stripe_automatic_tax: bool = False
    # Promotion codes made in Stripe's dashboard can be typed on Stripe's checkout page.
    stripe_promotion_codes: bool = False

    # Where Stripe's hosted checkout lives (the checkout page's form is redirected there); derived from
    # LICENSING_STRIPE_API_BASE when that is set (a test double), else Stripe's own.
    stripe_checkout_origin: str | None = None
    # Where Stripe's billing portal lives (the portal's "Manage billing" form is redirected there); derived
    # like the checkout origin.
    stripe_billing_portal_origin: str | None = None
    sales_email: str = "sales@localhost"  # the pricing page's "Contact sales"

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # auto: STARTTLS when the server offers it (implicit TLS on port 465); starttls: required; ssl; none.
    smtp_security: Literal["auto", "starttls", "ssl", "none"] = "auto"
    mail_from: str = "licensing@localhost"

    # `licensing serve` (and any app made by api.app.create_app) runs the background loop (webhook
    # processing, outgoing e-mail) in-process; false when `licensing worker` runs it apart.
    worker_in_process: bool = True

    public_rate_limit: int = Field(default=30, ge=0)
    # Where replicas share state (the public rate limit's counts): redis://, rediss:// or unix://. None:
    # each process counts in its own memory, right for one process (the embedded default).
    redis_url: SecretStr | None = None
    # Self-serve trials and free licenses: "email" mails a single-use link and issues when it is followed
    # (the request answers 202); "none" issues at once (201), as before (SPEC sections 1 and 7).
    self_serve_confirmation: Literal["email", "none"] = "email"
    # Addresses or networks (CIDR) whose X-Forwarded-For is believed: the load balancer's. None by default.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    # `licensing serve`'s connection limits (service.http): a client must send its request headers within
    # http_header_timeout seconds of connecting (or of its previous response), else it is disconnected;
    # an idle keep-alive connection is closed after http_keep_alive seconds; at most http_max_concurrency
    # connections and requests per worker process, beyond which requests are answered 503.
    http_header_timeout: float = Field(default=10.0, gt=0, le=300)
    http_keep_alive: int = Field(default=5, ge=1, le=300)
    http_max_concurrency: int = Field(default=1000, ge=10)
    # On SIGTERM: how long requests in flight may take to finish before they are cancelled.
    shutdown_timeout: int = Field(default=30, ge=1, le=600)
    # The background work's lease (licensing.kit.jobs): renewed while its worker lives; after a crash the
    # work is taken up again at most this long after it. Below 45 s, an SMTP send (30 s timeout) may
    # outlive its lease.
    worker_lease_seconds: int = Field(default=45, ge=3, le=600)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, list):
            return items
        items = [v for v in items if v]
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"LICENSING_TRUSTED_PROXIES: {item!r} is not an IP address or network (CIDR)"
                ) from None
        return items

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().split("://", 1)[0] not in ("redis", "rediss", "unix"):
            raise ValueError("LICENSING_REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def checkout_origin(self) -> str:
        return self.stripe_checkout_origin or self.stripe_api_base or "https://checkout.stripe.com"

    def redis_url_value(self) -> str | None:
        return self.redis_url.get_secret_value() if self.redis_url else None

    @property
    def billing_portal_origin(self) -> str:
        return self.stripe_billing_portal_origin or self.stripe_api_base or "https://billing.stripe.com"

    def passphrase(self) -> str | None:
        return self.key_passphrase.get_secret_value() if self.key_passphrase else None

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve production (empty when it may)."""
        problems = []
        secret = self.stripe_webhook_secret.get_secret_value() if self.stripe_webhook_secret else ""
        if is_placeholder(secret):
            problems.append("LICENSING_STRIPE_WEBHOOK_SECRET is missing or a placeholder")
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else ""
        if is_placeholder(key):
            problems.append("LICENSING_STRIPE_SECRET_KEY is missing or a placeholder")
        if is_placeholder(self.secret_key.get_secret_value() if self.secret_key else ""):
            problems.append(
                "LICENSING_SECRET_KEY is missing or a placeholder (the same long random value on every worker, "
                "e.g. from `python3 -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
