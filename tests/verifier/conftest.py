"""Fixtures for the offline verifier tests (the ``keystore`` and ``keyring`` ones are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from licensing.signing.jws import Signer
from licensing.signing.keys import KeyStore


@pytest.fixture
def signer(keystore: KeyStore) -> Signer:
    """The keystore's active key."""
    return keystore.signer()
