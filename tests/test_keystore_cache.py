"""A running service picks up rotations: the cached signer and keyring follow every write."""

from __future__ import annotations

from pathlib import Path

from licensing.keys import KeyStore


def test_signer_and_keyring_follow_each_rotation_at_once(tmp_path: Path) -> None:
    serving = KeyStore(tmp_path / "keys")  # what the service holds
    operator = KeyStore(tmp_path / "keys")  # what `licensing keys` uses, in another process
    operator.generate()
    assert serving.signer().kid == operator.active().kid  # type: ignore[union-attr]
    for _ in range(20):  # back to back, well inside one timestamp tick on coarse file systems
        operator.generate()
        result = operator.rotate()
        assert serving.signer().kid == result.active.kid
        assert result.active.kid in serving.keyring().key_ids
