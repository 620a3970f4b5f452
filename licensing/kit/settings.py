"""Settings, from LICENSING_* environment variables or an .env file. One object for every command."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_WORDS = ("change", "replace", "placeholder", "example", "dummy", "secret", "xxx", "todo", "fixme", "test")
MIN_SECRET_LENGTH = 20
DEFAULT_ISSUER = "licensing-dev"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEVELOPMENT_SALES_EMAIL = "sales@localhost"  # what the pages show in development when no sales address is set


def is_placeholder(value: str) -> bool:
    """Empty, short, or made of words people put in templates (``whsec_xxx``, ``REPLACE_ME``...).

    Stripe's own test-mode prefix (``sk_test_``) is not a placeholder: staging runs on it.
    """
    value = value.strip()
    body = value.lower().removeprefix("whsec_").removeprefix("sk_live_").removeprefix("sk_test_").removeprefix("rk_")
    return len(value) < MIN_SECRET_LENGTH or any(word in body for word in PLACEHOLDER_WORDS) or len(set(body)) < 6


def is_local_host(host: str) -> bool:
    """``localhost``, a name under it, or a loopback or unspecified address: nobody else reaches it."""
    host = host.strip().strip("[]").lower().rstrip(".")
    if host in ("", "localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _local_address(email: str) -> bool:
    return is_local_host(email.rpartition("@")[2])


class Settings(BaseSettings):
    """Every setting, each one a ``LICENSING_<NAME>`` variable (SPEC section 7), read from the environment
    or an ``.env`` file in the working directory. Secrets are ``SecretStr``: never printed or logged
    (``licensing check`` masks them)."""

    model_config = SettingsConfigDict(env_prefix="LICENSING_", env_file=".env", extra="ignore")

    # development or production. Production refuses to start with anything below left at a development
    # default (production_problems: every finding at once).
    env: Literal["development", "production"] = "development"
    # The SQLAlchemy URL; PostgreSQL as postgresql+psycopg://user:password@host/db. A SQLite file's folder
    # is made readable by its owner alone.
    database_url: str = "sqlite:///./data/licensing.db"
    # Where the signing keys live (made 0700, with the folders above it the service creates).
    keys_dir: Path = Path("./data/keys")
    # Encrypts the private keys at rest; None: the keys are stored unencrypted (mode 0600).
    key_passphrase: SecretStr | None = None
    # The `iss` claim of every license file; production refuses the default (licensing-dev).
    issuer: str = DEFAULT_ISSUER
    # The address customers reach, in links and e-mails; production wants an https:// address that is
    # not loopback.
    public_url: str = DEFAULT_PUBLIC_URL
    # The offer catalog (catalog.toml); None: the one shipped.
    catalog_path: Path | None = None
    # Signs what browsers hold (the pages' CSRF tokens). Every worker needs the same value; development
    # without one keeps a generated secret in <keys_dir>/secret_key.
    secret_key: SecretStr | None = None

    # Stripe's API key (sk_live_..., sk_test_... on staging); None: nothing is sold, Buy is Contact sales.
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
    # The pages' "Contact sales", the owner of leads no routing rule assigns, where disputes are reported.
    # None by default: production refuses to start without one; development pages show sales@localhost.
    sales_email: str | None = None
    # The terms a trial or purchase accepts, and the privacy notice. None: not set (pages of the service
    # will say the operator has not set them).
    terms_url: str | None = None
    privacy_url: str | None = None

    # The SMTP server outgoing mail goes through. None: mail is not sent (shown on the terminal in
    # development, only noted in the log in production); production refuses that while self-serve
    # confirmation is by e-mail.
    smtp_host: str | None = None
    smtp_port: int = 25  # 587 for submission with STARTTLS, 465 for implicit TLS
    # The SMTP login, when the server asks for one (the password is never logged).
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # auto: STARTTLS when the server offers it (implicit TLS on port 465); starttls: required; ssl; none.
    smtp_security: Literal["auto", "starttls", "ssl", "none"] = "auto"
    # The From of every e-mail; production refuses an address at localhost.
    mail_from: str = "licensing@localhost"

    # `licensing serve` (and any app made by api.app.create_app) runs the background loop (webhook
    # processing, outgoing e-mail) in-process; false when `licensing worker` runs it apart.
    worker_in_process: bool = True

    # Minutes without a request after which a console (/console) session ends; sessions also end 12 hours
    # after sign-in whatever their use (licensing.staff.SESSION_MAX).
    console_idle_minutes: int = Field(default=30, ge=1, le=720)

    # Requests per minute per client address on the public endpoints; 0 turns the limit off.
    public_rate_limit: int = Field(default=30, ge=0)
    # Where replicas share state (the public rate limit's counts): redis://, rediss:// or unix://. None:
    # each process counts in its own memory, right for one process (the embedded default).
    redis_url: SecretStr | None = None
    # Self-serve trials and free licenses: "email" mails a single-use link and issues when it is followed
    # (the request answers 202); "none" issues at once (201), as before (SPEC sections 1 and 7).
    self_serve_confirmation: Literal["email", "none"] = "email"
    # Addresses or networks (CIDR) whose X-Forwarded-For is believed: the load balancer's. None by default.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The log level (DEBUG, INFO, WARNING...); logs are JSON lines.
    log_level: str = "INFO"
    # GET /metrics: with a token, for `Authorization: Bearer <token>` alone (from anywhere); without one,
    # for callers on this machine's loopback that no proxy forwarded (api/metrics.py).
    metrics_token: SecretStr | None = None
    # The largest request body accepted (bytes); larger ones answer 413.
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
    # How long an Idempotency-Key's stored answer is replayed; the background loop deletes older ones.
    idempotency_retention_hours: int = Field(default=24, ge=1, le=24 * 365)

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

    @property
    def sales_address(self) -> str:
        """Where "Contact sales" and sales' notices go: LICENSING_SALES_EMAIL, else (development only:
        production refuses to start without one) sales@localhost."""
        return self.sales_email or DEVELOPMENT_SALES_EMAIL

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve production (empty when it may), whatever ``env`` says:
        every finding at once, each naming its setting first and saying how to fix it."""
        problems = []
        secret = self.stripe_webhook_secret.get_secret_value() if self.stripe_webhook_secret else ""
        if is_placeholder(secret):
            problems.append(
                "LICENSING_STRIPE_WEBHOOK_SECRET is missing or a placeholder: set the endpoint's signing secret "
                "(whsec_...) from Stripe's dashboard"
            )
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else ""
        if is_placeholder(key):
            problems.append(
                "LICENSING_STRIPE_SECRET_KEY is missing or a placeholder: set the API key (sk_live_..., or a "
                "restricted rk_live_...) from Stripe's dashboard"
            )
        if is_placeholder(self.secret_key.get_secret_value() if self.secret_key else ""):
            problems.append(
                "LICENSING_SECRET_KEY is missing or a placeholder: set the same long random value on every "
                "worker, e.g. from `python3 -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        if self.issuer.strip() in ("", DEFAULT_ISSUER):
            problems.append(
                f"LICENSING_ISSUER is the development default {DEFAULT_ISSUER!r}: set the name licenses are "
                "issued by (their `iss` claim), e.g. your domain"
            )
        if problem := self._public_url_problem():
            problems.append(
                f"LICENSING_PUBLIC_URL {problem}: set the https:// address customers reach "
                "(links and e-mails point there), e.g. https://licenses.example.com"
            )
        if self.self_serve_confirmation == "email" and not (self.smtp_host or "").strip():
            problems.append(
                "LICENSING_SMTP_HOST is not set while LICENSING_SELF_SERVE_CONFIRMATION=email (the default): "
                "no trial could ever be confirmed; set the SMTP server (LICENSING_SMTP_HOST, _PORT, _USERNAME, "
                "_PASSWORD), or set LICENSING_SELF_SERVE_CONFIRMATION=none to issue without confirmation"
            )
        if not (self.sales_email or "").strip() or _local_address(self.sales_email or ""):
            problems.append(
                "LICENSING_SALES_EMAIL is not set (or at localhost): set the address of sales "
                "(the pages' Contact sales, unassigned leads, dispute notices), e.g. sales@example.com"
            )
        if _local_address(self.mail_from):
            problems.append(
                f"LICENSING_MAIL_FROM {self.mail_from!r} is at localhost: set the From address of the "
                "service's e-mail at your domain, e.g. licenses@example.com"
            )
        if self.metrics_token is not None and is_placeholder(self.metrics_token.get_secret_value()):
            problems.append(
                "LICENSING_METRICS_TOKEN is a placeholder: set a long random value (the scraper sends it as "
                "`Authorization: Bearer <token>`), or leave it unset to serve /metrics to loopback callers only"
            )
        return problems

    def _public_url_problem(self) -> str | None:
        if self.public_url.rstrip("/") == DEFAULT_PUBLIC_URL:
            return f"is the development default {DEFAULT_PUBLIC_URL}"
        try:
            parts = urlsplit(self.public_url)
            host = parts.hostname or ""
        except ValueError:
            return f"{self.public_url!r} is not a URL"
        if parts.scheme != "https":
            return f"{self.public_url!r} is not https://"
        if is_local_host(host):
            return f"{self.public_url!r} is a loopback address nobody else reaches"
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
