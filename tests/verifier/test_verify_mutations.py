"""Every single-byte change to a license file (or revocation list) is rejected with a documented code.

The mutated region is the armor block itself: from the first byte of the BEGIN line to the last byte
of the END line. Each position there is changed in two passes:
- as bytes (fed to the verifier as bytes): the byte xor 0x01, 0x20 and 0x80, each of the bytes of
  ``BYTE_REPLACEMENTS`` (which include NUL, 0xff and so break UTF-8), and deletion;
- as text (fed as str): each of the characters of ``CHAR_REPLACEMENTS``, which add non-ASCII ones
  (é, a no-break space, U+2028, a BOM) that a single byte cannot spell in UTF-8.

Two kinds of change are exempt from "must be rejected", because SPEC section 3 asks the armor to be
tolerant of them:
- swapping one whitespace character (space, tab, CR, LF, FF, VT) for another, or for one of the
  characters e-mail clients add (a BOM, a no-break space, a zero-width space or joiner), or
  deleting one, inside the block: tolerated whitespace carries no meaning, so such a change may be
  accepted, but only as the very same license (identical claims); it may also be rejected, as when
  it breaks the BEGIN line;
- changes to text after the END line (here, the final newline): text around the block is ignored,
  so those bytes are not mutated at all (a separate test appends text there).

Every other change must raise LicenseError with ``code`` in ERROR_CODES, from the verifier's own
checks rather than its catch-all for unexpected exceptions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from verifier_helpers import NOW, make_claims

from licensing.signing.jws import Signer
from licensing.verify import (
    ERROR_CODES,
    LICENSE_LABEL,
    REVOCATIONS_LABEL,
    Keyring,
    LicenseError,
    load_revocations,
    verify,
)

WHITESPACE = frozenset(" \t\r\n\f\v")
XORS = (0x01, 0x20, 0x80)
BYTE_REPLACEMENTS = b"A z0.-_=+/\n\t\x00\xff"
# Tolerated like whitespace (SPEC section 3): what e-mail clients put into text.
E_MAIL_WHITESPACE = frozenset("\ufeff\u00a0\u202f\u200b\u200c\u200d\u2060")
CHAR_REPLACEMENTS = "é\u00a0\u2028\ufeff\x85\u202f\u200b\u200c\u200d\u2060\u202e"


def mutations(text: str, label: str) -> Iterator[tuple[int, str, str | None, str | bytes, bool]]:
    """(position, old, new or None for a deletion, mutated text, whitespace only) for each change."""
    end_marker = f"-----END {label}-----"
    start, end = text.index(f"-----BEGIN {label}-----"), text.index(end_marker) + len(end_marker)
    assert text.isascii() and (start, text[end:]) == (0, "\n")  # the signer's output: the block, a newline
    data = text.encode()
    for i in range(start, end):
        old = data[i]
        values = ({old ^ x for x in XORS} | set(BYTE_REPLACEMENTS)) - {old}
        for new in sorted(values):
            whitespace = chr(old) in WHITESPACE and chr(new) in WHITESPACE
            yield i, chr(old), repr(bytes([new])), data[:i] + bytes([new]) + data[i + 1 :], whitespace
        yield i, chr(old), None, data[:i] + data[i + 1 :], chr(old) in WHITESPACE
        for char in CHAR_REPLACEMENTS:
            whitespace = chr(old) in WHITESPACE and char in E_MAIL_WHITESPACE
            yield i, chr(old), repr(char), text[:i] + char + text[i + 1 :], whitespace


def check_every_mutation(
    text: str, label: str, read: Callable[[str | bytes], Any], claims_of: Callable[[Any], Any]
) -> None:
    original = claims_of(read(text))
    codes: Counter[str] = Counter()
    tolerated = 0
    failures: list[str] = []
    for i, old, new, mutated, whitespace_only in mutations(text, label):
        try:
            result = read(mutated)
        except LicenseError as exc:
            if exc.code not in ERROR_CODES:
                failures.append(f"position {i} {old!r} -> {new}: undocumented code {exc.code!r}")
            elif exc.__cause__ is not None:
                failures.append(
                    f"position {i} {old!r} -> {new}: rejected by the catch-all ({type(exc.__cause__).__name__})"
                )
            codes[exc.code] += 1
            continue
        if whitespace_only and claims_of(result) == original:
            tolerated += 1
            continue
        failures.append(f"position {i} {old!r} -> {new}: accepted")
    assert not failures, "\n".join(failures[:50])
    # The exercise reached every stage: the armor, the envelope and the signature.
    assert codes["malformed"] > 0 and codes["bad_signature"] > 0
    assert tolerated > 0  # the line breaks inside the block


def test_every_single_byte_change_to_a_license_is_rejected(signer: Signer, keyring: Keyring) -> None:
    claims = make_claims(installation_id="inst-1", supersedes="lic_0000")
    text = signer.sign_license(claims)

    def read(data: str | bytes) -> Any:
        return verify(data, keyring, now=NOW, installation_id="inst-1")

    check_every_mutation(text, LICENSE_LABEL, read, lambda lic: lic.claims)


def test_every_single_byte_change_to_a_revocation_list_is_rejected(signer: Signer, keyring: Keyring) -> None:
    claims = {
        "iss": "test-issuer",
        "iat": NOW,
        "ver": 1,
        "revoked": [{"jti": f"lic_{n:04}", "revoked_at": NOW - n} for n in range(3)],
    }
    text = signer.sign_revocations(claims)

    def read(data: str | bytes) -> Any:
        return load_revocations(data, keyring)

    check_every_mutation(text, REVOCATIONS_LABEL, read, lambda rl: (rl.issuer, rl.issued_at, rl.revoked))


def test_text_after_the_end_line_is_tolerated(signer: Signer, keyring: Keyring) -> None:
    text = signer.sign_license(make_claims())
    for tail in ("", "x", "\n\n-- \nSales team\n", "\x00garbage", "-----BEGIN LICENSE FILE-----"):
        assert verify(text + tail, keyring, now=NOW).claims == make_claims()
