"""The installation key: an Ed25519 key pair a self-hosted install makes once and keeps."""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from licensing.verify import LicenseError, b64url_decode, b64url_encode, jwk_thumbprint


class InstallationKey:
    """An installation's own Ed25519 key: it signs activation requests and usage reports.

    Keep :meth:`private_pem` private (a file of mode 0600, as the product keeps its secrets); the
    vendor only ever sees :attr:`public_jwk`, and binds licenses to :attr:`thumbprint`.
    """

    __slots__ = ("_private", "thumbprint", "x")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError(f"an InstallationKey holds an Ed25519PrivateKey, not {type(private_key).__name__}")
        self._private = private_key
        self.x: str = b64url_encode(private_key.public_key().public_bytes_raw())
        self.thumbprint: str = jwk_thumbprint(self.x)  # RFC 7638: the cnf "jkt" of licenses bound to it

    @classmethod
    def generate(cls) -> InstallationKey:
        """A new random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: str | bytes, password: bytes | None = None) -> InstallationKey:
        """The key in a PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``), as :meth:`private_pem` writes it.

        ValueError when the text is not an Ed25519 private key (or the password is wrong).
        """
        if isinstance(pem, str):
            pem = pem.encode("utf-8")
        if not isinstance(pem, bytes):
            raise TypeError(f"pem must be str or bytes, not {type(pem).__name__}")
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Not a PKCS#8 PEM private key: {exc}") from None
        except Exception as exc:  # cryptography's UnsupportedAlgorithm and kin
            raise ValueError(f"Not a usable PEM private key ({type(exc).__name__}).") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"The PEM holds a {type(key).__name__}, not an Ed25519 installation key.")
        return cls(key)

    def private_pem(self, password: bytes | None = None) -> str:
        """The private key as PKCS#8 PEM, encrypted with ``password`` when one is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode("ascii")

    @property
    def public_jwk(self) -> dict[str, str]:
        """``{"kty": "OKP", "crv": "Ed25519", "x": ...}``: the public half, as requests carry it."""
        return {"kty": "OKP", "crv": "Ed25519", "x": self.x}

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._private.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def __repr__(self) -> str:  # never show key material
        return f"<InstallationKey {self.thumbprint}>"


def new_installation_key() -> InstallationKey:
    """A new random installation key (SPEC section 8's name for :meth:`InstallationKey.generate`)."""
    return InstallationKey.generate()


def public_key_from_jwk(jwk: object, what: str = "key") -> Ed25519PublicKey:
    """The Ed25519 public key of a JWK ``{"kty": "OKP", "crv": "Ed25519", "x": ...}``; LicenseError ``malformed``
    otherwise (a private ``d`` is refused too: a file must never carry it)."""
    if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise LicenseError("malformed", f"The {what} is not an Ed25519 public JWK (kty OKP, crv Ed25519).")
    if "d" in jwk:
        raise LicenseError("malformed", f"The {what} holds a private key: an installation must never send it.")
    x = jwk.get("x")
    raw = b64url_decode(x, f"{what}'s x") if isinstance(x, str) else b""
    if len(raw) != 32:
        raise LicenseError("malformed", f"The {what}'s x must be 32 bytes of base64url.")
    return Ed25519PublicKey.from_public_bytes(raw)
