"""No secret in any log line of a full run (SPEC section 7: never log a private key, API key, token,
password, webhook secret or license file).

``licensing serve`` as a real process at LICENSING_LOG_LEVEL=DEBUG, configured with every secret it can
hold (Stripe's secret key and webhook secret against the fake Stripe, the keys' passphrase, the secret
key, an SMTP password against an aiosmtpd that requires it), is driven through a purchase (checkout, the
hosted page, the webhook, the success page, the poll), a trial confirmed by its mailed link, a portal
sign-in, and the sales API (customer, issue, download, revoke). Then every line it wrote (stdout and
stderr, its CLI commands' too) is searched for every secret the run used or was handed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from fakestripe import FakeStripe
from fakestripe.hosted import submit_checkout
from livetools import Served, free_port, serve_process, served_environment
from mailtools import Inbox, smtp_server, text_of

from api.checkout import WEBHOOK_PATH

# aiosmtpd warns of AUTH without TLS (on loopback here), once per connection.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
SMTP_LOGIN = ("licensing-mailer", "smtp-pass-7Kq2xV9mWz4RtY")
PASSPHRASE = "key-passphrase-Hn4Lp8Qs2Wd6Zf"
SECRET_KEY = "app-secret-key-Bv7Nc3Xj9Mk5Tg1Rr"
CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
WAIT_SECONDS = 60.0


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server(login=SMTP_LOGIN) as server:
        yield server


@pytest.fixture
def served(tmp_path: Path, fake_stripe: FakeStripe, stripe_webhook_secret: str, inbox: Inbox) -> Iterator[Served]:
    port = free_port()
    env = served_environment(
        tmp_path,
        f"sqlite:///{tmp_path / 'data' / 'licensing.db'}",
        LICENSING_PUBLIC_URL=f"http://127.0.0.1:{port}",
        LICENSING_PUBLIC_RATE_LIMIT="0",
        LICENSING_KEY_PASSPHRASE=PASSPHRASE,
        LICENSING_SECRET_KEY=SECRET_KEY,
        LICENSING_STRIPE_SECRET_KEY=fake_stripe.secret_key,
        LICENSING_STRIPE_API_BASE=fake_stripe.base_url,
        LICENSING_STRIPE_WEBHOOK_SECRET=stripe_webhook_secret,
        LICENSING_STRIPE_MAX_NETWORK_RETRIES="0",
        LICENSING_SMTP_HOST="127.0.0.1",
        LICENSING_SMTP_PORT=str(inbox.port),
        LICENSING_SMTP_USERNAME=SMTP_LOGIN[0],
        LICENSING_SMTP_PASSWORD=SMTP_LOGIN[1],
        LICENSING_SMTP_SECURITY="none",
        LICENSING_SELF_SERVE_CONFIRMATION="email",
    )
    env["LICENSING_LOG_LEVEL"] = "DEBUG"
    (tmp_path / "cwd").mkdir()
    cli = Served(None, "", tmp_path / "cli.log", env, tmp_path / "cwd")  # type: ignore[arg-type]
    generated = cli.cli("keys", "generate")  # a key encrypted with the passphrase
    synced = cli.cli("billing", "sync-catalog")
    assert generated.returncode == 0 and synced.returncode == 0, generated.stderr + synced.stderr
    (tmp_path / "cli.log").write_text(generated.stdout + generated.stderr + synced.stdout + synced.stderr)
    yield from serve_process(tmp_path, env, port=port)


def _csrf(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


def _mail(inbox: Inbox, to: str, subject_part: str) -> EmailMessage:
    return inbox.wait_for(lambda m: m["To"] == to and subject_part in str(m["Subject"]), timeout=WAIT_SECONDS)


def _link(message: EmailMessage, pattern: str) -> str:
    match = re.search(pattern, text_of(message))
    assert match, text_of(message)
    return match.group(0)


def _until(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} within {WAIT_SECONDS:.0f} s"
        time.sleep(0.2)


@pytest.mark.slow
def test_no_secret_reaches_a_log_line(
    served: Served, fake_stripe: FakeStripe, stripe_webhook_secret: str, inbox: Inbox, tmp_path: Path
) -> None:
    secrets: dict[str, str] = {
        "stripe secret key": fake_stripe.secret_key,
        "webhook secret": stripe_webhook_secret,
        "key passphrase": PASSPHRASE,
        "secret key": SECRET_KEY,
        "SMTP password": SMTP_LOGIN[1],
    }
    base = served.base_url
    fake_stripe.webhooks.add_endpoint(f"{base}{WEBHOOK_PATH}", secret=stripe_webhook_secret)

    # A purchase: checkout, Stripe's hosted page, the webhook, the success page, the poll.
    buyer = "ada@nolog-3f8e.example"
    with httpx.Client(base_url=base, timeout=30) as http:
        started = http.post(
            "/v1/checkout/sessions", json={"interval": "month", "seats": 5, "email": buyer, "company": "Nolog"}
        )
        assert started.status_code == 201, started.text
        checkout = started.json()
        secrets["checkout poll token"] = checkout["poll_token"]
        paid = submit_checkout(checkout["url"])
        assert paid.status_code == 303, paid.text
        assert paid.headers["location"].startswith(f"{base}/checkout/success?session_id=cs_")
        success = http.get(paid.headers["location"])
        assert success.status_code == 200, success.text
        fake_stripe.webhooks.wait_idle()
        poll = {"Authorization": f"Bearer {checkout['poll_token']}"}
        state = http.get(f"/v1/checkout/sessions/{checkout['id']}", headers=poll).json()
        assert state["status"] in ("paid", "issued") and state["license_file"], state
        secrets["purchased license"] = state["license_file"]

    # A trial, confirmed through the mailed link; its license fetched with the poll token.
    trialist = "bo@nolog-7c1d.example"
    with httpx.Client(base_url=base, timeout=30) as http:
        asked = http.post("/v1/trials", json={"email": trialist, "company": "Trialco", "accept_terms": True})
        assert asked.status_code == 202, asked.text
        pending = asked.json()
        secrets["trial poll token"] = pending["poll_token"]
        link = _link(_mail(inbox, trialist, "Confirm"), r"http://\S+/confirm/ssc_[A-Za-z0-9_-]+")
        secrets["confirmation token"] = link.rsplit("/", 1)[1]
        page = http.get(link)
        assert page.status_code == 200, page.text
        confirmed = http.post(link, data={"csrf_token": _csrf(page)})
        assert confirmed.status_code == 201, confirmed.text
        poll = {"Authorization": f"Bearer {pending['poll_token']}"}
        state = http.get(f"/v1/self-serve-requests/{pending['id']}", headers=poll).json()
        assert state["status"] == "issued", state
        secrets["trial license"] = state["license_file"]

    # A portal sign-in by the buyer.
    with httpx.Client(base_url=base, timeout=30) as browser:
        asked = browser.post("/portal", data={"email": buyer, "csrf_token": _csrf(browser.get("/portal"))})
        assert asked.status_code == 200, asked.text
        link = _link(_mail(inbox, buyer, "ign"), r"http://\S+/portal/sign-in/psl_[A-Za-z0-9_-]+")
        token = link.rsplit("/", 1)[1]
        secrets["sign-in token"] = token
        page = browser.get(link)
        assert page.status_code == 200, page.text
        signed_in = browser.post(
            "/portal/sign-in", data={"token": token, "csrf_token": _csrf(page)}, follow_redirects=False
        )
        assert signed_in.status_code == 303, signed_in.text
        for cookie in browser.cookies.jar:
            secrets[f"cookie {cookie.name}"] = str(cookie.value)
        dashboard = browser.get("/portal")
        assert dashboard.status_code == 200 and buyer in dashboard.text, dashboard.text

    # The sales API: an API key, a customer, a license issued, downloaded and revoked.
    auth = served.api_key()
    secrets["API key"] = auth["Authorization"].removeprefix("Bearer ")
    with served.client(headers=auth) as api:
        customer = api.post("/v1/customers", json={"name": "Cy", "email": "cy@nolog-9a2b.example", "company": "Cyco"})
        assert customer.status_code == 201, customer.text
        issued = api.post(
            "/v1/licenses",
            json={"customer_id": customer.json()["id"], "tier": "enterprise", "seats": 20, "duration_days": 30},
        )
        assert issued.status_code == 201, issued.text
        lic = issued.json()["license"]["id"]
        secrets["issued license"] = issued.json()["license_file"]
        downloaded = api.get(f"/v1/licenses/{lic}/file")
        assert downloaded.status_code == 200 and downloaded.text.strip() == issued.json()["license_file"].strip()
        revoked = api.post(f"/v1/licenses/{lic}/revoke", json={"reason": "nolog test"})
        assert revoked.status_code == 200, revoked.text

    # Every e-mail the run wrote has gone out (the background loop logged its sending).
    _until(lambda: len(inbox.to(buyer)) >= 2 and len(inbox.to(trialist)) >= 2, "the license e-mails")
    served_log = served.output()
    assert '"event": "http.request"' in served_log and '"event": "mail.sent"' in served_log
    text = "\n".join([served_log, (tmp_path / "cli.log").read_text()])
    assert lic in text  # the searched text is the run's log (what is not secret is logged: ids)

    leaked = []
    for name, secret in secrets.items():
        for needle in _forms_of(secret):
            if needle in text:
                leaked.append(f"{name}: {needle[:12]}...")
                break
    assert not leaked, f"secrets in the logs: {leaked}"


def _forms_of(secret: str) -> list[str]:
    """The ways a secret could show in a log line: itself, and for a license file its JWS (the armor's
    lines joined), its payload and its signature (logged alone). Not its JWS header: every document the
    key signs shares it."""
    secret = secret.strip()
    if not secret.startswith("-----BEGIN "):
        return [secret]
    compact = "".join(line.strip() for line in secret.splitlines()[1:-1])
    _header, payload, signature = compact.split(".")
    return [secret, compact, payload, signature]
