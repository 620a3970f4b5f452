"""Helpers for the CLI tests: the real ``licensing`` command, run in a subprocess against a keys directory and database under tmp_path.

``cli(...)`` runs one command and records its output; when the test ends, every recorded output is
checked for private key material (PEM bodies, raw private bytes in base64, base64url or hex) and for
the key passphrase, whatever keys the directory holds by then.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

COMMAND_TIMEOUT = 120


def licensing_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m service``."""
    script = Path(sys.executable).with_name("licensing")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "service"]


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment without any LICENSING_* setting of the outer shell, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"})
    env.update(overrides)
    return env


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:  # what a failed assertion shows
        return (
            f"licensing {' '.join(self.args)} -> {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def private_material(keys_dir: Path, passphrase: str | None) -> list[str]:
    """Every form in which a private key of ``keys_dir`` could leak into text."""
    found: list[str] = []
    if not keys_dir.is_dir():
        return found
    for pem_path in sorted(keys_dir.glob("*.pem")):
        pem = pem_path.read_bytes()
        lines = pem.decode("ascii").splitlines()
        found += [line for line in lines if not line.startswith("-----") and len(line) >= 16]
        key = serialization.load_pem_private_key(pem, password=passphrase.encode() if passphrase else None)
        assert isinstance(key, Ed25519PrivateKey)
        raw = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        for blob in (raw, der):
            found += [
                base64.b64encode(blob).decode(),
                base64.b64encode(blob).decode().rstrip("="),
                base64.urlsafe_b64encode(blob).decode().rstrip("="),
                blob.hex(),
                blob.hex().upper(),
            ]
    return found


@dataclass
class Cli:
    home: Path
    keys_dir: Path
    database_url: str
    passphrase: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    passphrases_seen: set[str] = field(default_factory=set)

    def environment(self, **overrides: str | None) -> dict[str, str]:
        env = clean_env(
            LICENSING_KEYS_DIR=str(self.keys_dir),
            LICENSING_DATABASE_URL=self.database_url,
            LICENSING_LOG_LEVEL="WARNING",
            **self.env,
        )
        if self.passphrase:
            env["LICENSING_KEY_PASSPHRASE"] = self.passphrase
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        if env.get("LICENSING_KEY_PASSPHRASE"):
            self.passphrases_seen.add(env["LICENSING_KEY_PASSPHRASE"])
        return env

    def __call__(self, *args: str, timeout: float = COMMAND_TIMEOUT, **env: str | None) -> Result:
        """Run ``licensing *args``; ``env`` overrides variables (None removes one)."""
        proc = subprocess.run(
            [*licensing_command(), *args],
            cwd=self.home,
            env=self.environment(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)
        self.results.append(result)
        return result

    def record(self, result: Result) -> None:
        """Add the output of a command run some other way (``serve``) to the secrets check."""
        self.results.append(result)

    def assert_no_secrets(self) -> None:
        forbidden = private_material(self.keys_dir, self.passphrase)
        forbidden += sorted(self.passphrases_seen)
        for result in self.results:
            pem_marker = "PRIVATE KEY" in result.output
            assert not pem_marker, f"a PEM private key block in the output of licensing {result.args}"
            # Counted, not compared, so that a failure report does not print the secret itself.
            leaks = sum(secret in result.output for secret in forbidden)
            assert leaks == 0, f"private key material or the passphrase in the output of licensing {result.args}"


def assert_plain_error(result: Result, *, code: int | None = None) -> None:
    """A refusal: non-zero exit (``code`` when given), a message on stderr, no traceback."""
    if code is None:
        assert result.returncode != 0, str(result)
    else:
        assert result.returncode == code, str(result)
    assert result.stderr.strip(), str(result)
    assert "Traceback" not in result.output, str(result)
    assert 'File "' not in result.output, str(result)
