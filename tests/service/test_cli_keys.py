"""`licensing keys generate | list | rotate | retire KID | jwks [--out FILE]`, run as the real command.

SPEC sections 2 and 4: the first key is active, later ones pending; kid is the RFC 7638 thumbprint;
private keys are PKCS#8 PEM files of mode 0600, encrypted with LICENSING_KEY_PASSPHRASE, never printed
(the ``cli`` fixture checks every output for key material when each test ends).
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest
from cli_support import Cli, assert_plain_error
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import OKPKey

from licensing.signing.keys import KeyStore, KeyStoreError

JWK_MEMBERS = {"kty", "crv", "x", "kid", "use", "alg"}
PASSPHRASE = "correct horse battery staple 7f3a9c"


def states(cli: Cli) -> dict[str, str]:
    """kid -> state, from ``keyring.json`` on disk."""
    document = json.loads((cli.keys_dir / "keyring.json").read_text())
    return {entry["kid"]: entry["state"] for entry in document["keys"]}


def listed_states(cli: Cli) -> dict[str, str]:
    """kid -> state, as ``licensing keys list`` shows them."""
    result = cli("keys", "list")
    assert result.returncode == 0, str(result)
    rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    return {row[0]: row[1] for row in rows}


def generate(cli: Cli, **env: str | None) -> str:
    """``licensing keys generate``; the new kid."""
    before = set(states(cli)) if (cli.keys_dir / "keyring.json").exists() else set()
    result = cli("keys", "generate", **env)
    assert result.returncode == 0, str(result)
    (kid,) = set(states(cli)) - before
    assert kid in result.stdout
    return kid


def jwks(cli: Cli) -> dict[str, object]:
    result = cli("keys", "jwks")
    assert result.returncode == 0, str(result)
    document: dict[str, object] = json.loads(result.stdout)
    return document


def jwks_kids(cli: Cli) -> list[str]:
    return [key["kid"] for key in jwks(cli)["keys"]]  # type: ignore[attr-defined]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint_by_hand(x: str) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace."""
    canonical = '{"crv":"Ed25519","kty":"OKP","x":"' + x + '"}'
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def load_pem(path: Path, passphrase: str | None = None) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase.encode() if passphrase else None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def public_x(key: Ed25519PrivateKey) -> str:
    return b64url(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


# --- generate, list, files --------------------------------------------------------------------------
def test_first_key_is_active_and_later_ones_pending(cli: Cli) -> None:
    first = generate(cli)
    second = generate(cli)
    third = generate(cli)
    assert states(cli) == {first: "active", second: "pending", third: "pending"}
    assert listed_states(cli) == {first: "active", second: "pending", third: "pending"}


def test_keys_list_without_keys_says_how_to_make_one(cli: Cli) -> None:
    result = cli("keys", "list")
    assert result.returncode == 0, str(result)
    assert "licensing keys generate" in result.output


def test_kid_is_the_rfc7638_thumbprint_of_the_key_in_the_pem_file(cli: Cli) -> None:
    kids = [generate(cli) for _ in range(2)]
    published = {key["kid"]: key for key in jwks(cli)["keys"]}  # type: ignore[attr-defined]
    assert set(published) == set(kids)
    for kid in kids:
        # The PEM file holds the private half of the published key ...
        x = public_x(load_pem(cli.keys_dir / f"{kid}.pem"))
        assert published[kid]["x"] == x
        # ... and the kid is its thumbprint, by hand and by an independent JOSE library.
        assert kid == thumbprint_by_hand(x)
        assert kid == OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x}).thumbprint()


def test_private_keys_are_pkcs8_pem_files_of_mode_0600(cli: Cli) -> None:
    kids = [generate(cli) for _ in range(2)]
    pems = sorted(cli.keys_dir.glob("*.pem"))
    assert [p.name for p in pems] == sorted(f"{kid}.pem" for kid in kids)
    for path in pems:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        text = path.read_text("ascii")
        assert text.startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, not "OPENSSH" or "EC"/"RSA" forms
        assert text.rstrip().endswith("-----END PRIVATE KEY-----")
        load_pem(path)  # unencrypted without a passphrase
    # The state file is not world-readable either.
    assert stat.S_IMODE((cli.keys_dir / "keyring.json").stat().st_mode) & 0o077 == 0


# --- passphrase -------------------------------------------------------------------------------------
def test_passphrase_encrypts_the_pem_and_only_it_opens_it(cli: Cli) -> None:
    cli.passphrase = PASSPHRASE
    kid = generate(cli)
    path = cli.keys_dir / f"{kid}.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text("ascii")
    assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert public_x(load_pem(path, PASSPHRASE)) == jwks(cli)["keys"][0]["x"]  # type: ignore[index]
    with pytest.raises(TypeError):
        load_pem(path, None)
    with pytest.raises(ValueError):
        load_pem(path, "wrong-Passphrase-1b2c")
    # The service's own loader agrees.
    assert KeyStore(cli.keys_dir, PASSPHRASE).signer().kid == kid
    with pytest.raises(KeyStoreError):
        KeyStore(cli.keys_dir, "wrong-Passphrase-1b2c").signer()
    with pytest.raises(KeyStoreError):
        KeyStore(cli.keys_dir, None).signer()


