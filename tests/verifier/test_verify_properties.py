"""Whatever the input, ``verify`` and ``load_revocations`` raise only LicenseError (SPEC section 3).

Hypothesis feeds arbitrary text and bytes, valid files with random edits, and compact JWSs with
random JSON headers and payloads in valid base64url, signed with a trusted key so that the claim
checks are reached: huge integers, floats, NaN, deep nesting, non-UTF-8 payloads, wrong types. Every
rejection has a documented code and comes from the verifier's own checks, not its catch-all; every
acceptance is a well-formed License. ``Keyring.from_jwks`` likewise raises only KeyringError.
"""

from __future__ import annotations

import contextlib
import json
import math
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from verifier_helpers import NOW, make_claims, segment, sign_jws

from licensing.signing.jws import Signer, armor
from licensing.signing.keys import public_x
from licensing.verify import (
    ERROR_CODES,
    LICENSE_LABEL,
    REVOCATIONS_LABEL,
    Keyring,
    KeyringError,
    License,
    LicenseError,
    RevocationList,
    jwk_thumbprint,
    load_revocations,
    verify,
)

# Hypothesis cannot use function-scoped fixtures, so this module has its own key (test-only material).
PRIVATE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
X = public_x(PRIVATE_KEY.public_key())
KID = jwk_thumbprint(X)
SIGNER = Signer(KID, PRIVATE_KEY)
KEYRING = Keyring.from_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": X, "kid": KID}]})
MAX_TIME = 253_402_300_799

LICENSE = SIGNER.sign_license(make_claims(installation_id="inst-1"))
REVOCATIONS = SIGNER.sign_revocations({"iss": "i", "iat": NOW, "ver": 1, "revoked": [{"jti": "a", "revoked_at": 1}]})

SETTINGS = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# --- strategies ----------------------------------------------------------------------------------
big_ints = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -1, 1, MAX_TIME, MAX_TIME + 1, 2**63, -(2**63), 2**64, 10**4000]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    big_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
CLAIM_NAMES = sorted({*make_claims(), "installation_id", "supersedes", "exp"})
HEADER_NAMES = ["alg", "typ", "kid", "crit", "cty", "jwk", "x5u"]


@st.composite
def headers(draw: st.DrawFn) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "EdDSA", "typ": "license+jwt", "kid": KID}
    for name in draw(st.sets(st.sampled_from(HEADER_NAMES), max_size=3)):
        header.pop(name, None) if draw(st.booleans()) else header.update({name: draw(json_values)})
    header.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2)))
    return header


