"""Webhook delivery for the fake Stripe: endpoints, Stripe's signature, and delivery modes for tests.

Every event the fake emits goes to each registered endpoint whose ``enabled_events`` match, as a POST of
the event's JSON with a ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`` header, like
Stripe. Modes (``Webhooks.mode``):

* ``"immediate"``: delivered at once, in emission order, by a background delivery thread
  (``wait_idle()`` waits until every queued delivery is done);
* ``"hold"``: queued until the test calls ``flush()`` (in order, shuffled, or an explicit order,
  optionally concurrently);
* ``"drop"``: never delivered (the event is still listed by ``GET /v1/events``, as when a webhook is lost).

On top: ``drop_next()`` and ``delay_next()`` for particular events, ``deliver()`` to send one event
again N times (concurrently if asked), ``signed()``, ``forged()`` and ``stale()`` for a test to post itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from .wire import JSON, new_id, random_token

Mode = Literal["immediate", "hold", "drop"]

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for ``payload``, exactly as Stripe computes it."""
    signed_payload = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def encode_event(event: JSON) -> bytes:
    """An event's body as Stripe sends it (pretty-printed JSON, two-space indent)."""
    return json.dumps(event, indent=2).encode("utf-8")


def new_webhook_secret() -> str:
    return "whsec_" + random_token(32)


@dataclass
class Endpoint:
    url: str
    secret: str
    enabled_events: list[str] = field(default_factory=lambda: ["*"])
    id: str = field(default_factory=lambda: new_id("webhook_endpoint"))
    enabled: bool = True  # a disabled endpoint (``status=disabled`` in the API) receives nothing

    def wants(self, event_type: str) -> bool:
        return self.enabled and ("*" in self.enabled_events or event_type in self.enabled_events)


@dataclass
class Delivery:
    """One attempt to POST one event to one endpoint."""

    event_id: str
    event_type: str
    url: str
    status: int | None
    error: str | None
    started: float
    finished: float
    response: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class _Rule:
    action: Literal["drop", "delay"]
    remaining: int
    types: frozenset[str] | None
    seconds: float = 0.0

    def matches(self, event_type: str) -> bool:
        return self.remaining > 0 and (self.types is None or event_type in self.types)


@dataclass(frozen=True)
class Pending:
    """An event waiting to be delivered to one endpoint (in hold mode)."""

    event_id: str
    event_type: str
    endpoint_id: str


