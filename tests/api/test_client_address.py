"""X-Forwarded-For is believed only from LICENSING_TRUSTED_PROXIES (none by default): it must not
bypass the rate limit, reach the audit log, or pick another caller's Idempotency-Key scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from livetools import serve_in_thread
from sqlalchemy import Engine, select

from api.app import create_app
from licensing.context import Core
from licensing.kit.db import make_sessionmaker, transaction
from licensing.kit.settings import Settings
from licensing.models import AuditEvent, License


@pytest.fixture
def live(settings: Settings, core: Core, engine: Engine) -> Iterator[Any]:
    """Serve an app made with extra settings on a real socket (peer 127.0.0.1)."""
    servers: list[Any] = []

    def start(**update: Any) -> str:
        app = create_app(settings.model_copy(update=update), core=core, engine=engine)
        server = serve_in_thread(app)
        servers.append(server)
        return server.__enter__()

    yield start
    for server in reversed(servers):
        server.__exit__(None, None, None)


def _actors(engine: Engine) -> set[str]:
    with transaction(make_sessionmaker(engine)) as session:
        return set(session.scalars(select(AuditEvent.actor))) | set(session.scalars(select(License.created_by)))


def _free(base: str, xff: str | None, key: str | None = None, email: str = "a@xff-1c9d.example") -> httpx.Response:
    headers = {"X-Forwarded-For": xff} if xff is not None else {}
    if key:
        headers["Idempotency-Key"] = key
    return httpx.post(f"{base}/v1/free-licenses", json={"email": email}, headers=headers, timeout=30)


def test_forwarded_for_from_an_untrusted_peer_is_ignored(live: Any, engine: Engine) -> None:
    base = live(public_rate_limit=2)
    answers = [_free(base, f"203.0.113.{i}", email=f"u{i}@xff-1c9d.example").status_code for i in range(5)]
    # The limit counts the socket's address, whatever the header says.
    assert answers.count(201) <= 2 * 2 and 429 in answers, answers
    assert _actors(engine) == {"public:127.0.0.1"}


def test_a_stranger_cannot_replay_another_callers_idempotent_answer(live: Any, settings: Settings) -> None:
    base = live(trusted_proxies=["127.0.0.1"])
    victim = _free(base, "198.51.100.7", key="k-1")
    assert victim.status_code == 201
    # Another client behind the same proxy sends the same key and body: its own scope, a new license.
    stranger = _free(base, "198.51.100.8", key="k-1")
    assert stranger.status_code == 201
    assert "idempotent-replayed" not in stranger.headers
    assert stranger.json()["license"]["id"] != victim.json()["license"]["id"]


def test_trusted_proxies_are_believed_and_garbage_is_not(live: Any, engine: Engine) -> None:
    base = live(trusted_proxies=["127.0.0.1"])
    assert _free(base, "192.0.2.1, 198.51.100.7", email="b@xff-2d4e.example").status_code == 201
    assert _free(base, "x" * 300, email="c@xff-2d4e.example").status_code == 201
    assert _free(base, "'); DROP TABLE licenses; --", email="d@xff-2d4e.example").status_code == 201
    actors = _actors(engine)
    # The address the trusted proxy saw (the right-most one it appended) is the client.
    assert "public:198.51.100.7" in actors
    assert all(len(a) <= 60 for a in actors) and not any("DROP" in a or "xxxx" in a for a in actors), actors


def test_the_setting_reads_a_comma_separated_list() -> None:
    settings = Settings(trusted_proxies="10.0.0.1, 10.1.0.0/16", _env_file=None)  # type: ignore[call-arg]
    assert settings.trusted_proxies == ["10.0.0.1", "10.1.0.0/16"]
    assert Settings(_env_file=None).trusted_proxies == []  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"LICENSING_TRUSTED_PROXIES"):
        Settings(trusted_proxies="not-an-address", _env_file=None)  # type: ignore[call-arg]


# An IPv6 client holds a whole /64 (SLAAC, privacy addresses): counted per address, it could rotate within
# it and never be limited. The client is its /64; an IPv4-mapped IPv6 address is the IPv4 address.


def test_an_ipv6_client_rotating_within_its_64_is_limited(live: Any, engine: Engine) -> None:
    base = live(trusted_proxies=["127.0.0.1"], public_rate_limit=2)
    answers = [_free(base, f"2001:db8:77:1::{i:x}", email=f"v{i}@v6-5e1a.example").status_code for i in range(1, 6)]
    assert answers.count(201) <= 2 * 2 and 429 in answers, answers
    # Another /64 is another client.
    assert _free(base, "2001:db8:77:2::1", email="w@v6-5e1a.example").status_code == 201
    assert "public:2001:db8:77:1::/64" in _actors(engine)


def test_the_idempotency_scope_of_an_ipv6_client_is_its_64(live: Any) -> None:
    base = live(trusted_proxies=["127.0.0.1"])
    first = _free(base, "2001:db8:77:3::1", key="k-6", email="x@v6-5e1a.example")
    again = _free(base, "2001:db8:77:3:ffff::2", key="k-6", email="x@v6-5e1a.example")
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["license"]["id"] == first.json()["license"]["id"]


def test_an_ipv4_mapped_address_is_the_ipv4_client(live: Any, engine: Engine) -> None:
    base = live(trusted_proxies=["127.0.0.1"])
    assert _free(base, "::ffff:198.51.100.9", email="y@v6-5e1a.example").status_code == 201
    assert "public:198.51.100.9" in _actors(engine)


def test_client_keys() -> None:
    from api.deps import client_key

    assert client_key("198.51.100.7") == "198.51.100.7"
    assert client_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert client_key("::1") == "::/64"
    assert client_key("junk") == "unknown"
