"""Air-gapped exchanges (SPEC section 8): what a self-hosted install and the vendor trade as files.

    from licensing.airgap import InstallationKey, activation_request, UsageLog, verify_receipt, compare
    key = InstallationKey.generate()            # key.private_pem(), InstallationKey.from_pem(pem), key.thumbprint
    text = activation_request(key, installation_id, license_text=None, product_version=None)
    report = usage_report(key, license_id=..., ...)   # what UsageLog.export writes
    receipt = verify_receipt(receipt_text, keyring, report_digest=None)

Each file is an armored compact JWS like a license file: an activation request (``LICENSE
ACTIVATION REQUEST``) and a usage report (``LICENSE USAGE REPORT``) signed by the installation key,
and a usage receipt (``LICENSE USAGE RECEIPT``) signed by the vendor's license-signing key. The
vendor reads requests and reports with :func:`read_activation_request` and :func:`read_usage_report`.

Like :mod:`licensing.verify`, this package imports only the standard library and ``cryptography``
and never touches the network. Every rejected file is a :class:`~licensing.verify.LicenseError`
with one of the verifier's codes (``malformed``, ``unsupported``, ``unknown_key``,
``bad_signature``); a mistake of the calling program is a TypeError or ValueError.
"""

from __future__ import annotations

from licensing.airgap._envelope import (
    ACTIVATION_LABEL,
    ACTIVATION_TYP,
    RECEIPT_LABEL,
    RECEIPT_TYP,
    USAGE_LABEL,
    USAGE_TYP,
    armor,
)
from licensing.airgap.activation import ActivationRequest, activation_request, read_activation_request
from licensing.airgap.compare import Comparison, compare
from licensing.airgap.keys import InstallationKey, new_installation_key
from licensing.airgap.log import UsageLog, UsageLogError
from licensing.airgap.receipts import Receipt, armor_receipt, overage, receipt_claims, verify_receipt
from licensing.airgap.usage import UsageReport, read_usage_report, report_digest, report_key_thumbprint, usage_report

__all__ = [
    "ACTIVATION_LABEL",
    "ACTIVATION_TYP",
    "RECEIPT_LABEL",
    "RECEIPT_TYP",
    "USAGE_LABEL",
    "USAGE_TYP",
    "ActivationRequest",
    "Comparison",
    "InstallationKey",
    "Receipt",
    "UsageLog",
    "UsageLogError",
    "UsageReport",
    "activation_request",
    "armor",
    "armor_receipt",
    "compare",
    "new_installation_key",
    "overage",
    "read_activation_request",
    "read_usage_report",
    "receipt_claims",
    "report_digest",
    "report_key_thumbprint",
    "usage_report",
    "verify_receipt",
]
