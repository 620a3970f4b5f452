"""Serving an app on a real uvicorn server in a background thread, or ``licensing serve`` as a real
process (:func:`serve_process`), on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

START_SECONDS = 20.0


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """The app's base URL while it is served; the server has stopped when the block ends."""
    # Bind the socket here so the port is ours before the server starts (no free-port race).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail(f"the live server did not start on 127.0.0.1:{port}")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "the live server did not stop"


def wait_until_answering(proc: subprocess.Popen[Any], url: str, output: Callable[[], str], timeout: float) -> None:
    """Wait until ``url`` answers 200, failing the test (with the process's output) if it exits or never does."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{output()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer 200 within {timeout:.0f} s:\n{output()}")
        time.sleep(0.1)


BIN = Path(sys.executable).parent
LICENSING = str(BIN / "licensing")
PROCESS_START_SECONDS = 60.0
STOP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def served_environment(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a served process: this one's without LICENSING_*, plus the database, keys
    under ``tmp_path`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    env.update(
        LICENSING_DATABASE_URL=database_url,
        LICENSING_KEYS_DIR=str(tmp_path / "keys"),
        LICENSING_ISSUER="serve-test",
        LICENSING_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


class Served:
    """A running ``licensing serve`` process and what it printed."""

    def __init__(self, proc: subprocess.Popen[bytes], base_url: str, log: Path, env: dict[str, str], cwd: Path):
        self.proc, self.base_url, self.log, self.env, self.cwd = proc, base_url, log, env, cwd

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``licensing ARGS`` with the server's environment."""
        return subprocess.run(
            [LICENSING, *args], env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=60, check=False
        )

    def client(self, **kwargs: Any) -> Any:
        """A new client, so a new TCP connection (with several workers, any of them may answer)."""
        import httpx

        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)

    def api_key(self, role: str = "sales") -> dict[str, str]:
        """The headers of a new API key with ``role`` (made with the CLI)."""
        created = self.cli("apikeys", "create", "--name", "serve-test", "--role", role)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        assert token.startswith("lsk_") and " " not in token
        return {"Authorization": f"Bearer {token}"}


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to the process group if it does not stop (it leads its own group)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_SECONDS)


def start_process(
    tmp_path: Path, env: dict[str, str], *args: str, port: int | None = None, log_name: str = "serve.log"
) -> Served:
    """``licensing serve ARGS`` started (in a process group of its own) and answering /readyz."""
    port = port or free_port()
    log = tmp_path / log_name
    cwd = tmp_path / "cwd"  # no .env file here, so only the environment configures it
    cwd.mkdir(exist_ok=True)
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [LICENSING, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=env,
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(proc, f"http://127.0.0.1:{port}", log, env, cwd)
    try:
        wait_until_answering(proc, f"{served.base_url}/readyz", served.output, PROCESS_START_SECONDS)
    except BaseException:
        stop_process(proc)
        raise
    return served


def serve_process(tmp_path: Path, env: dict[str, str], *args: str, port: int | None = None) -> Iterator[Served]:
    """For a fixture: ``licensing serve ARGS`` (on ``port``, a free one by default) while the test runs,
    stopped (SIGTERM) afterwards."""
    served = start_process(tmp_path, env, *args, port=port)
    try:
        yield served
    finally:
        stop_process(served.proc)
