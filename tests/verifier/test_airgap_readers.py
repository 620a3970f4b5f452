"""The air-gapped files' writers and readers (licensing.airgap): what is accepted, and every refusal."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from verifier_helpers import NOW, make_claims

from licensing.airgap import (
    ACTIVATION_LABEL,
    RECEIPT_TYP,
    USAGE_LABEL,
    InstallationKey,
    activation_request,
    armor,
    armor_receipt,
    read_activation_request,
    read_usage_report,
    receipt_claims,
    report_digest,
    report_key_thumbprint,
    usage_report,
    verify_receipt,
)
from licensing.signing.jws import Signer
from licensing.verify import Keyring, LicenseError, b64url_decode, b64url_encode, jwk_thumbprint, unarmor

DAY = 86_400
TODAY = NOW - NOW % DAY


@pytest.fixture(scope="module")
def key() -> InstallationKey:
    return InstallationKey.generate()


def compact_of(text: str, label: str) -> str:
    return unarmor(text, label)


def resign(
    key: InstallationKey,
    text: str,
    label: str,
    header: Callable[[dict[str, Any]], Any] | None = None,
    claims: Callable[[dict[str, Any]], Any] | None = None,
    raw_claims: bytes | None = None,
) -> str:
    """``text`` with its header and claims changed as given, signed again by ``key``."""
    head, payload, _sig = compact_of(text, label).split(".")
    h = json.loads(b64url_decode(head))
    c = json.loads(b64url_decode(payload))
    if header:
        header(h)  # changes h in place
    if claims:
        claims(c)
    body = raw_claims if raw_claims is not None else json.dumps(c, separators=(",", ":")).encode()
    signing_input = f"{b64url_encode(json.dumps(h, separators=(',', ':')).encode())}.{b64url_encode(body)}"
    return armor(f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}", label)


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(LicenseError) as caught:
        call()
    assert caught.value.message  # says what is wrong
    return caught.value.code


# --- the installation key ------------------------------------------------------------------------


def test_the_key_round_trips_through_pem_and_hides_itself(key: InstallationKey) -> None:
    pem = key.private_pem()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    again = InstallationKey.from_pem(pem)
    assert again.thumbprint == key.thumbprint == jwk_thumbprint(key.public_jwk["x"])
    assert key.public_jwk == {"kty": "OKP", "crv": "Ed25519", "x": key.x}
    assert pem not in repr(key) and key.thumbprint in repr(key)
    encrypted = key.private_pem(password=b"secret")
    assert "ENCRYPTED" in encrypted
    assert InstallationKey.from_pem(encrypted, password=b"secret").thumbprint == key.thumbprint


@pytest.mark.parametrize(
    "pem",
    ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
)
def test_a_bad_pem_is_a_value_error(pem: str) -> None:
    with pytest.raises(ValueError, match="PEM"):
        InstallationKey.from_pem(pem)


def test_a_pem_of_another_key_type_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="not an Ed25519"):
        InstallationKey.from_pem(pem)


# --- activation requests -------------------------------------------------------------------------


def test_a_request_names_the_license_of_the_text_even_expired(key: InstallationKey, signer: Signer) -> None:
    expired = signer.sign_license(make_claims(jti="lic_old", exp=NOW - 400 * DAY, nbf=NOW - 800 * DAY))
    text = activation_request(key, "inst-1", expired, "2.4.1", now=NOW)
    assert text.startswith(f"-----BEGIN {ACTIVATION_LABEL}-----\n")
    request = read_activation_request(text)
    assert (request.license_id, request.installation_id, request.product_version) == ("lic_old", "inst-1", "2.4.1")
    assert request.issued_at == datetime.fromtimestamp(NOW, UTC)
    assert request.public_jwk == key.public_jwk
    assert request.thumbprint == key.thumbprint
    assert len(b64url_decode(request.nonce)) == 16
    assert request.compact == compact_of(text, ACTIVATION_LABEL)
    assert request.digest == report_digest(request.compact)


def test_the_request_is_written_as_the_contract_says(key: InstallationKey) -> None:
    text = activation_request(key, "inst-1", license_id="lic_1", now=NOW, nonce=bytes(16))
    head, payload, _sig = compact_of(text, ACTIVATION_LABEL).split(".")
    assert b64url_decode(head) == (
        b'{"alg":"EdDSA","typ":"license-activation+jwt","jwk":{"kty":"OKP","crv":"Ed25519","x":"'
        + key.x.encode()
        + b'"}}'
    )
    assert b64url_decode(payload) == (
        b'{"ver":1,"iat":%d,"installation_id":"inst-1","license_id":"lic_1","nonce":"AAAAAAAAAAAAAAAAAAAAAA"}' % NOW
    )
    assert read_activation_request(text).product_version is None
    assert all(len(line) <= 64 for line in text.splitlines())


def test_two_requests_differ_by_their_nonce(key: InstallationKey) -> None:
    first = read_activation_request(activation_request(key, "i", license_id="lic_1", now=NOW))
    second = read_activation_request(activation_request(key, "i", license_id="lic_1", now=NOW))
    assert first.nonce != second.nonce


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("inst-1",), {}, "names a license"),
        (("",), {"license_id": "lic_1"}, "installation_id"),
        (("x" * 201,), {"license_id": "lic_1"}, "installation_id"),
        (("inst\n1",), {"license_id": "lic_1"}, "installation_id"),
        (("inst-1", "not a license"), {}, "not a license file"),
        (("inst-1",), {"license_id": ""}, "license_id"),
        (("inst-1", None, ""), {"license_id": "lic_1"}, "product_version"),
    ],
)
def test_a_request_that_cannot_be_made_is_a_value_error(
    key: InstallationKey, args: tuple[Any, ...], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        activation_request(key, *args, **kwargs)


def test_a_license_id_that_disagrees_with_the_text_is_refused(key: InstallationKey, signer: Signer) -> None:
    text = signer.sign_license(make_claims(jti="lic_a"))
    with pytest.raises(ValueError, match="not the id"):
        activation_request(key, "i", text, license_id="lic_b")
    assert read_activation_request(activation_request(key, "i", text, license_id="lic_a")).license_id == "lic_a"


def test_a_request_with_a_naive_time_is_refused(key: InstallationKey) -> None:
    with pytest.raises(ValueError, match="aware"):
        activation_request(key, "i", license_id="l", now=datetime(2025, 1, 1))


@pytest.fixture(scope="module")
def request_text(key: InstallationKey) -> str:
    return activation_request(key, "inst-1", license_id="lic_1", product_version="1.0", now=NOW)


def _other_jwk(h: dict[str, Any]) -> None:
    h["jwk"] = InstallationKey.generate().public_jwk


@pytest.mark.parametrize(
    ("header", "claims", "code"),
    [
        (lambda h: h.update(typ="license+jwt"), None, "unsupported"),
        (lambda h: h.update(typ="APPLICATION/License-Activation+JWT"), None, "ok"),
        (lambda h: h.update(alg="Ed25519"), None, "ok"),
        (lambda h: h.update(alg="none"), None, "unsupported"),
        (lambda h: h.update(alg="HS256"), None, "unsupported"),
        (lambda h: h.update(crit=["exp"]), None, "unsupported"),
        (lambda h: h.pop("jwk"), None, "malformed"),
        (lambda h: h.update(jwk={"kty": "OKP", "crv": "X25519", "x": h["jwk"]["x"]}), None, "malformed"),
        (lambda h: h["jwk"].update(x="AAAA"), None, "malformed"),
        (lambda h: h["jwk"].update(d="AAAA"), None, "malformed"),
        (_other_jwk, None, "bad_signature"),
        (None, lambda c: c.update(ver=2), "unsupported"),
        (None, lambda c: c.update(ver="1"), "unsupported"),
        (None, lambda c: c.pop("license_id"), "malformed"),
        (None, lambda c: c.update(license_id=7), "malformed"),
        (None, lambda c: c.update(installation_id=""), "malformed"),
        (None, lambda c: c.update(installation_id="a" * 201), "malformed"),
        (None, lambda c: c.update(installation_id="a\tb"), "malformed"),
        (None, lambda c: c.update(iat=1.5), "malformed"),
        (None, lambda c: c.update(iat=True), "malformed"),
        (None, lambda c: c.update(nonce="AAAA"), "malformed"),
        (None, lambda c: c.pop("nonce"), "malformed"),
        (None, lambda c: c.update(product_version=""), "malformed"),
        (None, lambda c: c.update(product_version=None), "ok"),
        (None, lambda c: c.update(unknown="ignored"), "ok"),
    ],
)
def test_a_request_is_refused_for(
    key: InstallationKey,
    request_text: str,
    header: Callable[[dict[str, Any]], Any] | None,
    claims: Callable[[dict[str, Any]], Any] | None,
    code: str,
) -> None:
    text = resign(key, request_text, ACTIVATION_LABEL, header, claims)
    if code == "ok":
        read_activation_request(text)
    else:
        assert code_of(lambda: read_activation_request(text)) == code


def test_a_tampered_request_is_a_bad_signature(request_text: str) -> None:
    head, payload, sig = compact_of(request_text, ACTIVATION_LABEL).split(".")
    claims = json.loads(b64url_decode(payload))
    claims["license_id"] = "lic_other"
    forged = f"{head}.{b64url_encode(json.dumps(claims).encode())}.{sig}"
    assert code_of(lambda: read_activation_request(forged)) == "bad_signature"


@pytest.mark.parametrize(
    "text", ["", "hello", b"\xff\xfe", 42, "-----BEGIN LICENSE FILE-----\nx\n-----END LICENSE FILE-----"]
)
def test_what_is_not_a_request_is_malformed(text: Any) -> None:
    assert code_of(lambda: read_activation_request(text)) == "malformed"


# --- usage reports -------------------------------------------------------------------------------


def make_report(key: InstallationKey, **changes: Any) -> str:
    args: dict[str, Any] = {
        "license_id": "lic_1",
        "installation_id": "inst-1",
        "seq": 1,
        "prev": None,
        "period_start": TODAY - 3 * DAY,
        "period_end": TODAY + DAY,
        "daily": [(TODAY - 3 * DAY, 4), (TODAY - DAY, 9), (TODAY, 2)],
        "now": NOW,
    }
    args.update(changes)
    return usage_report(key, **args)


@pytest.fixture(scope="module")
def report_text(key: InstallationKey) -> str:
    return make_report(key)


def test_a_report_reads_back(key: InstallationKey, report_text: str) -> None:
    report = read_usage_report(report_text, key.public_jwk)
    assert (report.license_id, report.installation_id, report.seq, report.prev) == ("lic_1", "inst-1", 1, None)
    assert report.period_start == datetime.fromtimestamp(TODAY - 3 * DAY, UTC)
    assert report.period_end == datetime.fromtimestamp(TODAY + DAY, UTC)
    assert report.peak_users == 9
    assert report.daily_seconds == ((TODAY - 3 * DAY, 4), (TODAY - DAY, 9), (TODAY, 2))
    assert report.daily[1] == (datetime.fromtimestamp(TODAY - DAY, UTC), 9)
    assert report.thumbprint == key.thumbprint
    assert report.compact == compact_of(report_text, USAGE_LABEL)
    assert report.digest == report_digest(report_text) == report_digest(report.compact)
    assert read_usage_report(report_text, key).seq == 1  # the key itself works too


def test_the_report_is_written_as_the_contract_says(key: InstallationKey) -> None:
    text = make_report(key, seq=2, prev="A" * 43, daily=[(TODAY, 3)])
    head, payload, _sig = compact_of(text, USAGE_LABEL).split(".")
    assert b64url_decode(head) == b'{"alg":"EdDSA","typ":"license-usage+jwt","kid":"%s"}' % key.thumbprint.encode()
    start, end = TODAY - 3 * DAY, TODAY + DAY
    assert b64url_decode(payload).decode() == (
        f'{{"ver":1,"iat":{NOW},"license_id":"lic_1","installation_id":"inst-1","seq":2,"prev":"{"A" * 43}",'
        f'"period":{{"start":{start},"end":{end}}},"peak_users":3,"daily":[[{TODAY},3]]}}'
    )


def test_an_empty_report_is_allowed(key: InstallationKey) -> None:
    report = read_usage_report(make_report(key, daily=[], period_start=TODAY, period_end=TODAY), key.public_jwk)
    assert (report.peak_users, report.daily) == (0, ())


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"seq": 0}, "seq"),
        ({"seq": True}, "seq"),
        ({"prev": "A" * 43}, "no prev"),
        ({"seq": 2}, "needs prev"),
        ({"seq": 2, "prev": "short"}, "needs prev"),
        ({"period_start": TODAY + 1}, "period_start"),
        ({"period_end": TODAY - 4 * DAY}, "before"),
        ({"daily": [(TODAY, 1), (TODAY - DAY, 2)]}, "ascending"),
        ({"daily": [(TODAY + 5, 1)]}, "start of a UTC day"),
        ({"daily": [(TODAY + DAY, 1)]}, "inside the period"),
        ({"daily": [(TODAY, -1)]}, "0 or more"),
        ({"daily": [(TODAY, True)]}, "0 or more"),
        ({"installation_id": ""}, "installation_id"),
        ({"license_id": ""}, "license_id"),
    ],
)
def test_a_report_that_cannot_be_made_is_a_value_error(
    key: InstallationKey, changes: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        make_report(key, **changes)


def _kid(value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda h: h.update(kid=value)


@pytest.mark.parametrize(
    ("header", "claims", "code"),
    [
        (lambda h: h.update(typ="license-activation+jwt"), None, "unsupported"),
        (lambda h: h.update(typ="application/LICENSE-USAGE+JWT"), None, "ok"),
        (lambda h: h.update(alg="Ed25519"), None, "ok"),
        (lambda h: h.update(alg="none"), None, "unsupported"),
        (lambda h: h.update(alg="ES256"), None, "unsupported"),
        (lambda h: h.update(crit=["x"]), None, "unsupported"),
        (_kid("someone-else"), None, "unknown_key"),
        (lambda h: h.pop("kid"), None, "unknown_key"),
        (None, lambda c: c.update(ver=2), "unsupported"),
        (None, lambda c: c.update(seq=0), "malformed"),
        (None, lambda c: c.update(seq=1.0), "malformed"),
        (None, lambda c: c.update(prev="A" * 43), "malformed"),
        (None, lambda c: c.update(seq=2), "malformed"),
        (None, lambda c: c.update(seq=2, prev="A" * 42), "malformed"),
        (None, lambda c: c.update(seq=2, prev="A" * 43), "ok"),
        (None, lambda c: c.update(seq=2, prev=None), "malformed"),
        (None, lambda c: c.pop("license_id"), "malformed"),
        (None, lambda c: c.update(installation_id=5), "malformed"),
        (None, lambda c: c.update(iat="now"), "malformed"),
        (None, lambda c: c.pop("period"), "malformed"),
        (None, lambda c: c.update(period=[1, 2]), "malformed"),
        (None, lambda c: c["period"].update(start=TODAY - 3 * DAY + 1), "malformed"),
        (None, lambda c: c["period"].update(end=TODAY - 4 * DAY), "malformed"),
        (None, lambda c: c.update(peak_users=10), "malformed"),
        (None, lambda c: c.update(peak_users=-1), "malformed"),
        (None, lambda c: c.update(peak_users=True), "malformed"),
        (None, lambda c: c.update(daily={}), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY, 9]]), "ok"),
        (None, lambda c: c.update(daily=[[TODAY, 9, 1]]), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY, 9], [TODAY - DAY]]), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY, 9.0]]), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY, True]]), "malformed"),
        (None, lambda c: c.update(daily=[{"d": TODAY, "n": 9}]), "malformed"),
        (None, lambda c: c.update(daily=["ab"]), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY, 9], [TODAY - DAY, 1]]), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY, 9], [TODAY, 1]]), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY + 60, 9]]), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY + DAY, 9]]), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY - 4 * DAY, 9]]), "malformed"),
        (None, lambda c: c.update(daily=[[TODAY - DAY, 9], [TODAY, -1]]), "malformed"),
        (None, lambda c: c.update(daily=[], peak_users=0), "ok"),
        (None, lambda c: c.update(daily=[], peak_users=1), "malformed"),
    ],
)
def test_a_report_is_refused_for(
    key: InstallationKey,
    report_text: str,
    header: Callable[[dict[str, Any]], Any] | None,
    claims: Callable[[dict[str, Any]], Any] | None,
    code: str,
) -> None:
    text = resign(key, report_text, USAGE_LABEL, header, claims)
    if code == "ok":
        read_usage_report(text, key.public_jwk)
    else:
        assert code_of(lambda: read_usage_report(text, key.public_jwk)) == code


def test_a_report_of_another_key_is_refused(key: InstallationKey, report_text: str) -> None:
    other = InstallationKey.generate()
    assert code_of(lambda: read_usage_report(report_text, other.public_jwk)) == "unknown_key"
    # Another key that claims this key's kid: the signature does not match.
    forged = resign(other, report_text, USAGE_LABEL)
    assert code_of(lambda: read_usage_report(forged, key.public_jwk)) == "bad_signature"


def test_a_tampered_report_is_a_bad_signature(key: InstallationKey, report_text: str) -> None:
    head, payload, sig = compact_of(report_text, USAGE_LABEL).split(".")
    claims = json.loads(b64url_decode(payload))
    claims["daily"][1][1] = 1
    claims["peak_users"] = 4
    forged = f"{head}.{b64url_encode(json.dumps(claims, separators=(',', ':')).encode())}.{sig}"
    assert code_of(lambda: read_usage_report(forged, key.public_jwk)) == "bad_signature"


@pytest.mark.parametrize("jwk", [{}, {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, {"kty": "RSA"}])
def test_a_bad_key_argument_is_the_callers_mistake(report_text: str, jwk: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="public_jwk"):
        read_usage_report(report_text, jwk)
    with pytest.raises(TypeError):
        read_usage_report(report_text, "jwk")  # type: ignore[arg-type]


def test_a_report_is_not_a_request(key: InstallationKey, report_text: str, request_text: str) -> None:
    assert code_of(lambda: read_activation_request(report_text)) == "malformed"  # another armor label
    bare = compact_of(report_text, USAGE_LABEL)
    assert code_of(lambda: read_activation_request(bare)) == "unsupported"  # another typ
    assert code_of(lambda: read_usage_report(request_text, key.public_jwk)) == "malformed"


def test_the_armor_is_as_tolerant_as_a_license_files(key: InstallationKey, report_text: str) -> None:
    pasted = "Hi,\r\n\ufeff" + report_text.replace("\n", "\u200b\r\n    ") + "\r\nthanks\r\n"
    assert read_usage_report(pasted, key.public_jwk).digest == read_usage_report(report_text, key.public_jwk).digest
    assert read_usage_report(pasted.encode(), key.public_jwk).seq == 1
    huge = report_text + " " * 1_000_001
    assert code_of(lambda: read_usage_report(huge, key.public_jwk)) == "malformed"


# --- receipts ------------------------------------------------------------------------------------


def make_receipt(signer: Signer, claims: dict[str, Any]) -> str:
    return armor_receipt(signer.sign_compact(RECEIPT_TYP, claims))


def test_a_receipt_is_shaped_signed_and_verified(
    key: InstallationKey, report_text: str, signer: Signer, keyring: Keyring
) -> None:
    report = read_usage_report(report_text, key.public_jwk)
    claims = receipt_claims(report, issuer="Vendor", seats=5, gap=False, now=NOW)
    assert list(claims) == [
        "ver", "iss", "iat", "installation_id", "license_id", "seq", "report", "peak_users", "seats", "overage", "gap",
    ]  # fmt: skip
    assert (claims["overage"], claims["report"], claims["peak_users"]) == (4, report.digest, 9)
    receipt = verify_receipt(make_receipt(signer, claims), keyring, report_digest=report.digest)
    assert (receipt.seq, receipt.overage, receipt.gap, receipt.seats, receipt.peak_users) == (1, 4, False, 5, 9)
    assert (receipt.installation_id, receipt.license_id, receipt.report) == ("inst-1", "lic_1", report.digest)
    assert receipt.issued_at == datetime.fromtimestamp(NOW, UTC)
    assert receipt.key_id == signer.kid
    unlimited = receipt_claims(report, issuer="Vendor", seats=None, gap=True, now=NOW)
    assert (unlimited["overage"], unlimited["seats"], unlimited["gap"]) == (0, None, True)
    assert verify_receipt(make_receipt(signer, unlimited), keyring).overage == 0


def test_a_receipt_for_another_report_is_refused(
    key: InstallationKey, report_text: str, signer: Signer, keyring: Keyring
) -> None:
    report = read_usage_report(report_text, key.public_jwk)
    text = make_receipt(signer, receipt_claims(report, issuer="Vendor", seats=5, gap=False, now=NOW))
    other = report_digest(make_report(key, daily=[]))
    with pytest.raises(LicenseError, match="another usage report") as caught:
        verify_receipt(text, keyring, report_digest=other)
    assert caught.value.code == "malformed"


@pytest.fixture
def receipt_base(key: InstallationKey, report_text: str) -> dict[str, Any]:
    report = read_usage_report(report_text, key.public_jwk)
    return receipt_claims(report, issuer="Vendor", seats=5, gap=False, now=NOW)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"ver": 2}, "unsupported"),
        ({"iss": ""}, "malformed"),
        ({"iat": -1}, "malformed"),
        ({"seq": 0}, "malformed"),
        ({"report": "abc"}, "malformed"),
        ({"peak_users": -1}, "malformed"),
        ({"seats": 0}, "malformed"),
        ({"seats": "5"}, "malformed"),
        ({"overage": 3}, "malformed"),
        ({"overage": True}, "malformed"),
        ({"gap": 0}, "malformed"),
        ({"installation_id": ""}, "malformed"),
        ({"license_id": None}, "malformed"),
        ({"extra": 1}, "ok"),
    ],
)
def test_a_receipt_is_refused_for(
    signer: Signer, keyring: Keyring, receipt_base: dict[str, Any], change: dict[str, Any], code: str
) -> None:
    text = make_receipt(signer, {**receipt_base, **change})
    if code == "ok":
        verify_receipt(text, keyring)
    else:
        assert code_of(lambda: verify_receipt(text, keyring)) == code


def test_a_receipt_needs_its_typ_and_a_known_key(
    signer: Signer, keyring: Keyring, receipt_base: dict[str, Any], key: InstallationKey
) -> None:
    as_license = armor_receipt(signer.sign_compact("license+jwt", receipt_base))
    assert code_of(lambda: verify_receipt(as_license, keyring)) == "unsupported"
    stranger = Signer("stranger", InstallationKey.generate()._private)
    assert code_of(lambda: verify_receipt(make_receipt(stranger, receipt_base), keyring)) == "unknown_key"
    forged = Signer(signer.kid, InstallationKey.generate()._private)
    assert code_of(lambda: verify_receipt(make_receipt(forged, receipt_base), keyring)) == "bad_signature"
    with pytest.raises(TypeError):
        verify_receipt(make_receipt(signer, receipt_base), "keyring")  # type: ignore[arg-type]


def test_the_vendor_peeks_at_a_reports_key_before_verifying(key: InstallationKey, report_text: str) -> None:
    assert report_key_thumbprint(report_text) == key.thumbprint
    assert report_key_thumbprint(resign(key, report_text, USAGE_LABEL, _kid("other"))) == "other"
    assert code_of(lambda: report_key_thumbprint(resign(key, report_text, USAGE_LABEL, lambda h: h.pop("kid")))) == (
        "unknown_key"
    )
    assert code_of(lambda: report_key_thumbprint(resign(key, report_text, USAGE_LABEL, _kid(7)))) == "unknown_key"
    assert code_of(lambda: report_key_thumbprint("hello")) == "malformed"
    typ = resign(key, report_text, USAGE_LABEL, lambda h: h.update(typ="license+jwt"))
    assert code_of(lambda: report_key_thumbprint(typ)) == "unsupported"
