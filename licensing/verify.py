"""Offline verification of license files.

Self-hosted servers embed this module: it needs only the standard library and ``cryptography``
and never touches the network.

    from licensing.verify import Keyring, LicenseError, verify
    keyring = Keyring.from_jwks(jwks_json_text)
    lic = verify(license_text, keyring)
    if lic.has_feature("saml"): ...

A license file is a compact JWS (RFC 7515, ``alg`` EdDSA per RFC 8037) inside an armor block.
Every failure is a :class:`LicenseError` whose ``code`` is one of :data:`ERROR_CODES`; no other
exception escapes :func:`verify` or :func:`load_revocations`, whatever the input.

Checks run in this order, so the most useful reason wins: armor and envelope (``malformed``),
header (``unsupported``), key (``unknown_key``), signature (``bad_signature``), claims
(``malformed``, ``unsupported`` for another ``ver``), revocation (``revoked``), installation
binding (``installation_mismatch``), then time: ``clock_skew`` when ``iat`` is more than five
minutes ahead of the local clock, ``not_yet_valid`` before ``nbf`` (the same five minutes of
leeway apply, so a license issued a moment ago works on a server whose clock runs a little slow),
``expired`` after ``exp`` plus the grace period.
"""

from __future__ import annotations

import binascii

# Self-hosted products import this module at start-up, so it imports as little as it can up front:
# json, datetime and cryptography's Rust bindings load on first use, and typing never.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from datetime import datetime
    from typing import Any, Final, Self

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "ERROR_CODES",
    "MAX_TIME",
    "Keyring",
    "KeyringError",
    "License",
    "LicenseError",
    "RevocationList",
    "b64url_decode",
    "b64url_encode",
    "check_version",
    "checked_header",
    "compact_parts",
    "decode_jws",
    "json_object",
    "jwk_thumbprint",
    "load_revocations",
    "now_seconds",
    "unarmor",
    "verify",
]

LICENSE_LABEL: Final = "LICENSE FILE"
REVOCATIONS_LABEL: Final = "LICENSE REVOCATIONS"
LICENSE_TYP: Final = "license+jwt"
REVOCATIONS_TYP: Final = "license-revocations+jwt"
FORMAT_VERSION: Final = 1
ACCEPTED_ALGS: Final = frozenset({"EdDSA", "Ed25519"})
CLOCK_SKEW_SECONDS: Final = 300
MAX_INPUT_CHARS: Final = 1_000_000  # a license file's size limit; one is about 1,500 characters
# A revocation list's own limit: 100,000 entries are about 8.5 MB armored, so this leaves room to grow.
MAX_REVOCATIONS_CHARS: Final = 64 * 1024 * 1024
_DAY: Final = 86_400
_MAX_TIME: Final = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime can hold
MAX_TIME: Final = _MAX_TIME  # the latest NumericDate a verifier accepts
_MAX_GRACE_DAYS: Final = 36_500
_INFINITY: Final = float("inf")
_BINARY: Final = (bytes, bytearray, memoryview)

ERROR_CODES: Final = frozenset(
    {
        "malformed",
        "unsupported",
        "unknown_key",
        "bad_signature",
        "not_yet_valid",
        "clock_skew",
        "expired",
        "revoked",
        "installation_mismatch",
    }
)

_B64URL_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL_VALUES: Final = {byte: value for value, byte in enumerate(_B64URL_ALPHABET)}
_B64URL_TO_BASE64: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING: Final = (b"", b"", b"==", b"=")
_WHITESPACE_BYTES: Final = b" \t\r\n\f\v"
_WHITESPACE: Final = str.maketrans("", "", _WHITESPACE_BYTES.decode("ascii"))
# What e-mail clients and editors put into text, tolerated like whitespace (SPEC section 3): no-break
# spaces read as a space, a byte-order mark and zero-width spaces and joiners as nothing at all.
_E_MAIL_SPACES: Final = ("\u00a0", "\u202f")
_E_MAIL_INVISIBLES: Final = ("\ufeff", "\u200b", "\u200c", "\u200d", "\u2060")


