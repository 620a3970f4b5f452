"""Wire shapes of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from licensing.kit import fields
from licensing.licenses.status import status_of
from licensing.models import AuditEvent, Customer, Lead, License, SelfServeRequest, Subscription, TrueUp

# The limits are licensing.kit.fields', so the API refuses (422) exactly what the core and the database cannot take.
Text = Annotated[str, Field(min_length=1, max_length=fields.NAME_MAX)]
OptionalText = Annotated[str | None, Field(max_length=fields.NAME_MAX)]
InstallationId = Annotated[
    str, Field(min_length=1, max_length=fields.INSTALLATION_ID_MAX, pattern=fields.INSTALLATION_ID_PATTERN)
]
Email = Annotated[str, Field(min_length=3, max_length=fields.EMAIL_MAX)]
Note = Annotated[str | None, Field(max_length=fields.NOTE_MAX)]
Features = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=fields.FEATURE_MAX)]] | None, Field(max_length=100)
]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("times need a time zone, for example 2027-01-31T00:00:00Z")
    return value


# Strict models otherwise; JSON carries times as RFC 3339 strings, so these parse strings.
AwareDatetime = Annotated[datetime, Field(strict=False), AfterValidator(_aware)]


# Text that may hold line breaks; everything else is one line. A license file is left to the verifier,
# which tolerates what e-mail clients add (a byte-order mark, zero-width spaces) and is never stored.
_MULTILINE = frozenset({"note", "reason"})
_UNCHECKED = frozenset({"license_file", "request", "report"})


def _has_forbidden(value: Any, multiline: bool) -> bool:
    if isinstance(value, str):
        return fields.has_forbidden_characters(value, multiline=multiline)
    return isinstance(value, list) and any(_has_forbidden(v, multiline) for v in value)


class Input(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _reject_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        # PostgreSQL cannot store NUL in text, and no name, address or id has a control or bidi character.
        if info.field_name not in _UNCHECKED and _has_forbidden(value, info.field_name in _MULTILINE):
            raise ValueError("text must not contain control or bidirectional formatting characters")
        return value


# --- response examples (shown at /docs) --------------------------------------------------------
_FILE = (
    "-----BEGIN LICENSE FILE-----\n"
    "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiIsInR5cCI6ImxpY2Vuc2Urand0In0...\n"
    "-----END LICENSE FILE-----\n"
)
CUSTOMER_EXAMPLE: dict[str, Any] = {
    "id": "cus_01jd8r5k3m2xq9w7v6t5s4r3p2",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "company": "Example Ltd",
    "organisation": "example.com",
    "created_at": "2026-11-23T12:00:00Z",
}
LICENSE_EXAMPLE: dict[str, Any] = {
    "id": "lic_01jd8r6a0b1c2d3e4f5g6h7j8k",
    "customer_id": CUSTOMER_EXAMPLE["id"],
    "line_id": "lic_01jd8r6a0b1c2d3e4f5g6h7j8k",
    "status": "active",
    "tier": "enterprise",
    "trial": False,
    "seats": 500,
    "features": ["cluster", "compliance_export", "custom_branding", "saml"],
    "grace_days": 30,
    "issued_at": "2026-11-23T12:00:00Z",
    "starts_at": "2027-01-01T00:00:00Z",
    "expires_at": "2030-01-01T00:00:00Z",
    "grace_ends_at": "2030-01-31T00:00:00Z",
    "installation_id": None,
    "subscription_id": None,
    "supersedes": None,
    "superseded_by": None,
    "key_id": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
    "source": "api",
    "note": "3-year deal, PO 4471",
    "created_by": "sally (key_01jd8r4...)",
    "revoked_at": None,
    "revoked_reason": None,
}
AUDIT_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "occurred_at": "2026-11-23T12:00:00Z",
    "actor": "sally (key_01jd8r4...)",
    "action": "license.revoked",
    "subject_type": "license",
    "subject_id": LICENSE_EXAMPLE["id"],
    "data": {"reason": "chargeback on invoice 1042"},
}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


# --- customers ---------------------------------------------------------------------------------
class CustomerCreate(Input):
    name: Text
    email: Email
    company: OptionalText = None
    # An address another customer has is 409 customer_exists, unless this says a second customer is meant.
    allow_duplicate: bool = False

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Ada Lovelace", "email": "ada@example.com", "company": "Example Ltd"}]}
    )


class CustomerUpdate(Input):
    """Only what is given changes; `"company": null` removes the company."""

    name: Text | None = None
    email: Email | None = None
    company: OptionalText = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.org", "company": "Example plc"}]})


class CustomerOut(BaseModel):
    model_config = _examples(CUSTOMER_EXAMPLE)

    id: str
    name: str
    email: str
    company: str | None
    organisation: str
    created_at: datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        return cls(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            company=customer.company,
            organisation=customer.organisation,
            created_at=customer.created_at,
        )


class CustomerList(BaseModel):
    model_config = _examples({"data": [CUSTOMER_EXAMPLE], "next_cursor": CUSTOMER_EXAMPLE["id"]})

    data: list[CustomerOut]
    next_cursor: str | None


# --- licenses ----------------------------------------------------------------------------------
class LicenseCreate(Input):
    customer_id: Annotated[str, Field(min_length=1, max_length=40)]
    tier: Literal["free", "professional", "enterprise"]
    seats: Annotated[int | None, Field(ge=1, le=10_000_000)] = None
    features: Features = None
    custom_features: Features = None
    starts_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    duration_days: Annotated[int | None, Field(ge=1, le=36_500)] = None
    trial: bool = False
    grace_days: Annotated[int | None, Field(ge=0, le=3_650)] = None
    installation_id: InstallationId | None = None
    note: Note = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "cus_01jd0000000000000000000000",
                    "tier": "enterprise",
                    "seats": 500,
                    "features": ["saml", "ldap"],
                    "custom_features": ["custom_sso_bridge"],
                    "starts_at": "2027-01-01T00:00:00Z",
                    "expires_at": "2030-01-01T00:00:00Z",
                    "grace_days": 45,
                    "note": "3-year deal, PO 4471",
                }
            ]
        }
    )


class LicenseRenew(Input):
    expires_at: AwareDatetime | None = None
    duration_days: Annotated[int | None, Field(ge=1, le=36_500)] = None
    seats: Annotated[int | None, Field(ge=1, le=10_000_000)] = None
    # Replaces the custom features (enterprise); left out, the renewal keeps the old license's.
    custom_features: Features = None
    note: Note = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"duration_days": 365, "seats": 600}]})


class LicensePreview(LicenseCreate):
    """The body of `POST /v1/licenses`, or with `renews` the body of a renewal of that license."""

    renews: Annotated[str | None, Field(min_length=1, max_length=40)] = None
    customer_id: Annotated[str | None, Field(min_length=1, max_length=40)] = None  # type: ignore[assignment]
    tier: Literal["free", "professional", "enterprise"] | None = None  # type: ignore[assignment]

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"renews": "lic_01jd0000000000000000000000", "duration_days": 365}]}
    )


class Change(BaseModel):
    claim: str
    from_: Any = Field(alias="from")
    to: Any

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class PreviewComparison(BaseModel):
    """SPEC section 8's comparison of the renewal with the line's newest license."""

    changes: list[dict[str, Any]]
    warnings: list[dict[str, str]]
    lines: list[str]


class LicensePreviewOut(BaseModel):
    model_config = _examples(
        {
            "claims": {"jti": "lic_01jd0000000000000000000000", "tier": "professional", "seats": 600},
            "warnings": ["600 seats is above the offer's default of 1."],
            "changes": [{"claim": "seats", "from": 500, "to": 600}],
            "comparison": {
                "changes": [{"field": "seats", "old": 500, "new": 600}],
                "warnings": [],
                "lines": ["seats: 500 -> 600"],
            },
        }
    )

    claims: dict[str, Any]
    warnings: list[str]
    changes: list[Change]
    comparison: PreviewComparison | None = None


class LicenseSend(Input):
    to: Email | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"to": "it@example.com"}]})


class LicenseSent(BaseModel):
    model_config = _examples({"license_id": "lic_01jd0000000000000000000000", "to": "it@example.com", "queued": True})

    license_id: str
    to: str
    queued: bool


class SeatRange(BaseModel):
    default: int | None
    min: int
    max: int | None


class PriceOut(BaseModel):
    lookup_key: str
    interval: str
    unit_amount: int
    currency: str


class OfferOut(BaseModel):
    key: str
    tier: str
    trial: bool
    term_days: int
    seats: SeatRange
    grace_days: int
    features: list[str]
    self_serve: bool
    prices: list[PriceOut]
    max_moves: int = Field(description="Moves to another installation a customer may make in the portal in 365 days")


class CatalogOut(BaseModel):
    model_config = _examples(
        {
            "offers": [
                {
                    "key": "professional",
                    "tier": "professional",
                    "trial": False,
                    "term_days": 365,
                    "seats": {"default": 1, "min": 1, "max": 100000},
                    "grace_days": 14,
                    "features": ["ldap", "saml"],
                    "self_serve": True,
                    "max_moves": 3,
                    "prices": [
                        {
                            "lookup_key": "professional_yearly",
                            "interval": "year",
                            "unit_amount": 9000,
                            "currency": "eur",
                        }
                    ],
                }
            ],
            "features": {"free": [], "professional": ["ldap", "saml"], "enterprise": ["cluster", "ldap", "saml"]},
        }
    )

    offers: list[OfferOut]
    features: dict[str, list[str]]


class LicenseRevoke(Input):
    reason: Annotated[str, Field(min_length=1, max_length=fields.REASON_MAX)]

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "chargeback on invoice 1042"}]})


class LicenseOut(BaseModel):
    model_config = _examples(LICENSE_EXAMPLE)

    id: str
    customer_id: str
    line_id: str
    status: str
    tier: str
    trial: bool
    seats: int | None = None
    features: list[str]
    grace_days: int
    issued_at: datetime
    starts_at: datetime
    expires_at: datetime | None = None
    grace_ends_at: datetime | None = None
    installation_id: str | None = None
    cnf_jkt: str | None = None
    subscription_id: str | None = None
    supersedes: str | None = None
    superseded_by: str | None = None
    key_id: str
    source: str
    note: str | None = None
    created_by: str
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @classmethod
    def of(cls, lic: License, now: datetime, superseded_by: str | None) -> LicenseOut:
        return cls(
            id=lic.id,
            customer_id=lic.customer_id,
            line_id=lic.line_id,
            status=status_of(lic, now, superseded=superseded_by is not None),
            tier=lic.tier,
            trial=lic.trial,
            seats=lic.seats,
            features=list(lic.features),
            grace_days=lic.grace_days,
            issued_at=lic.issued_at,
            starts_at=lic.starts_at,
            expires_at=lic.expires_at,
            grace_ends_at=lic.grace_ends_at,
            installation_id=lic.installation_id,
            cnf_jkt=lic.cnf_jkt,
            subscription_id=lic.subscription_id,
            supersedes=lic.supersedes_id,
            superseded_by=superseded_by,
            key_id=lic.key_id,
            source=lic.source,
            note=lic.note,
            created_by=lic.created_by,
            revoked_at=lic.revoked_at,
            revoked_reason=lic.revoked_reason,
        )


class IssuedLicense(BaseModel):
    model_config = _examples({"license": LICENSE_EXAMPLE, "license_file": _FILE})

    license: LicenseOut
    license_file: str


class LicenseList(BaseModel):
    model_config = _examples({"data": [LICENSE_EXAMPLE], "next_cursor": LICENSE_EXAMPLE["id"]})

    data: list[LicenseOut]
    next_cursor: str | None


# --- public ------------------------------------------------------------------------------------
class TrialRequest(Input):
    email: Email
    name: OptionalText = None
    company: Text
    installation_id: InstallationId | None = None
    seats: Annotated[int | None, Field(ge=1, le=1000)] = None
    accept_terms: bool

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "it@example.com", "company": "Example Ltd", "seats": 250, "accept_terms": True}]
        }
    )


class FreeLicenseRequest(Input):
    email: Email
    name: OptionalText = None
    company: OptionalText = None
    installation_id: InstallationId | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "admin@example.org", "company": "Example"}]})


class RefreshRequest(Input):
    license_file: Annotated[str, Field(min_length=1, max_length=20_000)]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "license_file": "-----BEGIN LICENSE FILE-----\n"
                    "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiIsInR5cCI6ImxpY2Vuc2Urand0In0...\n"
                    "-----END LICENSE FILE-----\n"
                }
            ]
        }
    )


class RefreshOut(BaseModel):
    model_config = _examples({"license_file": _FILE, "changed": True})

    license_file: str
    changed: bool


# --- audit -------------------------------------------------------------------------------------
class AuditEventOut(BaseModel):
    model_config = _examples(AUDIT_EXAMPLE)

    id: int
    occurred_at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    data: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.id,
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            subject_type=event.subject_type,
            subject_id=event.subject_id,
            data=event.data,
        )


class AuditEventList(BaseModel):
    model_config = _examples({"data": [AUDIT_EXAMPLE], "next_cursor": "41"})

    data: list[AuditEventOut]
    next_cursor: str | None


# --- checkout and subscriptions ------------------------------------------------------------------
class CheckoutRequest(Input):
    # Checked by the core (billing.checkout.create_checkout), so a bad choice gets its own stable code:
    # invalid_interval, invalid_seats, invalid_email.
    interval: Annotated[str, Field(max_length=20, json_schema_extra={"enum": ["month", "year"]})]
    seats: int
    email: Annotated[str, Field(max_length=fields.EMAIL_MAX)]
    company: Annotated[str, Field(max_length=fields.NAME_MAX)]
    name: OptionalText = None
    # A trial's buy link token (mailed with the trial, or made in the portal): the purchase replaces that trial.
    trial_token: Annotated[str | None, Field(max_length=100)] = None
    # A purchase from inside a self-hosted server: the license (and its renewals) is bound to this installation.
    installation_id: Annotated[str | None, Field(max_length=fields.INSTALLATION_ID_MAX)] = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"interval": "year", "seats": 25, "email": "it@example.com", "company": "Example Ltd"}]
        }
    )


class CheckoutOut(BaseModel):
    model_config = _examples(
        {
            "id": "chk_01jd8r7q2w3e4r5t6y7u8i9o0p",
            "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
            "poll_token": "chp_KOFkb3VqN0gx...",
        }
    )

    id: str
    url: str
    poll_token: str  # shown once: GET /v1/checkout/sessions/{id} with Authorization: Bearer <poll_token>


class CheckoutState(BaseModel):
    """Where a checkout stands for the holder of its poll token; ``license`` and ``license_file`` once
    ``issued`` (the newest of its line: renewals too). Absent fields are left out of the answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "open"},
                {"status": "issued", "license": LICENSE_EXAMPLE, "license_file": _FILE},
            ]
        }
    )

    status: Literal["open", "expired", "pending", "issued"]
    license: LicenseOut | None = None
    license_file: str | None = None


