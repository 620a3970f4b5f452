"""`licensing check` (SPEC section 7): what production refuses and the effective configuration, secrets
masked, without starting anything (no folder, key or database made)."""

from __future__ import annotations

from pathlib import Path

from cli_support import Cli, Result, assert_plain_error

from licensing.signing.keys import KeyStore

PASSPHRASE = "key-passphrase-8d2f4b6a1c3e5f7a"
STRIPE_KEY = "sk_live_51Hq8ZtLkq2vX0p9A7bC3dE5fG"
WEBHOOK_SECRET = "whsec_9b1c4d7e2f0a8c6b5d3e1f7a9c2b4d6e"
SECRET_KEY = "9f2c4e1a7b3d5f608e1c2a4b6d8f0e13579bdf2468ace0"
SMTP_PASSWORD = "smtp-pw-4e8a1f9c3b7d2e6a"
REDIS_PASSWORD = "redis-pw-7c1e5a9f3d2b8e4a"
SECRETS = (PASSPHRASE, STRIPE_KEY, WEBHOOK_SECRET, SECRET_KEY, SMTP_PASSWORD, REDIS_PASSWORD)

PRODUCTION = {
    "LICENSING_ENV": "production",
    "LICENSING_STRIPE_SECRET_KEY": STRIPE_KEY,
    "LICENSING_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "LICENSING_SECRET_KEY": SECRET_KEY,
    "LICENSING_ISSUER": "licenses.example.com",
    "LICENSING_PUBLIC_URL": "https://licenses.example.com",
    "LICENSING_SMTP_HOST": "smtp.example.com",
    "LICENSING_SMTP_USERNAME": "mailer",
    "LICENSING_SMTP_PASSWORD": SMTP_PASSWORD,
    "LICENSING_MAIL_FROM": "licenses@example.com",
    "LICENSING_SALES_EMAIL": "sales@example.com",
    "LICENSING_REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0",
}


def findings(result: Result) -> list[str]:
    return [line.strip().removeprefix("- ") for line in result.stdout.splitlines() if line.startswith("  - ")]


def setting(result: Result, variable: str) -> str:
    [line] = [line for line in result.stdout.splitlines() if line.split()[:1] == [variable]]
    return line.split(None, 1)[1]


def assert_no_secret(result: Result, *secrets: str) -> None:
    leaks = [i for i, secret in enumerate(secrets) if secret in result.output]  # indexes: never the secret
    assert leaks == [], f"secret(s) #{leaks} in the output of licensing {result.args}"


def ready(cli: Cli) -> None:
    """A real key and a database at the latest migration."""
    cli.passphrase = PASSPHRASE
    KeyStore(cli.keys_dir, PASSPHRASE).generate()
    assert cli("db", "upgrade").returncode == 0


def test_development_shows_what_production_would_refuse_and_exits_0_making_nothing(cli: Cli) -> None:
    result = cli("check")
    assert result.returncode == 0, str(result)
    assert "production would refuse" in result.stdout
    named = [finding.split(" ", 1)[0].rstrip(":") for finding in findings(result)]
    for variable in ("LICENSING_ISSUER", "LICENSING_PUBLIC_URL", "LICENSING_SMTP_HOST", "LICENSING_SALES_EMAIL"):
        assert variable in named, str(result)
    assert "LICENSING_KEYS_DIR" in named and "LICENSING_DATABASE_URL" in named
    assert setting(result, "LICENSING_ENV") == "development  [default]"
    assert setting(result, "LICENSING_TERMS_URL") == "(not set)  [default]"
    assert setting(result, "LICENSING_PRIVACY_URL") == "(not set)  [default]"
    assert not cli.keys_dir.exists()
    assert not Path(cli.database_url.removeprefix("sqlite:///")).exists()


