"""Self-serve requests confirmed by e-mail (SPEC sections 1 and 5): 202 and a mailed single-use link,
the link's page (GET shows, POST issues), the poll, expiry after 24 hours, the trial rules at request
and at confirmation time, the mail-flood limit, Idempotency-Key, and sales ops' list of requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_testkit import (
    Api,
    check_problem,
    confirm_link,
    confirmation_mail,
    confirmation_path,
    poll,
    self_serve,
)
from sqlalchemy import func, select

from licensing.models import AuditEvent, License, OutboxMessage, SelfServeRequest, TrialClaim
from licensing.verify import Keyring, verify

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
TRIAL = {"company": "Acme", "accept_terms": True}


@pytest.fixture
def self_serve_confirmation() -> str:
    return "email"


def _ask_trial(client: Any, email: str, **extra: Any) -> Any:
    response = client.post("/v1/trials", json={"email": email, **TRIAL, **extra})
    assert response.status_code == 202, response.text
    return response


def _count(client: Any, model: Any, *where: Any) -> int:
    with client.app.state.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_trial_is_issued_only_when_the_mailed_link_is_confirmed(client: Any, keyring: Keyring) -> None:
    response = _ask_trial(client, "Ada@Acme.example", installation_id="srv-1", seats=40)
    body = response.json()
    assert set(body) == {"id", "status", "poll_token"} and body["status"] == "pending_confirmation"
    assert body["id"].startswith("ssr_") and body["poll_token"].startswith("ssp_")
    # Nothing issued nor claimed yet; the confirmation e-mail waits in the outbox for the background loop.
    assert _count(client, License) == 0 and _count(client, TrialClaim) == 0
    mail = confirmation_mail(client.app, body["id"])
    assert mail is not None and mail.to_address == "Ada@acme.example" and mail.sent_at is None
    assert mail.subject == "Confirm your Professional trial request"
    path = confirmation_path(client.app, body["id"])
    assert f"http://127.0.0.1:8000{path}" in mail.text_body and "40" in mail.text_body
    assert poll(client, body["id"], body["poll_token"]).json() == {"status": "pending_confirmation"}

    # GET (what a mail scanner does) shows the request and a Confirm button, and issues nothing.
    page = client.get(path)
    assert page.status_code == 200 and "Confirm your request" in page.text and "srv-1" in page.text
    assert 'method="post"' in page.text and "csrf_token" in page.text
    assert client.get(path).status_code == 200
    assert _count(client, License) == 0

    confirmed = confirm_link(client, path)
    assert confirmed.status_code == 201, confirmed.text
    assert "Your trial has started" in confirmed.text and 'id="download"' in confirmed.text
    with client.app.state.sessionmaker() as session:
        [lic] = session.scalars(select(License)).all()
    assert lic.id in confirmed.text and lic.seats == 40 and lic.installation_id == "srv-1"
    checked = verify(lic.license_file, keyring, installation_id="srv-1")
    assert checked.trial and checked.customer["email"] == "Ada@acme.example"

    # The license is mailed (with its file) and the poll returns it.
    with client.app.state.sessionmaker() as session:
        license_mail = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"license:{lic.id}")
        ).one()
    assert license_mail.to_address == "Ada@acme.example"
    assert license_mail.attachments[0]["filename"] == f"{lic.id}.lic"
    assert license_mail.attachments[0]["content"] == lic.license_file
    # With the trial's buy link: the holder's proof at checkout (the mail is blanked once sent).
    assert "/checkout?trial=tbl_" in license_mail.text_body and "Buy Professional" in license_mail.html_body
    assert license_mail.contains_secret
    state = poll(client, body["id"], body["poll_token"])
    assert state.status_code == 200 and state.headers["cache-control"] == "no-store"
    assert state.json()["status"] == "issued" and state.json()["license"]["id"] == lic.id
    assert state.json()["license_file"] == lic.license_file

    # The link is spent: a clear page, without the license.
    for again in (client.get(path), client.post(path, data={})):
        assert again.status_code in (410, 403)
    used = client.get(path)
    assert used.status_code == 410 and "already confirmed" in used.text and "mailed to you" in used.text
    assert "BEGIN LICENSE FILE" not in used.text
    assert _count(client, License) == 1

    with client.app.state.sessionmaker() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[0] == "self_serve.requested" and "self_serve.confirmed" in actions and "license.issued" in actions


def test_a_free_license_request_is_confirmed_the_same_way(client: Any) -> None:
    response = client.post("/v1/free-licenses", json={"email": "solo@example.net"})
    assert response.status_code == 202, response.text
    mail = confirmation_mail(client.app, response.json()["id"])
    assert mail is not None and mail.subject == "Confirm your free license request"
    confirmed = confirm_link(client, confirmation_path(client.app, response.json()["id"]))
    assert confirmed.status_code == 201 and "Your free license" in confirmed.text
    state = poll(client, response.json()["id"], response.json()["poll_token"]).json()
    assert state["license"]["tier"] == "free" and state["license"]["expires_at"] is None


def test_an_unconfirmed_request_expires_after_24_hours_and_uses_up_nothing(client: Any, clock: Any) -> None:
    clock.set(START)
    first = _ask_trial(client, "it@expiring.example").json()
    path = confirmation_path(client.app, first["id"])
    clock.set(START + timedelta(hours=23, minutes=59))
    assert client.get(path).status_code == 200
    clock.set(START + timedelta(hours=24))

    page = client.get(path)
    assert page.status_code == 410 and "expired" in page.text and "Confirm your request" not in page.text
    assert poll(client, first["id"], first["poll_token"]).json() == {"status": "expired"}
    assert _count(client, License) == 0 and _count(client, TrialClaim) == 0

    # A new request of the same organisation goes through; the old link stays dead.
    second = _ask_trial(client, "ops@EXPIRING.example").json()
    assert confirm_link(client, confirmation_path(client.app, second["id"])).status_code == 201
    assert poll(client, first["id"], first["poll_token"]).json() == {"status": "expired"}
    assert _count(client, License) == 1


def test_an_expired_link_posted_anyway_issues_nothing(client: Any, clock: Any) -> None:
    clock.set(START)
    pending = _ask_trial(client, "it@late.example").json()
    path = confirmation_path(client.app, pending["id"])
    token = client.get(path)  # the page, with its form token, opened in time
    clock.set(START + timedelta(hours=25))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', token.text)
    assert csrf
    late = client.post(path, data={"csrf_token": csrf.group(1)})
    assert late.status_code == 410 and "expired" in late.text
    assert _count(client, License) == 0


def test_a_pending_request_blocks_nobody_and_the_rules_are_checked_again_on_confirmation(client: Any) -> None:
    stale = _ask_trial(client, "first@race.example").json()
    # Another address of the organisation asks and confirms first: the pending request claimed nothing.
    winner = self_serve(client, "/v1/trials", {"email": "second@eu.race.example", **TRIAL})
    assert winner.status_code == 201, winner.text
    # Now the stale request is refused on confirmation, with the generic trial wording.
    page = confirm_link(client, confirmation_path(client.app, stale["id"]))
    assert page.status_code == 409 and "no longer available" in page.text
    assert poll(client, stale["id"], stale["poll_token"]).json() == {
        "status": "refused",
        "code": "trial_already_used",
        "detail": page.text.split('id="message">')[1].split("<")[0].strip(),
    }
    assert _count(client, License) == 1
    # And new requests of the organisation are refused at once, in every spelling.
    for email in ("x@race.example", "y@mail.eu.RACE.example"):
        check_problem(client.post("/v1/trials", json={"email": email, **TRIAL}), 409, "trial_already_used")


def test_an_organisation_that_pays_before_confirming_gets_no_trial(client: Any, api: Api) -> None:
    pending = _ask_trial(client, "far.mer+trial@googlemail.com").json()
    customer = api.customer(email="farmer@gmail.com")
    api.issue(customer["id"], tier="enterprise", seats=100)
    page = confirm_link(client, confirmation_path(client.app, pending["id"]))
    assert page.status_code == 409 and "no longer available" in page.text
    assert poll(client, pending["id"], pending["poll_token"]).json()["status"] == "refused"


def test_the_trial_rules_still_answer_409_at_request_time(client: Any) -> None:
    assert (
        self_serve(client, "/v1/trials", {"email": "a@inst.example", "installation_id": "box", **TRIAL}).status_code
        == 201
    )
    before = _count(client, SelfServeRequest)
    check_problem(
        client.post("/v1/trials", json={"email": "b@other.example", "installation_id": "box", **TRIAL}),
        409,
        "trial_already_used",
    )
    assert _count(client, SelfServeRequest) == before  # a refused request is not recorded


def test_polling_needs_the_requests_own_token(client: Any) -> None:
    mine = _ask_trial(client, "it@poll.example").json()
    other = _ask_trial(client, "it@other-poll.example").json()
    answers = [
        poll(client, mine["id"], None),
        poll(client, mine["id"], "ssp_wrong"),
        poll(client, mine["id"], other["poll_token"]),
        poll(client, "ssr_01jdnosuchrequest0000000000", mine["poll_token"]),
        client.get(f"/v1/self-serve-requests/{mine['id']}", headers={"Authorization": f"Basic {mine['poll_token']}"}),
    ]
    bodies = [check_problem(r, 404, "self_serve_request_not_found") for r in answers]
    assert len({(b["detail"], b["title"]) for b in bodies}) == 1  # nothing tells an unknown id from a wrong token
    assert poll(client, mine["id"], mine["poll_token"]).status_code == 200


def test_unknown_confirmation_links_get_a_clear_page(client: Any) -> None:
    for path in ("/confirm/ssc_nosuchtoken", "/confirm/x"):
        page = client.get(path)
        assert page.status_code == 404 and "not valid" in page.text
        assert page.headers["content-type"].startswith("text/html")


def test_repeated_requests_for_one_address_send_at_most_five_mails_an_hour(client: Any, clock: Any) -> None:
    clock.set(START)
    answers = [
        client.post("/v1/free-licenses", json={"email": "flood@victim.example", "company": "V"}) for _ in range(7)
    ]
    assert {r.status_code for r in answers} == {202}
    assert {tuple(sorted(r.json())) for r in answers} == {("id", "poll_token", "status")}
    assert len({r.headers.get("content-length") for r in answers}) == 1  # the answers do not differ
    mailed = [confirmation_mail(client.app, r.json()["id"]) is not None for r in answers]
    assert mailed == [True] * 5 + [False] * 2
    assert _count(client, SelfServeRequest) == 7  # recorded all the same (sales see them)
    # Other spellings of the domain are the same address once normalised.
    assert client.post("/v1/free-licenses", json={"email": "flood@VICTIM.example"}).status_code == 202
    assert _count(client, OutboxMessage) == 5
    # An hour later the address gets mail again.
    clock.set(START + timedelta(hours=1, seconds=1))
    later = client.post("/v1/free-licenses", json={"email": "flood@victim.example"}).json()
    assert confirmation_mail(client.app, later["id"]) is not None


# Eight spellings of one mailbox: the local part's case and a "+tag" do not make another mailbox.
ONE_MAILBOX = [
    "Ann@mailbox-4e1a.example",
    "ann+1@mailbox-4e1a.example",
    "ANN+2@mailbox-4e1a.example",
    "aNn+trial@MAILBOX-4e1a.example",
    "ann+@mailbox-4e1a.example",
    "ann+x+y@mailbox-4e1a.example",
    "Ann+Z@mailbox-4e1a.example",
    "ann+8@mailbox-4e1a.example",
]
# At Gmail, as the catalog says: dots do not count, "+tags" are dropped, googlemail.com is gmail.com.
ONE_GMAIL_MAILBOX = [
    "far.mer@gmail.com",
    "Farmer+1@googlemail.com",
    "f.a.r.m.e.r@gmail.com",
    "FARMER+x@gmail.com",
    "farm.er@googlemail.com",
    "farmer@gmail.com",
    "F.armer+2@gmail.com",
]


def _same_answers(answers: list[Any], status: int = 202) -> None:
    assert {r.status_code for r in answers} == {status}
    assert {tuple(sorted(r.json())) for r in answers} == {("id", "poll_token", "status")}
    assert len({r.headers.get("content-length") for r in answers}) == 1  # the answers do not differ


@pytest.mark.parametrize("spellings", [ONE_MAILBOX, ONE_GMAIL_MAILBOX], ids=["case-and-tags", "gmail-rules"])
def test_spellings_of_one_mailbox_share_its_five_mails_an_hour(client: Any, clock: Any, spellings: list[str]) -> None:
    clock.set(START)
    answers = [client.post("/v1/free-licenses", json={"email": email, "company": "V"}) for email in spellings]
    _same_answers(answers)
    mailed = [confirmation_mail(client.app, r.json()["id"]) is not None for r in answers]
    assert mailed == [True] * 5 + [False] * (len(spellings) - 5)
    assert _count(client, SelfServeRequest) == len(spellings)  # recorded all the same
    # Another mailbox at the same domain is not held back.
    domain = spellings[0].rpartition("@")[2]
    other = client.post("/v1/free-licenses", json={"email": f"bob@{domain}"}).json()
    assert confirmation_mail(client.app, other["id"]) is not None
    # An hour later the mailbox gets mail again, whichever spelling asks.
    clock.set(START + timedelta(hours=1, seconds=1))
    later = client.post("/v1/free-licenses", json={"email": spellings[-1]}).json()
    assert confirmation_mail(client.app, later["id"]) is not None


def test_one_organisations_addresses_together_get_at_most_thirty_mails_an_hour(client: Any, clock: Any) -> None:
    clock.set(START)
    # 34 people of one organisation (its domain and a subdomain), asked for by a trial or a free license.
    addresses = [f"person{n:02}@{'eu.' if n % 2 else ''}bigco-8d2f.example" for n in range(34)]
    answers = [
        client.post("/v1/trials", json={"email": email, **TRIAL})
        if n % 3 == 0
        else client.post("/v1/free-licenses", json={"email": email, "company": "V"})
        for n, email in enumerate(addresses)
    ]
    _same_answers(answers)
    mailed = [confirmation_mail(client.app, r.json()["id"]) is not None for r in answers]
    assert mailed == [True] * 30 + [False] * 4
    assert _count(client, SelfServeRequest) == 34
    # Another organisation is not held back.
    other = client.post("/v1/free-licenses", json={"email": "it@otherco-8d2f.example"}).json()
    assert confirmation_mail(client.app, other["id"]) is not None
    # An hour later the organisation gets mail again.
    clock.set(START + timedelta(hours=1, seconds=1))
    later = client.post("/v1/free-licenses", json={"email": "person99@bigco-8d2f.example"}).json()
    assert confirmation_mail(client.app, later["id"]) is not None


# What an attacker types into a request for someone else's address, hoping the mail carries it.
LURES = {
    "company": "ACTION REQUIRED: sign in at https://evil.example/login",
    "name": "IT Support, call +1 555 0100 now",
    "installation_id": "urgent.reset-your-password.at.evil.example",
}


@pytest.mark.parametrize("path", ["/v1/trials", "/v1/free-licenses"])
def test_the_confirmation_mail_carries_no_text_the_requester_typed(client: Any, path: str) -> None:
    """The address has confirmed nothing yet: the e-mail shows what the service chose, and the company,
    name and installation id only on the page behind the link, where the requester checks them."""
    body: dict[str, Any] = {"email": "victim@target-3c9d.example", **LURES}
    if path == "/v1/trials":
        body |= {"seats": 12, "accept_terms": True}
    response = client.post(path, json=body)
    assert response.status_code == 202, response.text
    mail = confirmation_mail(client.app, response.json()["id"])
    assert mail is not None
    for text in (mail.subject, mail.text_body, mail.html_body):
        for lure in ("evil.example", "ACTION REQUIRED", "555", "IT Support", "urgent", "password"):
            assert lure not in text
    assert "victim@target-3c9d.example" in mail.text_body
    assert ("Professional trial" if path == "/v1/trials" else "Free") in mail.text_body
    if path == "/v1/trials":
        assert re.search(r"Seats\s+12\n", mail.text_body)
    assert "confirmation page" in mail.text_body  # says where the rest is shown
    page = client.get(confirmation_path(client.app, response.json()["id"]))
    assert page.status_code == 200
    for value in LURES.values():
        assert value in page.text


def test_an_address_with_an_encoded_word_is_refused_422(client: Any, api: Api) -> None:
    """``=?utf-8?q?attacker=40evil.com?=@victim.example`` is one address to the validator and another
    to the e-mail package, which decodes encoded words in headers: refused wherever an address is taken."""
    encoded = "=?utf-8?q?attacker=40evil.com?=@victim.example"
    for path, body in [
        ("/v1/trials", {"email": encoded, **TRIAL}),
        ("/v1/free-licenses", {"email": encoded}),
    ]:
        assert check_problem(client.post(path, json=body), 422, "invalid_email")["detail"]
    check_problem(api.post("/v1/customers", {"name": "X", "email": encoded, "company": None}), 422, "invalid_email")
    assert _count(client, SelfServeRequest) == 0 and _count(client, OutboxMessage) == 0


def test_an_idempotency_key_replays_the_pending_answer(client: Any) -> None:
    headers = {"Idempotency-Key": "trial-from-server-1"}
    body = {"email": "it@idem.example", **TRIAL}
    first = client.post("/v1/trials", json=body, headers=headers)
    second = client.post("/v1/trials", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    assert _count(client, SelfServeRequest) == 1 and _count(client, OutboxMessage) == 1
    check_problem(client.post("/v1/trials", json={**body, "seats": 3}, headers=headers), 409, "idempotency_conflict")


def _database_text(client: Any) -> str:
    """Every row of every table, as text: what someone reading the database (or a backup of it) sees."""
    from licensing.kit.db import Base

    with client.app.state.sessionmaker() as session:
        return "\n".join(
            repr(tuple(row)) for table in Base.metadata.sorted_tables for row in session.execute(table.select())
        )


@pytest.mark.parametrize(
    ("path", "body"),
    [("/v1/trials", {"email": "it@vault.example", **TRIAL}), ("/v1/free-licenses", {"email": "it@vault.example"})],
)
def test_an_idempotency_key_keeps_no_poll_token_in_the_database(client: Any, path: str, body: dict[str, Any]) -> None:
    """The stored answer must replay the poll token to whoever sent the request (same key, body and client),
    but the database holds neither the token nor the Idempotency-Key that unlocks it in clear."""
    key = "in-product-request-7f3a9c"
    first = client.post(path, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    token = first.json()["poll_token"]
    assert token.startswith("ssp_")

    stored = _database_text(client)
    assert first.json()["id"] in stored  # the dump does see the rows
    assert token not in stored
    assert token.removeprefix("ssp_") not in stored
    assert key not in stored

    again = client.post(path, json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.json()["poll_token"] == token
    assert poll(client, first.json()["id"], again.json()["poll_token"]).json() == {"status": "pending_confirmation"}
    assert token not in _database_text(client)


@pytest.mark.parametrize("self_serve_confirmation", ["none"])
def test_with_confirmation_off_requests_are_answered_201_at_once(client: Any, self_serve_confirmation: str) -> None:
    response = client.post("/v1/trials", json={"email": "it@instant.example", **TRIAL})
    assert response.status_code == 201 and set(response.json()) == {"license", "license_file"}
    assert _count(client, SelfServeRequest) == 0
    free = client.post("/v1/free-licenses", json={"email": "it@instant.example"})
    assert free.status_code == 201 and free.json()["license"]["tier"] == "free"


def test_sales_ops_list_the_requests_newest_first_with_filters(
    client: Any, api: Api, readonly_auth: dict[str, str], clock: Any, make_api_key: Callable[..., str]
) -> None:
    clock.set(START)
    expired = _ask_trial(client, "old@leads.example").json()
    clock.set(START + timedelta(days=2))
    issued = self_serve(client, "/v1/trials", {"email": "new@leads.example", "installation_id": "n-1", **TRIAL})
    free = client.post("/v1/free-licenses", json={"email": "Jo.Doe+x@gmail.com", "name": "Jo"}).json()
    pending = _ask_trial(client, "p@pending.example").json()

    def listing(**params: Any) -> list[dict[str, Any]]:
        response = client.get("/v1/self-serve-requests", params=params, headers=readonly_auth)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    every = listing()
    assert (every[0]["id"], every[-1]["id"]) == (pending["id"], expired["id"])
    assert len(every) == 4
    for row in every:
        assert not any("hash" in key or "token" in key for key in row)
        assert row["created_by"].startswith("public:")
    by_id = {r["id"]: r for r in every}
    assert by_id[expired["id"]]["status"] == "expired"
    assert by_id[free["id"]]["kind"] == "free" and by_id[free["id"]]["organisation"] == "jodoe@gmail.com"
    assert by_id[free["id"]]["name"] == "Jo" and by_id[free["id"]]["seats"] is None
    [confirmed] = listing(status="issued")
    assert confirmed["license_id"] == issued.json()["license"]["id"] and confirmed["confirmed_at"] is not None
    assert confirmed["installation_id"] == "n-1" and confirmed["email"] == "new@leads.example"
    assert [r["id"] for r in listing(status="expired")] == [expired["id"]]
    assert {r["id"] for r in listing(status="pending_confirmation")} == {free["id"], pending["id"]}
    assert [r["id"] for r in listing(kind="free")] == [free["id"]]
    assert {r["id"] for r in listing(organisation="leads.example")} == {expired["id"], confirmed["id"]}
    assert [r["id"] for r in listing(email="p@PENDING.example")] == [pending["id"]]
    # Paging, as the other lists.
    assert [r["id"] for r in api.list_all("/v1/self-serve-requests", limit=1)] == [r["id"] for r in every]
    # A key is needed; any role may read.
    check_problem(client.get("/v1/self-serve-requests"), 401, "missing_api_key")
    check_problem(client.get("/v1/self-serve-requests", params={"status": "bogus"}, headers=readonly_auth), 422)