class StripeEventBody(BaseModel):
    """A Stripe event as Stripe POSTs it (documentation only: the raw body is verified, never parsed into this)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_1QxYz2AbCdEf",
                    "object": "event",
                    "type": "checkout.session.completed",
                    "created": 1795435200,
                    "livemode": False,
                    "api_version": "2026-10-28.endive",
                    "data": {"object": {"id": "cs_test_a1b2c3", "object": "checkout.session"}},
                }
            ]
        },
    )

    id: str
    object: str
    type: str
    created: int
    livemode: bool
    data: dict[str, Any]


class WebhookAnswer(BaseModel):
    model_config = _examples({"received": True, "event": "evt_1QxYz2AbCdEf", "stored": True})

    received: bool
    event: str
    stored: bool


SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "id": "sub_01jd8r9z8x7c6v5b4n3m2l1k0j",
    "customer_id": CUSTOMER_EXAMPLE["id"],
    "checkout_id": "chk_01jd8r7q2w3e4r5t6y7u8i9o0p",
    "status": "active",
    "seats": 25,
    "interval": "year",
    "price_lookup_key": "professional_annual",
    "current_period_end": "2027-11-23T12:00:00Z",
    "cancel_at_period_end": False,
    "ended_at": None,
    "line_id": "lic_01jd8ra0b1c2d3e4f5g6h7j8k9",
    "license_id": "lic_01jd8ra0b1c2d3e4f5g6h7j8k9",
    "stripe_subscription_id": "sub_1QxYz2AbCdEfGhIj",
    "stripe_customer_id": "cus_QxYz2AbCdEfGh",
    "created_at": "2026-11-23T12:00:00Z",
    "updated_at": "2026-11-23T12:00:00Z",
    "synced_at": "2026-11-23T12:00:00Z",
}


class SubscriptionOut(BaseModel):
    """Our record of a Stripe subscription: Stripe's status, seats and period, and the license line it feeds
    (``license_id`` is the newest license of ``line_id``)."""

    model_config = _examples(SUBSCRIPTION_EXAMPLE)

    id: str
    customer_id: str
    checkout_id: str
    status: str
    seats: int
    interval: str
    price_lookup_key: str | None = None
    current_period_end: datetime
    cancel_at_period_end: bool
    ended_at: datetime | None = None
    line_id: str | None = None
    license_id: str | None = None
    stripe_subscription_id: str
    stripe_customer_id: str
    created_at: datetime
    updated_at: datetime
    synced_at: datetime

    @classmethod
    def of(cls, sub: Subscription, newest_license_id: str | None) -> SubscriptionOut:
        return cls(
            id=sub.id,
            customer_id=sub.customer_id,
            checkout_id=sub.checkout_id,
            status=sub.status,
            seats=sub.seats,
            interval=sub.interval,
            price_lookup_key=sub.price_lookup_key,
            current_period_end=sub.current_period_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            ended_at=sub.ended_at,
            line_id=sub.line_id,
            license_id=newest_license_id,
            stripe_subscription_id=sub.stripe_subscription_id,
            stripe_customer_id=sub.stripe_customer_id,
            created_at=sub.created_at,
            updated_at=sub.updated_at,
            synced_at=sub.synced_at,
        )


class SubscriptionList(BaseModel):
    model_config = _examples({"data": [SUBSCRIPTION_EXAMPLE], "next_cursor": SUBSCRIPTION_EXAMPLE["id"]})

    data: list[SubscriptionOut]
    next_cursor: str | None


# --- self-serve requests -------------------------------------------------------------------------
class SelfServePending(BaseModel):
    """A self-serve request waiting for its e-mail confirmation. ``poll_token`` is shown this once: send
    it as ``Authorization: Bearer <poll_token>`` to ``GET /v1/self-serve-requests/{id}``."""

    model_config = _examples(
        {
            "id": "ssr_01jd8rb1c2d3e4f5g6h7j8k9m0",
            "status": "pending_confirmation",
            "poll_token": "ssp_3q2-8vQm1XyZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123",
        }
    )

    id: str
    status: Literal["pending_confirmation"] = "pending_confirmation"
    poll_token: str


class SelfServeState(BaseModel):
    """Where a self-serve request stands: ``license`` and ``license_file`` once ``issued``; ``code``
    (and ``detail``) when ``refused``. Absent fields are left out of the answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "pending_confirmation"},
                {"status": "issued", "license": LICENSE_EXAMPLE, "license_file": _FILE},
                {"status": "refused", "code": "trial_already_used", "detail": "A trial is no longer available..."},
                {"status": "expired"},
            ]
        }
    )

    status: Literal["pending_confirmation", "issued", "refused", "expired"]
    license: LicenseOut | None = None
    license_file: str | None = None
    code: str | None = None
    detail: str | None = None


