"""A running service picks up rotations: the cached signer and keyring follow every write."""

from __future__ import annotations

from pathlib import Path

from licensing.signing.keys import KeyStore


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


def test_concurrent_key_commands_lose_no_key(tmp_path: Path) -> None:
    """`licensing keys generate` run many times at once: every key lands in keyring.json."""
    import subprocess
    import sys

    directory = tmp_path / "keys"
    KeyStore(directory).generate()
    code = f"from licensing.signing.keys import KeyStore; KeyStore({str(directory)!r}).generate()"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(8)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 8
    keys = KeyStore(directory).list_keys()
    assert len(keys) == 9
    assert len(list(directory.glob("*.pem"))) == 9
    assert [k.state for k in keys].count("active") == 1
