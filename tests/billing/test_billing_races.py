"""Duplicates and races on PostgreSQL, settled by the database (unique event ids, row locks, SKIP LOCKED):
the same event delivered 20 times at once, the success page racing the webhooks, several workers
working off one queue."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from billing_testkit import RecordingMailer, Shop

from billing.checkout import Fulfilment, fulfil_checkout
from billing.events import StripeEventTask
from licensing.context import Runtime
from licensing.mail.outbox import Message, OutboxTask, enqueue
from licensing.models import Customer, License, OutboxMessage, StripeEvent, Subscription
from service.worker import Worker

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(pg_url: str) -> str:
    return pg_url


def all_at_once(count: int, work: Callable[[int], Any], timeout: float = 60) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; their results; any exception fails the test."""
    barrier = threading.Barrier(count, timeout=timeout)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
    return results


def workers(runtime: Runtime, mailer: RecordingMailer, count: int) -> list[Worker]:
    return [Worker(runtime, [StripeEventTask(), OutboxTask(mailer)]) for _ in range(count)]  # type: ignore[list-item]


def test_the_same_event_delivered_20_times_at_once_gives_one_license(shop: Shop, runtime: Runtime) -> None:
    shop.fake.webhooks.mode = "hold"
    bought = shop.buy(seats=9)
    completed = shop.fake.events_of("checkout.session.completed")[0]
    deliveries = shop.fake.webhooks.deliver(completed["id"], times=20, concurrent=True)
    assert len(deliveries) == 20 and all(d.ok for d in deliveries), [d.status for d in deliveries]
    assert [e.event_id for e in shop.events()] == [completed["id"]]

    # Four workers at once on the one stored event: one claims it.
    pool = workers(runtime, shop.mailer, 4)
    done = all_at_once(4, lambda i: pool[i].run_until_idle())
    assert sum(done) >= 2  # the event, and its e-mail
    [lic] = shop.licenses()
    assert lic.seats == 9
    assert shop.count(Subscription) == 1 and shop.count(Customer) == 1 and shop.count(OutboxMessage) == 1
    assert len(shop.mailer.sent) == 1
    [event] = shop.events()
    assert event.processed_at is not None and event.attempts == 1
    assert shop.subscription(bought.checkout_id).license_id == lic.id


def test_every_event_of_a_checkout_20_times_while_four_workers_run(shop: Shop, runtime: Runtime) -> None:
    """All of a checkout's events, each delivered 20 times concurrently, while four workers process
    whatever is stored, as they come: still one customer, one subscription, one license, one e-mail."""
    shop.fake.webhooks.mode = "hold"
    bought = shop.buy(seats=4)
    held = [e["id"] for e in shop.fake.webhooks.held_events()]
    stop = threading.Event()
    pool = workers(runtime, shop.mailer, 4)

    def loop(worker: Worker) -> None:
        while not stop.is_set():
            worker.run_once()

    threads = [threading.Thread(target=loop, args=(w,)) for w in pool]
    for thread in threads:
        thread.start()
    try:
        for event_id in held:
            assert all(d.ok for d in shop.fake.webhooks.deliver(event_id, times=20, concurrent=True))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(e.processed_at for e in shop.events()):
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    shop.worker.run_until_idle()
    assert all(e.processed_at is not None for e in shop.events())
    assert len(shop.events()) == len({e.event_id for e in shop.events()})
    [lic] = shop.licenses()
    assert lic.seats == 4 and shop.subscription(bought.checkout_id).license_id == lic.id
    assert shop.count(Customer) == 1 and shop.count(Subscription) == 1
    assert len(shop.mailer.sent) == 1


def test_success_page_and_webhooks_racing_give_one_license(shop: Shop, runtime: Runtime) -> None:
    """Ten success-page fulfilments and the stored webhooks processed by four workers, all released
    together: one license, issued by exactly one of them."""
    shop.fake.webhooks.mode = "hold"
    bought = shop.buy(seats=3)
    shop.fake.webhooks.flush()  # every event stored, none processed
    assert shop.count(StripeEvent) >= 3 and shop.count(License) == 0
    pool = workers(runtime, shop.mailer, 4)

    def race(i: int) -> Fulfilment | int:
        if i < 10:
            return fulfil_checkout(runtime, bought.session_id)
        return pool[i - 10].run_until_idle()

    results = all_at_once(14, race)
    pages = [r for r in results if isinstance(r, Fulfilment)]
    assert Counter(r.status for r in pages) == {"issued": 10}
    [lic] = shop.licenses()
    assert {r.license.id for r in pages if r.license is not None} == {lic.id}
    from_pages = sum(r.issued_now for r in pages)
    from_events = sum(1 for e in shop.events() if e.outcome and e.outcome.startswith(f"issued {lic.id}"))
    assert from_pages + from_events == 1
    shop.worker.run_until_idle()
    assert shop.count(Customer) == 1 and shop.count(Subscription) == 1 and len(shop.mailer.sent) == 1


def test_several_workers_send_each_email_once(runtime: Runtime) -> None:
    mailer = RecordingMailer()
    slow = RecordingMailer()

    def send(email: Any) -> None:
        time.sleep(0.01)
        mailer.send(email)

    slow.send = send  # type: ignore[method-assign]
    with runtime.unit_of_work() as session:
        for i in range(40):
            enqueue(
                session, runtime.core.now(), f"test:{i}", Message(f"u{i}@example.com", f"mail {i}", "t", "<p>h</p>")
            )
        # The same logical e-mail written again is not enqueued twice.
        assert not enqueue(session, runtime.core.now(), "test:0", Message("u0@example.com", "mail 0", "t", "h"))
    pool = [Worker(runtime, [OutboxTask(slow)]) for _ in range(4)]  # type: ignore[list-item]
    all_at_once(4, lambda i: pool[i].run_until_idle())
    assert Counter(e.subject for e in mailer.sent) == {f"mail {i}": 1 for i in range(40)}