class LicenseError(Exception):
    """A license (or revocation list) was rejected. ``code`` is stable; ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class KeyringError(ValueError):
    """The JWKS given to :meth:`Keyring.from_jwks` is unusable."""


def _b64url_decode(segment: str | bytes, what: str) -> bytes:
    """Decode unpadded base64url strictly: only its alphabet, and only the canonical encoding."""
    if isinstance(segment, str):
        if not segment.isascii():
            raise LicenseError("malformed", f"The {what} is not valid base64url text.")
        segment = segment.encode("ascii")
    tail = len(segment) % 4
    # Base64 leaves a few spare bits in the last character; a license whose text changed there but
    # whose bytes did not is still a changed license.
    if tail == 1 or (tail and _B64URL_VALUES.get(segment[-1], 0) & (0x0F if tail == 2 else 0x03)):
        raise LicenseError("malformed", f"The {what} is not canonical base64url text.")
    try:
        # One pass maps base64url to base64 and "+", "/", "=" to an invalid byte; strict decoding
        # then refuses anything outside the alphabet.
        return binascii.a2b_base64(segment.translate(_B64URL_TO_BASE64) + _PADDING[tail], strict_mode=True)
    except binascii.Error:
        raise LicenseError("malformed", f"The {what} is not valid base64url text.") from None


def b64url_decode(segment: str | bytes, what: str = "value") -> bytes:
    """Unpadded base64url, strictly (only canonical text), or :class:`LicenseError` ``malformed``
    naming ``what``. Public for :mod:`licensing.airgap`, which ships beside this verifier."""
    return _b64url_decode(segment, what)


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """UTF-8 JSON text that must be an object, read as the verifier reads claims; else
    :class:`LicenseError` ``malformed`` naming ``what``. Public for :mod:`licensing.airgap`."""
    return _json_object(data, what)


def now_seconds(now: datetime | int | float | None) -> int:
    """``now`` (an aware datetime, POSIX seconds, or None for the clock) as whole POSIX seconds;
    TypeError or ValueError, at once, when it is not a time. Public for :mod:`licensing.airgap`."""
    return _now_seconds(now)


def b64url_encode(data: bytes) -> str:
    """``data`` as unpadded base64url (RFC 7515 section 2), the encoding of every JWS segment.

    Public because the service relies on it (licensing.signing): it encodes
    signatures, JWS segments and JWK ``x`` values exactly as this verifier decodes them.
    """
    return binascii.b2a_base64(data, newline=False).decode("ascii").rstrip("=").replace("+", "-").replace("/", "_")


def _first_json_loads(text: str) -> Any:
    """Import json on first use, then parse with :func:`_json_loads`'s fast path from then on."""
    global _json_loads
    import json

    # The C scanner json.loads uses (typeshed does not declare the attribute).
    scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

    def loads(text: str) -> Any:
        # json.loads without its two whitespace regexes: a compact document (every JOSE library writes
        # them) scanned from 0 to its end is exactly what json.loads returns. Anything else, such as
        # surrounding whitespace, extra data or invalid JSON, goes to json.loads, which decides.
        try:
            value, end = scan_once(text, 0)
        except StopIteration:
            return json.loads(text)
        return value if end == len(text) else json.loads(text)

    _json_loads = loads
    return loads(text)


_json_loads: Callable[[str], Any] = _first_json_loads


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = _json_loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise LicenseError("malformed", f"The {what} is not a JSON object.")
    return value


