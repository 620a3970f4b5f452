"""Signing keys on disk: generation, rotation, retirement and the published JWKS.

Each key is a PKCS#8 PEM file ``<kid>.pem`` (mode 0600, encrypted when a passphrase is set) in the
keys directory; ``keyring.json`` beside them records each key's state:

- ``pending``: published in the JWKS, not yet signing (installs built now will know it);
- ``active``: signing; exactly one;
- ``previous``: published, no longer signing;
- ``withdrawn``: no longer published.

Private keys are never printed or logged; :class:`~licensing.signing.jws.Signer` hides them in repr.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from licensing.kit.clock import Clock, utcnow
from licensing.kit.paths import make_private_dirs
from licensing.signing.jws import Signer
from licensing.verify import Keyring, KeyringError, b64url_encode, jwk_thumbprint

STATE_FILE = "keyring.json"
PUBLISHED_STATES = ("pending", "active", "previous")


class KeyStoreError(Exception):
    """A key operation was refused; the message says why."""


@dataclass(slots=True)
class KeyInfo:
    kid: str
    state: str
    created_at: str
    activated_at: str | None = None
    deactivated_at: str | None = None
    withdrawn_at: str | None = None
    development: bool = False
    x: str = ""

    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid, "use": "sig", "alg": "EdDSA"}


@dataclass(frozen=True, slots=True)
class RotateResult:
    active: KeyInfo
    previous: KeyInfo | None
    created: bool  # True when no pending key existed and a new one was made


def _stamp(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def public_x(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return b64url_encode(raw)


class KeyStore:
    """The keys directory. Safe to share between processes that only read it; the CLI writes it."""

    def __init__(self, directory: Path | str, passphrase: str | None = None, *, clock: Clock = utcnow) -> None:
        self.directory = Path(directory)
        self.clock = clock
        self._passphrase = passphrase.encode("utf-8") if passphrase else None
        self._lock = threading.Lock()
        self._signer: tuple[tuple[int, int], Signer] | None = None
        self._keyring: tuple[tuple[int, int], Keyring] | None = None

    def __repr__(self) -> str:
        return f"KeyStore({str(self.directory)!r}, encrypted={self._passphrase is not None})"

    # --- state file -------------------------------------------------------------------------
    @property
    def _state_path(self) -> Path:
        return self.directory / STATE_FILE

    def _read(self) -> list[KeyInfo]:
        try:
            raw = json.loads(self._state_path.read_text("utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot read {self._state_path}: {exc}") from None
        return [KeyInfo(**entry) for entry in raw.get("keys", [])]

    def _write(self, keys: list[KeyInfo]) -> None:
        make_private_dirs(self.directory)
        document: dict[str, Any] = {"keys": [asdict(k) for k in keys]}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".keyring.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, self._state_path)

    def list_keys(self) -> list[KeyInfo]:
        return self._read()

    def get(self, kid: str) -> KeyInfo:
        for key in self._read():
            if key.kid == kid:
                return key
        raise KeyStoreError(f"no key {kid!r} in {self.directory}")

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the directory's lock: two `licensing keys` commands at once change keyring.json in turn."""
        make_private_dirs(self.directory)
        with open(self.directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # --- operations --------------------------------------------------------------------------
    def generate(self, *, development: bool = False) -> KeyInfo:
        """Make a new key: active if it is the first, pending otherwise."""
        with self._exclusive():
            return self._generate(development)

    def _generate(self, development: bool) -> KeyInfo:
        keys = self._read()
        self._check_passphrase(keys)
        private_key = Ed25519PrivateKey.generate()
        x = public_x(private_key.public_key())
        kid = jwk_thumbprint(x)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase)
            if self._passphrase
            else serialization.NoEncryption()
        )
        pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        make_private_dirs(self.directory)
        path = self.directory / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        now = _stamp(self.clock())
        first = not any(k.state == "active" for k in keys)
        info = KeyInfo(
            kid=kid,
            state="active" if first else "pending",
            created_at=now,
            activated_at=now if first else None,
            development=development,
            x=x,
        )
        self._write([*keys, info])
        return info

    def rotate(self) -> RotateResult:
        """Make the oldest pending key active (or a new key, when none is pending)."""
        with self._exclusive():
            return self._rotate()

    def _rotate(self) -> RotateResult:
        keys = self._read()
        pending = [k for k in keys if k.state == "pending"]
        created = not pending
        if created:
            self._generate(development=False)
            keys = self._read()
            pending = [k for k in keys if k.state == "pending"]
            if not pending:  # it was the first key, and is active already
                return RotateResult(active=next(k for k in keys if k.state == "active"), previous=None, created=True)
        incoming = min(pending, key=lambda k: k.created_at)
        self._load_private(incoming.kid)  # never make a key active that this passphrase cannot open
        now = _stamp(self.clock())
        previous = None
        for key in keys:
            if key.state == "active":
                key.state, key.deactivated_at = "previous", now
                previous = key
        incoming.state, incoming.activated_at = "active", now
        self._write(keys)
        return RotateResult(active=incoming, previous=previous, created=created)

    def _check_passphrase(self, keys: list[KeyInfo]) -> None:
        """One directory, one passphrase: refuse to add a key when the current one cannot open the others."""
        probe = next((k for k in keys if k.state == "active"), None) or next(
            (k for k in keys if k.state != "withdrawn"), None
        )
        if probe is not None:
            self._load_private(probe.kid)

    def retire(self, kid: str) -> KeyInfo:
        """Withdraw a key from the JWKS. The active key cannot be retired."""
        with self._exclusive():
            return self._retire(kid)

    def _retire(self, kid: str) -> KeyInfo:
        keys = self._read()
        for key in keys:
            if key.kid == kid:
                if key.state == "active":
                    raise KeyStoreError(f"key {kid} is the active signing key; rotate to another key first")
                if key.state != "withdrawn":
                    key.state, key.withdrawn_at = "withdrawn", _stamp(self.clock())
                    self._write(keys)
                return key
        raise KeyStoreError(f"no key {kid!r} in {self.directory}")

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys to publish: pending, active and previous ones."""
        return {"keys": [k.jwk() for k in self._read() if k.state in PUBLISHED_STATES]}

    def active(self) -> KeyInfo | None:
        return next((k for k in self._read() if k.state == "active"), None)

    def _load_private(self, kid: str) -> Ed25519PrivateKey:
        path = self.directory / f"{kid}.pem"
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=self._passphrase)
        except FileNotFoundError:
            raise KeyStoreError(f"the private key file for {kid} is missing from {self.directory}") from None
        except (TypeError, ValueError):
            raise KeyStoreError(
                f"cannot load the private key {kid}: wrong or missing LICENSING_KEY_PASSPHRASE, or a damaged file"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyStoreError(f"{path} is not an Ed25519 key")
        if public_x(key.public_key()) != self.get(kid).x:
            raise KeyStoreError(f"{path} does not hold the key {kid}")
        return key

    def _version(self) -> tuple[int, int]:
        """Which write of ``keyring.json`` is on disk: every write replaces the file, so a new inode."""
        try:
            stat = self._state_path.stat()
            return stat.st_ino, stat.st_mtime_ns
        except FileNotFoundError:
            raise KeyStoreError(f"no signing key in {self.directory}: run `licensing keys generate`") from None

    def signer(self) -> Signer:
        """The active key as a Signer; re-read when ``keyring.json`` changes (after a rotation)."""
        version = self._version()
        cached = self._signer
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._lock:
            active = self.active()
            if active is None:
                raise KeyStoreError(f"no active signing key in {self.directory}: run `licensing keys rotate`")
            signer = Signer(active.kid, self._load_private(active.kid))
            self._signer = (version, signer)
            return signer

    def keyring(self) -> Keyring:
        """The published public keys as a verifier sees them; re-read when ``keyring.json`` changes."""
        version = self._version()
        cached = self._keyring
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            keyring = Keyring.from_jwks(self.jwks())
        except KeyringError:
            raise KeyStoreError(f"no published key in {self.directory}") from None
        self._keyring = (version, keyring)
        return keyring