class Webhooks:
    """Endpoints, the delivery queue and the test's controls over it. Thread-safe."""

    def __init__(self, events: Callable[[str], JSON | None], *, timeout: float = 10.0) -> None:
        self._events = events
        self.timeout = timeout
        self.mode: Mode = "immediate"
        self.delay: float = 0.0
        self.endpoints: list[Endpoint] = []
        self.deliveries: list[Delivery] = []
        self.dropped: list[Pending] = []
        self._held: list[Pending] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._queue: queue.Queue[Pending | None] = queue.Queue()
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._thread = threading.Thread(target=self._run, name="fake-stripe-webhooks", daemon=True)
        self._thread.start()

    # --- endpoints ---------------------------------------------------------------------------------
    def add_endpoint(self, url: str, *, secret: str | None = None, enabled_events: Iterable[str] = ("*",)) -> Endpoint:
        endpoint = Endpoint(url=url, secret=secret or new_webhook_secret(), enabled_events=list(enabled_events))
        with self._lock:
            self.endpoints.append(endpoint)
        return endpoint

    def update_endpoint(self, endpoint_id: str, *, url: str, enabled_events: Iterable[str], enabled: bool) -> None:
        """What ``POST /v1/webhook_endpoints/{id}`` changed (a test's own endpoints are not in the API)."""
        with self._lock:
            for endpoint in self.endpoints:
                if endpoint.id == endpoint_id:
                    endpoint.url, endpoint.enabled_events, endpoint.enabled = url, list(enabled_events), enabled

    def remove_endpoint(self, endpoint_id: str) -> None:
        with self._lock:
            self.endpoints = [e for e in self.endpoints if e.id != endpoint_id]

    def _endpoint(self, endpoint_id: str | None) -> Endpoint:
        with self._lock:
            for endpoint in self.endpoints:
                if endpoint_id is None or endpoint.id == endpoint_id:
                    return endpoint
        raise LookupError(f"no webhook endpoint {endpoint_id or '(none registered)'}")

    @property
    def secret(self) -> str:
        """The first endpoint's signing secret."""
        return self._endpoint(None).secret

    # --- emission (called by the fake for every new event) -----------------------------------------
    def targets(self, event_type: str) -> int:
        with self._lock:
            return sum(1 for e in self.endpoints if e.wants(event_type))

    def on_event(self, event: JSON) -> None:
        with self._lock:
            endpoints = [e for e in self.endpoints if e.wants(event["type"])]
            for endpoint in endpoints:
                pending = Pending(event["id"], event["type"], endpoint.id)
                rule = next((r for r in self._rules if r.matches(event["type"])), None)
                if rule is not None:
                    rule.remaining -= 1
                    self._rules = [r for r in self._rules if r.remaining > 0]
                if self.mode == "drop" or (rule is not None and rule.action == "drop"):
                    self.dropped.append(pending)
                elif self.mode == "hold":
                    self._held.append(pending)
                else:
                    delay = rule.seconds if rule is not None and rule.action == "delay" else self.delay
                    self._busy += 1
                    if delay > 0:
                        timer = threading.Timer(delay, self._queue.put, args=(pending,))
                        timer.daemon = True
                        timer.start()
                    else:
                        self._queue.put(pending)

    # --- controls --------------------------------------------------------------------------------
    def drop_next(self, count: int = 1, *, types: Iterable[str] | None = None) -> None:
        """The next ``count`` deliveries (of these event types, if given) are lost."""
        with self._lock:
            self._rules.append(_Rule("drop", count, frozenset(types) if types is not None else None))

    def delay_next(self, seconds: float, count: int = 1, *, types: Iterable[str] | None = None) -> None:
        """The next ``count`` deliveries (of these types, if given) wait ``seconds`` first (immediate mode)."""
        with self._lock:
            self._rules.append(_Rule("delay", count, frozenset(types) if types is not None else None, seconds))

    def held(self) -> list[Pending]:
        with self._lock:
            return list(self._held)

    def held_events(self) -> list[JSON]:
        """The held events (once each, in emission order)."""
        seen: dict[str, JSON] = {}
        for pending in self.held():
            event = self._events(pending.event_id)
            if event is not None:
                seen.setdefault(pending.event_id, event)
        return list(seen.values())

    def flush(
        self,
        order: Literal["emitted", "shuffle", "reverse"] | list[str] = "emitted",
        *,
        seed: int | None = None,
        concurrent: bool = False,
    ) -> list[Delivery]:
        """Deliver every held event now: in emission order, shuffled, reversed, or in the order of the
        given event ids (held events not named stay held). Returns the deliveries."""
        with self._lock:
            held = list(self._held)
            if isinstance(order, list):
                rank = {event_id: i for i, event_id in enumerate(order)}
                chosen = sorted((p for p in held if p.event_id in rank), key=lambda p: rank[p.event_id])
            elif order == "shuffle":
                chosen = list(held)
                random.Random(seed).shuffle(chosen)
            elif order == "reverse":
                chosen = list(reversed(held))
            else:
                chosen = held
            chosen_set = set(chosen)
            self._held = [p for p in held if p not in chosen_set]
        return self._deliver_all(chosen, concurrent=concurrent)

    def discard_held(self) -> list[Pending]:
        """Forget the held events without delivering them (as lost webhooks)."""
        with self._lock:
            held, self._held = self._held, []
            self.dropped.extend(held)
        return held

    def deliver(
        self, event_id: str, *, times: int = 1, concurrent: bool = False, endpoint_id: str | None = None
    ) -> list[Delivery]:
        """POST the event to the endpoint ``times`` times, now (all at once if ``concurrent``)."""
        event = self._require(event_id)
        endpoint = self._endpoint(endpoint_id)
        pending = Pending(event_id, event["type"], endpoint.id)
        return self._deliver_all([pending] * times, concurrent=concurrent)

    def redeliver_failed(self) -> list[Delivery]:
        """Deliver once more every (event, endpoint) whose attempts so far all failed, like Stripe's retries."""
        with self._lock:
            succeeded = {(d.event_id, d.url) for d in self.deliveries if d.ok}
            urls = {e.url: e.id for e in self.endpoints}
            failed: dict[tuple[str, str], Pending] = {}
            for d in self.deliveries:
                if (d.event_id, d.url) not in succeeded and d.url in urls:
                    failed[(d.event_id, d.url)] = Pending(d.event_id, d.event_type, urls[d.url])
        return self._deliver_all(list(failed.values()), concurrent=False)

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Wait until every immediate (or delayed) delivery has been attempted."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._busy} webhook deliveries still pending after {timeout} s")
                self._idle.wait(left)

    # --- signatures for tests that post themselves -------------------------------------------------
    def signed(self, event_id: str, *, secret: str | None = None, timestamp: int | None = None) -> tuple[bytes, str]:
        """``(payload, Stripe-Signature header)`` for the event, signed with the endpoint's secret."""
        payload = encode_event(self._require(event_id))
        return payload, sign(payload, secret or self.secret, int(time.time()) if timestamp is None else timestamp)

    def forged(self, event_id: str) -> tuple[bytes, str]:
        """The event signed with a secret that is not the endpoint's."""
        return self.signed(event_id, secret=new_webhook_secret())

    def stale(self, event_id: str, *, age: int = 600) -> tuple[bytes, str]:
        """The event correctly signed, but ``age`` seconds ago (outside a 5-minute tolerance by default)."""
        return self.signed(event_id, timestamp=int(time.time()) - age)

    def post(self, payload: bytes, header: str | None, *, url: str | None = None) -> httpx.Response:
        """POST a raw payload with the given signature header (None: no header) to an endpoint."""
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        if header is not None:
            headers["Stripe-Signature"] = header
        return self._client.post(url or self._endpoint(None).url, content=payload, headers=headers)

    # --- delivery ----------------------------------------------------------------------------------
    def _require(self, event_id: str) -> JSON:
        event = self._events(event_id)
        if event is None:
            raise LookupError(f"no event {event_id}")
        return event

    def _deliver_all(self, items: list[Pending], *, concurrent: bool) -> list[Delivery]:
        if not items:
            return []
        if not concurrent:
            return [self._deliver(p) for p in items]
        barrier = threading.Barrier(len(items)) if len(items) <= 64 else None

        def run(pending: Pending) -> Delivery:
            if barrier is not None:
                barrier.wait(timeout=10)
            return self._deliver(pending, client=httpx.Client(timeout=self.timeout))

        with ThreadPoolExecutor(max_workers=min(len(items), 64)) as pool:
            return list(pool.map(run, items))

    def _deliver(self, pending: Pending, *, client: httpx.Client | None = None) -> Delivery:
        event = self._require(pending.event_id)
        try:
            endpoint = self._endpoint(pending.endpoint_id)
        except LookupError as exc:
            now = time.time()
            return Delivery(pending.event_id, pending.event_type, "", None, str(exc), now, now)
        payload = encode_event(event)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
            "Stripe-Signature": sign(payload, endpoint.secret, int(time.time())),
        }
        started = time.time()
        status: int | None = None
        error: str | None = None
        body = ""
        try:
            response = (client or self._client).post(endpoint.url, content=payload, headers=headers)
            status, body = response.status_code, response.text[:2000]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            if client is not None:
                client.close()
        delivery = Delivery(
            pending.event_id, pending.event_type, endpoint.url, status, error, started, time.time(), body
        )
        with self._lock:
            self.deliveries.append(delivery)
            if delivery.ok and not any(
                d.ok and d.event_id == delivery.event_id and d.url == delivery.url for d in self.deliveries[:-1]
            ):
                event["pending_webhooks"] = max(0, int(event.get("pending_webhooks", 0)) - 1)
        return delivery

    def _run(self) -> None:
        while True:
            pending = self._queue.get()
            if pending is None:
                return
            try:
                self._deliver(pending)
            except Exception as exc:  # a delivery never kills the thread
                now = time.time()
                with self._lock:
                    self.deliveries.append(
                        Delivery(pending.event_id, pending.event_type, "", None, repr(exc), now, now)
                    )
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    # --- lifecycle ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget endpoints, held events, rules and the delivery log (waits for in-flight deliveries)."""
        with contextlib.suppress(TimeoutError):
            self.wait_idle(timeout=30)
        with self._lock:
            self.endpoints.clear()
            self.deliveries.clear()
            self.dropped.clear()
            self._held.clear()
            self._rules.clear()
            self.mode = "immediate"
            self.delay = 0.0

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(10)
        self._client.close()

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self.mode,
                "delay": self.delay,
                "endpoints": [{"id": e.id, "url": e.url, "enabled_events": e.enabled_events} for e in self.endpoints],
                "held": [p.event_id for p in self._held],
                "dropped": [p.event_id for p in self.dropped],
                "deliveries": [
                    {"event": d.event_id, "type": d.event_type, "url": d.url, "status": d.status, "error": d.error}
                    for d in self.deliveries
                ],
            }