def jwk_thumbprint(x: str) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of an Ed25519 public key given as its JWK ``x``."""
    import hashlib
    import json

    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


class Keyring:
    """The public keys a verifier trusts, by key id."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_jwks(cls, jwks: str | bytes | Mapping[str, Any]) -> Keyring:
        """Read a JWKS (RFC 7517). Ed25519 keys are kept; keys of other types are skipped.

        A key without ``kid`` is known by its RFC 7638 thumbprint. Raises :class:`KeyringError`
        when the document is not a JWKS or holds no usable Ed25519 key.
        """
        import json
        from collections.abc import Mapping

        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if isinstance(jwks, (str, bytes)):
            try:
                document = json.loads(jwks)
            except (ValueError, RecursionError) as exc:
                raise KeyringError(f"The JWKS is not JSON: {exc}") from None
        else:
            document = jwks
        entries = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(entries, list):
            raise KeyringError('The JWKS must be a JSON object with a "keys" array.')
        keys: dict[str, Ed25519PublicKey] = {}
        for entry in entries:
            if not isinstance(entry, Mapping) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
                continue
            alg = entry.get("alg", "EdDSA")
            if entry.get("use", "sig") != "sig" or not isinstance(alg, str) or alg not in ACCEPTED_ALGS:
                continue
            x = entry.get("x")
            try:
                raw = _b64url_decode(x, "key") if isinstance(x, str) else b""
            except LicenseError:
                raw = b""
            if not isinstance(x, str) or len(raw) != 32:
                raise KeyringError(f'The JWKS holds an Ed25519 key whose "x" is not 32 bytes of base64url: {x!r}.')
            kid = entry.get("kid")
            keys[kid if isinstance(kid, str) and kid else jwk_thumbprint(x)] = Ed25519PublicKey.from_public_bytes(raw)
        if not keys:
            raise KeyringError("The JWKS holds no Ed25519 signing key.")
        return cls(keys)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def _verify(self, kid: object, signature: bytes, signed: bytes) -> str:
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise LicenseError(
                "unknown_key",
                f"The file was signed with key {kid!r}, which this installation does not know. "
                "Update the product, or import the issuer's current public keys.",
            )
        try:
            key.verify(signature, signed)
        except Exception as exc:
            from cryptography.exceptions import InvalidSignature  # only when needed: the hot path is a valid file

            if not isinstance(exc, InvalidSignature):
                raise
            raise LicenseError(
                "bad_signature",
                "The signature does not match the contents: the file was altered or damaged. "
                "Download it again from the issuer.",
            ) from None
        return kid


def unarmor(text: str | bytes, label: str = LICENSE_LABEL) -> str:
    """The compact JWS inside an armor block, or a bare JWS given alone.

    Tolerates CRLF line ends, indentation, text around the block, and what e-mail clients add: a
    byte-order mark, no-break spaces (U+00A0, U+202F), zero-width spaces and joiners (U+200B,
    U+200C, U+200D, U+2060).
    """
    body = _armor_body(text, label)
    if body.isascii():  # every license is; bytes.translate is much faster
        return body.encode("ascii").translate(None, _WHITESPACE_BYTES).decode("ascii")
    return body.translate(_WHITESPACE)


_MARKERS: Final = {
    label: (f"-----BEGIN {label}-----", f"-----END {label}-----") for label in (LICENSE_LABEL, REVOCATIONS_LABEL)
}
_SIZE_LIMITS: Final = {LICENSE_LABEL: MAX_INPUT_CHARS, REVOCATIONS_LABEL: MAX_REVOCATIONS_CHARS}


_NAMES: Final = {LICENSE_LABEL: "license file", REVOCATIONS_LABEL: "revocation list"}


def _name(label: str) -> str:
    """What people call the file an armor label stands for: "license file", "revocation list"."""
    return _NAMES.get(label) or label.lower()


