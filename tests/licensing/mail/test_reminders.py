"""Expiry reminders (licensing.mail.reminders, SPEC section 6), with the clock moved: a trial 3 days before it
ends, any license nothing renews 30 and 7 days before; each once, however many passes or workers; none
for a license a renewing subscription will replace, nor a revoked, superseded or perpetual one."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from billingrows import record_subscription
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from licensing import context
from licensing.context import Core, Runtime
from licensing.kit.settings import Settings
from licensing.licenses.buylinks import trial_of
from licensing.licenses.customers import create_customer
from licensing.licenses.issuance import IssueRequest, issue_license
from licensing.licenses.revocations import revoke_license
from licensing.mail.reminders import ReminderTask
from licensing.models import License, OutboxMessage, Subscription
from service.worker import build_worker

PUBLIC_URL = "https://licenses.example"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def runtime(settings: Settings, core: Core, engine: Engine, clock: Any) -> Runtime:
    clock.set(T0)
    return context.start(settings.model_copy(update={"public_url": PUBLIC_URL}), core=core, engine=engine)


def _issue(runtime: Runtime, offer: str = "enterprise", *, days: int | None = 90, **fields: Any) -> License:
    core = runtime.core
    with runtime.unit_of_work() as session:
        customer = create_customer(session, core, "test", name="Ada", email="ada@acme.example", company="Acme <Ltd>")
        request = IssueRequest(
            customer=customer,
            offer=core.catalog.offer(offer),
            actor="sales",
            seats=10 if offer != "free" else None,
            duration_days=days if offer != "free" else None,
            **fields,
        )
        lic = issue_license(session, core, request)
        session.flush()
        session.expunge(lic)
        return lic


def _subscribe(runtime: Runtime, lic: License, status: str, cancel_at_period_end: bool = False) -> None:
    """The Subscription row billing keeps for ``lic``'s line (billing.lifecycle.apply)."""
    assert lic.expires_at is not None
    with runtime.unit_of_work() as session:
        sub = record_subscription(
            session,
            customer_id=lic.customer_id,
            email="ada@acme.example",
            stripe_customer_id="cus_stripe",
            stripe_subscription_id=f"sub_{lic.id}",
            status=status,
            current_period_end=lic.expires_at,
            seats=10,
            cancel_at_period_end=cancel_at_period_end,
            line_id=lic.line_id,
            license_id=lic.id,
        )
        session.execute(License.__table__.update().where(License.id == lic.id).values(subscription_id=sub.id))


def _set_subscription(runtime: Runtime, lic: License, **values: Any) -> None:
    with runtime.unit_of_work() as session:
        sub = session.scalars(select(Subscription).where(Subscription.line_id == lic.line_id)).one()
        for name, value in values.items():
            setattr(sub, name, value)


def _reminders(runtime: Runtime) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        rows = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("reminder:%")).order_by("id"))
        )
        session.expunge_all()
        return rows


def _keys(runtime: Runtime) -> list[str]:
    return [row.dedupe_key for row in _reminders(runtime)]


def _at(clock: Any, runtime: Runtime, moment: datetime, passes: int = 1) -> int:
    clock.set(moment)
    return sum(ReminderTask().run_due(runtime, 20) for _ in range(passes))


def _end(lic: License) -> datetime:
    assert lic.expires_at is not None
    return lic.expires_at


def test_a_trial_is_reminded_once_3_days_before_its_end_with_a_link_to_buy(runtime: Runtime, clock: Any) -> None:
    trial = _issue(runtime, "professional_trial", days=None)
    end = _end(trial)
    assert _at(clock, runtime, end - 29 * DAY) == 0  # no 30- or 7-day reminder for a trial
    assert _at(clock, runtime, end - 6 * DAY) == 0
    assert _at(clock, runtime, end - 3 * DAY - timedelta(seconds=1)) == 0
    assert _at(clock, runtime, end - 3 * DAY, passes=3) == 1
    assert _at(clock, runtime, end - 1 * DAY, passes=3) == 0
    assert _at(clock, runtime, end + DAY) == 0
    [mail] = _reminders(runtime)
    assert mail.dedupe_key == f"reminder:{trial.id}:3"
    assert mail.to_address == "ada@acme.example"
    assert "trial" in mail.subject and "3 days" in mail.subject
    for body in (mail.text_body, mail.html_body):
        assert f"{PUBLIC_URL}/checkout?trial=tbl_" in body
        assert trial.id in body
    assert "Acme &lt;Ltd&gt;" in mail.html_body and "Acme <Ltd>" not in mail.html_body
    # The link is the trial's buy link: checkout from it replaces the trial (and the mail is a secret).
    token = mail.text_body.split("/checkout?trial=", 1)[1].split()[0]
    clock.set(end - DAY)  # while the trial runs (it ends with it)
    with runtime.unit_of_work() as session:
        found = trial_of(session, runtime.core, token)
        assert found is not None and found.id == trial.id
    assert mail.contains_secret


