"""The licensing core that the API, the CLI and billing share: catalog, keys, issuer and clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from licensing.catalog import Catalog, load_catalog
from licensing.db import utcnow
from licensing.keys import KeyStore
from licensing.settings import Settings
from licensing.signing import Signer
from licensing.verify import Keyring


@dataclass
class Core:
    catalog: Catalog
    keys: KeyStore
    issuer: str
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def from_settings(cls, settings: Settings) -> Core:
        return cls(
            catalog=load_catalog(settings.catalog_path),
            keys=KeyStore(settings.keys_dir, settings.passphrase()),
            issuer=settings.issuer,
        )

    def now(self) -> datetime:
        return self.clock().replace(microsecond=0)

    def signer(self) -> Signer:
        return self.keys.signer()

    def keyring(self) -> Keyring:
        return self.keys.keyring()
