"""Tokens handed out once and stored hashed (licensing.kit.tokens), and the per-mailbox and per-organisation
mail counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from licensing.catalog import load_catalog
from licensing.kit.tokens import HASH_LENGTH, find, matches, new_token, token_hash
from licensing.mail.outbox import Message, enqueue, recipient, sent_recently, sent_recently_to_organisation
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


def test_mail_a_public_form_sends_counts_against_its_mailbox_and_organisation(
    session_factory: Callable[[], Session],
) -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    catalog = load_catalog()
    with session_factory() as session:
        for n, to in enumerate(["Ann+1@acme-9e2b.example", "ann@eu.acme-9e2b.example", "far.mer+x@googlemail.com"]):
            message = Message(to=to, subject="s", text="t", html="h")
            enqueue(session, now, f"signin:{n}", message, counted_as=recipient(to, catalog))
        enqueue(session, now, "signin:plain", Message(to="Ann+2@acme-9e2b.example", subject="s", text="t", html="h"))
        session.commit()
    since = now - timedelta(hours=1)
    with session_factory() as session:
        assert recipient("ANN+7@acme-9e2b.example", catalog).mailbox == "ann@acme-9e2b.example"
        assert sent_recently(session, "ann@acme-9e2b.example", "signin", since) == 1
        assert sent_recently(session, "ann@eu.acme-9e2b.example", "signin", since) == 1
        assert sent_recently(session, "farmer@gmail.com", "signin", since) == 1
        # Without counted_as: the address as written, and no organisation.
        assert sent_recently(session, "Ann+2@acme-9e2b.example", "signin", since) == 1
        assert sent_recently_to_organisation(session, "acme-9e2b.example", "signin", since) == 2
        assert sent_recently_to_organisation(session, "farmer@gmail.com", "signin", since) == 1
        assert sent_recently_to_organisation(session, "acme-9e2b.example", "confirm", since) == 0
        assert sent_recently_to_organisation(session, "acme-9e2b.example", "signin", now + timedelta(seconds=1)) == 0


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