@pytest.mark.parametrize("wrong", ["wrong-Passphrase-1b2c", None], ids=["wrong", "missing"])
def test_wrong_passphrase_is_a_plain_error_and_changes_nothing(cli: Cli, wrong: str | None) -> None:
    cli.passphrase = PASSPHRASE
    active = generate(cli)
    pending = generate(cli)
    before = states(cli)
    pem_files = sorted(cli.keys_dir.glob("*.pem"))

    # A new key would be encrypted with another passphrase than the others: refused.
    result = cli("keys", "generate", LICENSING_KEY_PASSPHRASE=wrong)
    assert_plain_error(result)
    assert "LICENSING_KEY_PASSPHRASE" in result.stderr
    # Rotating would make active a key the service then cannot open: refused.
    result = cli("keys", "rotate", LICENSING_KEY_PASSPHRASE=wrong)
    assert_plain_error(result)
    assert "LICENSING_KEY_PASSPHRASE" in result.stderr
    # The server refuses to start (before migrating or listening).
    result = cli("serve", "--port", "9", LICENSING_KEY_PASSPHRASE=wrong)
    assert_plain_error(result)
    assert "LICENSING_KEY_PASSPHRASE" in result.stderr
    assert not (cli.home.parent / "cli.db").exists()

    assert states(cli) == before == {active: "active", pending: "pending"}
    assert sorted(cli.keys_dir.glob("*.pem")) == pem_files
    # With the right passphrase everything still works.
    result = cli("keys", "rotate")
    assert result.returncode == 0, str(result)
    assert states(cli) == {active: "previous", pending: "active"}
    assert KeyStore(cli.keys_dir, PASSPHRASE).signer().kid == pending


def test_listing_and_publishing_need_no_passphrase(cli: Cli) -> None:
    cli.passphrase = PASSPHRASE
    kid = generate(cli)
    assert cli("keys", "list", LICENSING_KEY_PASSPHRASE=None).returncode == 0
    result = cli("keys", "jwks", LICENSING_KEY_PASSPHRASE=None)
    assert result.returncode == 0, str(result)
    assert [k["kid"] for k in json.loads(result.stdout)["keys"]] == [kid]


# --- rotate -----------------------------------------------------------------------------------------
def test_rotate_makes_the_oldest_pending_key_active_and_the_active_one_previous(cli: Cli) -> None:
    first = generate(cli)
    second = generate(cli)
    third = generate(cli)
    result = cli("keys", "rotate")
    assert result.returncode == 0, str(result)
    assert "warning" not in result.output.lower()
    assert second in result.stdout and first in result.stdout
    assert states(cli) == {first: "previous", second: "active", third: "pending"}
    assert KeyStore(cli.keys_dir).signer().kid == second
    # Nothing left the JWKS.
    assert set(jwks_kids(cli)) == {first, second, third}

    result = cli("keys", "rotate")
    assert result.returncode == 0, str(result)
    assert "warning" not in result.output.lower()
    assert states(cli) == {first: "previous", second: "previous", third: "active"}


def test_rotate_without_a_pending_key_makes_one_and_warns(cli: Cli) -> None:
    first = generate(cli)
    result = cli("keys", "rotate")
    assert result.returncode == 0, str(result)
    after = states(cli)
    (new,) = set(after) - {first}
    assert after == {first: "previous", new: "active"}
    assert (cli.keys_dir / f"{new}.pem").exists()
    # The warning says the new key is unknown to installs shipped before now.
    warning = result.stderr.lower()
    assert "warning" in warning
    assert new in result.stderr
    assert "installs" in warning and ("not know" in warning or "unknown" in warning)
    assert KeyStore(cli.keys_dir).signer().kid == new


def test_rotate_on_an_empty_directory_makes_the_first_key(cli: Cli) -> None:
    result = cli("keys", "rotate")
    assert result.returncode == 0, str(result)
    assert list(states(cli).values()) == ["active"]


# --- retire -----------------------------------------------------------------------------------------
def test_retiring_the_active_key_is_refused(cli: Cli) -> None:
    active = generate(cli)
    pending = generate(cli)
    result = cli("keys", "retire", active)
    assert_plain_error(result)
    assert "active" in result.stderr
    assert states(cli) == {active: "active", pending: "pending"}
    assert set(jwks_kids(cli)) == {active, pending}