def _armor_body(text: str | bytes, label: str) -> str:
    """The text between the armor lines (or all of it, for a bare JWS), whitespace and all."""
    # The limit is looked up only for text over a license file's: the hot path is a license.
    if isinstance(text, _BINARY):
        # More characters than the limit, however they are encoded: refused before decoding.
        if len(text) > 4 * MAX_INPUT_CHARS and len(text) > 4 * _SIZE_LIMITS.get(label, MAX_INPUT_CHARS):
            raise LicenseError("malformed", f"The file is far too large to be a {_name(label)}.")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise LicenseError("malformed", "The file is not UTF-8 text.") from None
    if not isinstance(text, str):
        raise LicenseError("malformed", f"A {_name(label)} must be text.")
    if len(text) > MAX_INPUT_CHARS and len(text) > _SIZE_LIMITS.get(label, MAX_INPUT_CHARS):
        raise LicenseError("malformed", f"The file is far too large to be a {_name(label)}.")
    if not text.isascii():  # O(1) for a str: every file as issued takes the fast path
        text = _without_e_mail_whitespace(text)
    begin_marker, end_marker = _MARKERS.get(label) or (f"-----BEGIN {label}-----", f"-----END {label}-----")
    begin = text.find(begin_marker)
    if begin >= 0:
        start = begin + len(begin_marker)
        end = text.find(end_marker, start)
        if end < 0:
            raise LicenseError(
                "malformed",
                f"The {_name(label)} has no END line: it was cut short. Copy the whole block, BEGIN and END lines too.",
            )
        body = text[start:end]
    elif "-----BEGIN " in text:
        raise LicenseError("malformed", f"The text holds an armor block, but not a {_name(label)}.")
    else:
        body = text
    return body


def _without_e_mail_whitespace(text: str) -> str:
    """``text`` with no-break spaces made spaces, and byte-order marks and zero-width characters removed."""
    for char in _E_MAIL_SPACES:
        if char in text:
            text = text.replace(char, " ")
    for char in _E_MAIL_INVISIBLES:
        if char in text:
            text = text.replace(char, "")
    return text


# Protected headers that passed _header_kid, by (segment, typ): every file signed by a key has the
# same header, so a product re-verifying its license skips decoding it again. Bounded: only short
# segments are kept, and the memo is emptied when full.
_HEADER_KIDS: dict[tuple[bytes, str], object] = {}
_HEADER_KIDS_MAX: Final = 64
_HEADER_MAX_MEMO_BYTES: Final = 512
_MISSING: Final = object()


def _header_kid(segment: bytes, typ: str) -> object:
    """Check the protected header (alg, typ, crit); its ``kid``, whatever that is (the keyring judges)."""
    memo_key = (segment, typ)
    kid = _HEADER_KIDS.get(memo_key, _MISSING)
    if kid is not _MISSING:
        return kid
    kid = checked_header(segment, typ).get("kid")
    if len(segment) <= _HEADER_MAX_MEMO_BYTES:
        if len(_HEADER_KIDS) >= _HEADER_KIDS_MAX:
            _HEADER_KIDS.clear()
        _HEADER_KIDS[memo_key] = kid
    return kid


