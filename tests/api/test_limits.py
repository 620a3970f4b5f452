"""One set of text limits, checked at the edge, the same on SQLite and PostgreSQL: the longest value
accepted is stored whole, one more character is a 422 (never a 500), and no control or bidi character
gets into a name that a license will carry."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_testkit import Api, check_problem

from licensing.access.apikeys import create_api_key
from licensing.context import Core
from licensing.kit import fields
from licensing.kit.db import make_engine
from licensing.kit.errors import ValidationFailed


def _email(length: int, domain: str = "limits-4c2a.example") -> str:
    """An address of exactly ``length`` characters: a 64-character local part, then labels."""
    local = "a" * 64
    labels = domain
    while len(local) + 1 + len(labels) < length:
        room = length - len(local) - 1 - len(labels) - 1
        labels = "b" * min(63, room) + "." + labels
    address = f"{local}@{labels}"
    assert len(address) == length, (len(address), address)
    return address


def test_the_longest_address_is_accepted_everywhere(client: Any, api: Api) -> None:
    longest = _email(fields.EMAIL_MAX)
    free = client.post("/v1/free-licenses", json={"email": longest})
    assert free.status_code == 201, free.text
    trial = client.post("/v1/trials", json={"email": _email(240, "t-5e.example"), "company": "C", "accept_terms": True})
    assert trial.status_code == 201, trial.text
    assert api.customer(email=_email(fields.EMAIL_MAX, "s-6f.example"))["email"].endswith("s-6f.example")


def test_one_character_more_is_refused(client: Any, api: Api) -> None:
    before = api.counts()
    too_long = _email(fields.EMAIL_MAX + 1)
    check_problem(client.post("/v1/free-licenses", json={"email": too_long}), 422)
    body = {"email": too_long, "company": "C", "accept_terms": True}
    check_problem(client.post("/v1/trials", json=body), 422)
    check_problem(api.post("/v1/customers", {"name": "N", "email": too_long}), 422)
    check_problem(api.post("/v1/customers", {"name": "N" * (fields.NAME_MAX + 1), "email": "n@x-1.example"}), 422)
    assert api.counts() == before


@pytest.mark.parametrize("bad", ["\u009b", "\u202e", "\u2066", "\u200f", "\x85", "\u2028"])
def test_control_and_bidi_characters_are_refused_in_names(client: Any, api: Api, bad: str) -> None:
    before = api.counts()
    check_problem(api.post("/v1/customers", {"name": f"Ada{bad}Lovelace", "email": "ada@bidi-0a.example"}), 422)
    check_problem(api.post("/v1/customers", {"name": "Ada", "email": "ada@bidi-0a.example", "company": f"X{bad}"}), 422)
    check_problem(client.post("/v1/free-licenses", json={"email": "a@bidi-0a.example", "company": f"{bad}Evil"}), 422)
    assert api.counts() == before


def test_api_key_names_fit_the_actor_column(
    client: Any, make_api_key: Callable[..., str], session_factory: Callable[[], Any], core: Core
) -> None:
    token = make_api_key("sales", "k" * fields.API_KEY_NAME_MAX)
    response = client.post(
        "/v1/customers",
        json={"name": "Ada", "email": "ada@actor-9d.example"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    with session_factory() as session, pytest.raises(ValidationFailed, match="at most"):
        create_api_key(session, core, name="k" * (fields.API_KEY_NAME_MAX + 1), role="sales", actor="test")


def test_the_sqlite_database_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    path = tmp_path / "data" / "licensing.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    engine.dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