def test_retiring_an_unknown_key_is_a_plain_error(cli: Cli) -> None:
    generate(cli)
    result = cli("keys", "retire", "no-such-kid")
    assert_plain_error(result)
    assert "no-such-kid" in result.stderr


def test_retire_withdraws_previous_and_pending_keys_from_the_jwks(cli: Cli) -> None:
    first = generate(cli)
    second = generate(cli)
    assert cli("keys", "rotate").returncode == 0
    third = generate(cli)
    assert states(cli) == {first: "previous", second: "active", third: "pending"}

    result = cli("keys", "retire", first)
    assert result.returncode == 0, str(result)
    assert "withdrawn" in result.stdout
    result = cli("keys", "retire", third)
    assert result.returncode == 0, str(result)
    assert states(cli) == {first: "withdrawn", second: "active", third: "withdrawn"}
    assert jwks_kids(cli) == [second]
    assert listed_states(cli) == {first: "withdrawn", second: "active", third: "withdrawn"}
    # Retiring again is harmless.
    assert cli("keys", "retire", first).returncode == 0
    assert states(cli)[first] == "withdrawn"


# --- jwks -------------------------------------------------------------------------------------------
def test_jwks_has_the_spec_shape_and_lists_pending_active_previous_not_withdrawn(cli: Cli) -> None:
    withdrawn = generate(cli)
    previous = generate(cli)
    assert cli("keys", "rotate").returncode == 0  # previous key -> active
    assert cli("keys", "rotate").returncode == 0  # a new key is active; withdrawn, previous are previous
    active = next(kid for kid, state in states(cli).items() if state == "active")
    pending = generate(cli)
    assert cli("keys", "retire", withdrawn).returncode == 0
    assert states(cli) == {withdrawn: "withdrawn", previous: "previous", active: "active", pending: "pending"}

    document = jwks(cli)
    assert set(document) == {"keys"}
    keys = document["keys"]
    assert isinstance(keys, list)
    assert sorted(k["kid"] for k in keys) == sorted([previous, active, pending])
    for key in keys:
        assert set(key) == JWK_MEMBERS
        assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["use"] == "sig" and key["alg"] == "EdDSA"
        assert len(base64.urlsafe_b64decode(key["x"] + "=")) == 32
        assert "=" not in key["x"]
        assert key["kid"] == thumbprint_by_hand(key["x"])
        assert "d" not in key  # never the private part


def test_jwks_out_writes_the_same_document_to_a_file(cli: Cli) -> None:
    generate(cli)
    generate(cli)
    printed = cli("keys", "jwks")
    assert printed.returncode == 0, str(printed)
    out = cli.home / "public" / "jwks.json"
    out.parent.mkdir()
    written = cli("keys", "jwks", "--out", str(out))
    assert written.returncode == 0, str(written)
    assert json.loads(out.read_text()) == json.loads(printed.stdout)
    assert "keys" not in written.stdout  # the document went to the file, not to stdout


def test_jwks_out_to_an_unwritable_place_is_a_plain_error(cli: Cli) -> None:
    generate(cli)
    result = cli("keys", "jwks", "--out", str(cli.home / "missing-dir" / "jwks.json"))
    assert_plain_error(result)


def test_jwks_of_an_empty_directory_is_an_empty_key_set(cli: Cli) -> None:
    assert jwks(cli) == {"keys": []}


def test_retire_takes_a_kid_that_starts_with_a_dash(cli: Cli) -> None:
    """About one thumbprint in 64 starts with "-"; it is a kid, not an option."""
    generate(cli)
    result = cli("keys", "retire", "-Zx9_not_a_key")
    assert_plain_error(result, code=1)
    assert "no key '-Zx9_not_a_key'" in result.stderr


# --- folders the service makes are its owner's alone (SPEC 7) ---------------------------------------
def test_keys_generate_before_the_database_makes_every_missing_folder_owner_only(tmp_path: Path) -> None:
    """The README's order (keys first, then `db upgrade`): ./data must not be left 0755."""
    home = tmp_path / "home"
    home.mkdir()
    data = home / "data"
    cli = Cli(home=home, keys_dir=data / "keys", database_url=f"sqlite:///{data / 'licensing.db'}")
    assert cli("keys", "generate").returncode == 0
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "keys").stat().st_mode) == 0o700
    cli.assert_no_secrets()


def test_the_database_folders_made_are_owner_only_and_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    deep = home / "var" / "lib"
    cli = Cli(home=home, keys_dir=home / "keys", database_url=f"sqlite:///{deep / 'licensing.db'}")
    result = cli("db", "upgrade")
    assert result.returncode == 0, str(result)
    assert stat.S_IMODE((home / "var").stat().st_mode) == 0o700
    assert stat.S_IMODE(deep.stat().st_mode) == 0o700
    assert stat.S_IMODE(home.stat().st_mode) == 0o755  # not made by the service: never narrowed
