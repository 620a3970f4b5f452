"""How fast a usage report of a year (365 daily counts) is made and checked, against bare Ed25519.

    .venv/bin/python benchmarks/airgap.py [--quick]

1. Making: ``usage_report(...)``, what ``UsageLog.export`` signs (checking the days, the claims as
   compact JSON, base64url, the Ed25519 signature, the armor), against a bare
   ``Ed25519PrivateKey.sign`` of the same signing input.
2. Checking: ``read_usage_report(text, public_jwk)`` (armor, base64url, header, signature, JSON,
   every claim and day, the digest), against a bare ``Ed25519PublicKey.verify`` of the same bytes.

Rounds alternate between the library call and its baseline; the ratio of rates (bare time / library
time) is reported for the best and the median rounds. Target: at least 0.8 for both, on the best
rounds. Then, for information, where the checking time goes, and ``UsageLog.export`` end to end: it
also writes the log durably (a temporary file, fsync, rename, fsync of the directory), which costs
what the disk costs.

Exits 1 when a target is missed (``make bench`` then names this benchmark).
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from licensing.airgap import USAGE_LABEL, InstallationKey, UsageLog, read_usage_report, usage_report  # noqa: E402
from licensing.signing.jws import Signer  # noqa: E402
from licensing.verify import (  # noqa: E402
    b64url_decode,
    b64url_encode,
    checked_header,
    compact_parts,
    json_object,
    jwk_thumbprint,
)

DAY = 86_400
START = 1_735_689_600  # 2025-01-01T00:00:00Z
TARGET = 0.8


def per_call(func: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - start) / number


def alternate(pairs: dict[str, Callable[[], object]], rounds: int, number: int) -> dict[str, list[float]]:
    for func in pairs.values():
        per_call(func, max(1, number // 4))  # warm up
    times: dict[str, list[float]] = {name: [] for name in pairs}
    items = list(pairs.items())
    for i in range(rounds):
        for name, func in items if i % 2 == 0 else items[::-1]:
            times[name].append(per_call(func, number))
    return times


def year_report(key: InstallationKey) -> tuple[dict[str, object], str]:
    daily = [(START + i * DAY, 40 + (i * 37) % 113) for i in range(365)]
    args: dict[str, object] = {
        "license_id": "lic_01HZX5Q3M9ZK8W2YV7T4N6P0AB",
        "installation_id": "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f",
        "seq": 12,
        "prev": b64url_encode(hashlib.sha256(b"the report before").digest()),
        "period_start": START,
        "period_end": START + 365 * DAY,
        "daily": daily,
        "now": START + 365 * DAY + 60,
    }
    return args, usage_report(key, **args)  # type: ignore[arg-type]


def bench_export(rounds: int) -> list[float]:
    """UsageLog.export of 365 recorded days, durable write included (one export per fresh log)."""
    key = InstallationKey.generate()
    license_text = Signer("kid", Ed25519PrivateKey.generate()).sign_license(
        {"jti": "lic_bench", "installation_id": "inst-bench", "ver": 1}
    )
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as directory:
            log = UsageLog(Path(directory) / "usage.json", key, license_text)
            for i in range(365):
                log.record(40 + (i * 37) % 113, datetime.fromtimestamp(START + i * DAY + 3_600, UTC))
            until = datetime.fromtimestamp(START + 364 * DAY, UTC)
            start = time.perf_counter()
            log.export(until=until)
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    quick = "--quick" in sys.argv
    rounds, number = (10, 50) if quick else (40, 100)
    key = InstallationKey.generate()
    args, text = year_report(key)
    jwk = key.public_jwk
    report = read_usage_report(text, jwk)
    assert len(report.daily_seconds) == 365 and report.peak_users == 152  # the work is real
    compact, parts = compact_parts(text, USAGE_LABEL)
    signing_input = compact[: len(parts[0]) + 1 + len(parts[1])]
    signature = b64url_decode(parts[2])
    public_key = key.public_key
    private_key = key._private

    print(f"Python {sys.version.split()[0]}, cryptography {__import__('cryptography').__version__}")
    print(f"a usage report of 365 days: {len(text):,} characters armored, signing input {len(signing_input):,} bytes")
    print(f"{rounds} rounds of {number} calls each, alternating with the baseline")
    times = alternate(
        {
            "make": lambda: usage_report(key, **args),  # type: ignore[arg-type]
            "sign": lambda: private_key.sign(signing_input),
            "check": lambda: read_usage_report(text, jwk),
            "verify": lambda: public_key.verify(signature, signing_input),
        },
        rounds,
        number,
    )
    best = {name: min(values) for name, values in times.items()}
    median = {name: statistics.median(values) for name, values in times.items()}
    print()
    print(f"{'':42} {'best µs/call':>13} {'median µs/call':>15}")
    for name, label in (
        ("make", "usage_report() (make)"),
        ("sign", "Ed25519PrivateKey.sign() (bare)"),
        ("check", "read_usage_report() (check)"),
        ("verify", "Ed25519PublicKey.verify() (bare)"),
    ):
        print(f"{label:42} {best[name] * 1e6:13.1f} {median[name] * 1e6:15.1f}")
    ratios = {
        "make": (best["sign"] / best["make"], median["sign"] / median["make"]),
        "check": (best["verify"] / best["check"], median["verify"] / median["check"]),
    }

    # Where checking goes, step by step (best of a few runs each): for reading the figures, not a target.
    payload = b64url_decode(parts[1])
    steps: dict[str, Callable[[], object]] = {
        "armor and envelope": lambda: compact_parts(text, USAGE_LABEL),
        "header": lambda: checked_header(parts[0], "license-usage+jwt"),
        "base64url of the payload": lambda: b64url_decode(parts[1]),
        "JSON of the payload": lambda: json_object(payload, "payload"),
        "thumbprint of the key": lambda: jwk_thumbprint(jwk["x"]),
        "SHA-256 digest": lambda: hashlib.sha256(compact).digest(),
    }
    print()
    print("where checking goes (best µs/call)")
    for label, func in steps.items():
        figure = min(per_call(func, number) for _ in range(5))
        print(f"  {label:40} {figure * 1e6:8.1f}")

    exports = bench_export(3 if quick else 7)
    print()
    print(
        f"UsageLog.export() of 365 days with its durable write: best {min(exports) * 1e3:.2f} ms, "
        f"median {statistics.median(exports) * 1e3:.2f} ms (for information: the disk's fsync dominates)"
    )

    print()
    print("summary (rate ratio = bare time / library time)")
    missed = []
    for name, label in (("make", "making a year's report vs sign"), ("check", "checking it vs verify")):
        ratio_best, ratio_median = ratios[name]
        verdict = "ok" if ratio_best >= TARGET else "MISSED"
        print(f"  {label:34} best {ratio_best:.3f}, median {ratio_median:.3f}  target >= {TARGET}  {verdict}")
        if ratio_best < TARGET:
            missed.append(label)
    if missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