def checked_header(segment: bytes, typ: str) -> dict[str, Any]:
    """The protected header of a compact JWS, once its ``alg``, ``typ`` and ``crit`` are checked.

    ``alg`` must be EdDSA or Ed25519, ``typ`` must be ``typ`` (any case, an optional ``application/``
    prefix), and ``crit`` must be absent; else :class:`LicenseError` ``unsupported``. Public for
    :mod:`licensing.airgap`, whose files are signed by keys that no keyring holds.
    """
    header = _json_object(_b64url_decode(segment, "header"), "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ACCEPTED_ALGS:
        raise LicenseError("unsupported", f"Signature algorithm {alg!r} is not accepted; only EdDSA (Ed25519) is.")
    found_typ = header.get("typ")
    if not isinstance(found_typ, str) or found_typ.lower().removeprefix("application/") != typ:
        raise LicenseError("unsupported", f"The file is of type {found_typ!r}, not {typ!r}.")
    if "crit" in header:
        raise LicenseError("unsupported", "The file requires header extensions this verifier does not know.")
    return header


def decode_jws(text: str | bytes, label: str, typ: str, keyring: Keyring) -> tuple[dict[str, Any], str]:
    """The verified claims of an armored (or bare) compact JWS, and the id of the key that signed it.

    Checks the armor (``label``, e.g. :data:`LICENSE_LABEL`), the protected header (``alg``, ``typ``
    as given, no ``crit``), the signature against ``keyring``, and ``ver``; nothing else: the
    claims are the caller's to judge (use :func:`verify` for a license). Raises
    :class:`LicenseError` as :func:`verify` does.

    Public because the service relies on it: licensing.licenses.issuance reads back the license files it is
    presented (refresh), whose expiry must not matter.
    """
    compact, parts = compact_parts(text, label)
    kid = _header_kid(parts[0], typ)
    signature = _b64url_decode(parts[2], "signature")
    payload = _b64url_decode(parts[1], "payload")  # before the signature: the envelope is checked first
    kid = keyring._verify(kid, signature, compact[: len(parts[0]) + 1 + len(parts[1])])
    claims = _json_object(payload, "payload")
    check_version(claims)
    return claims, kid


def compact_parts(text: str | bytes, label: str) -> tuple[bytes, list[bytes]]:
    """The compact JWS in an armored (or bare) text, as ASCII bytes, and its three segments.

    Only the envelope is checked (armor, three segments, header and payload not empty): nothing is
    decoded or verified. Public for :mod:`licensing.airgap`.
    """
    body = _armor_body(text, label)
    if not body.isascii():  # a compact JWS is base64url and dots; tolerated whitespace is ASCII too
        raise LicenseError("malformed", f"The {_name(label)} holds characters that cannot be part of one.")
    compact = body.encode("ascii").translate(None, _WHITESPACE_BYTES)
    parts = compact.split(b".")
    # An empty signature is left to the header check: an unsecured JWS (alg none) is "unsupported".
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise LicenseError(
            "malformed", f"No {_name(label)} was found in the text: expected an armor block or a compact JWS."
        )
    return compact, parts


def check_version(claims: Mapping[str, Any]) -> None:
    """``unsupported`` unless the claims' ``ver`` is the integer 1."""
    ver = claims.get("ver")
    if type(ver) is not int or ver != FORMAT_VERSION:
        raise LicenseError(
            "unsupported", f"Format version {ver!r} is not supported by this verifier (it reads version 1)."
        )


def _time(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if type(value) is not int or not 0 <= value <= _MAX_TIME:
        raise LicenseError("malformed", f"Claim {name!r} must be a NumericDate (whole seconds since 1970).")
    return value


def _string(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise LicenseError("malformed", f"Claim {name!r} must be a non-empty string.")
    return value


def _optional_string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    return _string(claims, name)


def _utc(timestamp: int) -> datetime:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC)


def _now_seconds(now: datetime | int | float | None) -> int:
    """``now`` as whole POSIX seconds; TypeError or ValueError, at once, when it is not a time."""
    if now is None:
        import time

        return int(time.time())
    if type(now) is int and 0 <= now <= _MAX_TIME:  # the usual case
        return now
    seconds: int | float
    if type(now) is int:
        seconds = now
    elif isinstance(now, bool) or not isinstance(now, (int, float)):
        from datetime import datetime

        if not isinstance(now, datetime):
            raise TypeError(f"now must be an aware datetime or POSIX seconds (int or float), not {type(now).__name__}")
        if now.utcoffset() is None:
            raise ValueError("now must be an aware datetime (with a timezone)")
        seconds = now.replace(microsecond=0).timestamp()  # exact: a float holds whole seconds to 2**53
    else:
        seconds = now
        if isinstance(now, float) and (now != now or now in (_INFINITY, -_INFINITY)):
            raise ValueError(f"now must be a finite number of seconds, not {now!r}")
    if not 0 <= seconds < _MAX_TIME + 1:
        raise ValueError(f"now must be a time between 1970 and 9999 (UTC), not {_describe(now)}")
    return int(seconds)


def _describe(value: object) -> str:
    """``value`` for an error message: a datetime as ISO 8601, anything else as a short repr."""
    isoformat = getattr(value, "isoformat", None)
    text = isoformat() if callable(isoformat) else repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


class License:
    """A verified license. Times are aware UTC datetimes; ``expires_at`` is None when perpetual."""

    __slots__ = (
        "_exp",
        "_iat",
        "_nbf",
        "claims",
        "customer",
        "features",
        "grace_days",
        "id",
        "installation_id",
        "issuer",
        "key_id",
        "seats",
        "status",
        "subject",
        "subscription_id",
        "supersedes",
        "tier",
        "trial",
    )

    def __init__(self, claims: dict[str, Any], status: str, key_id: str) -> None:
        self.claims = claims
        self.status = status
        self.key_id = key_id
        self.id: str = claims["jti"]
        self.issuer: str = claims["iss"]
        self.subject: str = claims["sub"]
        self.tier: str = claims["tier"]
        self.trial: bool = claims["trial"]
        self.seats: int | None = claims["seats"]
        self.features: tuple[str, ...] = tuple(claims["features"])
        self.grace_days: int = claims["grace_days"]
        self.customer: Mapping[str, Any] = claims["customer"]
        self.installation_id: str | None = claims.get("installation_id")
        self.subscription_id: str | None = claims.get("subscription_id")
        self.supersedes: str | None = claims.get("supersedes")
        self._iat: int = claims["iat"]
        self._nbf: int = claims["nbf"]
        self._exp: int | None = claims.get("exp")

    @property
    def issued_at(self) -> datetime:
        return _utc(self._iat)

    @property
    def not_before(self) -> datetime:
        return _utc(self._nbf)

    @property
    def expires_at(self) -> datetime | None:
        return None if self._exp is None else _utc(self._exp)

    @property
    def grace_ends_at(self) -> datetime | None:
        if self._exp is None:
            return None
        return _utc(min(self._exp + self.grace_days * _DAY, _MAX_TIME))

    def has_feature(self, name: str) -> bool:
        return name in self.features

    def __repr__(self) -> str:
        return f"<License {self.id} {self.tier}{' trial' if self.trial else ''} {self.status}>"


def _check_claims(claims: dict[str, Any]) -> None:
    # Written for speed (every verification runs it): exact types, as JSON gives them, and local lookups.
    get = claims.get
    for name in ("iss", "jti", "sub", "tier"):
        value = get(name)
        if type(value) is not str or not value:
            raise LicenseError("malformed", f"Claim {name!r} must be a non-empty string.")
    nbf, exp = get("nbf"), get("exp")
    for name, value in (("iat", get("iat")), ("nbf", nbf), ("exp", exp)):
        if (value is not None or name != "exp") and (type(value) is not int or not 0 <= value <= _MAX_TIME):
            raise LicenseError("malformed", f"Claim {name!r} must be a NumericDate (whole seconds since 1970).")
    if exp is not None and exp < nbf:
        raise LicenseError("malformed", "The license expires before it becomes valid.")
    if type(get("trial")) is not bool:
        raise LicenseError("malformed", "Claim 'trial' must be true or false.")
    seats = get("seats", _MISSING)
    if seats is not None and (type(seats) is not int or seats < 1):
        raise LicenseError("malformed", "Claim 'seats' must be a positive whole number, or null for unlimited.")
    features = get("features")
    if type(features) is not list or not all(type(f) is str for f in features):
        raise LicenseError("malformed", "Claim 'features' must be an array of strings.")
    grace_days = get("grace_days")
    if type(grace_days) is not int or not 0 <= grace_days <= _MAX_GRACE_DAYS:
        raise LicenseError("malformed", "Claim 'grace_days' must be a whole number of days, 0 or more.")
    customer = get("customer")
    if type(customer) is not dict or not all(
        (v := customer.get(k)) is None or type(v) is str for k in ("name", "email", "company")
    ):
        raise LicenseError("malformed", "Claim 'customer' must be an object of name, email and company.")
    for name in ("installation_id", "subscription_id", "supersedes"):
        value = get(name)
        if value is not None and (type(value) is not str or not value):
            raise LicenseError("malformed", f"Claim {name!r} must be a non-empty string.")


class RevocationList:
    """A verified revocation list: which licenses its issuer revoked, and when.

    ``seq`` grows by one with every re-signing: keep the list with the highest ``seq`` seen, and
    refuse an older one. ``license_id in revocations`` is a dict lookup, however long the list.
    """

    __slots__ = ("_ids", "_revoked", "_seconds", "issued_at", "issuer", "key_id", "seq")

    def __init__(
        self, issuer: str, issued_at: datetime, revoked: Mapping[str, datetime], key_id: str, seq: int = 0
    ) -> None:
        self.issuer = issuer
        self.issued_at = issued_at
        self.key_id = key_id
        self.seq = seq
        self._revoked: dict[str, datetime] | None = dict(revoked)
        self._seconds: dict[str, int] | None = None
        self._ids: Mapping[str, object] = self._revoked

    @classmethod
    def _verified(cls, issuer: str, issued_at: datetime, seconds: dict[str, int], key_id: str, seq: int) -> Self:
        """A list as loaded: revocation times stay POSIX seconds until someone asks for them."""
        revocations = cls.__new__(cls)
        revocations.issuer = issuer
        revocations.issued_at = issued_at
        revocations.key_id = key_id
        revocations.seq = seq
        revocations._revoked = None
        revocations._seconds = seconds
        revocations._ids = seconds
        return revocations

    @property
    def revoked(self) -> Mapping[str, datetime]:
        """Each revoked license id and when it was revoked (an aware UTC datetime)."""
        if self._revoked is None:
            seconds = self._seconds or {}
            self._revoked = {jti: _utc(at) for jti, at in seconds.items()}
        return self._revoked

    def revoked_at(self, license_id: str) -> datetime | None:
        """When ``license_id`` was revoked, or None when it is not on the list."""
        if self._seconds is not None:
            at = self._seconds.get(license_id)
            return None if at is None else _utc(at)
        return self.revoked.get(license_id)

    def __contains__(self, license_id: object) -> bool:
        return license_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<RevocationList seq {self.seq}, {len(self)} licenses, issued {self.issued_at:%Y-%m-%d %H:%M:%S} UTC>"


def load_revocations(text: str | bytes, keyring: Keyring) -> RevocationList:
    """Verify an armored (or bare) revocation list signed by a key of ``keyring``."""
    if not isinstance(keyring, Keyring):
        raise TypeError("keyring must be a licensing.verify.Keyring")
    try:
        return _load_revocations(text, keyring)
    except LicenseError:
        raise
    except Exception as exc:  # pragma: no cover - a safety net: the contract is LicenseError only
        raise LicenseError("malformed", f"The revocation list could not be read ({type(exc).__name__}).") from exc


def _load_revocations(text: str | bytes, keyring: Keyring) -> RevocationList:
    claims, kid = decode_jws(text, REVOCATIONS_LABEL, REVOCATIONS_TYP, keyring)
    issuer = _string(claims, "iss")
    issued_at = _utc(_time(claims, "iat"))
    seq = claims.get("seq", 0)  # lists signed before seq existed read as the first one
    if type(seq) is not int or seq < 0:
        raise LicenseError("malformed", "Claim 'seq' of the revocation list must be a whole number, 0 or more.")
    entries = claims.get("revoked")
    if type(entries) is not list:
        raise LicenseError("malformed", "The revocation list has no 'revoked' array.")
    # Written for speed (a list may hold 100,000 entries): exact types, as JSON gives them, and times
    # kept as seconds; RevocationList makes datetimes of them only when asked.
    seconds: dict[str, int] = {}
    for entry in entries:
        if type(entry) is not dict:
            raise LicenseError("malformed", "Each revocation must be an object with 'jti' and 'revoked_at'.")
        jti, at = entry.get("jti"), entry.get("revoked_at")
        if type(jti) is not str or not jti:
            raise LicenseError("malformed", "Each revocation's 'jti' must be a non-empty string.")
        if type(at) is not int or not 0 <= at <= _MAX_TIME:
            raise LicenseError("malformed", "Each revocation's 'revoked_at' must be a NumericDate.")
        seconds[jti] = at
    return RevocationList._verified(issuer, issued_at, seconds, kid, seq)


def verify(
    license_text: str | bytes,
    keyring: Keyring,
    now: datetime | int | float | None = None,
    installation_id: str | None = None,
    revocations: RevocationList | str | bytes | Iterable[str] | None = None,
) -> License:
    """Verify a license file offline; the license, with ``status`` "valid" or "grace".

    ``now`` defaults to the system clock (an aware datetime, or POSIX seconds). ``installation_id``
    is this installation's id: a license bound to another one, or bound while none is given, is
    rejected. ``revocations`` is a :class:`RevocationList`, the armored text of one (verified with
    the same keyring), or plain license ids.

    A bad argument is the calling program's mistake, raised at once rather than blamed on the
    license: TypeError for a ``keyring`` that is not a Keyring, a ``now`` that is neither a datetime
    nor a number (a bool or a str), an ``installation_id`` that is not a str, or ``revocations`` of
    another kind; ValueError for a naive datetime, NaN, an infinity, or a time before 1970 or after
    9999.
    """
    if not isinstance(keyring, Keyring):
        raise TypeError("keyring must be a licensing.verify.Keyring")
    now_s = _now_seconds(now)
    if installation_id is not None and not isinstance(installation_id, str):
        raise TypeError(f"installation_id must be a str or None, not {type(installation_id).__name__}")
    if (
        revocations is not None
        and type(revocations) is not RevocationList
        and not isinstance(revocations, (RevocationList, str, *_BINARY))
        and not hasattr(revocations, "__contains__")
        and not hasattr(revocations, "__iter__")
    ):
        raise TypeError(
            f"revocations must be a RevocationList, the text of one, or license ids, not {type(revocations).__name__}"
        )
    try:
        return _verify(license_text, keyring, now_s, installation_id, revocations)
    except LicenseError:
        raise
    except Exception as exc:  # pragma: no cover - a safety net: the contract is LicenseError only
        raise LicenseError("malformed", f"The license could not be read ({type(exc).__name__}).") from exc


def _verify(
    license_text: str | bytes,
    keyring: Keyring,
    now_s: int,
    installation_id: str | None,
    revocations: RevocationList | str | bytes | Iterable[str] | None,
) -> License:
    claims, kid = decode_jws(license_text, LICENSE_LABEL, LICENSE_TYP, keyring)
    _check_claims(claims)
    jti = claims["jti"]

    if revocations is not None:
        if isinstance(revocations, (str, bytes)):
            revocations = _load_revocations(revocations, keyring)
        elif isinstance(revocations, (bytearray, memoryview)):
            revocations = _load_revocations(bytes(revocations), keyring)
        if jti in revocations:
            raise LicenseError("revoked", f"License {jti} has been revoked by its issuer. Contact them for a new one.")

    bound_to = claims.get("installation_id")
    if bound_to is not None and bound_to != installation_id:
        if installation_id is None:
            message = (
                f"The license is bound to installation {bound_to!r}, and no installation id was given to check it "
                "against. Pass this installation's id: installation_id= to verify() in a program, "
                "--installation-id to `licensing verify`."
            )
        else:
            message = f"The license is bound to installation {bound_to!r}, not to this one ({installation_id!r})."
        raise LicenseError("installation_mismatch", message)

    iat, nbf, exp = claims["iat"], claims["nbf"], claims.get("exp")
    if iat > now_s + CLOCK_SKEW_SECONDS:
        raise LicenseError(
            "clock_skew",
            f"The license was issued at {_utc(iat):%Y-%m-%d %H:%M:%S} UTC, later than this machine's clock says it is "
            f"({_utc(now_s):%Y-%m-%d %H:%M:%S} UTC). Check the system clock.",
        )
    if now_s + CLOCK_SKEW_SECONDS < nbf:
        raise LicenseError("not_yet_valid", f"The license becomes valid at {_utc(nbf):%Y-%m-%d %H:%M:%S} UTC.")
    status = "valid"
    if exp is not None and now_s >= exp:
        grace_end = exp + claims["grace_days"] * _DAY
        if now_s >= grace_end:
            raise LicenseError(
                "expired",
                f"The license expired at {_utc(exp):%Y-%m-%d %H:%M:%S} UTC"
                + (f" and its {claims['grace_days']}-day grace period has ended." if claims["grace_days"] else ".")
                + " Renew it, or install a newer license file.",
            )
        status = "grace"
    return License(claims, status, kid)