SELF_SERVE_REQUEST_EXAMPLE: dict[str, Any] = {
    "id": "ssr_01jd8rb1c2d3e4f5g6h7j8k9m0",
    "kind": "trial",
    "status": "issued",
    "email": "it@example.com",
    "name": None,
    "company": "Example Ltd",
    "organisation": "example.com",
    "installation_id": "srv-01.prod",
    "seats": 250,
    "created_at": "2026-11-23T12:00:00Z",
    "expires_at": "2026-11-24T12:00:00Z",
    "confirmed_at": "2026-11-23T12:04:00Z",
    "license_id": LICENSE_EXAMPLE["id"],
    "refusal_code": None,
    "created_by": "public:203.0.113.7",
}


class SelfServeRequestOut(BaseModel):
    """A self-serve request as sales ops see it (a product-qualified lead); never its token hashes."""

    model_config = _examples(SELF_SERVE_REQUEST_EXAMPLE)

    id: str
    kind: str
    status: str
    email: str
    name: str | None = None
    company: str | None = None
    organisation: str
    installation_id: str | None = None
    seats: int | None = None
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None = None
    license_id: str | None = None
    refusal_code: str | None = None
    created_by: str

    @classmethod
    def of(cls, row: SelfServeRequest, status: str) -> SelfServeRequestOut:
        return cls(
            id=row.id,
            kind=row.kind,
            status=status,
            email=row.email,
            name=row.name,
            company=row.company,
            organisation=row.organisation,
            installation_id=row.installation_id,
            seats=row.seats,
            created_at=row.created_at,
            expires_at=row.expires_at,
            confirmed_at=row.confirmed_at,
            license_id=row.license_id,
            refusal_code=row.refusal_code,
            created_by=row.created_by,
        )


