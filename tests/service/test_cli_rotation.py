"""Key rotation end to end, through the CLI and the service's issuance code, on SQLite and PostgreSQL.

SPEC section 2: rotating never invalidates licenses already issued; new licenses carry the new kid;
``keys retire`` withdraws a key from the JWKS and warns while unexpired licenses signed by it exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cli_support import Cli, assert_plain_error

from licensing.catalog import load_catalog
from licensing.context import Core
from licensing.kit.clock import utcnow
from licensing.kit.db import make_engine, make_sessionmaker, transaction
from licensing.kit.settings import Settings
from licensing.licenses.customers import create_customer
from licensing.licenses.issuance import IssueRequest, issue_license
from licensing.signing.keys import KeyStore
from licensing.verify import unarmor

PASSPHRASE = "rotation-passphrase-5e1d"


@dataclass
class Issued:
    id: str
    kid: str
    path: Path


@pytest.fixture
def db_cli(cli: Cli, database_url: str) -> Cli:
    """The command line on a migrated database (SQLite or PostgreSQL), with encrypted keys."""
    cli.database_url = database_url
    cli.passphrase = PASSPHRASE
    return cli


def issue(cli: Cli, name: str, *, days: int = 30, expired: bool = False, free: bool = False) -> Issued:
    """Issue a license through the service's issuance code with the keys as they are now."""
    catalog = load_catalog()
    settings = Settings(keys_dir=cli.keys_dir, issuer="test-issuer", _env_file=None)  # type: ignore[call-arg]
    core = Core(settings=settings, catalog=catalog, keys=KeyStore(cli.keys_dir, cli.passphrase))
    if expired:  # issued 90 days ago for 30 days, without grace: long lapsed today
        core.clock = lambda: utcnow() - timedelta(days=90)
    engine = make_engine(cli.database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            customer = create_customer(
                session,
                core,
                "test",
                name=name,
                email=f"{name.lower()}@example.com",
                company=f"{name} Ltd",
            )
            if free:
                request = IssueRequest(customer=customer, offer=catalog.offer_for("free", False), actor="test")
            else:
                request = IssueRequest(
                    customer=customer,
                    offer=catalog.offer_for("enterprise", False),
                    actor="test",
                    seats=5,
                    duration_days=days,
                    grace_days=0 if expired else None,
                )
            lic = issue_license(session, core, request)
            issued = Issued(lic.id, lic.key_id, cli.home / f"{name}.lic")
            issued.path.write_text(lic.license_file)
    finally:
        engine.dispose()
    return issued


def header_kid(path: Path) -> str:
    import base64

    header = unarmor(path.read_text()).split(".")[0]
    value: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return value


def write_jwks(cli: Cli, name: str) -> Path:
    out = cli.home / name
    result = cli("keys", "jwks", "--out", str(out))
    assert result.returncode == 0, str(result)
    return out


def verify(cli: Cli, lic: Issued, jwks: Path) -> dict[str, object]:
    result = cli("verify", str(lic.path), "--jwks", str(jwks), "--json")
    document: dict[str, object] = json.loads(result.stdout)
    assert result.returncode == (0 if document["ok"] else 1), str(result)
    return document


def state_of(cli: Cli, kid: str) -> str:
    document = json.loads((cli.keys_dir / "keyring.json").read_text())
    return next(entry["state"] for entry in document["keys"] if entry["kid"] == kid)


def test_rotation_keeps_old_licenses_verifying_and_signs_new_ones_with_the_new_key(db_cli: Cli) -> None:
    cli = db_cli
    assert cli("keys", "generate").returncode == 0
    old_kid = KeyStore(cli.keys_dir, PASSPHRASE).signer().kid
    before = issue(cli, "Before")
    assert before.kid == old_kid == header_kid(before.path)

    # Publish the next key ahead, then rotate to it.
    assert cli("keys", "generate").returncode == 0
    shipped = write_jwks(cli, "jwks-shipped.json")  # what installs built now carry
    result = cli("keys", "rotate")
    assert result.returncode == 0, str(result)
    assert "warning" not in result.output.lower()
    new_kid = KeyStore(cli.keys_dir, PASSPHRASE).signer().kid
    assert new_kid != old_kid
    assert (state_of(cli, old_kid), state_of(cli, new_kid)) == ("previous", "active")

    after = issue(cli, "After")
    assert after.kid == new_kid == header_kid(after.path)

    current = write_jwks(cli, "jwks-current.json")
    assert {k["kid"] for k in json.loads(current.read_text())["keys"]} == {old_kid, new_kid}
    for jwks in (shipped, current):
        for lic in (before, after):
            document = verify(cli, lic, jwks)
            assert (document["ok"], document["status"]) == (True, "valid"), document
            assert document["license"]["jti"] == lic.id  # type: ignore[index]


def test_retire_warns_while_unexpired_licenses_signed_by_the_key_exist(db_cli: Cli) -> None:
    cli = db_cli
    assert cli("keys", "generate").returncode == 0
    old_kid = KeyStore(cli.keys_dir, PASSPHRASE).signer().kid
    live = issue(cli, "Live")
    perpetual = issue(cli, "Forever", free=True)
    assert live.kid == perpetual.kid == old_kid
    assert cli("keys", "rotate").returncode == 0  # no pending key: a new one, with its warning
    new_kid = KeyStore(cli.keys_dir, PASSPHRASE).signer().kid

    # The active key cannot be retired.
    refused = cli("keys", "retire", new_kid)
    assert_plain_error(refused)
    assert state_of(cli, new_kid) == "active"

    result = cli("keys", "retire", old_kid)
    assert result.returncode == 0, str(result)
    assert state_of(cli, old_kid) == "withdrawn"
    warning = result.stderr.lower()
    assert "warning" in warning and "2 unexpired" in warning and old_kid.lower() in warning

    # Withdrawn from the JWKS: installs that take the new JWKS no longer know the key.
    jwks = write_jwks(cli, "jwks-after-retire.json")
    assert [k["kid"] for k in json.loads(jwks.read_text())["keys"]] == [new_kid]
    document = verify(cli, live, jwks)
    assert (document["ok"], document["code"]) == (False, "unknown_key")


def test_retire_does_not_warn_when_the_keys_licenses_have_all_expired(db_cli: Cli) -> None:
    cli = db_cli
    assert cli("keys", "generate").returncode == 0
    old = issue(cli, "Lapsed", expired=True)
    assert cli("keys", "generate").returncode == 0
    assert cli("keys", "rotate").returncode == 0
    assert state_of(cli, old.kid) == "previous"
    document = verify(cli, old, write_jwks(cli, "jwks.json"))
    assert document["code"] == "expired"  # signed by the key, and lapsed

    result = cli("keys", "retire", old.kid)
    assert result.returncode == 0, str(result)
    assert "warning" not in result.output.lower()
    assert state_of(cli, old.kid) == "withdrawn"
