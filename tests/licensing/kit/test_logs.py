"""JSON log lines: the request id of the request they were written in, and the Stripe SDK kept quiet."""

from __future__ import annotations

import json
import logging

import pytest

from licensing.kit import logs
from licensing.kit.logs import JsonFormatter, configure_logging


def _line(name: str = "licensing.test", message: str = "thing.happened") -> dict[str, object]:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, message, (), None)
    entry: dict[str, object] = json.loads(JsonFormatter().format(record))
    return entry


def test_a_line_written_during_a_request_carries_its_id() -> None:
    assert "request_id" not in _line()
    token = logs.request_id.set("req-123")
    try:
        assert _line()["request_id"] == "req-123"
    finally:
        logs.request_id.reset(token)
    assert "request_id" not in _line()


def test_an_extra_named_like_a_field_does_not_replace_it() -> None:
    record = logging.LogRecord("licensing.test", logging.INFO, __file__, 1, "webhook.stored", (), None)
    record.event = "evt_123"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["event"] == "webhook.stored" and entry["extra_event"] == "evt_123"


def test_the_stripe_sdk_logs_warnings_only(caplog: pytest.LogCaptureFixture) -> None:
    """The SDK logs every request's URL at INFO, checkout session ids included (and at DEBUG its bodies)."""
    configure_logging("DEBUG")
    try:
        stripe_log = logging.getLogger("stripe")
        assert stripe_log.getEffectiveLevel() == logging.WARNING
        from stripe import _util

        with caplog.at_level(logging.DEBUG):
            _util.log_info("Request to Stripe api", path="/v1/checkout/sessions/cs_test_secretish")
            _util.log_debug("Post details", post_data="client_reference_id=x")
        assert "cs_test_secretish" not in caplog.text and "Post details" not in caplog.text
    finally:
        configure_logging("INFO")
