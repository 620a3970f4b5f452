"""How fast the offline verifier is, against baselines measured in the same run.

    .venv/bin/python benchmarks/verify.py [--quick]

1. Verification rate: ``verify(text, keyring, now=..., installation_id=...)`` on a typical license
   (professional, 250 seats, six features, a customer, bound to an installation), against a bare
   ``Ed25519PublicKey.verify(signature, signing_input)`` of the same bytes with ``cryptography``:
   the signature check any verifier must do. Rounds alternate between the two; the ratio of rates
   (full / bare) is reported for the best and the median round. Target: at least 0.9.
2. Cold import: fresh interpreters running ``import licensing.verify`` and ``import cryptography``,
   interleaved, median wall time of each and the ratio. Target: below 1.5. Then ``-X importtime``'s
   cumulative microseconds for each (median of several runs).

Bytecode: an installed wheel has compiled .pyc files, but this environment may set
PYTHONDONTWRITEBYTECODE=1. The benchmark first runs each import once without that variable, so the
caches are written, and runs every measured subprocess without it too.

A benchmark, not a test: it prints figures and never fails on them.
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from licensing.signing.jws import Signer  # noqa: E402
from licensing.verify import Keyring, b64url_encode, jwk_thumbprint, unarmor, verify  # noqa: E402

NOW = 1_750_000_000
DAY = 86_400
INSTALLATION = "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f"


def typical_license() -> tuple[str, Keyring, bytes, bytes, object]:
    """A typical license, its keyring, and the raw signature and signing input for the baseline."""
    private_key = Ed25519PrivateKey.generate()
    x = b64url_encode(private_key.public_key().public_bytes_raw())
    kid = jwk_thumbprint(x)
    keyring = Keyring.from_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig"}]})
    claims = {
        "iss": "Example Licensing",
        "jti": "lic_01HZX5Q3M9ZK8W2YV7T4N6P0AB",
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
        "installation_id": INSTALLATION,
        "subscription_id": "sub_1PqRsTuVwXyZ",
    }
    text = Signer(kid, private_key).sign_license(claims)
    head, payload, signature = unarmor(text).split(".")
    public_key = private_key.public_key()
    return (
        text,
        keyring,
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        f"{head}.{payload}".encode("ascii"),
        public_key,
    )


def per_call(func: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - start) / number


def bench_verification(rounds: int, number: int) -> dict[str, list[float]]:
    text, keyring, signature, signing_input, public_key = typical_license()
    lic = verify(text, keyring, now=NOW, installation_id=INSTALLATION)
    assert lic.status == "valid" and lic.seats == 250 and len(lic.features) == 6  # the work is real

    def full() -> object:
        return verify(text, keyring, now=NOW, installation_id=INSTALLATION)

    def bare() -> object:
        return public_key.verify(signature, signing_input)  # type: ignore[attr-defined]

    per_call(full, number // 4)  # warm up both
    per_call(bare, number // 4)
    times: dict[str, list[float]] = {"full": [], "bare": []}
    for i in range(rounds):
        order = [("full", full), ("bare", bare)] if i % 2 == 0 else [("bare", bare), ("full", full)]
        for name, func in order:
            times[name].append(per_call(func, number))
    return times


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_import(module: str, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", f"import {module}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def importtime_us(module: str, env: dict[str, str]) -> int:
    """Cumulative microseconds of the module's own top-level import lines under -X importtime."""
    stderr = run_import(module, env, "-X", "importtime").stderr
    top = module.split(".")[0]
    total = 0
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        if name.startswith("  "):  # nested under another import
            continue
        name = name.strip()
        if name == top or name.startswith(top + "."):
            total += int(cumulative)
    return total


def bench_imports(runs: int) -> dict[str, dict[str, float]]:
    env = subprocess_env()
    modules = ["licensing.verify", "cryptography"]
    for module in modules:  # write the bytecode caches, as an installed wheel would have them
        run_import(module, env)
    results: dict[str, dict[str, list[float]]] = {m: {"wall": [], "importtime": []} for m in modules}
    for i in range(runs):
        for module in modules if i % 2 == 0 else modules[::-1]:
            start = time.perf_counter()
            run_import(module, env)
            results[module]["wall"].append(time.perf_counter() - start)
    for i in range(max(5, runs // 3)):
        for module in modules if i % 2 == 0 else modules[::-1]:
            results[module]["importtime"].append(importtime_us(module, env))
    return {m: {k: statistics.median(v) for k, v in r.items()} for m, r in results.items()}


def main() -> None:
    quick = "--quick" in sys.argv
    # Many short alternating rounds: on a busy machine the best rounds are the least disturbed ones.
    rounds, number, runs = (10, 200, 10) if quick else (60, 300, 30)
    print(f"Python {sys.version.split()[0]}, cryptography {__import__('cryptography').__version__}")
    print(f"verification: {rounds} rounds of {number} calls each, alternating")
    times = bench_verification(rounds, number)
    full_best, bare_best = min(times["full"]), min(times["bare"])
    full_median, bare_median = statistics.median(times["full"]), statistics.median(times["bare"])
    print()
    print(f"{'':34} {'best µs/call':>13} {'median µs/call':>15} {'best calls/s':>13}")
    print(f"{'verify() (full)':34} {full_best * 1e6:13.1f} {full_median * 1e6:15.1f} {1 / full_best:13,.0f}")
    print(
        f"{'Ed25519PublicKey.verify() (bare)':34} {bare_best * 1e6:13.1f} {bare_median * 1e6:15.1f} {1 / bare_best:13,.0f}"
    )
    print(
        f"{'overhead of verify()':34} {(full_best - bare_best) * 1e6:13.1f} {(full_median - bare_median) * 1e6:15.1f}"
    )
    ratio_best, ratio_median = bare_best / full_best, bare_median / full_median
    print(f"rate ratio full/bare: best {ratio_best:.3f}, median {ratio_median:.3f}  (target >= 0.9)")

    print()
    print(f"cold import: {runs} fresh interpreters per module, interleaved, bytecode cached")
    imports = bench_imports(runs)
    print()
    print(f"{'':24} {'median wall ms':>15} {'-X importtime µs':>17}")
    for module, figures in imports.items():
        print(f"{'import ' + module:24} {figures['wall'] * 1e3:15.1f} {figures['importtime']:17,.0f}")
    wall_ratio = imports["licensing.verify"]["wall"] / imports["cryptography"]["wall"]
    print(f"wall-time ratio licensing.verify/cryptography: {wall_ratio:.3f}  (target < 1.5)")

    print()
    print("summary")
    print(f"  verification rate ratio (best rounds):   {ratio_best:.3f}  target >= 0.9")
    print(f"  verification rate ratio (median rounds): {ratio_median:.3f}  target >= 0.9")
    print(f"  cold import wall-time ratio (median):    {wall_ratio:.3f}  target < 1.5")


if __name__ == "__main__":
    main()