class SelfServeRequestList(BaseModel):
    model_config = _examples({"data": [SELF_SERVE_REQUEST_EXAMPLE], "next_cursor": SELF_SERVE_REQUEST_EXAMPLE["id"]})

    data: list[SelfServeRequestOut]
    next_cursor: str | None


# --- leads and organisations -------------------------------------------------------------------------
class ContactRequest(Input):
    email: Email
    name: OptionalText = None
    company: Text
    seats: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    # Checked by the service, so an unknown one is 422 invalid_interest rather than a generic validation_error.
    interest: Annotated[
        str, Field(max_length=40, json_schema_extra={"enum": ["enterprise", "quote", "trial_extension", "other"]})
    ]
    message: Annotated[str | None, Field(max_length=5000)] = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "it@example.com", "company": "Example Ltd", "seats": 500, "interest": "enterprise"}]
        }
    )


class ContactAccepted(BaseModel):
    model_config = _examples({"status": "received"})

    status: Literal["received"] = "received"


LEAD_EXAMPLE: dict[str, Any] = {
    "id": "lead_01jf3k9m2x0000000000000000",
    "organisation": "example.com",
    "email": "it@example.com",
    "name": None,
    "company": "Example Ltd",
    "kind": "pql",
    "source": "trial",
    "interest": None,
    "seats": 250,
    "message": None,
    "installation_id": "example-prod",
    "outcome": "issued",
    "self_serve_request_id": None,
    "created_at": "2026-12-07T09:30:00Z",
}


