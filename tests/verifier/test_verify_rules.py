"""The verifier's rules other than time (SPEC sections 2 and 3).

Header: only EdDSA/Ed25519 (never none, HMAC or RSA), typ license+jwt, no crit. Claims: ver 1 and
well-typed, unknown ones ignored. Keys: unknown kid is unknown_key, a wrong key is bad_signature.
Installation binding, revocations in each accepted form, armor tolerance, the License object, and
Keyring.from_jwks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from verifier_helpers import (
    DAY,
    EXPIRES,
    ISSUED,
    NOW,
    OMIT,
    PROFESSIONAL_FEATURES,
    license_header,
    make_claims,
    make_license,
    segment,
    sign_custom,
    sign_jws,
)

from licensing.signing.jws import Signer, armor
from licensing.signing.keys import KeyStore, public_x
from licensing.verify import (
    ERROR_CODES,
    MAX_INPUT_CHARS,
    MAX_REVOCATIONS_CHARS,
    Keyring,
    KeyringError,
    License,
    LicenseError,
    RevocationList,
    _b64url_decode,
    b64url_encode,
    jwk_thumbprint,
    load_revocations,
    unarmor,
    verify,
)


def rejected(text: str | bytes, keyring: Keyring, **kwargs: Any) -> LicenseError:
    kwargs.setdefault("now", NOW)
    with pytest.raises(LicenseError) as caught:
        verify(text, keyring, **kwargs)
    assert caught.value.code in ERROR_CODES
    assert caught.value.message  # a sentence for people
    return caught.value


def code_of(text: str | bytes, keyring: Keyring, **kwargs: Any) -> str:
    return rejected(text, keyring, **kwargs).code


# --- alg -----------------------------------------------------------------------------------------
def test_the_service_issues_eddsa(signer: Signer, keyring: Keyring) -> None:
    compact = unarmor(make_license(signer))
    assert json.loads(_b64url_decode(compact.split(".")[0], "h")) == {
        "alg": "EdDSA",
        "typ": "license+jwt",
        "kid": signer.kid,
    }
    assert verify(make_license(signer), keyring, now=NOW).status == "valid"


def test_alg_ed25519_is_accepted(signer: Signer, keyring: Keyring) -> None:
    lic = verify(sign_custom(signer, make_claims(), alg="Ed25519"), keyring, now=NOW)
    assert lic.status == "valid"
    assert lic.key_id == signer.kid


def test_alg_none_is_unsupported(signer: Signer, keyring: Keyring) -> None:
    """An unsecured JWS (RFC 7515 appendix A.5: empty signature) and one with a signature attached."""
    header = license_header(signer, alg="none")
    unsecured = f"{segment(header)}.{segment(make_claims())}."
    assert code_of(unsecured, keyring) == "unsupported"
    assert code_of(armor(unsecured), keyring) == "unsupported"
    # Our key's real signature under alg none changes nothing.
    assert code_of(sign_custom(signer, make_claims(), alg="none"), keyring) == "unsupported"
    assert code_of(sign_custom(signer, make_claims(), alg="None"), keyring) == "unsupported"


def test_hs256_keyed_with_the_public_key_is_unsupported(signer: Signer, keyring: Keyring, keystore: KeyStore) -> None:
    """The algorithm-confusion attack: an HMAC whose secret is the published public key."""
    x = keystore.jwks()["keys"][0]["x"]
    for secret in (_b64url_decode(x, "x"), x.encode()):
        signing_input = f"{segment(license_header(signer, alg='HS256'))}.{segment(make_claims())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert code_of(f"{signing_input}.{b64url_encode(mac)}", keyring) == "unsupported"


def test_rs256_is_unsupported(signer: Signer, keyring: Keyring) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(make_claims(), rsa_key, algorithm="RS256", headers={"typ": "license+jwt", "kid": signer.kid})
    assert code_of(token, keyring) == "unsupported"


@pytest.mark.parametrize("alg", [OMIT, None, "", "eddsa", "ED25519", "ES256", "Ed448", 1, ["EdDSA"], {"EdDSA": 1}])
def test_other_algs_are_unsupported(signer: Signer, keyring: Keyring, alg: Any) -> None:
    assert code_of(sign_custom(signer, make_claims(), alg=alg), keyring) == "unsupported"


# --- typ, crit, ver ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "typ", [OMIT, None, "JWT", "jwt", "license", "license-revocations+jwt", "", 7, ["license+jwt"]]
)
def test_wrong_typ_is_unsupported(signer: Signer, keyring: Keyring, typ: Any) -> None:
    assert code_of(sign_custom(signer, make_claims(), typ=typ), keyring) == "unsupported"


@pytest.mark.parametrize("typ", ["application/license+jwt", "LICENSE+JWT", "Application/License+JWT"])
def test_typ_is_a_case_insensitive_media_type(signer: Signer, keyring: Keyring, typ: str) -> None:
    """RFC 7515 section 4.1.9: typ is a media type (case-insensitive, ``application/`` may be omitted)."""
    assert verify(sign_custom(signer, make_claims(), typ=typ), keyring, now=NOW).status == "valid"


def test_crit_header_is_unsupported(signer: Signer, keyring: Keyring) -> None:
    assert code_of(sign_custom(signer, make_claims(), crit=["exp"]), keyring) == "unsupported"


def test_unknown_header_parameters_are_ignored(signer: Signer, keyring: Keyring) -> None:
    assert verify(sign_custom(signer, make_claims(), x5u="http://x", cty="x"), keyring, now=NOW).status == "valid"


@pytest.mark.parametrize("ver", [2, 0, "1", 1.0, True, None, OMIT])
def test_other_format_versions_are_unsupported(signer: Signer, keyring: Keyring, ver: Any) -> None:
    assert code_of(make_license(signer, ver=ver), keyring) == "unsupported"


# --- keys and signatures -------------------------------------------------------------------------
@pytest.mark.parametrize("kid", ["unknown-kid", "", OMIT, None, 42, ["kid"], {"k": 1}])
def test_unknown_kid_is_unknown_key(signer: Signer, keyring: Keyring, kid: Any) -> None:
    assert code_of(sign_custom(signer, make_claims(), kid=kid), keyring) == "unknown_key"


def test_license_of_another_issuer_is_unknown_key(tmp_path: Any, keyring: Keyring) -> None:
    other = KeyStore(tmp_path / "other")
    other.generate()
    assert code_of(make_license(other.signer()), keyring) == "unknown_key"


def test_wrong_key_under_a_known_kid_is_bad_signature(signer: Signer, keyring: Keyring) -> None:
    impostor = Signer(signer.kid, Ed25519PrivateKey.generate())
    assert code_of(make_license(impostor), keyring) == "bad_signature"


def test_altered_claims_are_bad_signature(signer: Signer, keyring: Keyring) -> None:
    head, _payload, signature = unarmor(make_license(signer)).split(".")
    forged = f"{head}.{segment(make_claims(seats=100_000))}.{signature}"
    assert code_of(forged, keyring) == "bad_signature"


def test_signature_over_another_header_is_bad_signature(signer: Signer, keyring: Keyring) -> None:
    _head, payload, signature = unarmor(make_license(signer)).split(".")
    other_head = segment(license_header(signer, alg="Ed25519"))
    assert code_of(f"{other_head}.{payload}.{signature}", keyring) == "bad_signature"


@pytest.mark.parametrize("signature", ["", "AAAA", "A" * 86, "A" * 88, "A" * 85 + "B"])
def test_truncated_or_empty_signature_is_rejected(signer: Signer, keyring: Keyring, signature: str) -> None:
    head, payload, _ = unarmor(make_license(signer)).split(".")
    assert code_of(f"{head}.{payload}.{signature}", keyring) in {"bad_signature", "malformed"}


def test_spare_bits_of_base64_are_not_ignored(signer: Signer, keyring: Keyring) -> None:
    """A changed last character that decodes to the same bytes is still a changed file."""
    head, payload, signature = unarmor(make_license(signer)).split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[index ^ 1]  # 86 characters: the last one's low 4 bits are spare
    assert _b64url_decode(signature, "s") == base64.urlsafe_b64decode(twin + "==")
    assert code_of(f"{head}.{payload}.{twin}", keyring) == "malformed"


# --- claims --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("iss", OMIT),
        ("iss", ""),
        ("jti", OMIT),
        ("jti", 12),
        ("sub", None),
        ("tier", OMIT),
        ("tier", ["professional"]),
        ("iat", OMIT),
        ("iat", 1.5),
        ("iat", "1700000000"),
        ("iat", True),
        ("iat", -1),
        ("nbf", OMIT),
        ("nbf", 10**20),
        ("exp", "never"),
        ("exp", ISSUED - 1),  # expires before it starts
        ("exp", 10**40),
        ("trial", OMIT),
        ("trial", 0),
        ("trial", "false"),
        ("seats", 0),
        ("seats", -5),
        ("seats", "250"),
        ("seats", 2.5),
        ("seats", True),
        ("seats", OMIT),  # absent is not null: unlimited must be said explicitly
        ("features", OMIT),
        ("features", "saml"),
        ("features", ["saml", 1]),
        ("features", {"saml": True}),
        ("grace_days", OMIT),
        ("grace_days", -1),
        ("grace_days", 1.5),
        ("grace_days", 10**9),
        ("customer", OMIT),
        ("customer", "Ada"),
        ("customer", {"name": 5}),
        ("installation_id", ""),
        ("installation_id", 5),
        ("subscription_id", ["sub"]),
        ("supersedes", ""),
    ],
)
def test_ill_typed_claims_are_malformed(signer: Signer, keyring: Keyring, name: str, value: Any) -> None:
    assert code_of(make_license(signer, **{name: value}), keyring, installation_id="x") == "malformed"


def test_payload_that_is_not_an_object_is_malformed(signer: Signer, keyring: Keyring) -> None:
    for payload in (b"[1, 2]", b"null", b"\xff\xfe", b"{", b'"ver"'):
        assert code_of(armor(sign_jws(signer.private_key, license_header(signer), payload)), keyring) == "malformed"


def test_unknown_claims_are_ignored_and_optional_ones_may_be_absent(signer: Signer, keyring: Keyring) -> None:
    claims = make_claims(
        seats=None, exp=OMIT, subscription_id=OMIT, future_claim={"a": [1, 2]}, aud="someone", customer={}
    )
    lic = verify(signer.sign_license(claims), keyring, now=NOW)
    assert lic.status == "valid"
    assert lic.seats is None
    assert lic.subscription_id is None and lic.supersedes is None and lic.installation_id is None
    assert lic.claims["future_claim"] == {"a": [1, 2]}


# --- installation binding ------------------------------------------------------------------------
def test_bound_license_with_its_installation_is_valid(signer: Signer, keyring: Keyring) -> None:
    lic = verify(make_license(signer, installation_id="inst-1"), keyring, now=NOW, installation_id="inst-1")
    assert lic.status == "valid"
    assert lic.installation_id == "inst-1"


@pytest.mark.parametrize("installation_id", ["inst-2", None, "", "INST-1", "inst-1 "])
def test_bound_license_elsewhere_is_installation_mismatch(
    signer: Signer, keyring: Keyring, installation_id: str | None
) -> None:
    err = rejected(make_license(signer, installation_id="inst-1"), keyring, installation_id=installation_id)
    assert err.code == "installation_mismatch"
    assert "inst-1" in err.message


def test_unbound_license_is_valid_on_any_installation(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer)
    assert verify(text, keyring, now=NOW, installation_id="inst-anything").status == "valid"
    assert verify(text, keyring, now=NOW).status == "valid"


# --- revocations ---------------------------------------------------------------------------------
def revocation_claims(*jtis: str, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "test-issuer",
        "iat": NOW - DAY,
        "ver": 1,
        "revoked": [{"jti": jti, "revoked_at": NOW - 2 * DAY} for jti in jtis],
    }
    claims.update(overrides)
    return claims


def test_revocation_list_round_trip(signer: Signer, keyring: Keyring) -> None:
    text = signer.sign_revocations(revocation_claims("lic_0001", "lic_0002"))
    assert text.startswith("-----BEGIN LICENSE REVOCATIONS-----\n")
    revocations = load_revocations(text, keyring)
    assert isinstance(revocations, RevocationList)
    assert revocations.issuer == "test-issuer"
    assert revocations.issued_at == datetime.fromtimestamp(NOW - DAY, UTC)
    assert revocations.key_id == signer.kid
    assert len(revocations) == 2
    assert "lic_0001" in revocations and "lic_0003" not in revocations
    assert revocations.revoked["lic_0002"] == datetime.fromtimestamp(NOW - 2 * DAY, UTC)
    assert load_revocations(text.encode(), keyring).revoked == revocations.revoked
    assert load_revocations(unarmor(text, "LICENSE REVOCATIONS"), keyring).revoked == revocations.revoked


def test_revoked_license_in_every_accepted_form(signer: Signer, keyring: Keyring) -> None:
    license_text = make_license(signer, jti="lic_0001")
    text = signer.sign_revocations(revocation_claims("lic_0001"))
    forms: list[Any] = [load_revocations(text, keyring), text, text.encode(), {"lic_0001"}, ["x", "lic_0001"]]
    forms += [frozenset({"lic_0001"}), bytearray(text.encode()), memoryview(text.encode()), {"lic_0001": "why"}]
    for revocations in forms:
        err = rejected(license_text, keyring, revocations=revocations)
        assert err.code == "revoked", revocations
        assert "lic_0001" in err.message


def test_license_not_on_the_list_is_valid(signer: Signer, keyring: Keyring) -> None:
    license_text = make_license(signer, jti="lic_0009")
    text = signer.sign_revocations(revocation_claims("lic_0001"))
    for revocations in (load_revocations(text, keyring), text, {"lic_0001"}, [], set()):
        assert verify(license_text, keyring, now=NOW, revocations=revocations).status == "valid"
    empty = signer.sign_revocations(revocation_claims())
    assert verify(license_text, keyring, now=NOW, revocations=empty).status == "valid"


def test_revocation_outranks_expiry_and_binding(signer: Signer, keyring: Keyring) -> None:
    license_text = make_license(signer, jti="lic_0001", installation_id="inst-1")
    err = rejected(license_text, keyring, now=EXPIRES + 400 * DAY, installation_id="other", revocations={"lic_0001"})
    assert err.code == "revoked"


def test_revocation_list_signed_by_an_unknown_key_is_refused(tmp_path: Any, signer: Signer, keyring: Keyring) -> None:
    other = KeyStore(tmp_path / "other")
    other.generate()
    text = other.signer().sign_revocations(revocation_claims("lic_0001"))
    with pytest.raises(LicenseError) as caught:
        load_revocations(text, keyring)
    assert caught.value.code == "unknown_key"
    # Given to verify, the forged list does not silently pass: the license is not verified against it.
    assert code_of(make_license(signer, jti="lic_0009"), keyring, revocations=text) == "unknown_key"


def test_revocation_list_with_a_wrong_signature_is_refused(signer: Signer, keyring: Keyring) -> None:
    impostor = Signer(signer.kid, Ed25519PrivateKey.generate())
    text = impostor.sign_revocations(revocation_claims("lic_0001"))
    with pytest.raises(LicenseError) as caught:
        load_revocations(text, keyring)
    assert caught.value.code == "bad_signature"


@pytest.mark.parametrize(
    "claims",
    [
        revocation_claims(revoked=OMIT),
        revocation_claims(revoked="lic_0001"),
        revocation_claims(revoked=["lic_0001"]),
        revocation_claims(revoked=[{"jti": "lic_0001"}]),
        revocation_claims(revoked=[{"revoked_at": NOW}]),
        revocation_claims(revoked=[{"jti": "a", "revoked_at": "yesterday"}]),
        revocation_claims(iss=OMIT),
        revocation_claims(iat=OMIT),
    ],
)
def test_ill_formed_revocation_lists_are_malformed(signer: Signer, keyring: Keyring, claims: dict[str, Any]) -> None:
    claims = {k: v for k, v in claims.items() if v is not OMIT}
    with pytest.raises(LicenseError) as caught:
        load_revocations(signer.sign_revocations(claims), keyring)
    assert caught.value.code == "malformed"


def test_revocation_list_of_another_version_is_unsupported(signer: Signer, keyring: Keyring) -> None:
    with pytest.raises(LicenseError) as caught:
        load_revocations(signer.sign_revocations(revocation_claims(ver=2)), keyring)
    assert caught.value.code == "unsupported"


def test_license_and_revocation_list_are_not_interchangeable(signer: Signer, keyring: Keyring) -> None:
    revocations_text = signer.sign_revocations(revocation_claims())
    assert code_of(revocations_text, keyring) == "malformed"  # the armor says what it is
    with pytest.raises(LicenseError) as caught:
        load_revocations(make_license(signer), keyring)
    assert caught.value.code == "malformed"
    # Without armor, the typ tells them apart.
    assert code_of(unarmor(revocations_text, "LICENSE REVOCATIONS"), keyring) == "unsupported"
    with pytest.raises(LicenseError) as caught:
        load_revocations(unarmor(make_license(signer)), keyring)
    assert caught.value.code == "unsupported"


# --- armor ---------------------------------------------------------------------------------------
def armor_variants(text: str) -> dict[str, str | bytes]:
    compact = unarmor(text)
    lines = text.strip("\n").split("\n")
    return {
        "as issued": text,
        "bytes": text.encode(),
        "crlf": text.replace("\n", "\r\n"),
        "cr only": text.replace("\n", "\r"),
        "no final newline": text.rstrip("\n"),
        "indented": "".join(f"    {line}\n" for line in lines),
        "tab indented, trailing spaces": "".join(f"\t{line}  \t\n" for line in lines),
        "quoted in an e-mail": f"Hello,\n\nhere is your license:\n\n{text}\nRegards,\nSales\n",
        "text on the same lines": f"License: {text.rstrip()} -- thanks",
        "wrapped at 76": "-----BEGIN LICENSE FILE-----\n"
        + "\n".join(compact[i : i + 76] for i in range(0, len(compact), 76))
        + "\n-----END LICENSE FILE-----\n",
        "one long line": f"-----BEGIN LICENSE FILE-----{compact}-----END LICENSE FILE-----",
        "blank lines inside": text.replace("\n", "\n\n"),
        "bare jws": compact,
        "bare jws with whitespace": f"\n  {compact}\r\n\n",
        "bare jws wrapped": "\n".join(compact[i : i + 64] for i in range(0, len(compact), 64)),
        "bare jws bytes": compact.encode(),
    }


def test_armor_tolerance(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer)
    expected = verify(text, keyring, now=NOW).claims
    for name, variant in armor_variants(text).items():
        lic = verify(variant, keyring, now=NOW)
        assert lic.claims == expected, name


def test_unarmor_returns_the_compact_jws(signer: Signer) -> None:
    text = make_license(signer)
    compact = "".join(text.splitlines()[1:-1])
    assert unarmor(text) == compact
    assert unarmor(text.replace("\n", "\r\n").encode()) == compact
    assert unarmor(compact) == compact


# What e-mail clients and editors put into text (SPEC section 3): tolerated like whitespace.
BOM, NBSP, NNBSP = "\ufeff", "\u00a0", "\u202f"
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060")
TOLERATED_CHARACTERS = (BOM, NBSP, NNBSP, *ZERO_WIDTH)


def e_mail_variants(text: str, label: str = "LICENSE FILE") -> dict[str, str | bytes]:
    compact = unarmor(text, label)
    lines = text.strip("\n").split("\n")
    variants: dict[str, str | bytes] = {
        "bom before the block": BOM + text,
        "bom as utf-8 bytes": (BOM + text).encode(),
        "bom before a bare jws": BOM + compact,
        "bom before a bare jws, as bytes": (BOM + compact + "\r\n").encode(),
        "nbsp indentation": "".join(f"{NBSP}{NBSP}{line}{NBSP}\n" for line in lines),
        "narrow nbsp indentation": "".join(f"{NNBSP}{line}\n" for line in lines),
        "nbsp in the armor lines": text.replace("LICENSE FILE", f"LICENSE{NBSP}FILE").replace(
            "LICENSE REVOCATIONS", f"LICENSE{NBSP}REVOCATIONS"
        ),
        "zero-width joiners in the armor lines": text.replace("-----", f"--{ZERO_WIDTH[2]}---"),
        "quoted in an e-mail with nbsp": f"Hello,{NBSP}here is your license:\n\n{text}\nRegards,{NBSP}Sales\n",
        "invisibles between every two characters": "".join((BOM, *ZERO_WIDTH)).join(text),
    }
    for char in TOLERATED_CHARACTERS:
        variants[f"U+{ord(char):04X} at each line end"] = text.replace("\n", f"{char}\n")
        variants[f"U+{ord(char):04X} inside the base64url"] = text.replace("e", f"e{char}", 5)
        variants[f"U+{ord(char):04X} around a bare jws"] = f"{char}{compact[:40]}{char}{compact[40:]}{char}"
    return variants


def test_e_mail_characters_are_tolerated_like_whitespace(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer)
    expected = verify(text, keyring, now=NOW).claims
    for name, variant in e_mail_variants(text).items():
        assert verify(variant, keyring, now=NOW).claims == expected, name
        assert unarmor(variant) == unarmor(text), name


def test_e_mail_characters_are_tolerated_in_revocation_lists(signer: Signer, keyring: Keyring) -> None:
    text = signer.sign_revocations(revocation_claims("lic_0001"))
    for name, variant in e_mail_variants(text, "LICENSE REVOCATIONS").items():
        assert "lic_0001" in load_revocations(variant, keyring), name


@pytest.mark.parametrize(
    "char",
    ["\u00e9", "\u0085", "\u2028", "\u2029", "\u3000", "\u2003", "\u00ad", "\u200e", "\u202e", "\ufffe", "\U0001f600"],
)
def test_other_non_ascii_characters_inside_the_block_are_malformed(signer: Signer, keyring: Keyring, char: str) -> None:
    text = make_license(signer)
    assert code_of(text.replace("\n", f"{char}\n", 2), keyring) == "malformed"  # at a line end
    assert code_of(text.replace("e", f"e{char}", 1), keyring) == "malformed"  # inside the base64url
    assert code_of(char + unarmor(text), keyring) == "malformed"  # before a bare JWS
    # Outside the block, any text is fine.
    assert verify(f"{char} {text} {char}", keyring, now=NOW).status == "valid"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("-----END LICENSE FILE-----", ""),  # cut short
        lambda t: t.split("\n", 3)[0] + "\n" + t.split("\n", 3)[1] + "\n",  # cut short
        lambda t: t.replace("\n", "\n> "),  # quoted with '>'
        lambda t: t.replace("BEGIN LICENSE FILE", "BEGIN PGP MESSAGE"),
        lambda t: t.replace("LICENSE FILE", "LICENCE FILE"),
        lambda t: "",
        lambda t: "   \n\t",
        lambda t: "hello world",
        lambda t: "a.b.c",
        lambda t: "..",
        lambda t: unarmor(t) + "." + unarmor(t).split(".")[2],  # four parts
        lambda t: ".".join(unarmor(t).split(".")[:2]),  # two parts
        lambda t: unarmor(t).replace(".", ".=", 1),  # padding is not base64url
        lambda t: unarmor(t).replace("e", "+", 1),  # nor is base64's alphabet
        lambda t: t.encode("utf-16"),
        lambda t: b"\xff" + t.encode(),
        lambda t: t + " " * 1_000_000,  # far too large
    ],
)
def test_damaged_armor_is_malformed(signer: Signer, keyring: Keyring, mangle: Any) -> None:
    assert code_of(mangle(make_license(signer)), keyring) == "malformed"


@pytest.mark.parametrize("value", [None, 42, 1.5, ["a"], object()])
def test_license_text_of_another_type_is_malformed(keyring: Keyring, value: Any) -> None:
    assert code_of(value, keyring) == "malformed"


def test_keyring_of_another_type_is_a_programming_error(signer: Signer, keystore: KeyStore) -> None:
    with pytest.raises(TypeError):
        verify(make_license(signer), keystore.jwks(), now=NOW)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        load_revocations(signer.sign_revocations(revocation_claims()), keystore.jwks())  # type: ignore[arg-type]


@pytest.mark.parametrize("installation_id", [5, b"inst-1", ["inst-1"], True])
def test_installation_id_of_another_type_is_a_programming_error(
    signer: Signer, keyring: Keyring, installation_id: Any
) -> None:
    with pytest.raises(TypeError, match="installation_id"):
        verify(make_license(signer, installation_id="inst-1"), keyring, now=NOW, installation_id=installation_id)


@pytest.mark.parametrize("revocations", [5, 1.5, True, object()])
def test_revocations_of_another_type_is_a_programming_error(signer: Signer, keyring: Keyring, revocations: Any) -> None:
    with pytest.raises(TypeError, match="revocations"):
        verify(make_license(signer), keyring, now=NOW, revocations=revocations)


def test_arguments_are_checked_before_the_license_is_read(keyring: Keyring) -> None:
    for kwargs in ({"now": "now"}, {"installation_id": 5}, {"revocations": 5}):
        with pytest.raises(TypeError):
            verify("not a license", keyring, **kwargs)
    with pytest.raises(TypeError):
        load_revocations("not a list", None)  # type: ignore[arg-type]


# --- messages ------------------------------------------------------------------------------------
def armor_failures(text: str, label: str) -> dict[str, str]:
    """Texts refused by the armor checks, whatever the kind of file."""
    other = "LICENSE FILE" if label != "LICENSE FILE" else "LICENSE REVOCATIONS"
    return {
        "cut short": text.replace(f"-----END {label}-----", ""),
        "another kind of block": text.replace(label, other),
        "a stray character inside": text.replace("\n", "\u00e9\n", 2),
        "nothing like one": "hello world",
        "far too large": text + " " * (MAX_REVOCATIONS_CHARS if label == "LICENSE REVOCATIONS" else MAX_INPUT_CHARS),
        "not text": 42,  # type: ignore[dict-item]
    }


def test_revocation_list_messages_call_it_a_revocation_list(signer: Signer, keyring: Keyring) -> None:
    text = signer.sign_revocations(revocation_claims("lic_0001"))
    for name, damaged in armor_failures(text, "LICENSE REVOCATIONS").items():
        with pytest.raises(LicenseError) as caught:
            load_revocations(damaged, keyring)
        message = caught.value.message
        assert caught.value.code == "malformed", name
        assert "revocation list" in message and "license revocations" not in message.lower(), (name, message)


def test_license_file_messages_call_it_a_license_file(signer: Signer, keyring: Keyring) -> None:
    for name, damaged in armor_failures(make_license(signer), "LICENSE FILE").items():
        message = rejected(damaged, keyring).message
        assert "license file" in message, (name, message)


def test_bound_license_without_an_installation_id_says_to_pass_one(signer: Signer, keyring: Keyring) -> None:
    err = rejected(make_license(signer, installation_id="inst-1"), keyring)
    assert err.code == "installation_mismatch"
    assert "'inst-1'" in err.message
    assert "installation_id=" in err.message and "--installation-id" in err.message


# --- the License object --------------------------------------------------------------------------
def test_license_attributes(signer: Signer, keyring: Keyring) -> None:
    claims = make_claims(
        jti="lic_attr",
        sub="cus_attr",
        trial=True,
        seats=25,
        installation_id="inst-1",
        subscription_id="sub_1",
        supersedes="lic_older",
        nbf=ISSUED + 60,
    )
    lic = verify(signer.sign_license(claims), keyring, now=NOW, installation_id="inst-1")
    assert isinstance(lic, License)
    assert lic.status == "valid"
    assert lic.id == "lic_attr"
    assert lic.issuer == "test-issuer"
    assert lic.subject == "cus_attr"
    assert lic.tier == "professional"
    assert lic.trial is True
    assert lic.seats == 25
    assert lic.features == tuple(PROFESSIONAL_FEATURES)
    assert isinstance(lic.features, tuple)
    assert lic.grace_days == 10
    assert dict(lic.customer) == {"name": "Ada Lovelace", "email": "ada@example.com", "company": "Example Ltd"}
    assert lic.installation_id == "inst-1"
    assert lic.subscription_id == "sub_1"
    assert lic.supersedes == "lic_older"
    assert lic.key_id == signer.kid
    assert lic.claims == claims
    assert lic.issued_at == datetime.fromtimestamp(ISSUED, UTC)
    assert lic.not_before == datetime.fromtimestamp(ISSUED + 60, UTC)
    assert lic.expires_at == datetime.fromtimestamp(EXPIRES, UTC)
    assert lic.grace_ends_at == datetime.fromtimestamp(EXPIRES + 10 * DAY, UTC)
    for moment in (lic.issued_at, lic.not_before, lic.expires_at, lic.grace_ends_at):
        assert moment is not None
        assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert lic.has_feature("saml") and lic.has_feature("custom_branding")
    assert not lic.has_feature("cluster") and not lic.has_feature("SAML") and not lic.has_feature("")
    assert "lic_attr" in repr(lic) and "trial" in repr(lic)


def test_free_perpetual_license_attributes(signer: Signer, keyring: Keyring) -> None:
    claims = make_claims(tier="free", seats=None, features=[], grace_days=0, exp=OMIT, subscription_id=OMIT)
    lic = verify(signer.sign_license(claims), keyring, now=NOW)
    assert lic.tier == "free"
    assert lic.seats is None
    assert lic.features == ()
    assert not lic.has_feature("saml")
    assert lic.expires_at is None
    assert lic.grace_ends_at is None


# --- Keyring.from_jwks ---------------------------------------------------------------------------
def ed25519_jwk(**extra: Any) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate().public_key()
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": public_x(key)}
    jwk.update(extra)
    return jwk


def test_keyring_from_jwks_text_bytes_and_mapping(keystore: KeyStore, signer: Signer) -> None:
    jwks = keystore.jwks()
    for source in (jwks, json.dumps(jwks), json.dumps(jwks).encode()):
        keyring = Keyring.from_jwks(source)
        assert keyring.key_ids == {signer.kid}
        assert verify(make_license(signer), keyring, now=NOW).status == "valid"


def test_keyring_skips_keys_that_are_not_ed25519_signing_keys(keystore: KeyStore, signer: Signer) -> None:
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 2048).public_key()))
    jwks = {
        "keys": [
            {**rsa_jwk, "kid": "rsa"},
            {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x", "kid": "ec"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "x25519"},
            {
                "kty": "OKP",
                "crv": "Ed448",
                "x": "X9dEm1m0Yf0s54fsYWrUah2hNCSFpw4fig6nXYDpZ3jt8SR2m0bHBhvWeD3x5Q9s0foavq_oJWGA",
            },
            ed25519_jwk(kid="for-encryption", use="enc"),
            ed25519_jwk(kid="for-other-alg", alg="ES256"),
            "not a key",
            None,
            *keystore.jwks()["keys"],
        ]
    }
    keyring = Keyring.from_jwks(jwks)
    assert keyring.key_ids == {signer.kid}
    assert verify(make_license(signer), keyring, now=NOW).status == "valid"


def test_keyring_accepts_fully_specified_alg_on_keys() -> None:
    keyring = Keyring.from_jwks({"keys": [ed25519_jwk(kid="a", alg="Ed25519"), ed25519_jwk(kid="b", alg="EdDSA")]})
    assert keyring.key_ids == {"a", "b"}


def test_key_without_kid_is_known_by_its_thumbprint() -> None:
    jwk = ed25519_jwk()
    keyring = Keyring.from_jwks({"keys": [jwk, ed25519_jwk(kid=""), ed25519_jwk(kid=7)]})
    assert jwk_thumbprint(jwk["x"]) in keyring.key_ids
    assert len(keyring.key_ids) == 3
    assert all(len(kid) == 43 for kid in keyring.key_ids)


@pytest.mark.parametrize(
    "jwks",
    [
        "",
        "not json",
        b"\xff\xfe",
        "[]",
        "null",
        "{}",
        '{"keys": {}}',
        '{"keys": "abc"}',
        '{"keys": []}',
        {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]},  # nothing usable
        {"keys": [{"kty": "OKP", "crv": "Ed25519"}]},  # no x
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": 5}]},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]},  # not 32 bytes
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR+"}]},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="}]},
        '{"keys": [' * 100_000,
        [{"kty": "OKP"}],
        42,
        None,
    ],
)
def test_garbage_jwks_is_keyring_error(jwks: Any) -> None:
    with pytest.raises(KeyringError):
        Keyring.from_jwks(jwks)


@pytest.mark.parametrize("field", ["alg", "use", "kty", "crv"])
@pytest.mark.parametrize("value", [[], {}, ["EdDSA"], 1, None])
def test_jwks_fields_of_odd_types_never_crash(field: str, value: Any) -> None:
    """A key whose alg, use, kty or crv is not a string is not a usable key: skipped, or KeyringError."""
    try:
        keyring = Keyring.from_jwks({"keys": [ed25519_jwk(kid="odd", **{field: value}), ed25519_jwk(kid="ok")]})
    except KeyringError:
        raise AssertionError("the well-formed key should have been kept") from None
    assert keyring.key_ids == {"ok"}


# --- the header memo (a speed-up: it must never change a verdict) --------------------------------
def test_header_memo_never_crosses_file_types(signer: Signer, keyring: Keyring) -> None:
    """A license header that passed once is still refused where a revocation list is expected."""
    text = make_license(signer)
    assert verify(text, keyring, now=NOW).status == "valid"
    assert verify(text, keyring, now=NOW).status == "valid"  # the memoised path
    with pytest.raises(LicenseError) as caught:
        load_revocations(unarmor(text), keyring)
    assert caught.value.code == "unsupported"


def test_header_memo_keeps_only_accepted_short_headers(signer: Signer, keyring: Keyring) -> None:
    from licensing import verify as verify_module

    verify_module._HEADER_KIDS.clear()
    assert code_of(sign_custom(signer, make_claims(), alg="none"), keyring) == "unsupported"
    assert code_of(sign_custom(signer, make_claims(), alg="none"), keyring) == "unsupported"
    assert not verify_module._HEADER_KIDS
    padded = sign_custom(signer, make_claims(), x_padding="p" * 1000)
    assert verify(padded, keyring, now=NOW).status == "valid"
    assert not verify_module._HEADER_KIDS  # long headers are not kept
    for n in range(200):  # bounded, however many distinct headers are seen
        assert verify(sign_custom(signer, make_claims(), x_n=n), keyring, now=NOW).status == "valid"
        assert len(verify_module._HEADER_KIDS) <= verify_module._HEADER_KIDS_MAX
    assert code_of(sign_custom(signer, make_claims(), x_n=199, kid="other"), keyring) == "unknown_key"
