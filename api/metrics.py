"""``GET /metrics``: the service's Prometheus metrics (SPEC section 7).

The counters (:mod:`licensing.kit.metrics`) are summed over every worker process when
``PROMETHEUS_MULTIPROC_DIR`` is set (``licensing serve`` sets it), else read from this process. The
outbox's backlog and the age of its oldest unsent e-mail are read from the database at each scrape, so
every worker answers the same and nothing is kept in memory.

Who may scrape: with ``LICENSING_METRICS_TOKEN`` set, a caller sending ``Authorization: Bearer <token>``
(from anywhere: Prometheus on another host); without it, only a caller on this machine's loopback whose
request no proxy forwarded (no ``X-Forwarded-For`` or ``Forwarded`` header), so a service behind a
reverse proxy on the same host does not publish its metrics to the internet. Anyone else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from licensing.context import Runtime
from licensing.kit import metrics
from licensing.kit.errors import Forbidden
from licensing.kit.settings import Settings
from licensing.mail import outbox

router = APIRouter()
log = logging.getLogger("licensing.api")
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


class OutboxCollector(Collector):
    """The outbox's backlog and the age of its oldest unsent row, read from the database when scraped."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.runtime.unit_of_work() as session:
                count, oldest = outbox.backlog(session)
        except Exception as exc:  # the database is down: the other metrics are still worth scraping
            log.warning("metrics.outbox_unavailable", extra={"error": type(exc).__name__})
            return
        age = (self.runtime.core.now() - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("licensing_outbox_backlog", "E-mails in the outbox not sent yet.", value=count)
        yield GaugeMetricFamily(
            "licensing_outbox_oldest_unsent_age_seconds",
            "Age of the oldest e-mail in the outbox not sent yet (0 when none waits).",
            value=max(0.0, age),
        )


def allowed(request: Request, settings: Settings) -> bool:
    """Whether this caller may read the metrics (see the module's doc)."""
    if settings.metrics_token is not None:
        expected = settings.metrics_token.get_secret_value().encode()
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposition(database: CollectorRegistry) -> bytes:
    """The text of every metric: the processes' counters, then what the database says."""
    if directory := metrics.multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    return counters + generate_latest(database)


@router.get(
    "/metrics",
    tags=["operation"],
    summary="Prometheus metrics (for the operator's scraper)",
    description="With `LICENSING_METRICS_TOKEN` set, for `Authorization: Bearer <token>`; without it, "
    "only from this machine's loopback, not through a proxy. 403 `metrics_forbidden` otherwise.",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}},
        403: {"description": "Not the operator's scraper", "content": {"application/problem+json": {}}},
    },
)
def read_metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not allowed(request, settings):
        raise Forbidden(
            "The metrics are for the operator's scraper: send LICENSING_METRICS_TOKEN as a bearer token, "
            "or scrape from this machine.",
            code="metrics_forbidden",
        )
    body = exposition(request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def install(app_state: object, runtime: Runtime) -> None:
    """Give the app the registry of its database-read metrics (one per app: each has its database)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OutboxCollector(runtime))
    app_state.metrics_registry = registry  # type: ignore[attr-defined]