def test_a_sales_license_is_reminded_30_and_7_days_before_its_end_each_once(runtime: Runtime, clock: Any) -> None:
    lic = _issue(runtime, "enterprise", days=90)
    end = _end(lic)
    assert _at(clock, runtime, end - 31 * DAY, passes=2) == 0
    assert _at(clock, runtime, end - 30 * DAY, passes=5) == 1
    assert _at(clock, runtime, end - 20 * DAY, passes=5) == 0
    assert _at(clock, runtime, end - 7 * DAY + timedelta(hours=1), passes=5) == 1
    assert _at(clock, runtime, end - DAY, passes=5) == 0
    assert _at(clock, runtime, end + 2 * DAY, passes=2) == 0  # ended (in grace): nothing more
    assert _keys(runtime) == [f"reminder:{lic.id}:30", f"reminder:{lic.id}:7"]
    first, second = _reminders(runtime)
    assert "30 days" in first.subject and "7 days" not in first.subject
    assert "6 days" in second.subject  # an hour inside the 7-day window
    for body in (second.text_body, second.html_body):
        assert f"{PUBLIC_URL}/portal" in body and lic.id in body and "sales" in body
        assert f"{PUBLIC_URL}/checkout" not in body


def test_a_license_first_seen_inside_the_7_day_window_gets_only_that_reminder(runtime: Runtime, clock: Any) -> None:
    lic = _issue(runtime, "enterprise", days=90)
    assert _at(clock, runtime, _end(lic) - 5 * DAY, passes=3) == 1
    assert _keys(runtime) == [f"reminder:{lic.id}:7"]


@pytest.mark.parametrize(
    ("status", "cancel_at_period_end", "reminded"),
    [
        ("active", False, False),
        ("trialing", False, False),
        ("active", True, True),
        ("past_due", False, True),
        ("canceled", False, True),
    ],
)
def test_a_renewing_subscription_means_no_reminder(
    runtime: Runtime, clock: Any, status: str, cancel_at_period_end: bool, reminded: bool
) -> None:
    lic = _issue(runtime, "professional", days=40, source="stripe")
    _subscribe(runtime, lic, status, cancel_at_period_end)
    assert _at(clock, runtime, _end(lic) - 10 * DAY) == int(reminded)
    assert _keys(runtime) == ([f"reminder:{lic.id}:30"] if reminded else [])


def test_a_subscription_set_to_cancel_later_gets_the_next_reminder(runtime: Runtime, clock: Any) -> None:
    lic = _issue(runtime, "professional", days=40, source="stripe")
    _subscribe(runtime, lic, "active")
    assert _at(clock, runtime, _end(lic) - 20 * DAY) == 0
    _set_subscription(runtime, lic, cancel_at_period_end=True)
    assert _at(clock, runtime, _end(lic) - 6 * DAY, passes=3) == 1
    assert _keys(runtime) == [f"reminder:{lic.id}:7"]


def test_no_reminder_for_revoked_superseded_or_perpetual_licenses(runtime: Runtime, clock: Any) -> None:
    revoked = _issue(runtime, "enterprise", days=40)
    old = _issue(runtime, "enterprise", days=40)
    _issue(runtime, "free")
    core = runtime.core
    with runtime.unit_of_work() as session:
        revoke_license(session, core, "sales", revoked.id, "refund")
        renewed = issue_license(
            session,
            core,
            IssueRequest(
                customer=session.get(License, old.id).customer,  # type: ignore[union-attr]
                offer=core.catalog.offer("enterprise"),
                actor="sales",
                seats=10,
                duration_days=400,
                supersedes=session.get(License, old.id),
            ),
        )
        renewed_id = renewed.id
    assert _at(clock, runtime, T0 + 35 * DAY, passes=2) == 0
    assert _at(clock, runtime, T0 + 39 * DAY, passes=2) == 0
    assert _keys(runtime) == []
    assert _at(clock, runtime, T0 + 380 * DAY) == 1  # the renewal itself, in time
    assert _keys(runtime) == [f"reminder:{renewed_id}:30"]


def test_reminders_are_bounded_per_pass(runtime: Runtime, clock: Any) -> None:
    for _ in range(5):
        _issue(runtime, "enterprise", days=40)
    clock.set(T0 + 20 * DAY)
    task = ReminderTask()
    assert [task.run_due(runtime, 2) for _ in range(4)] == [2, 2, 1, 0]
    assert len(_keys(runtime)) == 5


def test_the_worker_of_the_service_sends_reminders_before_the_outbox(runtime: Runtime) -> None:
    names = [task.name for task in build_worker(runtime).tasks]
    assert names.index("reminders") < names.index("outbox")


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_send_each_reminder_exactly_once(runtime: Runtime, clock: Any) -> None:
    """Two workers at once (threads, each its own sessions) over 60 licenses ending 1 to 30 days from
    the moment they run: each license's one due reminder is enqueued once, and counted once."""
    licenses = [_issue(runtime, "enterprise", days=45 + i // 2) for i in range(60)]
    clock.set(T0 + 44 * DAY)
    expected = {f"reminder:{lic.id}:{7 if _end(lic) - clock() <= 7 * DAY else 30}" for lic in licenses}
    assert len([k for k in expected if k.endswith(":7")]) > 5
    barrier = threading.Barrier(2, timeout=30)
    counts = [0, 0]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            task = ReminderTask()
            barrier.wait()
            while (done := task.run_due(runtime, 7)) > 0:
                counts[index] += done
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    keys = Counter(_keys(runtime))
    assert set(keys) == expected
    assert set(keys.values()) == {1}
    assert sum(counts) == len(expected)
    assert _at(clock, runtime, clock(), passes=2) == 0