@st.composite
def claim_sets(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly-valid claims with a few replaced by arbitrary JSON, removed, or set to edge times."""
    claims = make_claims(installation_id="inst-1")
    for name in draw(st.sets(st.sampled_from(CLAIM_NAMES), max_size=4)):
        choice = draw(st.integers(0, 3))
        if choice == 0:
            claims.pop(name, None)
        elif choice == 1:
            claims[name] = draw(json_values)
        else:
            claims[name] = draw(st.integers(min_value=-2, max_value=MAX_TIME + 2) | big_ints)
    claims.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2)))
    return claims


def payloads() -> st.SearchStrategy[bytes]:
    def encode(value: Any) -> bytes:
        return json.dumps(value, allow_nan=True).encode()

    return st.one_of(
        claim_sets().map(encode),
        json_values.map(encode),
        st.binary(max_size=200),  # mostly not UTF-8, or not JSON
        st.integers(1, 50_000).map(lambda depth: b'{"ver": ' + b"[" * depth + b"]" * depth + b"}"),
        st.integers(1, 50_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
        st.integers(4000, 6000).map(lambda digits: b'{"ver": 1, "iat": ' + b"9" * digits + b"}"),
    )


def assert_well_formed(lic: License) -> None:
    assert lic.status in {"valid", "grace"}
    assert isinstance(lic.id, str) and lic.id
    assert isinstance(lic.tier, str) and isinstance(lic.trial, bool)
    assert lic.seats is None or (type(lic.seats) is int and lic.seats > 0)
    assert isinstance(lic.features, tuple) and all(isinstance(f, str) for f in lic.features)
    assert type(lic.grace_days) is int and lic.grace_days >= 0
    for moment in (lic.issued_at, lic.not_before, lic.expires_at, lic.grace_ends_at):
        assert moment is None or (isinstance(moment, datetime) and moment.utcoffset() is not None)
    if lic.expires_at is not None:
        assert lic.grace_ends_at is not None and lic.grace_ends_at >= lic.expires_at >= lic.not_before
    lic.has_feature("saml")
    repr(lic)


def assert_deliberate(exc: LicenseError) -> None:
    """A documented code, a message, and raised by a check rather than by the catch-all."""
    assert exc.code in ERROR_CODES
    assert isinstance(exc.message, str) and exc.message
    assert exc.__cause__ is None, f"rejected by the catch-all: {exc.__cause__!r}"


def check_verify(text: Any, now: int = NOW, installation_id: str | None = "inst-1") -> License | None:
    try:
        lic = verify(text, KEYRING, now=now, installation_id=installation_id)
    except LicenseError as exc:
        assert_deliberate(exc)
        return None
    assert_well_formed(lic)
    return lic


def check_load_revocations(text: Any) -> RevocationList | None:
    try:
        result = load_revocations(text, KEYRING)
    except LicenseError as exc:
        assert_deliberate(exc)
        return None
    assert all(isinstance(jti, str) for jti in result.revoked)
    return result


# --- arbitrary input -----------------------------------------------------------------------------
@SETTINGS
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    assert check_verify(text) is None
    assert check_load_revocations(text) is None


@SETTINGS
@given(st.binary())
def test_arbitrary_bytes(data: bytes) -> None:
    assert check_verify(data) is None
    assert check_load_revocations(data) is None


@SETTINGS
@given(
    st.lists(
        st.sampled_from(["-----BEGIN LICENSE FILE-----", "-----END LICENSE FILE-----", ".", "\n", "eyJ"])
        | st.text(max_size=5)
    )
)
def test_armor_like_text(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert check_verify(text) is None
    assert check_load_revocations(text.replace(LICENSE_LABEL, REVOCATIONS_LABEL)) is None


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
@given(edited(LICENSE))
def test_edited_license(data: bytes) -> None:
    lic = check_verify(data)
    if lic is not None:  # only whitespace or text around the block changed: the very same license
        assert lic.claims == make_claims(installation_id="inst-1")


@SETTINGS
@given(edited(REVOCATIONS))
def test_edited_revocation_list(data: bytes) -> None:
    result = check_load_revocations(data)
    if result is not None:
        assert set(result.revoked) == {"a"}


# --- signed random headers and payloads ----------------------------------------------------------
@SETTINGS
@given(headers(), payloads(), st.integers(min_value=0, max_value=MAX_TIME), st.booleans())
def test_signed_random_headers_and_payloads(header: dict[str, Any], payload: bytes, now: int, armored: bool) -> None:
    compact = sign_jws(PRIVATE_KEY, header, payload)
    check_verify(armor(compact) if armored else compact, now=now)
    revocations_header = {**header, "typ": "license-revocations+jwt"} if "typ" in header else header
    revocations = sign_jws(PRIVATE_KEY, revocations_header, payload)
    check_load_revocations(armor(revocations, REVOCATIONS_LABEL) if armored else revocations)


@SETTINGS
@given(claim_sets(), st.integers(min_value=0, max_value=MAX_TIME), st.sampled_from(["inst-1", "inst-2", None]))
def test_signed_random_claims(claims: dict[str, Any], now: int, installation_id: str | None) -> None:
    lic = check_verify(SIGNER.sign_license(claims), now=now, installation_id=installation_id)
    if lic is not None:
        canonical = json.dumps(claims, sort_keys=True, allow_nan=True)  # NaN is never equal to itself
        assert json.dumps(lic.claims, sort_keys=True, allow_nan=True) == canonical
        assert lic.installation_id in (None, installation_id)


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["iss", "iat", "ver", "revoked", "x"]),
        json_values | st.lists(st.dictionaries(st.sampled_from(["jti", "revoked_at"]), json_values | big_ints)),
    )
)
def test_signed_random_revocation_lists(claims: dict[str, Any]) -> None:
    check_load_revocations(SIGNER.sign_revocations(claims))
    # A random list given to verify either checks out and applies, or rejects the call with a code.
    try:
        verify(LICENSE, KEYRING, now=NOW, installation_id="inst-1", revocations=SIGNER.sign_revocations(claims))
    except LicenseError as exc:
        assert_deliberate(exc)


@SETTINGS
@given(headers(), st.binary(max_size=100))
def test_random_base64url_segments(header: dict[str, Any], signature: bytes) -> None:
    """Valid base64url everywhere, but the signature is random: never accepted."""
    compact = f"{segment(header)}.{segment(make_claims())}.{segment(signature)}"
    assert check_verify(compact) is None


# --- now -----------------------------------------------------------------------------------------
@SETTINGS
@given(st.integers(min_value=0, max_value=MAX_TIME) | st.floats(min_value=0, max_value=MAX_TIME))
def test_any_representable_now(now: float) -> None:
    assume(not math.isnan(now))
    check_verify(LICENSE, now=int(now) if isinstance(now, int) else now)  # type: ignore[arg-type]


@SETTINGS
@given(
    st.integers(max_value=-1)
    | st.integers(min_value=MAX_TIME + 1)
    | st.floats(max_value=-1e-300)
    | st.floats(min_value=MAX_TIME + 1)
    | st.just(math.nan)
)
def test_any_now_out_of_range_is_a_value_error_at_once(now: float) -> None:
    """Before 1970, after 9999, infinite or NaN: the caller's mistake, whatever the license says."""
    for text in (LICENSE, "not a license"):
        try:
            verify(text, KEYRING, now=now)
        except LicenseError as exc:
            raise AssertionError(f"now={now!r} blamed the license: {exc}") from None
        except ValueError:
            continue
        raise AssertionError(f"now={now!r} was accepted")


# --- keyrings ------------------------------------------------------------------------------------
jwk_entries = st.fixed_dictionaries(
    {},
    optional={
        "kty": st.sampled_from(["OKP", "RSA"]) | json_values,
        "crv": st.sampled_from(["Ed25519", "X25519"]) | json_values,
        "x": st.sampled_from([X, X[:-1], X + "A", "AAAA"]) | json_values,
        "kid": st.text(max_size=5) | json_values,
        "use": st.sampled_from(["sig", "enc"]) | json_values,
        "alg": st.sampled_from(["EdDSA", "Ed25519", "RS256"]) | json_values,
    },
)


@SETTINGS
@given(st.one_of(json_values, st.fixed_dictionaries({"keys": st.lists(jwk_entries | json_values, max_size=4)})))
def test_from_jwks_raises_only_keyring_error(document: Any) -> None:
    for source in (document, json.dumps(document, allow_nan=True)):
        try:
            keyring = Keyring.from_jwks(source)
        except KeyringError:
            continue
        assert keyring.key_ids
        assert all(isinstance(kid, str) and kid for kid in keyring.key_ids)


@SETTINGS
@given(st.text() | st.binary())
def test_from_jwks_text_raises_only_keyring_error(text: str | bytes) -> None:
    with contextlib.suppress(KeyringError):
        Keyring.from_jwks(text)


# --- the verifier's JSON fast path ---------------------------------------------------------------
def _parse(loads: Any, text: str) -> Any:
    try:
        return ("ok", json.dumps(loads(text), sort_keys=True, allow_nan=True))
    except (ValueError, RecursionError) as exc:
        return ("error", type(exc).__name__)


@SETTINGS
@given(
    st.one_of(
        json_values.map(lambda v: json.dumps(v, allow_nan=True)),
        json_values.map(lambda v: json.dumps(v, allow_nan=True, indent=1)),
        st.tuples(st.sampled_from(["", " ", "\n", "\t", "x", "{}", "]", "\r\n "]), json_values).map(
            lambda p: p[0] + json.dumps(p[1], allow_nan=True) + p[0]
        ),
        st.text(alphabet='{}[]",:0123456789.eE+-truefalsn \\\n\tuNIaiy', max_size=40),
        st.text(max_size=40),
    )
)
def test_fast_json_parse_agrees_with_json_loads(text: str) -> None:
    """The verifier skips json.loads' whitespace handling for compact documents: same results, same errors."""
    from licensing import verify as verify_module

    verify_module._json_object(b"{}", "warm-up")  # installs the fast path
    assert _parse(verify_module._json_loads, text) == _parse(json.loads, text)
