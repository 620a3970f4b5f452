"""The air-gap files as the service reads them: :mod:`licensing.airgap` (the verifier library's readers)
does the reading; this module turns its ``LicenseError`` into the API's 422 problems
(``invalid_request_file``, ``invalid_report_file``, with ``reason``: the reader's code).

A usage report is verified with the key its line is bound to, so the line must be found first:
:func:`report_routing` reads the report's header ``kid`` and ``license_id`` claim without trusting them
(the library's ``report_key_thumbprint`` and the verifier's envelope helpers; nothing is stored or answered
from them before :func:`verify_report` has checked the signature).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from licensing.airgap import (
    USAGE_LABEL,
    ActivationRequest,
    UsageReport,
    read_activation_request,
    read_usage_report,
    report_key_thumbprint,
)
from licensing.kit.errors import ValidationFailed
from licensing.verify import LicenseError, b64url_decode, compact_parts, json_object

T = TypeVar("T")


def _read(what: str, field: str, code: str, read: Callable[[], T]) -> T:
    try:
        return read()
    except LicenseError as exc:
        raise ValidationFailed(
            f"This is not a valid {what}: {exc.message}", field=field, code=code, reason=exc.code
        ) from None


def read_request(text: str) -> ActivationRequest:
    """A verified activation request (signed by the key it carries); 422 ``invalid_request_file``."""
    return _read("activation request", "request", "invalid_request_file", lambda: read_activation_request(text))


def report_routing(text: str) -> tuple[str, str]:
    """The report's header ``kid`` and claim ``license_id``, unverified: which line's key to check it
    with. The envelope, ``alg`` and ``typ`` are checked; 422 ``invalid_report_file`` otherwise."""

    def peek() -> tuple[str, str]:
        kid = report_key_thumbprint(text)  # the envelope, alg and typ checked; unknown_key without a kid
        _compact, parts = compact_parts(text, USAGE_LABEL)
        claims = json_object(b64url_decode(parts[1], "payload"), "payload")
        license_id = claims.get("license_id")
        if not isinstance(license_id, str) or not license_id:
            raise LicenseError("malformed", "The usage report names no license (license_id).")
        return kid, license_id

    return _read("usage report", "report", "invalid_report_file", peek)


def verify_report(text: str, public_jwk: Mapping[str, Any]) -> UsageReport:
    """The report, verified with the bound installation's public key; 422 ``invalid_report_file``."""
    return _read("usage report", "report", "invalid_report_file", lambda: read_usage_report(text, public_jwk))
