"""Tokens handed out once and stored hashed (licensing.kit.tokens), and the per-address mail count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from licensing.kit.tokens import HASH_LENGTH, find, matches, new_token, token_hash
from licensing.mail.outbox import Message, enqueue, sent_recently
from licensing.models import PortalLink


def test_a_token_is_random_prefixed_and_only_its_hash_matches() -> None:
    first, second = new_token("ssr"), new_token("ssr")
    assert first.secret != second.secret
    assert first.secret.startswith("ssr_") and len(first.secret) == 4 + 43
    assert len(first.hash) == HASH_LENGTH and first.secret not in first.hash
    assert matches(first.secret, first.hash)
    assert not matches(second.secret, first.hash)
    assert not matches(first.hash, first.hash)
    assert token_hash(first.secret) == first.hash


def test_sent_recently_counts_one_kind_for_one_address_since_a_moment(
    session_factory: Callable[[], Session],
) -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    with session_factory() as session:
        for n, (to, key, at) in enumerate(
            [
                ("ann@acme-7c1d.example", "signin:a", now - timedelta(minutes=5)),
                ("ann@acme-7c1d.example", "signin:b", now - timedelta(minutes=50)),
                ("ann@acme-7c1d.example", "signin:c", now - timedelta(hours=2)),
                ("ann@acme-7c1d.example", "license:x", now),
                ("bob@acme-7c1d.example", "signin:d", now),
                ("ann@acme-7c1d.example", "signin_x:e", now),
            ]
        ):
            enqueue(session, at, key, Message(to=to, subject=f"s{n}", text="t", html="h"))
        session.commit()
    with session_factory() as session:
        assert sent_recently(session, "ann@acme-7c1d.example", "signin", now - timedelta(hours=1)) == 2
        assert sent_recently(session, "ann@acme-7c1d.example", "signin", now - timedelta(hours=3)) == 3
        assert sent_recently(session, "bob@acme-7c1d.example", "signin", now - timedelta(hours=1)) == 1
        assert sent_recently(session, "cy@acme-7c1d.example", "signin", now - timedelta(hours=1)) == 0


def test_find_looks_a_token_up_by_its_hash_and_skips_malformed_ones(
    session_factory: Callable[[], Session],
) -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    token = new_token("psl")
    with session_factory() as session:
        session.add(PortalLink(token_hash=token.hash, email="a@find-2d4e.example", created_at=now, expires_at=now))
        session.commit()
    with session_factory() as session:
        found = find(session, PortalLink, PortalLink.token_hash, token.secret, "psl")
        assert found is not None and found.email == "a@find-2d4e.example"
        assert find(session, PortalLink, PortalLink.token_hash, new_token("psl").secret, "psl") is None
        assert find(session, PortalLink, PortalLink.token_hash, token.secret, "pss") is None  # another kind
        assert find(session, PortalLink, PortalLink.token_hash, token.hash, "psl") is None  # the hash is no token
        assert find(session, PortalLink, PortalLink.token_hash, token.secret + "x" * 100, "psl") is None
        assert find(session, PortalLink, PortalLink.token_hash, None, "psl") is None
