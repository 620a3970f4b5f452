"""Whatever the input, the air-gapped readers raise only LicenseError and UsageLog only UsageLogError.

As tests/verifier/test_verify_properties.py fuzzes the verifier: Hypothesis feeds arbitrary text and
bytes, valid files with random edits, and compact JWSs with random JSON headers and payloads signed
with the right key (so the claim checks are reached) to ``read_activation_request``,
``read_usage_report`` and ``verify_receipt``. Every rejection has a documented code and comes from a
check, not the catch-all; every acceptance is well formed. ``UsageLog`` opened on a damaged file
raises :class:`UsageLogError` (a ValueError) or opens a log that works.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licensing.airgap import (
    ACTIVATION_LABEL,
    RECEIPT_LABEL,
    RECEIPT_TYP,
    USAGE_LABEL,
    ActivationRequest,
    InstallationKey,
    Receipt,
    UsageLog,
    UsageLogError,
    UsageReport,
    activation_request,
    armor,
    armor_receipt,
    read_activation_request,
    read_usage_report,
    receipt_claims,
    report_key_thumbprint,
    usage_report,
    verify_receipt,
)
from licensing.signing.jws import Signer
from licensing.verify import ERROR_CODES, Keyring, LicenseError, b64url_encode, jwk_thumbprint

# Hypothesis cannot use function-scoped fixtures: this module has its own keys (test-only material).
INSTALL = InstallationKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
SERVICE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
SERVICE_X = b64url_encode(SERVICE_KEY.public_key().public_bytes_raw())
SERVICE = Signer(jwk_thumbprint(SERVICE_X), SERVICE_KEY)
KEYRING = Keyring.from_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": SERVICE_X, "kid": SERVICE.kid}]})
DAY = 86_400
MAY = 1_746_057_600
NOW = MAY + 40 * DAY
MAX_TIME = 253_402_300_799

REQUEST = activation_request(INSTALL, "inst-1", license_id="lic_1", product_version="1.0", now=NOW)
REPORT = usage_report(
    INSTALL,
    license_id="lic_1",
    installation_id="inst-1",
    seq=2,
    prev="A" * 43,
    period_start=MAY,
    period_end=MAY + 31 * DAY,
    daily=[(MAY, 3), (MAY + DAY, 9), (MAY + 30 * DAY, 4)],
    now=NOW,
)
REPORT_READ = read_usage_report(REPORT, INSTALL.public_jwk)
RECEIPT = armor_receipt(
    SERVICE.sign_compact(RECEIPT_TYP, receipt_claims(REPORT_READ, issuer="Vendor", seats=5, gap=False, now=NOW))
)

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

big_ints = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -1, 1, DAY, MAY, MAX_TIME, MAX_TIME + 1, 2**63, 2**64, 10**4000]),
)
scalars = st.one_of(
    st.none(), st.booleans(), big_ints, st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def assert_deliberate(exc: LicenseError) -> None:
    assert exc.code in ERROR_CODES
    assert exc.code in {"malformed", "unsupported", "unknown_key", "bad_signature"}
    assert isinstance(exc.message, str) and exc.message
    assert exc.__cause__ is None, f"rejected by the catch-all: {exc.__cause__!r}"


def check_request(text: Any) -> ActivationRequest | None:
    try:
        request = read_activation_request(text)
    except LicenseError as exc:
        assert_deliberate(exc)
        return None
    assert isinstance(request.license_id, str) and request.license_id
    assert isinstance(request.installation_id, str) and 0 < len(request.installation_id) <= 200
    assert request.product_version is None or isinstance(request.product_version, str)
    assert request.thumbprint == jwk_thumbprint(request.public_jwk["x"])
    return request


def check_report(text: Any) -> UsageReport | None:
    try:
        kid: str | None = report_key_thumbprint(text)
    except LicenseError as exc:
        assert_deliberate(exc)
        kid = None
    try:
        report = read_usage_report(text, INSTALL.public_jwk)
    except LicenseError as exc:
        assert_deliberate(exc)
        return None
    assert kid == report.thumbprint  # what the vendor peeks at is the key that verified it
    days = report.daily_seconds
    assert report.seq >= 1 and (report.prev is None) == (report.seq == 1)
    assert report.period_start <= report.period_end
    assert [d for d, _ in days] == sorted({d for d, _ in days})
    assert report.peak_users == max([u for _, u in days], default=0)
    assert all(report.period_start <= day < report.period_end for day, _ in report.daily)
    return report


def check_receipt(text: Any, digest: str | None = None) -> Receipt | None:
    try:
        receipt = verify_receipt(text, KEYRING, report_digest=digest)
    except LicenseError as exc:
        assert_deliberate(exc)
        return None
    assert receipt.seq >= 1 and receipt.peak_users >= 0 and type(receipt.gap) is bool
    assert receipt.overage == (0 if receipt.seats is None else max(0, receipt.peak_users - receipt.seats))
    return receipt


def check_all(text: Any) -> None:
    assert check_request(text) is None or text  # nothing parses from nothing
    check_report(text)
    check_receipt(text)


# --- arbitrary input -----------------------------------------------------------------------------
@SETTINGS
@given(st.text() | st.binary())
def test_arbitrary_input(text: str | bytes) -> None:
    assert check_request(text) is None
    assert check_report(text) is None
    assert check_receipt(text) is None


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [f"-----BEGIN {label}-----" for label in (ACTIVATION_LABEL, USAGE_LABEL, RECEIPT_LABEL)]
            + [f"-----END {label}-----" for label in (ACTIVATION_LABEL, USAGE_LABEL, RECEIPT_LABEL)]
            + [".", "\n", "eyJ", "\u200b", "\u00a0"]
        )
        | st.text(max_size=5)
    )
)
def test_armor_like_text(pieces: list[str]) -> None:
    check_all("".join(pieces))


# --- valid files, randomly edited ----------------------------------------------------------------
@st.composite
def edited(draw: st.DrawFn, original: str) -> bytes:
    data = bytearray(original.encode())
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        kind = draw(st.integers(0, 2))
        if kind == 0 and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif kind == 1 and position < len(data):
            del data[position : position + draw(st.integers(1, 40))]
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@SETTINGS
@given(edited(REQUEST))
def test_edited_request(data: bytes) -> None:
    request = check_request(data)
    if request is not None:  # only whitespace or text around the block changed
        assert request.digest == read_activation_request(REQUEST).digest


@SETTINGS
@given(edited(REPORT))
def test_edited_report(data: bytes) -> None:
    report = check_report(data)
    if report is not None:
        assert report.digest == REPORT_READ.digest


@SETTINGS
@given(edited(RECEIPT), st.sampled_from([None, REPORT_READ.digest, "B" * 43]))
def test_edited_receipt(data: bytes, digest: str | None) -> None:
    receipt = check_receipt(data, digest)
    if receipt is not None:
        assert receipt.report == REPORT_READ.digest


# --- signed random headers and claims ------------------------------------------------------------
def sign(key: Any, header: Any, payload: bytes) -> str:
    head = b64url_encode(json.dumps(header, allow_nan=True).encode())
    signing_input = f"{head}.{b64url_encode(payload)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}"


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], names: list[str]) -> dict[str, Any]:
    result = json.loads(json.dumps(base))
    for name in draw(st.sets(st.sampled_from(names), max_size=4)):
        choice = draw(st.integers(0, 3))
        if choice == 0:
            result.pop(name, None)
        elif choice == 1:
            result[name] = draw(json_values)
        else:
            result[name] = draw(big_ints)
    result.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2)))
    return result


def payloads(base_text: str, label: str) -> st.SearchStrategy[bytes]:
    from licensing.verify import b64url_decode, unarmor

    base = json.loads(b64url_decode(unarmor(base_text, label).split(".")[1]))
    names = [*base, "prev", "product_version", "cnf"]
    extra_daily = st.lists(st.lists(big_ints | json_values, max_size=3), max_size=5)
    return st.one_of(
        mutated(base, names).map(lambda c: json.dumps(c, allow_nan=True).encode()),
        extra_daily.map(lambda d: json.dumps({**base, "daily": d}).encode()),
        json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
        st.binary(max_size=200),
        st.integers(1, 50_000).map(lambda depth: b'{"ver": 1, "daily": ' + b"[" * depth + b"]" * depth + b"}"),
    )


def header_of(text: str, label: str) -> dict[str, Any]:
    from licensing.verify import b64url_decode, unarmor

    return json.loads(b64url_decode(unarmor(text, label).split(".")[0]))  # type: ignore[no-any-return]


def headers(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return mutated(base, [*base, "crit", "kid", "jwk"])


@SETTINGS
@given(headers(header_of(REQUEST, ACTIVATION_LABEL)), payloads(REQUEST, ACTIVATION_LABEL), st.booleans())
def test_signed_random_requests(header: dict[str, Any], payload: bytes, armored: bool) -> None:
    compact = sign(INSTALL, header, payload)
    check_request(armor(compact, ACTIVATION_LABEL) if armored else compact)


@SETTINGS
@given(headers(header_of(REPORT, USAGE_LABEL)), payloads(REPORT, USAGE_LABEL), st.booleans())
def test_signed_random_reports(header: dict[str, Any], payload: bytes, armored: bool) -> None:
    compact = sign(INSTALL, header, payload)
    check_report(armor(compact, USAGE_LABEL) if armored else compact)


@SETTINGS
@given(headers(header_of(RECEIPT, RECEIPT_LABEL)), payloads(RECEIPT, RECEIPT_LABEL), st.booleans())
def test_signed_random_receipts(header: dict[str, Any], payload: bytes, armored: bool) -> None:
    compact = sign(SERVICE_KEY, header, payload)
    check_receipt(armor(compact, RECEIPT_LABEL) if armored else compact, REPORT_READ.digest)


# --- UsageLog on a damaged file --------------------------------------------------------------------
LICENSE = SERVICE.sign_license(
    {"iss": "i", "jti": "lic_1", "sub": "c", "ver": 1, "iat": MAY, "nbf": MAY, "tier": "free", "trial": False,
     "seats": None, "features": [], "grace_days": 0, "customer": {}, "installation_id": "inst-1"}
)  # fmt: skip


def valid_log_file() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "usage.json"
        log = UsageLog(path, INSTALL, LICENSE)
        log.record(4, datetime.fromtimestamp(MAY, UTC))
        log.export(until=datetime.fromtimestamp(MAY, UTC))
        log.record(6, datetime.fromtimestamp(MAY + 2 * DAY, UTC))
        return path.read_bytes()


LOG_FILE = valid_log_file()
LOG_DOCUMENT = json.loads(LOG_FILE)


def open_damaged(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "usage.json"
        path.write_bytes(data)
        error: UsageLogError | None = None
        try:
            log = UsageLog(path, INSTALL, LICENSE)
        except UsageLogError as exc:
            error = exc
        if error is not None:
            assert "usage log" in str(error)
            return
        # It opened: it works (or refuses to go back, a documented ValueError), and keeps working after a restart.
        days = log.pending
        assert [day for day, _ in days] == sorted({day for day, _ in days})
        later = datetime.now(UTC)
        try:
            log.record(1, later - timedelta(days=1))
            report = read_usage_report(log.export(until=later), INSTALL.public_jwk)
        except UsageLogError:
            raise
        except ValueError as exc:
            assert "reported" in str(exc) or "go back" in str(exc) or "period" in str(exc), exc  # noqa: PT017
            return
        assert report.seq == log.last_seq
        assert UsageLog(path, INSTALL, LICENSE).last_seq == report.seq


@SETTINGS
@given(edited(LOG_FILE.decode()))
def test_usage_log_on_an_edited_file(data: bytes) -> None:
    open_damaged(data)


@SETTINGS
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_usage_log_on_arbitrary_bytes(data: bytes) -> None:
    open_damaged(data)


@SETTINGS
@given(mutated(LOG_DOCUMENT, ["format", "version", "key", "days", "last_report"]), st.data())
def test_usage_log_on_a_changed_document(document: dict[str, Any], data: st.DataObject) -> None:
    last = document.get("last_report")
    if isinstance(last, dict) and data.draw(st.booleans()):
        document["last_report"] = data.draw(mutated(last, ["seq", "digest", "period_end", "report"]))
    if isinstance(document.get("days"), list) and data.draw(st.booleans()):
        document["days"] = data.draw(st.lists(st.lists(big_ints | json_values, max_size=3), max_size=4))
    open_damaged(json.dumps(document, allow_nan=True).encode())