def test_production_with_findings_exits_1_listing_them_all(cli: Cli) -> None:
    ready(cli)
    env = {**PRODUCTION, "LICENSING_ISSUER": None, "LICENSING_SALES_EMAIL": None}
    result = cli("check", **env)
    assert result.returncode == 1, str(result)
    assert "production refuses to start (2 finding(s))" in result.stdout
    assert [finding.split(" ", 1)[0] for finding in findings(result)] == ["LICENSING_ISSUER", "LICENSING_SALES_EMAIL"]


def test_production_ready_exits_0_with_the_keys_and_database_checked(cli: Cli) -> None:
    ready(cli)
    result = cli("check", **PRODUCTION)
    assert result.returncode == 0, str(result)
    assert "findings: none" in result.stdout
    [kid] = [key.kid for key in KeyStore(cli.keys_dir).list_keys()]
    assert f"keys: active key {kid} (a production key) loads" in result.stdout
    assert "at the latest migration" in result.stdout
    assert setting(result, "LICENSING_ENV") == "production  [env]"
    assert setting(result, "LICENSING_LOG_LEVEL") == "WARNING  [env]"
    assert setting(result, "LICENSING_SMTP_PORT") == "25  [default]"


def test_no_secret_value_appears_and_urls_keep_all_but_their_password(cli: Cli) -> None:
    ready(cli)
    result = cli("check", **PRODUCTION)
    assert_no_secret(result, *SECRETS)
    assert setting(result, "LICENSING_REDIS_URL") == "redis://:***@127.0.0.1:6379/0  [env]"
    assert setting(result, "LICENSING_SMTP_PASSWORD") == "*** (set)  [env]"
    assert setting(result, "LICENSING_STRIPE_SECRET_KEY") == "*** (set)  [env]"
    assert setting(result, "LICENSING_KEY_PASSPHRASE") == "*** (set)  [env]"
    # A database that does not answer: its URL is shown, its password is not, in the finding either.
    database_password = "db-pw-2b9e7c4a1f6d3e8c"
    url = f"postgresql+psycopg://licensing:{database_password}@127.0.0.1:1/licensing"
    result = cli("check", LICENSING_DATABASE_URL=url, **PRODUCTION)
    assert result.returncode == 1, str(result)
    assert_no_secret(result, *SECRETS, database_password)
    assert setting(result, "LICENSING_DATABASE_URL") == (
        "postgresql+psycopg://licensing:***@127.0.0.1:1/licensing  [env]"
    )
    assert any(f.startswith("LICENSING_DATABASE_URL") and "not reachable" in f for f in findings(result))


def test_a_key_that_does_not_load_and_a_database_behind_are_findings(cli: Cli) -> None:
    cli.passphrase = PASSPHRASE
    KeyStore(cli.keys_dir, PASSPHRASE).generate()
    assert cli("db", "upgrade", "0001").returncode == 0
    result = cli("check", LICENSING_KEY_PASSPHRASE="not-the-passphrase-3f9a", **PRODUCTION)
    assert result.returncode == 1, str(result)
    named = findings(result)
    assert any(f.startswith("LICENSING_KEYS_DIR") and "does not load" in f for f in named), str(result)
    assert any(f.startswith("LICENSING_DATABASE_URL") and "licensing db upgrade" in f for f in named), str(result)
    assert_no_secret(result, PASSPHRASE, "not-the-passphrase-3f9a")


def test_where_each_setting_came_from(cli: Cli) -> None:
    (cli.home / ".env").write_text("LICENSING_ISSUER=from-the-file.example\nLICENSING_SALES_EMAIL=a@example.com\n")
    result = cli("check", LICENSING_SALES_EMAIL="b@example.com")
    assert result.returncode == 0, str(result)
    assert setting(result, "LICENSING_ISSUER") == "from-the-file.example  [.env]"
    assert setting(result, "LICENSING_SALES_EMAIL") == "b@example.com  [env]"  # the environment wins
    assert setting(result, "LICENSING_PUBLIC_URL") == "http://127.0.0.1:8000  [default]"


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert_plain_error(cli("check", "--no-such-option"), code=2)
    assert_plain_error(cli("check", LICENSING_ENV="staging"), code=2)
