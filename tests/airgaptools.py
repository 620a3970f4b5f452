"""Test helpers for the air-gap files: forging and altering them by hand (never with the code under test),
and the UTC day arithmetic the reports use."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DAY = 86_400


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact_of(armored: str) -> str:
    lines = [line.strip() for line in armored.strip().splitlines()]
    assert lines[0].startswith("-----BEGIN ") and lines[-1].startswith("-----END "), armored
    return "".join(lines[1:-1])


def label_of(armored: str) -> str:
    return armored.strip().splitlines()[0].removeprefix("-----BEGIN ").removesuffix("-----")


def armored(compact: str, label: str) -> str:
    body = "\n".join(compact[i : i + 64] for i in range(0, len(compact), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def parts(armored_text: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = compact_of(armored_text).split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def sign(header: dict[str, Any], claims: dict[str, Any], key: Any, label: str) -> str:
    """An armored JWS of ``header`` and ``claims`` signed by ``key`` (anything with ``sign(bytes)``)."""
    signing_input = f"{b64(json.dumps(header, separators=(',', ':')).encode())}.{b64(json.dumps(claims, separators=(',', ':')).encode())}"
    return armored(f"{signing_input}.{b64(key.sign(signing_input.encode('ascii')))}", label)


def resign(text: str, key: Any, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """``text`` with its header replaced (or kept) and some claims changed, signed again by ``key``."""
    old_header, old_claims, _ = parts(text)
    return sign(header if header is not None else old_header, {**old_claims, **claims}, key, label_of(text))


def tampered(text: str, **claims: Any) -> str:
    """``text`` with some claims changed and its old signature kept."""
    header, payload, signature = compact_of(text).split(".")
    changed = {**json.loads(unb64(payload)), **claims}
    return armored(f"{header}.{b64(json.dumps(changed, separators=(',', ':')).encode())}.{signature}", label_of(text))


def unsigned(text: str, alg: str) -> str:
    """``text`` with ``alg`` set (``none``: no signature; ``HS256``: an HMAC with a guessable key)."""
    import hashlib
    import hmac

    header, claims, _ = parts(text)
    header = {**header, "alg": alg}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = "" if alg == "none" else b64(hmac.new(b"secret", signing_input.encode(), hashlib.sha256).digest())
    return armored(f"{signing_input}.{signature}", label_of(text))


def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def day_start(at: datetime) -> int:
    seconds = int(at.astimezone(UTC).timestamp())
    return seconds - seconds % DAY