class LeadOut(BaseModel):
    model_config = _examples(LEAD_EXAMPLE)

    id: str
    organisation: str
    email: str
    name: str | None = None
    company: str | None = None
    kind: str
    source: str
    interest: str | None = None
    seats: int | None = None
    message: str | None = None
    installation_id: str | None = None
    outcome: str | None = None
    self_serve_request_id: str | None = None
    created_at: datetime

    @classmethod
    def of(cls, lead: Lead) -> LeadOut:
        return cls.model_validate({name: getattr(lead, name) for name in cls.model_fields})


class LeadList(BaseModel):
    model_config = _examples({"data": [LEAD_EXAMPLE], "next_cursor": LEAD_EXAMPLE["id"]})

    data: list[LeadOut]
    next_cursor: str | None


class OrganisationOut(BaseModel):
    model_config = _examples(
        {
            "organisation": "example.com",
            "owner": "ann@sales.example.net",
            "customers": [CUSTOMER_EXAMPLE],
            "licenses": [LICENSE_EXAMPLE],
            "subscriptions": [SUBSCRIPTION_EXAMPLE],
            "leads": [LEAD_EXAMPLE],
        }
    )

    organisation: str
    owner: str | None
    customers: list[CustomerOut]
    licenses: list[LicenseOut]
    subscriptions: list[SubscriptionOut]
    leads: list[LeadOut]


