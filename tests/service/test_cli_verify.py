"""`licensing verify FILE --jwks F [--revocations F] [--installation-id ID] [--at RFC3339] [--json]`.

SPEC section 4: exit 0 when valid or in grace, 1 when rejected (any rejection code), 2 on a usage
error; ``--json`` prints exactly ``{"ok", "status", "code", "message", "license"}``, for a usage
error too (status "error", code "usage_error"). Text from inside a license is printed with control
characters escaped. The licenses are signed here, with chosen claims, by the service's own signer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli, Result, assert_plain_error
from licensetools import OMIT, license_claims

from licensing.signing.jws import Signer, armor
from licensing.signing.keys import KeyStore

AT = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)
AT_TEXT = "2030-06-01T12:00:00Z"
DROP = OMIT  # a claim to leave out
JSON_KEYS = {"ok", "status", "code", "message", "license"}


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def claims(**changes: Any) -> dict[str, Any]:
    """An enterprise license valid from 30 days before AT to 335 days after it; DROP leaves a claim out."""
    enterprise = {
        "jti": "lic_cli_verify_0001",
        "tier": "enterprise",
        "seats": 25,
        "features": ["cluster", "saml"],
        "grace_days": 30,
        "subscription_id": OMIT,
    }
    return license_claims(
        issued=ts(AT - timedelta(days=30)), expires=ts(AT + timedelta(days=335)), **{**enterprise, **changes}
    )


@dataclass
class Issuer:
    cli: Cli
    signer: Signer
    jwks: Path

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.cli.home / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def license(self, name: str = "license.lic", **changes: Any) -> Path:
        return self.write(name, self.signer.sign_license(claims(**changes)))

    def verify(self, path: Path, *args: str, at: str | None = AT_TEXT) -> Result:
        extra = ["--at", at] if at else []
        return self.cli("verify", str(path), "--jwks", str(self.jwks), *extra, *args)

    def verify_json(self, path: Path, *args: str, at: str | None = AT_TEXT) -> tuple[Result, dict[str, Any]]:
        result = self.verify(path, "--json", *args, at=at)
        document = json.loads(result.stdout)
        assert set(document) == JSON_KEYS, str(result)
        return result, document


@pytest.fixture
def issuer(cli: Cli) -> Issuer:
    store = KeyStore(cli.keys_dir)
    store.generate()
    jwks = cli.home / "jwks.json"
    jwks.write_text(json.dumps(store.jwks()))
    return Issuer(cli, store.signer(), jwks)


def other_signer(tmp_path: Path) -> Signer:
    store = KeyStore(tmp_path / "other-keys")
    store.generate()
    return store.signer()


# --- accepted ---------------------------------------------------------------------------------------
def test_valid_license_exits_0_and_json_carries_its_claims(issuer: Issuer) -> None:
    path = issuer.license()
    result, document = issuer.verify_json(path)
    assert result.returncode == 0, str(result)
    assert document["ok"] is True
    assert document["status"] == "valid"
    assert document["code"] is None
    assert isinstance(document["message"], str) and document["message"]
    assert document["license"] == claims()

    human = issuer.verify(path)
    assert human.returncode == 0, str(human)
    assert "VALID" in human.stdout
    assert "lic_cli_verify_0001" in human.stdout and "enterprise" in human.stdout and "25" in human.stdout


def test_valid_now_without_at(issuer: Issuer) -> None:
    now = datetime.now(UTC)
    path = issuer.license(
        iat=ts(now - timedelta(days=1)), nbf=ts(now - timedelta(days=1)), exp=ts(now + timedelta(days=30))
    )
    result, document = issuer.verify_json(path, at=None)
    assert result.returncode == 0, str(result)
    assert document["status"] == "valid"


def test_perpetual_free_license_is_valid(issuer: Issuer) -> None:
    path = issuer.license(tier="free", seats=None, features=[], grace_days=0, exp=DROP)
    result, document = issuer.verify_json(path)
    assert result.returncode == 0, str(result)
    assert document["license"]["seats"] is None and "exp" not in document["license"]
    human = issuer.verify(path)
    assert human.returncode == 0, str(human)
    assert "unlimited" in human.stdout and "never" in human.stdout


def test_license_in_grace_exits_0_with_status_grace(issuer: Issuer) -> None:
    path = issuer.license(exp=ts(AT - timedelta(days=3)), grace_days=10)
    result, document = issuer.verify_json(path)
    assert result.returncode == 0, str(result)
    assert document["ok"] is True
    assert document["status"] == "grace"
    assert document["code"] is None
    assert "grace" in document["message"]
    assert document["license"]["jti"] == "lic_cli_verify_0001"
    human = issuer.verify(path)
    assert human.returncode == 0, str(human)
    assert "GRACE" in human.stdout


def test_bound_license_is_valid_on_its_installation(issuer: Issuer) -> None:
    path = issuer.license(installation_id="inst-alpha")
    result, document = issuer.verify_json(path, "--installation-id", "inst-alpha")
    assert result.returncode == 0, str(result)
    assert document["license"]["installation_id"] == "inst-alpha"


def test_revocation_list_without_this_license_keeps_it_valid(issuer: Issuer) -> None:
    path = issuer.license()
    revocations = issuer.write(
        "revocations.lic",
        issuer.signer.sign_revocations(
            {"iss": "test-issuer", "iat": ts(AT), "ver": 1, "revoked": [{"jti": "lic_other", "revoked_at": ts(AT)}]}
        ),
    )
    result, document = issuer.verify_json(path, "--revocations", str(revocations))
    assert result.returncode == 0, str(result)
    assert document["status"] == "valid"


# --- rejected: exit 1, one test per code --------------------------------------------------------------
def _rejected(issuer: Issuer, tmp_path: Path, code: str) -> tuple[Path, list[str]]:
    """A license file (and extra arguments) that the verifier rejects with ``code``."""
    if code == "malformed":
        return issuer.write("garbage.lic", "this is not a license\n"), []
    if code == "unsupported":
        return issuer.license(ver=2), []
    if code == "unknown_key":
        return issuer.write("stranger.lic", other_signer(tmp_path).sign_license(claims())), []
    if code == "bad_signature":
        # The header and signature of one license around the payload of another.
        first = issuer.signer.sign_compact("license+jwt", claims())
        second = issuer.signer.sign_compact("license+jwt", claims(seats=10_000))
        header, _, signature = first.split(".")
        return issuer.write("tampered.lic", armor(f"{header}.{second.split('.')[1]}.{signature}")), []
    if code == "not_yet_valid":
        return issuer.license(iat=ts(AT - timedelta(days=1)), nbf=ts(AT + timedelta(days=2))), []
    if code == "clock_skew":
        return issuer.license(iat=ts(AT + timedelta(hours=1)), nbf=ts(AT + timedelta(hours=1))), []
    if code == "expired":
        start = ts(AT - timedelta(days=400))
        return issuer.license(iat=start, nbf=start, exp=ts(AT - timedelta(days=31)), grace_days=30), []
    if code == "revoked":
        revocations = issuer.write(
            "revocations.lic",
            issuer.signer.sign_revocations(
                {
                    "iss": "test-issuer",
                    "iat": ts(AT),
                    "ver": 1,
                    "revoked": [{"jti": "lic_cli_verify_0001", "revoked_at": ts(AT - timedelta(days=1))}],
                }
            ),
        )
        return issuer.license(), ["--revocations", str(revocations)]
    if code == "installation_mismatch":
        return issuer.license(installation_id="inst-alpha"), ["--installation-id", "inst-beta"]
    raise AssertionError(code)


REJECTION_CODES = [
    "malformed",
    "unsupported",
    "unknown_key",
    "bad_signature",
    "not_yet_valid",
    "clock_skew",
    "expired",
    "revoked",
    "installation_mismatch",
]


def test_every_rejection_code_is_covered() -> None:
    from licensing.verify import ERROR_CODES

    assert set(REJECTION_CODES) == set(ERROR_CODES)


@pytest.mark.parametrize("code", REJECTION_CODES)
def test_rejection_exits_1_and_json_names_the_code(issuer: Issuer, tmp_path: Path, code: str) -> None:
    path, args = _rejected(issuer, tmp_path, code)
    result, document = issuer.verify_json(path, *args)
    assert result.returncode == 1, str(result)
    assert document["ok"] is False
    assert document["status"] == "rejected"
    assert document["code"] == code
    assert isinstance(document["message"], str) and len(document["message"]) > 10
    assert document["license"] is None

    human = issuer.verify(path, *args)
    assert human.returncode == 1, str(human)
    assert f"REJECTED ({code})" in human.stdout
    assert "Traceback" not in human.output


def test_bound_license_without_installation_id_is_rejected(issuer: Issuer) -> None:
    result, document = issuer.verify_json(issuer.license(installation_id="inst-alpha"))
    assert result.returncode == 1, str(result)
    assert document["code"] == "installation_mismatch"


def test_unsupported_algorithm_none_is_rejected(issuer: Issuer) -> None:
    import base64

    def seg(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    compact = f"{seg({'alg': 'none', 'typ': 'license+jwt', 'kid': issuer.signer.kid})}.{seg(claims())}.AAAA"
    result, document = issuer.verify_json(issuer.write("none.lic", armor(compact)))
    assert result.returncode == 1, str(result)
    assert document["code"] == "unsupported"


def test_binary_garbage_is_rejected_as_malformed_not_a_usage_error(issuer: Issuer) -> None:
    result, document = issuer.verify_json(issuer.write("binary.lic", b"\xff\xfe\x00garbage\x80"))
    assert result.returncode == 1, str(result)
    assert document["code"] == "malformed"


def test_expiry_is_judged_at_the_given_time(issuer: Issuer) -> None:
    path = issuer.license(exp=ts(AT + timedelta(days=1)), grace_days=2)
    assert issuer.verify(path, at="2030-06-01T12:00:00Z").returncode == 0
    result, document = issuer.verify_json(path, at="2030-06-03T00:00:00+00:00")
    assert (result.returncode, document["status"]) == (0, "grace")
    # The same instant written with another offset.
    result, document = issuer.verify_json(path, at="2030-06-05T14:00:00+02:00")
    assert (result.returncode, document["code"]) == (1, "expired")


# --- usage errors: exit 2 -----------------------------------------------------------------------------
def test_missing_license_file_is_a_usage_error(issuer: Issuer) -> None:
    assert_plain_error(issuer.verify(issuer.cli.home / "no-such.lic"), code=2)
    assert_plain_error(issuer.verify(issuer.cli.home / "no-such.lic", "--json"), code=2)


@pytest.mark.parametrize(
    "jwks_text",
    [
        "this is not json",
        "[]",
        '{"keys": []}',
        '{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "short", "kid": "k"}]}',
        '{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}',
        b"\xff\xfe\x00\x80",
    ],
    ids=["not-json", "array", "no-keys", "bad-x", "no-ed25519", "binary"],
)
def test_unusable_jwks_is_a_usage_error(issuer: Issuer, jwks_text: str | bytes) -> None:
    issuer.jwks = issuer.write("bad-jwks.json", jwks_text)
    result = issuer.verify(issuer.license(), "--json")
    assert_plain_error(result, code=2)


def test_missing_or_unreadable_jwks_is_a_usage_error(issuer: Issuer) -> None:
    path = issuer.license()
    issuer.jwks = issuer.cli.home / "no-such-jwks.json"
    assert_plain_error(issuer.verify(path), code=2)
    issuer.jwks = issuer.cli.home  # a directory
    assert_plain_error(issuer.verify(path), code=2)


@pytest.mark.parametrize("at", ["yesterday", "2030-06-01T12:00:00", "2030-13-01T00:00:00Z", ""])
def test_bad_at_is_a_usage_error(issuer: Issuer, at: str) -> None:
    result = issuer.cli("verify", str(issuer.license()), "--jwks", str(issuer.jwks), "--at", at)
    assert_plain_error(result, code=2)


@pytest.mark.parametrize(
    "args",
    [["--frobnicate"], ["--json", "--installation-id"], []],
    ids=["unknown-option", "option-without-value", "no-jwks"],
)
def test_command_line_mistakes_are_usage_errors(issuer: Issuer, args: list[str]) -> None:
    path = issuer.license()
    jwks = ["--jwks", str(issuer.jwks)] if args else []
    result = issuer.cli("verify", str(path), *jwks, *args)
    assert_plain_error(result, code=2)


def test_unusable_revocation_list_is_a_usage_error(issuer: Issuer, tmp_path: Path) -> None:
    path = issuer.license()
    garbage = issuer.write("garbage-revocations.lic", "nothing here")
    assert_plain_error(issuer.verify(path, "--revocations", str(garbage)), code=2)
    assert_plain_error(issuer.verify(path, "--revocations", str(issuer.cli.home / "none.lic")), code=2)
    forged = issuer.write(
        "forged-revocations.lic",
        other_signer(tmp_path).sign_revocations({"iss": "x", "iat": ts(AT), "ver": 1, "revoked": []}),
    )
    assert_plain_error(issuer.verify(path, "--revocations", str(forged)), code=2)


# --- --at out of range ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "at",
    [
        "9999-12-31T23:59:59-14:00",  # 10000-01-01 in UTC
        "9999-12-31T23:59:59-00:01",
        "1969-12-31T23:59:59Z",
        "1970-01-01T05:00:00+06:00",  # 1969 in UTC
        "0001-01-01T00:00:00Z",
    ],
)
def test_at_out_of_range_is_a_usage_error(issuer: Issuer, at: str) -> None:
    path = issuer.license()
    result = issuer.verify(path, at=at)
    assert_plain_error(result, code=2)
    assert "--at" in result.stderr and "1970" in result.stderr and "9999" in result.stderr
    assert_json_usage_error(issuer.verify(path, "--json", at=at), "--at")


def test_at_at_the_edges_of_the_range_is_a_time(issuer: Issuer) -> None:
    path = issuer.license(iat=0, nbf=0, exp=DROP)
    for at in ("1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59+14:00"):
        result, document = issuer.verify_json(path, at=at)
        assert (result.returncode, document["status"]) == (0, "valid"), str(result)


# --- usage errors under --json: the error as JSON too ---------------------------------------------
def assert_json_usage_error(result: Result, mentions: str) -> dict[str, Any]:
    assert_plain_error(result, code=2)  # the message on stderr as well, for people
    document = json.loads(result.stdout)
    assert set(document) == JSON_KEYS, str(result)
    assert document["ok"] is False
    assert document["status"] == "error"
    assert document["code"] == "usage_error"
    assert document["license"] is None
    assert mentions in document["message"], str(result)
    assert not document["message"].startswith("error:")
    return document


def test_every_usage_error_is_json_under_json(issuer: Issuer, tmp_path: Path) -> None:
    path = issuer.license()
    home = issuer.cli.home
    jwks = str(issuer.jwks)
    garbage = issuer.write("garbage.json", "not json")
    revocations_garbage = issuer.write("garbage-revocations.lic", "nothing here")
    forged = issuer.write(
        "forged-revocations.lic",
        other_signer(tmp_path).sign_revocations({"iss": "x", "iat": ts(AT), "ver": 1, "revoked": []}),
    )
    cases = {
        "missing license file": (["verify", str(home / "none.lic"), "--jwks", jwks], "none.lic"),
        "license file is a directory": (["verify", str(home), "--jwks", jwks], "license file"),
        "missing jwks": (["verify", str(path), "--jwks", str(home / "none.json")], "JWKS"),
        "jwks is a directory": (["verify", str(path), "--jwks", str(home)], "JWKS"),
        "jwks is not json": (["verify", str(path), "--jwks", str(garbage)], "JWKS"),
        "revocation list unreadable": (
            ["verify", str(path), "--jwks", jwks, "--revocations", str(home / "none.lic")],
            "revocation list",
        ),
        "revocation list garbage": (
            ["verify", str(path), "--jwks", jwks, "--revocations", str(revocations_garbage)],
            "revocation list",
        ),
        "revocation list forged": (
            ["verify", str(path), "--jwks", jwks, "--revocations", str(forged)],
            "revocation list",
        ),
        "bad --at": (["verify", str(path), "--jwks", jwks, "--at", "yesterday"], "--at"),
        "--at without zone": (["verify", str(path), "--jwks", jwks, "--at", "2030-06-01T12:00:00"], "--at"),
        "--at past 9999": (["verify", str(path), "--jwks", jwks, "--at", "9999-12-31T23:59:59-14:00"], "--at"),
    }
    for name, (args, mentions) in cases.items():
        result = issuer.cli(*args, "--json")
        try:
            assert_json_usage_error(result, mentions)
        except (AssertionError, json.JSONDecodeError) as exc:
            raise AssertionError(f"{name}: {exc}\n{result}") from None
        # Without --json: the message alone, on stderr.
        plain = issuer.cli(*args)
        assert_plain_error(plain, code=2)
        assert plain.stdout == "", f"{name}: {plain}"


# --- text from inside a license: control characters escaped --------------------------------------
# C0, DEL, C1 and the bidirectional controls: a terminal acts on them (CSI is U+009B; U+202E turns
# the rest of a line around), so a license could forge or hide what `licensing verify` prints.
CONTROLS = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))]
BIDI = ["\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]


def assert_no_raw_controls(text: str) -> None:
    raw = sorted({f"U+{ord(c):04X}" for c in text if c in CONTROLS + BIDI and c != "\n"})
    assert not raw, f"raw control characters printed: {raw}"


HOSTILE = {
    "jti": "lic_\u202eevil",
    "customer": {"name": "Mallory\u009b31m\u202eevil\x1b[2J", "email": "m\x7f@example.com", "company": None},
    "features": ["saml", "cl\u2066uster\u2069", "tab\there"],
    "installation_id": "inst-\u200f1",
}


def test_control_characters_from_a_license_are_escaped_in_text_output(issuer: Issuer) -> None:
    path = issuer.license(**HOSTILE)
    result = issuer.verify(path, "--installation-id", "inst-\u200f1")
    assert result.returncode == 0, str(result)
    assert_no_raw_controls(result.output)
    for escaped in ("lic_\\u202eevil", "Mallory\\u009b31m\\u202eevil\\u001b[2J", "m\\u007f@example.com"):
        assert escaped in result.stdout, str(result)
    assert "cl\\u2066uster\\u2069" in result.stdout and "tab\\u0009here" in result.stdout
    assert "inst-\\u200f1" in result.stdout


def test_control_characters_from_a_license_are_escaped_in_json_output(issuer: Issuer) -> None:
    path = issuer.license(**HOSTILE)
    result, document = issuer.verify_json(path, "--installation-id", "inst-\u200f1")
    assert result.returncode == 0, str(result)
    assert result.stdout.isascii()  # every non-ASCII character as a \u escape
    assert_no_raw_controls(result.stdout)
    assert "\\u007f" in result.stdout and "\\u009b" in result.stdout and "\\u202e" in result.stdout
    assert document["license"]["customer"] == HOSTILE["customer"]  # the JSON still reads back exactly
    assert document["license"]["jti"] == HOSTILE["jti"]


def test_control_characters_are_escaped_in_rejection_messages(issuer: Issuer) -> None:
    jti = "lic_\u202e\u009bevil\x7f"
    revocations = issuer.write(
        "revocations.lic",
        issuer.signer.sign_revocations(
            {"iss": "test-issuer", "iat": ts(AT), "ver": 1, "revoked": [{"jti": jti, "revoked_at": ts(AT)}]}
        ),
    )
    path = issuer.license(jti=jti)
    human = issuer.verify(path, "--revocations", str(revocations))
    assert human.returncode == 1, str(human)
    assert "REJECTED (revoked)" in human.stdout
    assert_no_raw_controls(human.output)
    assert "lic_\\u202e\\u009bevil\\u007f" in human.stdout
    result, document = issuer.verify_json(path, "--revocations", str(revocations))
    assert result.returncode == 1 and document["code"] == "revoked"
    assert result.stdout.isascii()
    assert_no_raw_controls(result.stdout)
    assert jti in document["message"]  # exact once parsed


def test_plain_text_is_printed_as_it_is(issuer: Issuer) -> None:
    path = issuer.license(
        customer={"name": "Zoë Ñandú", "email": "zoe@example.com", "company": "Café «Ünïcode» 株式会社"}
    )
    result = issuer.verify(path)
    assert result.returncode == 0, str(result)
    assert "Café «Ünïcode» 株式会社" in result.stdout
    assert "Zoë Ñandú" in result.stdout and "zoe@example.com" in result.stdout
