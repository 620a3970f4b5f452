"""Regenerate the air-gapped exchanges' conformance vectors (SPEC section 8), byte for byte.

    .venv/bin/python tests/vectors/airgap/generate.py [OUT_DIR]     # default: this directory

``manifest.json`` is replayed by the Python, Go and TypeScript libraries; tests/vectors/README.md
describes its shape. Everything is fixed: the keys come from the 32-byte seeds below, the times and
nonces are constants, and Ed25519 signatures are deterministic, so running this again writes
identical files (a test checks that).

The files are built here with the contract's key order (compact JSON, keys in the order SPEC section 8
and the contract list them), not with licensing.airgap, so the vectors stand on their own; a test
checks that the Python writers make the very same bytes. Expectations are written by hand from the
contract. The comparisons are read from license files of tests/vectors/ (made by its generate.py).

TEST-ONLY KEY MATERIAL. The receipts are signed with tests/vectors' key (RFC 8037 appendix A's example
key), and the installation key is RFC 8032 section 7.1's TEST 3 key; ``installation-key.pem`` holds its
private half on purpose, since every library must load it. Both are published test keys: they protect
nothing.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = Path(__file__).resolve().parent
VECTORS = HERE.parent


def _main_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("licensing_vectors_generate_for_airgap", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAIN = _main_generator()
SERVICE_SEED: bytes = MAIN.SEED  # signs receipts: tests/vectors/jwks.json's key
STRANGER_SEED: bytes = MAIN.OTHER_SEED  # a key nobody trusts
# RFC 8032 section 7.1, TEST 3: the installation's key (bound-cnf.lic names it).
INSTALLATION_SEED: bytes = MAIN.INSTALLATION_KEY_SEED
# RFC 8032 section 7.1, TEST 1024: another installation's key.
OTHER_INSTALLATION_SEED = bytes.fromhex("f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5")

ACTIVATION_LABEL = "LICENSE ACTIVATION REQUEST"
USAGE_LABEL = "LICENSE USAGE REPORT"
RECEIPT_LABEL = "LICENSE USAGE RECEIPT"
ACTIVATION_TYP = "license-activation+jwt"
USAGE_TYP = "license-usage+jwt"
RECEIPT_TYP = "license-usage-receipt+jwt"

DAY = 86_400
ISSUER: str = MAIN.ISSUER
INSTALLATION: str = MAIN.INSTALLATION
LICENSE_ID = "lic_bound"
MAY = 1_746_057_600  # 2025-05-01T00:00:00Z
JUNE = 1_748_736_000  # 2025-06-01T00:00:00Z
JULY = 1_751_328_000  # 2025-07-01T00:00:00Z
NONCE = bytes(range(16))


def rfc3339(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def compact_json(value: Any) -> bytes:
    """Compact JSON, keys in the order given (the writers' contract)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def jws(key: Ed25519PrivateKey, header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes) -> str:
    head = b64url(header if isinstance(header, bytes) else compact_json(header))
    body = b64url(payload if isinstance(payload, bytes) else compact_json(payload))
    signing_input = f"{head}.{body}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def armor(compact: str, label: str) -> str:
    body = "\n".join(compact[i : i + 64] for i in range(0, len(compact), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def digest(compact: str) -> str:
    return b64url(hashlib.sha256(compact.encode("ascii")).digest())


def unarmored(text: str) -> str:
    return "".join(text.splitlines()[1:-1])


def tampered(compact: str, change: Callable[[dict[str, Any]], None]) -> str:
    """The compact JWS with its claims changed and its old signature kept."""
    head, payload, signature = compact.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    change(claims)
    return f"{head}.{b64url(compact_json(claims))}.{signature}"


def error(code: str) -> dict[str, Any]:
    return {"ok": False, "code": code}


def public_x(key: Ed25519PrivateKey) -> str:
    return b64url(key.public_key().public_bytes_raw())


def jwk_of(key: Ed25519PrivateKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": public_x(key)}


def request_claims(**changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ver": 1,
        "iat": JUNE + 3_600,
        "installation_id": INSTALLATION,
        "license_id": "lic_professional",
        "product_version": "4.2.0",
        "nonce": b64url(NONCE),
    }
    result.update(changes)
    return {k: v for k, v in result.items() if v is not MAIN.OMIT}


def report_claims(
    seq: int, prev: str | None, start: int, end: int, daily: list[list[int]], iat: int, **changes: Any
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ver": 1,
        "iat": iat,
        "license_id": LICENSE_ID,
        "installation_id": INSTALLATION,
        "seq": seq,
    }
    if prev is not None:
        result["prev"] = prev
    result["period"] = {"start": start, "end": end}
    result["peak_users"] = max([users for _day, users in daily], default=0)
    result["daily"] = daily
    result.update(changes)
    return {k: v for k, v in result.items() if v is not MAIN.OMIT}


def build() -> dict[str, bytes]:
    """Every file of the air-gapped vector set, by name."""
    service = Ed25519PrivateKey.from_private_bytes(SERVICE_SEED)
    stranger = Ed25519PrivateKey.from_private_bytes(STRANGER_SEED)
    install = Ed25519PrivateKey.from_private_bytes(INSTALLATION_SEED)
    other_install = Ed25519PrivateKey.from_private_bytes(OTHER_INSTALLATION_SEED)
    kid, stranger_kid = MAIN.thumbprint(public_x(service)), MAIN.thumbprint(public_x(stranger))
    install_jwk, other_jwk = jwk_of(install), jwk_of(other_install)
    jkt = MAIN.thumbprint(install_jwk["x"])
    files: dict[str, str | bytes] = {}

    files["installation-key.pem"] = install.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")

    # --- activation requests -----------------------------------------------------------------------
    requests: list[dict[str, Any]] = []
    request_header = {"alg": "EdDSA", "typ": ACTIVATION_TYP, "jwk": install_jwk}

    def add_request(name: str, file: str, content: str | None, expect: dict[str, Any]) -> None:
        if content is not None:
            files[file] = content
        requests.append({"name": name, "file": file, "expect": expect})

    def request(header: dict[str, Any] | bytes = request_header, signer: Ed25519PrivateKey = install, **c: Any) -> str:
        return armor(jws(signer, header, request_claims(**c)), ACTIVATION_LABEL)

    def request_ok(c: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "installation_id": c["installation_id"],
            "license_id": c["license_id"],
            "product_version": c.get("product_version"),
            "nonce": c["nonce"],
            "iat": c["iat"],
            "thumbprint": jkt,
        }

    good_request = request()
    add_request("a request", "request.lic", good_request, request_ok(request_claims()))
    add_request(
        "without product_version",
        "request-no-version.lic",
        request(product_version=MAIN.OMIT),
        request_ok(request_claims(product_version=MAIN.OMIT)),
    )
    add_request(
        "bare JWS", "request.jws", unarmored(good_request), request_ok(request_claims())
    )  # the armor is optional, as for license files
    add_request(
        "alg Ed25519",
        "request-alg-ed25519.lic",
        request({**request_header, "alg": "Ed25519"}),
        request_ok(request_claims()),
    )
    add_request(
        "typ with media type prefix, any case",
        "request-typ-media-type.lic",
        request({**request_header, "typ": "Application/License-Activation+JWT"}),
        request_ok(request_claims()),
    )
    add_request(
        "typ of a usage report",
        "request-typ-usage.lic",
        request({**request_header, "typ": USAGE_TYP}),
        error("unsupported"),
    )
    add_request(
        "typ missing", "request-typ-missing.lic", request({"alg": "EdDSA", "jwk": install_jwk}), error("unsupported")
    )
    none_header = b64url(compact_json({"alg": "none", "typ": ACTIVATION_TYP, "jwk": install_jwk}))
    files["request-alg-none.lic"] = armor(f"{none_header}.{b64url(compact_json(request_claims()))}.", ACTIVATION_LABEL)
    add_request("alg none, no signature", "request-alg-none.lic", None, error("unsupported"))
    add_request("alg HS256", "request-alg-hs256.lic", request({**request_header, "alg": "HS256"}), error("unsupported"))
    add_request("crit", "request-crit.lic", request({**request_header, "crit": ["exp"]}), error("unsupported"))
    add_request("ver 2", "request-ver-2.lic", request(ver=2), error("unsupported"))
    add_request(
        "tampered: another license",
        "request-tampered.lic",
        armor(tampered(unarmored(good_request), lambda c: c.update(license_id="lic_other")), ACTIVATION_LABEL),
        error("bad_signature"),
    )
    add_request(
        "signed by another key than the one it carries",
        "request-other-key.lic",
        request(signer=other_install),
        error("bad_signature"),
    )
    add_request("no jwk", "request-no-jwk.lic", request({"alg": "EdDSA", "typ": ACTIVATION_TYP}), error("malformed"))
    add_request(
        "jwk of another curve",
        "request-jwk-x25519.lic",
        request({**request_header, "jwk": {**install_jwk, "crv": "X25519"}}),
        error("malformed"),
    )
    add_request(
        "jwk with its private half",
        "request-jwk-private.lic",
        request({**request_header, "jwk": {**install_jwk, "d": b64url(INSTALLATION_SEED)}}),
        error("malformed"),
    )
    add_request("no license_id", "request-no-license.lic", request(license_id=MAIN.OMIT), error("malformed"))
    add_request("license_id a number", "request-license-number.lic", request(license_id=7), error("malformed"))
    add_request("nonce of 8 bytes", "request-nonce-short.lic", request(nonce=b64url(NONCE[:8])), error("malformed"))
    add_request("no nonce", "request-no-nonce.lic", request(nonce=MAIN.OMIT), error("malformed"))
    add_request(
        "installation_id of 201 characters",
        "request-installation-long.lic",
        request(installation_id="i" * 201),
        error("malformed"),
    )
    add_request(
        "installation_id of 200 characters",
        "request-installation-200.lic",
        request(installation_id="i" * 200),
        request_ok(request_claims(installation_id="i" * 200)),
    )
    add_request(
        "installation_id with a control character",
        "request-installation-control.lic",
        request(installation_id="inst\n1"),
        error("malformed"),
    )
    # "Printable" is Python's str.isprintable, Go's unicode.IsPrint: letters, marks, numbers, punctuation,
    # symbols and the ASCII space; length counts code points (not UTF-16 units, not bytes).
    astral = "\U0001f680" * 200
    add_request(
        "installation_id of 200 characters outside the BMP",
        "request-installation-astral.lic",
        request(installation_id=astral),
        request_ok(request_claims(installation_id=astral)),
    )
    add_request(
        "installation_id of 201 characters outside the BMP",
        "request-installation-astral-201.lic",
        request(installation_id=astral + "\U0001f680"),
        error("malformed"),
    )
    add_request(
        "installation_id with letters, marks and a space",
        "request-installation-unicode.lic",
        request(installation_id="Zürich serveur-é \u00e9\u0301 \u6771\u4eac"),
        request_ok(request_claims(installation_id="Zürich serveur-é \u00e9\u0301 \u6771\u4eac")),
    )
    for name, file, char in (
        ("a no-break space", "no-break-space", "\u00a0"),
        ("a zero-width space", "zero-width-space", "\u200b"),
        ("a line separator", "line-separator", "\u2028"),
    ):
        add_request(
            f"installation_id with {name}",
            f"request-installation-{file}.lic",
            request(installation_id=f"inst{char}1"),
            error("malformed"),
        )
    add_request("iat a float", "request-iat-float.lic", request(iat=JUNE + 0.5), error("malformed"))
    add_request("a license file is not a request", "not-a-request.lic", None, error("malformed"))
    files["not-a-request.lic"] = (VECTORS / "professional.lic").read_text("utf-8")

    # --- usage reports -----------------------------------------------------------------------------
    reports: list[dict[str, Any]] = []
    report_header = {"alg": "EdDSA", "typ": USAGE_TYP, "kid": jkt}

    def sign_report(
        c: dict[str, Any] | bytes, header: dict[str, Any] = report_header, signer: Ed25519PrivateKey = install
    ) -> str:
        return armor(jws(signer, header, c), USAGE_LABEL)

    def add_report(
        name: str, file: str, content: str, expect: dict[str, Any], jwk: dict[str, str] = install_jwk
    ) -> None:
        files[file] = content
        reports.append({"name": name, "file": file, "public_jwk": jwk, "expect": expect})

    def report_ok(c: dict[str, Any], text: str) -> dict[str, Any]:
        return {
            "ok": True,
            "license_id": c["license_id"],
            "installation_id": c["installation_id"],
            "seq": c["seq"],
            "prev": c.get("prev"),
            "period": c["period"],
            "peak_users": c["peak_users"],
            "daily": c["daily"],
            "iat": c["iat"],
            "thumbprint": jkt,
            "digest": digest(unarmored(text)),
        }

    # A chain: May (seq 1, some days), June (seq 2, every day), an empty report (seq 3), then a year (seq 4).
    may_daily = [[MAY, 12], [MAY + DAY, 15], [MAY + 4 * DAY, 9], [MAY + 30 * DAY, 14]]
    first = report_claims(1, None, MAY, JUNE, may_daily, JUNE + 600)
    first_text = sign_report(first)
    add_report("the first report", "report-1.lic", first_text, report_ok(first, first_text))
    june_daily = [[JUNE + i * DAY, 20 + (i * 7) % 11] for i in range(30)]
    second = report_claims(2, digest(unarmored(first_text)), JUNE, JULY, june_daily, JULY + 600)
    second_text = sign_report(second)
    add_report("the second report, chained", "report-2.lic", second_text, report_ok(second, second_text))
    third = report_claims(3, digest(unarmored(second_text)), JULY, JULY + DAY, [], JULY + 700)
    third_text = sign_report(third)
    add_report("an empty report", "report-3-empty.lic", third_text, report_ok(third, third_text))
    year_start = JULY + DAY
    year_daily = [[year_start + i * DAY, (i * 37) % 113 + (i // 30)] for i in range(365)]
    year = report_claims(
        4, digest(unarmored(third_text)), year_start, year_start + 365 * DAY, year_daily, year_start + 365 * DAY + 60
    )
    year_text = sign_report(year)
    add_report("a year of days", "report-year.lic", year_text, report_ok(year, year_text))
    add_report("bare JWS", "report-1.jws", unarmored(first_text), report_ok(first, first_text))
    add_report(
        "CRLF, indented, in an e-mail",
        "report-1-e-mail.txt",
        "Hello,\r\n\r\nthis month's report:\r\n\r\n\ufeff"
        + "".join(f"    {line}\u200b\r\n" for line in first_text.splitlines())
        + "\r\nRegards\r\n",
        report_ok(first, first_text),
    )
    ed25519_text = sign_report(first, {**report_header, "alg": "Ed25519"})
    add_report("alg Ed25519", "report-alg-ed25519.lic", ed25519_text, report_ok(first, ed25519_text))
    add_report("checked with another installation's key", "report-1.lic", first_text, error("unknown_key"), other_jwk)
    add_report(
        "kid of another key",
        "report-kid-other.lic",
        sign_report(first, {**report_header, "kid": MAIN.thumbprint(other_jwk["x"])}),
        error("unknown_key"),
    )
    add_report(
        "no kid", "report-no-kid.lic", sign_report(first, {"alg": "EdDSA", "typ": USAGE_TYP}), error("unknown_key")
    )
    add_report(
        "signed by another key under this key's kid",
        "report-other-key.lic",
        sign_report(first, signer=other_install),
        error("bad_signature"),
    )
    add_report(
        "tampered: a lower peak",
        "report-tampered.lic",
        armor(
            tampered(
                unarmored(first_text), lambda c: c.update(peak_users=9, daily=[d for d in c["daily"] if d[1] <= 9])
            ),
            USAGE_LABEL,
        ),
        error("bad_signature"),
    )
    add_report(
        "typ of a request",
        "report-typ-request.lic",
        sign_report(first, {**report_header, "typ": ACTIVATION_TYP}),
        error("unsupported"),
    )
    none_head = b64url(compact_json({"alg": "none", "typ": USAGE_TYP, "kid": jkt}))
    add_report(
        "alg none",
        "report-alg-none.lic",
        armor(f"{none_head}.{b64url(compact_json(first))}.", USAGE_LABEL),
        error("unsupported"),
    )
    add_report(
        "alg HS256", "report-alg-hs256.lic", sign_report(first, {**report_header, "alg": "HS256"}), error("unsupported")
    )
    add_report("crit", "report-crit.lic", sign_report(first, {**report_header, "crit": ["seq"]}), error("unsupported"))
    add_report("ver 2", "report-ver-2.lic", sign_report({**first, "ver": 2}), error("unsupported"))

    def bad(name: str, file: str, c: dict[str, Any]) -> None:
        add_report(name, file, sign_report(c), error("malformed"))

    bad(
        "days not ascending",
        "report-daily-unsorted.lic",
        {**first, "daily": [may_daily[1], may_daily[0], *may_daily[2:]]},
    )
    bad("a day twice", "report-daily-twice.lic", {**first, "daily": [may_daily[0], may_daily[0]], "peak_users": 12})
    bad("a day not at 00:00 UTC", "report-daily-not-day-start.lic", {**first, "daily": [[MAY + 3_600, 15]]})
    bad("a day before the period", "report-daily-before.lic", {**first, "daily": [[MAY - DAY, 15]]})
    bad("a day at the period's end", "report-daily-at-end.lic", {**first, "daily": [[JUNE, 15]]})
    bad("a negative count", "report-daily-negative.lic", {**first, "daily": [[MAY, -1]], "peak_users": 0})
    bad("a fractional count", "report-daily-float.lic", {**first, "daily": [[MAY, 15.0]]})
    bad("a pair of three", "report-daily-triple.lic", {**first, "daily": [[MAY, 15, 1]]})
    bad("daily an object", "report-daily-object.lic", {**first, "daily": {str(MAY): 15}})
    bad("peak_users is not the highest count", "report-peak-wrong.lic", {**first, "peak_users": 16})
    bad("peak_users above 0 with no days", "report-peak-empty.lic", {**third, "peak_users": 1})
    bad("seq 0", "report-seq-0.lic", {**first, "seq": 0})
    bad("seq a string", "report-seq-string.lic", {**first, "seq": "1"})
    bad(
        "prev on seq 1",
        "report-prev-on-first.lic",
        report_claims(1, digest(unarmored(first_text)), MAY, JUNE, may_daily, JUNE),
    )
    bad("no prev on seq 2", "report-no-prev.lic", report_claims(2, None, JUNE, JULY, june_daily, JULY))
    bad("prev not a digest", "report-prev-short.lic", {**second, "prev": "abc"})
    bad("period not day starts", "report-period-hour.lic", {**first, "period": {"start": MAY + 3_600, "end": JUNE}})
    bad(
        "period ends before it starts",
        "report-period-backwards.lic",
        {**third, "period": {"start": JULY, "end": JULY - DAY}},
    )
    bad("no period", "report-no-period.lic", {k: v for k, v in first.items() if k != "period"})
    bad("no license_id", "report-no-license.lic", {k: v for k, v in first.items() if k != "license_id"})
    bad("installation_id empty", "report-installation-empty.lic", {**first, "installation_id": ""})

    # --- receipts ----------------------------------------------------------------------------------
    receipts: list[dict[str, Any]] = []
    receipt_header = {"alg": "EdDSA", "kid": kid, "typ": RECEIPT_TYP}

    def receipt_claims(
        report: dict[str, Any], text: str, seats: int | None, gap: bool, **changes: Any
    ) -> dict[str, Any]:
        peak = report["peak_users"]
        result: dict[str, Any] = {
            "ver": 1,
            "iss": ISSUER,
            "iat": report["iat"] + 120,
            "installation_id": report["installation_id"],
            "license_id": report["license_id"],
            "seq": report["seq"],
            "report": digest(unarmored(text)),
            "peak_users": peak,
            "seats": seats,
            "overage": 0 if seats is None else max(0, peak - seats),
            "gap": gap,
        }
        result.update(changes)
        return {k: v for k, v in result.items() if v is not MAIN.OMIT}

    def sign_receipt(
        c: dict[str, Any] | bytes, header: dict[str, Any] = receipt_header, signer: Ed25519PrivateKey = service
    ) -> str:
        return armor(jws(signer, header, c), RECEIPT_LABEL)

    def add_receipt(name: str, file: str, content: str | None, expect: dict[str, Any], **options: Any) -> None:
        if content is not None:
            files[file] = content
        entry: dict[str, Any] = {"name": name, "file": file}
        entry.update(options)
        entry["expect"] = expect
        receipts.append(entry)

    def receipt_ok(c: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "installation_id": c["installation_id"],
            "license_id": c["license_id"],
            "seq": c["seq"],
            "report": c["report"],
            "peak_users": c["peak_users"],
            "seats": c["seats"],
            "overage": c["overage"],
            "gap": c["gap"],
            "issued_at": rfc3339(c["iat"]),
            "key_id": kid,
        }

    over = receipt_claims(first, first_text, 10, False)
    over_text = sign_receipt(over)
    add_receipt("over the seats", "receipt-1.lic", over_text, receipt_ok(over), report_digest=over["report"])
    add_receipt("without the report's digest", "receipt-1.lic", None, receipt_ok(over))
    add_receipt(
        "for another report than the one sent",
        "receipt-1.lic",
        None,
        error("malformed"),
        report_digest=digest(unarmored(second_text)),
    )
    within = receipt_claims(second, second_text, 50, False)
    add_receipt(
        "within the seats", "receipt-2.lic", sign_receipt(within), receipt_ok(within), report_digest=within["report"]
    )
    unlimited = receipt_claims(year, year_text, None, True)
    add_receipt("unlimited seats, after a gap", "receipt-year.lic", sign_receipt(unlimited), receipt_ok(unlimited))
    add_receipt("bare JWS", "receipt-1.jws", unarmored(over_text), receipt_ok(over))
    add_receipt(
        "alg Ed25519",
        "receipt-alg-ed25519.lic",
        sign_receipt(over, {**receipt_header, "alg": "Ed25519"}),
        receipt_ok(over),
    )
    add_receipt(
        "tampered: no overage",
        "receipt-tampered.lic",
        armor(tampered(unarmored(over_text), lambda c: c.update(seats=20, overage=0)), RECEIPT_LABEL),
        error("bad_signature"),
    )
    add_receipt(
        "typ of a license file",
        "receipt-typ-license.lic",
        sign_receipt(over, {**receipt_header, "typ": "license+jwt"}),
        error("unsupported"),
    )
    add_receipt(
        "typ of a usage report",
        "receipt-typ-report.lic",
        sign_receipt(over, {**receipt_header, "typ": USAGE_TYP}),
        error("unsupported"),
    )
    none_receipt = b64url(compact_json({"alg": "none", "kid": kid, "typ": RECEIPT_TYP}))
    add_receipt(
        "alg none",
        "receipt-alg-none.lic",
        armor(f"{none_receipt}.{b64url(compact_json(over))}.", RECEIPT_LABEL),
        error("unsupported"),
    )
    add_receipt(
        "alg HS256",
        "receipt-alg-hs256.lic",
        sign_receipt(over, {**receipt_header, "alg": "HS256"}),
        error("unsupported"),
    )
    add_receipt(
        "crit", "receipt-crit.lic", sign_receipt(over, {**receipt_header, "crit": ["gap"]}), error("unsupported")
    )
    add_receipt("ver 2", "receipt-ver-2.lic", sign_receipt({**over, "ver": 2}), error("unsupported"))
    add_receipt(
        "signed by an unknown key",
        "receipt-unknown-key.lic",
        sign_receipt(over, {**receipt_header, "kid": stranger_kid}, stranger),
        error("unknown_key"),
    )
    add_receipt(
        "signed by the installation's key",
        "receipt-installation-key.lic",
        sign_receipt(over, {**receipt_header, "kid": jkt}, install),
        error("unknown_key"),
    )
    add_receipt(
        "another key under the service's kid",
        "receipt-impostor.lic",
        sign_receipt(over, signer=stranger),
        error("bad_signature"),
    )
    add_receipt(
        "overage that does not add up",
        "receipt-overage-wrong.lic",
        sign_receipt({**over, "overage": 1}),
        error("malformed"),
    )
    add_receipt("seats 0", "receipt-seats-0.lic", sign_receipt({**over, "seats": 0, "overage": 15}), error("malformed"))
    add_receipt(
        "gap missing",
        "receipt-no-gap.lic",
        sign_receipt({k: v for k, v in over.items() if k != "gap"}),
        error("malformed"),
    )
    add_receipt(
        "report not a digest", "receipt-report-short.lic", sign_receipt({**over, "report": "abc"}), error("malformed")
    )
    add_receipt("seq 0", "receipt-seq-0.lic", sign_receipt({**over, "seq": 0}), error("malformed"))
    add_receipt(
        "no iss",
        "receipt-no-iss.lic",
        sign_receipt(receipt_claims(first, first_text, 10, False, iss=MAIN.OMIT)),
        error("malformed"),
    )
    add_receipt("cut short", "receipt-truncated.lic", over_text[: len(over_text) // 2], error("malformed"))
    add_receipt("a report is not a receipt", "report-1.lic", None, error("malformed"))

    manifest = {
        "description": "The air-gapped exchanges' conformance vectors (SPEC section 8); see ../README.md and generate.py.",
        "jwks": "../jwks.json",
        "installation_key": {"pem": "installation-key.pem", "jwk": install_jwk, "thumbprint": jkt},
        "requests": requests,
        "reports": reports,
        "receipts": receipts,
        "comparisons": comparisons(),
    }
    files["manifest.json"] = json.dumps(manifest, indent=2, ensure_ascii=False)
    out: dict[str, bytes] = {}
    for name, content in sorted(files.items()):
        if isinstance(content, bytes):
            out[name] = content
        else:
            out[name] = (content if content.endswith("\n") else content + "\n").encode("utf-8")
    return out


def comparisons() -> list[dict[str, Any]]:
    """Pairs of license files of tests/vectors/ and what installing the second changes, written by hand."""
    pro_features = list(MAIN.PROFESSIONAL)
    jkt = MAIN.thumbprint(public_x(Ed25519PrivateKey.from_private_bytes(INSTALLATION_SEED)))
    result: list[dict[str, Any]] = []

    def add(
        name: str, old: str, new: str, at: str, changes: list[Any], warnings: list[str], text: list[str], **options: Any
    ) -> None:
        entry: dict[str, Any] = {"name": name, "old": old, "new": new, "at": at, **options}
        entry["expect"] = {"changes": changes, "warnings": [{"code": code} for code in warnings], "text": text}
        result.append(entry)

    def change(field: str, old: Any, new: Any) -> dict[str, Any]:
        return {"field": field, "old": old, "new": new}

    renewal_changes = [
        change("seats", 250, 300),
        {"field": "features", "added": ["cluster"], "removed": ["guest_accounts"]},
        change("not_before", MAIN.ISSUED, 1_764_547_200),
        change("expires_at", MAIN.EXPIRES, MAIN.EXPIRES + 365 * DAY),
    ]
    add(
        "a renewal",
        "professional.lic",
        "renewal.lic",
        "2025-12-15T00:00:00Z",
        renewal_changes,
        [],
        [
            "seats: 250 -> 300",
            "features added: cluster",
            "features removed: guest_accounts",
            "valid from: 2025-01-01T00:00:00Z -> 2025-12-01T00:00:00Z",
            "expires: 2026-01-01T00:00:00Z -> 2027-01-01T00:00:00Z",
        ],
    )
    add(
        "going back to the license a renewal replaced",
        "renewal.lic",
        "professional.lic",
        "2025-12-15T00:00:00Z",
        [
            change("seats", 300, 250),
            {"field": "features", "added": ["guest_accounts"], "removed": ["cluster"]},
            change("not_before", 1_764_547_200, MAIN.ISSUED),
            change("expires_at", MAIN.EXPIRES + 365 * DAY, MAIN.EXPIRES),
        ],
        ["issued_before", "other_line"],
        [
            "warning: NEW was issued before OLD",
            "warning: NEW does not supersede OLD: it may belong to another line",
            "seats: 300 -> 250",
            "features added: guest_accounts",
            "features removed: cluster",
            "valid from: 2025-12-01T00:00:00Z -> 2025-01-01T00:00:00Z",
            "expires: 2027-01-01T00:00:00Z -> 2026-01-01T00:00:00Z",
        ],
    )
    add(
        "an activation: bound to an installation and its key",
        "professional.lic",
        "bound-cnf.lic",
        "2025-06-01T00:00:00Z",
        [change("installation_id", None, INSTALLATION), change("cnf_jkt", None, jkt)],
        [],
        [f"installation: none -> {INSTALLATION}", f"installation key: none -> {jkt}"],
        installation_id=INSTALLATION,
    )
    add(
        "the same license",
        "professional.lic",
        "professional.lic",
        "2025-06-01T00:00:00Z",
        [],
        ["same_license"],
        ["warning: NEW is the same license as OLD"],
    )
    add(
        "reissued on the same terms",
        "professional.lic",
        "reissued.lic",
        "2025-06-01T00:00:00Z",
        [],
        [],
        ["no changes"],
    )
    add(
        "another customer's license",
        "professional.lic",
        "other-customer.lic",
        "2025-06-01T00:00:00Z",
        [],
        ["other_customer"],
        ["warning: NEW belongs to another customer (cus_0002, not cus_0001)"],
    )
    add(
        "an upgrade from another line",
        "professional.lic",
        "enterprise-future-start.lic",
        "2025-06-01T00:00:00Z",
        [
            change("tier", "professional", "enterprise"),
            change("seats", 250, 5000),
            {"field": "features", "added": sorted(set(MAIN.ENTERPRISE) - set(pro_features)), "removed": []},
            change("not_before", MAIN.ISSUED, MAIN.START),
            change("expires_at", MAIN.EXPIRES, 1_835_395_200),
            change("grace_days", 10, 30),
        ],
        ["other_line"],
        [
            "warning: NEW does not supersede OLD: it may belong to another line",
            "tier: professional -> enterprise",
            "seats: 250 -> 5000",
            "features added: " + ", ".join(sorted(set(MAIN.ENTERPRISE) - set(pro_features))),
            "valid from: 2025-01-01T00:00:00Z -> 2025-03-01T00:00:00Z",
            "expires: 2026-01-01T00:00:00Z -> 2028-02-29T00:00:00Z",
            "grace days: 10 -> 30",
        ],
    )
    add(
        "from a bound trial to the free tier",
        "trial.lic",
        "free-perpetual.lic",
        "2025-01-15T00:00:00Z",
        [
            change("tier", "professional", "free"),
            change("trial", True, False),
            change("seats", 250, None),
            {"field": "features", "added": [], "removed": pro_features},
            change("expires_at", 1_738_281_600, None),
            change("installation_id", INSTALLATION, None),
        ],
        ["other_line"],
        [
            "warning: NEW does not supersede OLD: it may belong to another line",
            "tier: professional -> free",
            "trial: true -> false",
            "seats: 250 -> unlimited",
            "features removed: " + ", ".join(pro_features),
            "expires: 2025-01-31T00:00:00Z -> never",
            f"installation: {INSTALLATION} -> none",
        ],
        installation_id=INSTALLATION,
    )
    return result


def generate(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in build().items():
        path = out_dir / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for path in generate(target):
        print(path)