class OrganisationPatch(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"owner": "ann@sales.example.net"}]})

    owner: Annotated[str | None, Field(max_length=fields.EMAIL_MAX)]


# --- air-gapped installations (SPEC section 8) ------------------------------------------------------
AIRGAP_FILE_MAX = 1_000_000  # what the readers take (as a license file)
_REQUEST = (
    "-----BEGIN LICENSE ACTIVATION REQUEST-----\n"
    "eyJhbGciOiJFZERTQSIsImp3ayI6eyJjcnYiOiJFZDI1NTE5Ii...\n"
    "-----END LICENSE ACTIVATION REQUEST-----\n"
)
_REPORT = (
    "-----BEGIN LICENSE USAGE REPORT-----\n"
    "eyJhbGciOiJFZERTQSIsImtpZCI6IlVxNnpPMWZ4a2JYVzJ3...\n"
    "-----END LICENSE USAGE REPORT-----\n"
)
_RECEIPT = (
    "-----BEGIN LICENSE USAGE RECEIPT-----\n"
    "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiIsInR5cCI6ImxpY2Vuc2UtdXNh...\n"
    "-----END LICENSE USAGE RECEIPT-----\n"
)


class ActivationCreate(Input):
    """An activation request file (armored, as the installation wrote it). ``move``: bind the line to
    this installation although it is bound to another (audited)."""

    request: Annotated[str, Field(min_length=1, max_length=AIRGAP_FILE_MAX)]
    move: bool = False

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"request": _REQUEST}, {"request": _REQUEST, "move": True}]}
    )


