"""How a revocation list of 100,000 entries fares: its size, signing it, loading it, and verifying with it.

    .venv/bin/python benchmarks/revocations.py [--quick]

1. Size on the wire: the armored list the service serves (``GET /v1/revocations``) of 100,000
   entries with ids like the service's (``lic_`` and a 26-character ULID), in bytes and gzipped;
   against the verifier's limit for a list (``MAX_REVOCATIONS_CHARS``).
2. Signing: ``Signer.sign_revocations`` of those claims (JSON, base64url, Ed25519, armor), median.
3. Loading: ``load_revocations(text, keyring)``, median of several runs, against a baseline
   measured in the same run: ``json.loads`` of the same payload bytes plus one
   ``Ed25519PublicKey.verify`` of the same signing input, the work any verifier of the list must do.
   The ratio load/baseline is reported. SPEC section 3: well under a second.
4. Verifying a license with the loaded list and without any: rounds alternate between the two;
   the ratio of per-call times (with/without) for the best and the median round. A loaded list is a
   dict lookup, so the ratio should be about 1 whatever the list's length. For comparison, one
   ``verify`` given the list's text instead, which loads it on every call.

A benchmark, not a test: it prints figures and never fails on them.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from licensing.signing.jws import Signer  # noqa: E402
from licensing.verify import (  # noqa: E402
    MAX_REVOCATIONS_CHARS,
    REVOCATIONS_LABEL,
    Keyring,
    LicenseError,
    b64url_encode,
    jwk_thumbprint,
    load_revocations,
    unarmor,
    verify,
)

NOW = 1_750_000_000
DAY = 86_400
ENTRIES = 100_000
ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32, as in the service's ids


def license_id(rng: random.Random) -> str:
    return "lic_" + "".join(rng.choices(ULID_ALPHABET, k=26))


def revocation_claims(entries: int) -> dict[str, object]:
    rng = random.Random(2024)
    revoked = [{"jti": license_id(rng), "revoked_at": NOW - rng.randrange(3 * 365 * DAY)} for _ in range(entries)]
    return {"iss": "Example Licensing", "iat": NOW, "ver": 1, "seq": 48_213, "revoked": revoked}


def typical_license_claims(jti: str) -> dict[str, object]:
    return {
        "iss": "Example Licensing",
        "jti": jti,
        "sub": "cus_01HZX5Q3M9ZK8W2YV7T4N6P0CD",
        "ver": 1,
        "iat": NOW - 30 * DAY,
        "nbf": NOW - 30 * DAY,
        "exp": NOW + 335 * DAY,
        "tier": "professional",
        "trial": False,
        "seats": 250,
        "features": sorted(["saml", "ldap", "openid", "guest_accounts", "mfa_enforcement", "custom_branding"]),
        "grace_days": 10,
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "company": "Example Ltd"},
        "subscription_id": "sub_1PqRsTuVwXyZ",
    }


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def per_call(func: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - start) / number


def main() -> None:
    quick = "--quick" in sys.argv
    runs, rounds, number = (3, 10, 200) if quick else (9, 40, 300)
    print(f"Python {sys.version.split()[0]}, cryptography {__import__('cryptography').__version__}")

    private_key = Ed25519PrivateKey.generate()
    x = b64url_encode(private_key.public_key().public_bytes_raw())
    kid = jwk_thumbprint(x)
    signer = Signer(kid, private_key)
    keyring = Keyring.from_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig"}]})
    claims = revocation_claims(ENTRIES)

    # 1. size on the wire
    text = signer.sign_revocations(claims)
    armored = text.encode("ascii")
    gzipped = gzip.compress(armored, compresslevel=6)
    print()
    print(f"revocation list of {ENTRIES:,} entries (ids like {claims['revoked'][0]['jti']})")  # type: ignore[index]
    print(f"  armored      {len(armored):>12,} bytes  ({len(armored) / 2**20:.1f} MiB)")
    print(f"  gzipped      {len(gzipped):>12,} bytes  ({len(gzipped) / 2**20:.1f} MiB, level 6)")
    print(
        f"  limit        {MAX_REVOCATIONS_CHARS:>12,} characters (MAX_REVOCATIONS_CHARS: {MAX_REVOCATIONS_CHARS / len(text):.1f}x)"
    )

    # 2. signing
    sign_times = [timed(lambda: signer.sign_revocations(claims)) for _ in range(runs)]

    # 3. loading, against json.loads + one Ed25519 verify of the same bytes, interleaved
    head, payload_segment, signature_segment = unarmor(text, REVOCATIONS_LABEL).split(".")
    payload = base64.urlsafe_b64decode(payload_segment + "=" * (-len(payload_segment) % 4))
    signature = base64.urlsafe_b64decode(signature_segment + "=" * (-len(signature_segment) % 4))
    signing_input = f"{head}.{payload_segment}".encode("ascii")
    public_key = private_key.public_key()

    def baseline() -> object:
        public_key.verify(signature, signing_input)
        return json.loads(payload)

    loaded = load_revocations(text, keyring)
    assert len(loaded) == ENTRIES and loaded.seq == 48_213  # the work is real
    baseline()
    load_times: list[float] = []
    baseline_times: list[float] = []
    for i in range(runs):
        pair = [(load_times, lambda: load_revocations(text, keyring)), (baseline_times, baseline)]
        for samples, func in pair if i % 2 == 0 else pair[::-1]:
            samples.append(timed(func))
    load_median, baseline_median = statistics.median(load_times), statistics.median(baseline_times)

    print()
    print(f"{'':46} {'median ms':>10} {'best ms':>9}")
    print(f"{'Signer.sign_revocations()':46} {statistics.median(sign_times) * 1e3:10.1f} {min(sign_times) * 1e3:9.1f}")
    print(f"{'load_revocations()':46} {load_median * 1e3:10.1f} {min(load_times) * 1e3:9.1f}")
    print(
        f"{'baseline: json.loads + Ed25519 verify':46} {baseline_median * 1e3:10.1f} {min(baseline_times) * 1e3:9.1f}"
    )
    print(
        f"ratio load/baseline: median {load_median / baseline_median:.2f}, best {min(load_times) / min(baseline_times):.2f}"
    )

    # 4. verifying with the loaded list and without any
    refused = "accepted"
    license_text = signer.sign_license(typical_license_claims("lic_01HZX5Q3M9ZK8W2YV7T4N6P0AB"))
    revoked_text = signer.sign_license(typical_license_claims(claims["revoked"][ENTRIES // 2]["jti"]))  # type: ignore[index]
    assert verify(license_text, keyring, now=NOW, revocations=loaded).status == "valid"
    try:
        verify(revoked_text, keyring, now=NOW, revocations=loaded)
    except LicenseError as exc:
        refused = exc.code
    assert refused == "revoked", "a revoked license was not refused as revoked"

    def with_list() -> object:
        return verify(license_text, keyring, now=NOW, revocations=loaded)

    def without() -> object:
        return verify(license_text, keyring, now=NOW)

    per_call(with_list, number // 4)  # warm up both
    per_call(without, number // 4)
    times: dict[str, list[float]] = {"with": [], "without": []}
    for i in range(rounds):
        order = (
            [("with", with_list), ("without", without)] if i % 2 == 0 else [("without", without), ("with", with_list)]
        )
        for name, func in order:
            times[name].append(per_call(func, number))
    with_text = statistics.median(
        timed(lambda: verify(license_text, keyring, now=NOW, revocations=text)) for _ in range(max(3, runs // 3))
    )
    best_ratio = min(times["with"]) / min(times["without"])
    median_ratio = statistics.median(times["with"]) / statistics.median(times["without"])

    print()
    print(f"verify(): {rounds} rounds of {number} calls each, alternating")
    print(f"{'':46} {'best µs/call':>13} {'median µs/call':>15}")
    print(
        f"{'verify(..., revocations=loaded list)':46} {min(times['with']) * 1e6:13.1f} {statistics.median(times['with']) * 1e6:15.1f}"
    )
    print(
        f"{'verify() without revocations':46} {min(times['without']) * 1e6:13.1f} {statistics.median(times['without']) * 1e6:15.1f}"
    )
    print(f"{'verify(..., revocations=the text): loads it':46} {'':13} {with_text * 1e6:15.1f}")
    print(f"ratio with/without the loaded list: best {best_ratio:.3f}, median {median_ratio:.3f}  (target about 1)")

    print()
    print("summary")
    print(f"  armored size:           {len(armored) / 1e6:.2f} MB, gzipped {len(gzipped) / 1e6:.2f} MB")
    print(f"  load_revocations:       {load_median * 1e3:.0f} ms median  target well under 1000 ms")
    print(f"  load / baseline:        {load_median / baseline_median:.2f}")
    print(f"  verify with/without:    {median_ratio:.3f} (median rounds)  target about 1")


if __name__ == "__main__":
    main()
