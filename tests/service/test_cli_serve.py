"""`licensing serve`: production refusals (SPEC section 7) and the development key (SPEC section 4).

A refused start is proven not to have started serving: the command exits by itself with an error,
and the SQLite database, which ``serve`` migrates just before it listens, was never created.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_support import Cli, Result, assert_plain_error, licensing_command
from livetools import wait_until_answering

from licensing.signing.keys import KeyStore

REAL_WEBHOOK_SECRET = "whsec_9b1c4d7e2f0a8c6b5d3e1f7a9c2b4d6e"
REAL_STRIPE_KEY = "sk_live_51Hq8ZtLkq2vX0p9A7bC3dE5fG"
REAL_SECRET_KEY = "9f2c4e1a7b3d5f608e1c2a4b6d8f0e13579bdf2468ace0"
# What production also refuses at its development defaults (tests/licensing/kit/test_settings.py).
PRODUCTION_SETTINGS = {
    "LICENSING_ISSUER": "licenses.example.com",
    "LICENSING_PUBLIC_URL": "https://licenses.example.com",
    "LICENSING_SALES_EMAIL": "sales@example.com",
    "LICENSING_MAIL_FROM": "licenses@example.com",
    "LICENSING_SELF_SERVE_CONFIRMATION": "none",
}
START_DEADLINE = 60.0  # seconds to wait for /healthz before giving up (not a speed requirement)


def database_path(cli: Cli) -> Path:
    return Path(cli.database_url.removeprefix("sqlite:///"))


def production(cli: Cli, **env: str | None) -> Result:
    """``licensing serve`` in production; it must refuse, so it runs to its end."""
    return cli("serve", "--port", str(free_port()), LICENSING_ENV="production", **env)


def assert_refused(cli: Cli, result: Result, *reasons: str) -> None:
    assert_plain_error(result, code=1)
    assert "refusing to start in production" in result.stderr or "no signing key" in result.stderr
    for reason in reasons:
        assert reason in result.stderr, str(result)
    assert "Uvicorn running" not in result.output
    assert not database_path(cli).exists(), "serve migrated the database: it got as far as starting"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- production refusals -----------------------------------------------------------------------------
def test_production_refuses_a_development_key(cli: Cli) -> None:
    info = KeyStore(cli.keys_dir).generate(development=True)
    result = production(
        cli, LICENSING_STRIPE_WEBHOOK_SECRET=REAL_WEBHOOK_SECRET, LICENSING_STRIPE_SECRET_KEY=REAL_STRIPE_KEY
    )
    assert_refused(cli, result, "development key", info.kid)


def test_production_refuses_an_empty_keys_directory_instead_of_making_a_development_key(cli: Cli) -> None:
    result = production(
        cli, LICENSING_STRIPE_WEBHOOK_SECRET=REAL_WEBHOOK_SECRET, LICENSING_STRIPE_SECRET_KEY=REAL_STRIPE_KEY
    )
    assert_refused(cli, result, "licensing keys generate")
    assert not list(cli.keys_dir.glob("*.pem"))  # no development key was made


def test_production_refuses_a_missing_webhook_secret(cli: Cli) -> None:
    KeyStore(cli.keys_dir).generate()
    result = production(cli, LICENSING_STRIPE_SECRET_KEY=REAL_STRIPE_KEY)
    assert_refused(cli, result, "LICENSING_STRIPE_WEBHOOK_SECRET")
    assert "LICENSING_STRIPE_SECRET_KEY" not in result.stderr  # only what is wrong is named


@pytest.mark.parametrize("placeholder", ["changeme", "whsec_test", "", "  Secret  "])
def test_production_refuses_a_placeholder_webhook_secret(cli: Cli, placeholder: str) -> None:
    KeyStore(cli.keys_dir).generate()
    result = production(cli, LICENSING_STRIPE_WEBHOOK_SECRET=placeholder, LICENSING_STRIPE_SECRET_KEY=REAL_STRIPE_KEY)
    assert_refused(cli, result, "LICENSING_STRIPE_WEBHOOK_SECRET")


@pytest.mark.parametrize("placeholder", ["sk_test_placeholder", "xxx", None])
def test_production_refuses_a_placeholder_or_missing_stripe_key(cli: Cli, placeholder: str | None) -> None:
    KeyStore(cli.keys_dir).generate()
    result = production(
        cli, LICENSING_STRIPE_WEBHOOK_SECRET=REAL_WEBHOOK_SECRET, LICENSING_STRIPE_SECRET_KEY=placeholder
    )
    assert_refused(cli, result, "LICENSING_STRIPE_SECRET_KEY")


def test_production_refusal_names_every_problem_at_once(cli: Cli) -> None:
    KeyStore(cli.keys_dir).generate(development=True)
    result = production(cli, LICENSING_STRIPE_WEBHOOK_SECRET="changeme")
    assert_refused(
        cli,
        result,
        "LICENSING_STRIPE_WEBHOOK_SECRET",
        "LICENSING_STRIPE_SECRET_KEY",
        "LICENSING_SECRET_KEY",
        "development key",
    )


# --- serving -----------------------------------------------------------------------------------------
@contextmanager
def serving(cli: Cli, port: int, **env: str | None) -> Iterator[str]:
    """``licensing serve`` in a subprocess until /healthz answers; always stopped afterwards."""
    log_dir = cli.home / f"serve-{port}"
    log_dir.mkdir()
    out_path, err_path = log_dir / "stdout", log_dir / "stderr"
    base = f"http://127.0.0.1:{port}"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [*licensing_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cli.home,
            env=cli.environment(**env),
            stdout=out,
            stderr=err,
        )
    try:
        wait_until_answering(
            proc, f"{base}/healthz", lambda: out_path.read_text() + err_path.read_text(), START_DEADLINE
        )
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        cli.record(Result(("serve",), proc.returncode, out_path.read_text(), err_path.read_text()))


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def test_development_serve_creates_a_development_key_and_says_so_loudly(cli: Cli) -> None:
    assert not cli.keys_dir.exists()
    with serving(cli, free_port()) as base:
        (entry,) = json.loads((cli.keys_dir / "keyring.json").read_text())["keys"]
        assert entry["state"] == "active" and entry["development"] is True
        jwks = get_json(f"{base}/.well-known/jwks.json")
        assert [k["kid"] for k in jwks["keys"]] == [entry["kid"]]  # type: ignore[index]
        ready = get_json(f"{base}/readyz")
        assert isinstance(ready, dict)
    assert database_path(cli).exists()  # migrated on the way up
    served = cli.results[-1]
    banner = served.stderr
    assert "created a development signing key" in banner and "DEVELOPMENT SIGNING KEY" in banner
    assert entry["kid"] in banner and "production" in banner.lower()
    assert f"database: sqlite {database_path(cli)}" in banner
    listed = cli("keys", "list")
    assert "(development)" in listed.stdout

    # Every start says so while the development key signs, not only the one that made it.
    with serving(cli, free_port()):
        pass
    again = cli.results[-1].stderr
    assert "DEVELOPMENT SIGNING KEY" in again and entry["kid"] in again and "created a" not in again

    # The same directory is refused in production.
    database_path(cli).unlink()
    result = production(
        cli, LICENSING_STRIPE_WEBHOOK_SECRET=REAL_WEBHOOK_SECRET, LICENSING_STRIPE_SECRET_KEY=REAL_STRIPE_KEY
    )
    assert_refused(cli, result, "development key")


def test_the_first_development_run_prints_the_next_steps(cli: Cli) -> None:
    with serving(cli, free_port()) as base:
        pass
    first = cli.results[-1].stderr
    assert "next steps" in first.lower()
    for page in ("/pricing", "/trial", "/portal", "/docs"):
        assert f"{base}{page}" in first, first
    assert ".venv/bin/licensing apikeys create --name you --role admin" in first
    assert "not sent" in first and "this terminal" in first  # no SMTP host: where mail goes

    with serving(cli, free_port()):  # nothing new: no next steps
        pass
    assert "next steps" not in cli.results[-1].stderr.lower()

    # A key made beforehand (the README's order) but a new database is a first run too; mail goes out.
    database_path(cli).unlink()
    with serving(cli, free_port(), LICENSING_SMTP_HOST="smtp.example.com", LICENSING_SMTP_PORT="587"):
        pass
    third = cli.results[-1].stderr
    assert "next steps" in third.lower() and "smtp.example.com:587" in third


def test_development_serve_with_a_key_creates_no_other(cli: Cli) -> None:
    assert cli("keys", "generate").returncode == 0
    before = (cli.keys_dir / "keyring.json").read_text()
    with serving(cli, free_port()):
        pass
    assert (cli.keys_dir / "keyring.json").read_text() == before
    assert "DEVELOPMENT" not in cli.results[-1].output


def test_production_starts_with_a_real_key_and_real_secrets_and_prints_no_secret(cli: Cli) -> None:
    """The control for the refusals above: with nothing wrong, production serves."""
    cli.passphrase = "production-passphrase-3c7e"
    assert cli("keys", "generate").returncode == 0
    with serving(
        cli,
        free_port(),
        LICENSING_ENV="production",
        LICENSING_STRIPE_WEBHOOK_SECRET=REAL_WEBHOOK_SECRET,
        LICENSING_STRIPE_SECRET_KEY=REAL_STRIPE_KEY,
        LICENSING_SECRET_KEY=REAL_SECRET_KEY,
        **PRODUCTION_SETTINGS,
    ) as base:
        assert get_json(f"{base}/healthz") == {"status": "ok"}
    served = cli.results[-1]
    assert REAL_WEBHOOK_SECRET not in served.output and REAL_STRIPE_KEY not in served.output
    assert REAL_SECRET_KEY not in served.output