class UsageReportCreate(Input):
    """A usage report file (armored, as the installation exported it)."""

    report: Annotated[str, Field(min_length=1, max_length=AIRGAP_FILE_MAX)]

    model_config = ConfigDict(json_schema_extra={"examples": [{"report": _REPORT}]})


class UsageReceiptOut(BaseModel):
    """The signed receipt of a usage report (give it back to the installation), its ``seq``, the overage
    over the line's seats (0 for unlimited seats) and whether reports before it are missing (``gap``)."""

    model_config = _examples({"receipt": _RECEIPT, "seq": 3, "overage": 12, "gap": False})

    receipt: str
    seq: int
    overage: int
    gap: bool


TRUE_UP_EXAMPLE: dict[str, Any] = {
    "id": 17,
    "report_id": "urp_01jd8rb1c2d3e4f5g6h7j8k9m0",
    "line_id": LICENSE_EXAMPLE["id"],
    "customer_id": CUSTOMER_EXAMPLE["id"],
    "subscription_id": "sub_01jd8r9s0t1u2v3w4x5y6z7a8b",
    "seats_before": 25,
    "peak_users": 37,
    "overage": 12,
    "status": "raised",
    "outcome": "quantity 25 -> 37, prorated and invoiced at once",
    "attempts": 1,
    "next_attempt_at": None,
    "last_error": None,
    "created_at": "2026-11-23T12:00:00Z",
    "completed_at": "2026-11-23T12:00:05Z",
}


class TrueUpOut(BaseModel):
    """A usage report over the licensed seats. ``status``: ``pending`` (a self-serve subscription's, to be
    raised in Stripe by the background loop; ``attempts``, ``next_attempt_at`` and ``last_error`` say how
    it goes), ``raised``, ``failed`` (given up) or ``recorded`` (a sales line's: for sales to act on)."""

    model_config = _examples(TRUE_UP_EXAMPLE)

    id: int
    report_id: str
    line_id: str
    customer_id: str
    subscription_id: str | None = None
    seats_before: int | None = None
    peak_users: int
    overage: int
    status: Literal["pending", "raised", "failed", "recorded"]
    outcome: str | None = None
    attempts: int
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime
    completed_at: datetime | None = None

    @classmethod
    def of(cls, row: TrueUp) -> TrueUpOut:
        return cls(
            id=row.id,
            report_id=row.report_id,
            line_id=row.line_id,
            customer_id=row.customer_id,
            subscription_id=row.subscription_id,
            seats_before=row.seats_before,
            peak_users=row.peak_users,
            overage=row.overage,
            status=row.status,
            outcome=row.outcome,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )


class TrueUpList(BaseModel):
    model_config = _examples({"data": [TRUE_UP_EXAMPLE], "next_cursor": "17"})

    data: list[TrueUpOut]
    next_cursor: str | None
