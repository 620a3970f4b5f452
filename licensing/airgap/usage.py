"""Usage reports: an install's signed, chained record of its daily peak of active users."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import islice, repeat
from operator import lt, mod
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licensing.airgap._envelope import (
    DAY,
    FORMAT_VERSION,
    USAGE_LABEL,
    USAGE_TYP,
    armor,
    claim_count,
    claim_digest,
    claim_installation_id,
    claim_string,
    claim_time,
    digest,
    guarded,
    is_digest,
    is_installation_id,
    read_signed,
    sign_compact,
    utc,
)
from licensing.airgap.keys import InstallationKey, public_key_from_jwk
from licensing.verify import MAX_TIME, LicenseError, checked_header, compact_parts, jwk_thumbprint, now_seconds

_DAILY_SHAPE = "Claim 'daily' must be an array of [day start, users] pairs of whole numbers"


def report_digest(compact: str | bytes) -> str:
    """The digest of a usage report: base64url(SHA-256) of its compact JWS (armor and whitespace removed).

    It is the next report's ``prev`` and a receipt's ``report``. ``compact`` may be the armored
    report too. LicenseError ``malformed`` when the text holds no compact JWS.
    """
    jws, _parts = compact_parts(compact, USAGE_LABEL)
    return digest(jws)


def report_key_thumbprint(text: str | bytes) -> str:
    """The thumbprint of the installation key a usage report says it is signed by (its header ``kid``),
    read before verifying it: what the vendor looks up to find the key (the bound line's ``cnf.jkt``)
    to give :func:`read_usage_report`. LicenseError (``malformed``, ``unsupported``) when the text is not
    a usage report, ``unknown_key`` when it names no key; nothing is verified yet."""

    def peek() -> str:
        _compact, parts = compact_parts(text, USAGE_LABEL)
        kid = checked_header(parts[0], USAGE_TYP).get("kid")
        if type(kid) is not str or not kid:
            raise LicenseError("unknown_key", "The usage report names no installation key (its header has no kid).")
        return kid

    return guarded("usage report", peek)


def usage_report(
    key: InstallationKey,
    *,
    license_id: str,
    installation_id: str,
    seq: int,
    prev: str | None,
    period_start: int,
    period_end: int,
    daily: Sequence[tuple[int, int]],
    now: datetime | int | float | None = None,
) -> str:
    """An armored usage report (``LICENSE USAGE REPORT``) signed by ``key``; what UsageLog.export writes.

    Times are POSIX seconds: ``period_start`` and ``period_end`` and each day of ``daily`` are the
    start of a UTC day; ``daily`` is ascending, inside the period, with counts >= 0. ``prev`` is the
    previous report's digest, None for seq 1. ValueError when any of it does not hold.
    """
    if not isinstance(key, InstallationKey):
        raise TypeError(f"key must be an InstallationKey, not {type(key).__name__}")
    if not isinstance(license_id, str) or not license_id:
        raise ValueError("license_id must be a non-empty string")
    if not isinstance(installation_id, str) or not is_installation_id(installation_id):
        raise ValueError("installation_id must be a string of 1 to 200 printable characters")
    if type(seq) is not int or seq < 1:
        raise ValueError(f"seq must be a whole number, 1 or more, not {seq!r}")
    if seq == 1 and prev is not None:
        raise ValueError("the first report (seq 1) has no prev")
    if seq > 1 and (not isinstance(prev, str) or not is_digest(prev)):
        raise ValueError("a report after the first needs prev, the previous report's digest (report_digest)")
    for name, value in (("period_start", period_start), ("period_end", period_end)):
        if type(value) is not int or not 0 <= value <= MAX_TIME or value % DAY:
            raise ValueError(f"{name} must be the start of a UTC day in POSIX seconds, not {value!r}")
    if period_end < period_start:
        raise ValueError("period_end is before period_start")
    pairs, peak = _pairs(daily, period_start, period_end)
    claims: dict[str, Any] = {
        "ver": FORMAT_VERSION,
        "iat": now_seconds(now),
        "license_id": license_id,
        "installation_id": installation_id,
        "seq": seq,
    }
    if prev is not None:
        claims["prev"] = prev
    claims["period"] = {"start": period_start, "end": period_end}
    claims["peak_users"] = peak
    claims["daily"] = pairs
    header = {"alg": "EdDSA", "typ": USAGE_TYP, "kid": key.thumbprint}
    return armor(sign_compact(key, header, claims), USAGE_LABEL)


def _pairs(daily: Sequence[tuple[int, int]], start: int, end: int) -> tuple[list[tuple[int, int]], int]:
    """``daily`` as JSON pairs, once checked, and the peak; ValueError naming what is wrong. Checked a
    column at a time: a year is 365 pairs."""
    if not daily:
        return [], 0
    if not set(map(type, daily)) <= {tuple, list}:
        raise ValueError("daily must be a sequence of (day start, users) pairs")
    try:
        columns = list(zip(*daily, strict=True))
    except (TypeError, ValueError):
        columns = []
    if len(columns) != 2:
        raise ValueError("daily must be a sequence of (day start, users) pairs")
    days, counts = columns
    if set(map(type, days)) != {int} or any(map(mod, days, repeat(DAY))):
        raise ValueError("each day of daily must be the start of a UTC day in POSIX seconds (an int)")
    if not all(map(lt, days, islice(days, 1, None))):
        raise ValueError("the days of daily must be ascending, each once")
    if days[0] < start or days[-1] >= end:
        raise ValueError("each day of daily must lie inside the period (period_start <= day < period_end)")
    if set(map(type, counts)) != {int} or min(counts) < 0:
        raise ValueError("daily counts must be whole numbers (int), 0 or more")
    return list(daily), max(counts)  # each pair a tuple or a list: JSON writes both as an array


class UsageReport:
    """A verified usage report. Times are aware UTC datetimes; ``daily_seconds`` keeps POSIX seconds."""

    __slots__ = (
        "_daily",
        "claims",
        "compact",
        "digest",
        "installation_id",
        "issued_at",
        "license_id",
        "peak_users",
        "period_end",
        "period_start",
        "prev",
        "seq",
        "thumbprint",
    )

    def __init__(self, claims: dict[str, Any], thumbprint: str, compact: str) -> None:
        self.claims = claims
        self.license_id: str = claims["license_id"]
        self.installation_id: str = claims["installation_id"]
        self.seq: int = claims["seq"]
        self.prev: str | None = claims.get("prev")
        self.period_start: datetime = utc(claims["period"]["start"])
        self.period_end: datetime = utc(claims["period"]["end"])
        self.peak_users: int = claims["peak_users"]
        self.issued_at: datetime = utc(claims["iat"])
        self.thumbprint = thumbprint  # the installation key's (the header's kid)
        self.compact = compact
        self.digest = digest(compact)
        self._daily: list[list[int]] = claims["daily"]

    @property
    def daily(self) -> tuple[tuple[datetime, int], ...]:
        """Each reported UTC day (its start) and that day's highest count of active users, ascending."""
        return tuple((utc(day), users) for day, users in self._daily)

    @property
    def daily_seconds(self) -> tuple[tuple[int, int], ...]:
        """:attr:`daily` with each day as POSIX seconds, as the report holds it."""
        return tuple((day, users) for day, users in self._daily)

    def __repr__(self) -> str:
        return f"<UsageReport {self.license_id} seq {self.seq} peak {self.peak_users} ({len(self._daily)} days)>"


def read_usage_report(text: str | bytes, public_jwk: Mapping[str, Any] | InstallationKey) -> UsageReport:
    """Verify a usage report with the installation key it must be signed by (its public JWK, as the
    activation request carried it); the report's header ``kid`` must be that key's thumbprint.

    LicenseError with the verifier's codes: ``malformed`` (envelope or claims), ``unsupported`` (alg,
    typ, crit, ver), ``unknown_key`` (the report names another key), ``bad_signature``. A
    ``public_jwk`` that is not an Ed25519 public JWK is the caller's mistake: ValueError.
    """
    if isinstance(public_jwk, InstallationKey):
        public_key, thumbprint = public_jwk.public_key, public_jwk.thumbprint
    elif isinstance(public_jwk, Mapping):
        try:
            public_key = public_key_from_jwk(public_jwk, "public_jwk")
        except LicenseError as exc:
            raise ValueError(exc.message) from None
        thumbprint = jwk_thumbprint(public_jwk["x"])
    else:
        raise TypeError(f"public_jwk must be a JWK mapping or an InstallationKey, not {type(public_jwk).__name__}")
    return guarded("usage report", lambda: _read(text, public_key, thumbprint))


def _read(text: str | bytes, public_key: Ed25519PublicKey, thumbprint: str) -> UsageReport:
    def key_for(header: dict[str, Any]) -> Ed25519PublicKey:
        kid = header.get("kid")
        if kid != thumbprint:
            raise LicenseError(
                "unknown_key",
                f"The usage report names installation key {kid!r}, not the key it must come from ({thumbprint}).",
            )
        return public_key

    _header, claims, compact = read_signed(text, USAGE_LABEL, USAGE_TYP, key_for)
    _check_claims(claims)
    return UsageReport(claims, thumbprint, compact)


def _check_claims(claims: dict[str, Any]) -> None:
    claim_time(claims, "iat")
    claim_string(claims, "license_id")
    claim_installation_id(claims)
    seq = claim_count(claims, "seq", 1)
    if seq == 1:
        if "prev" in claims:
            raise LicenseError("malformed", "The first report (seq 1) must not have 'prev'.")
    elif "prev" not in claims:
        raise LicenseError("malformed", f"Report {seq} has no 'prev': every report after the first names the last.")
    else:
        claim_digest(claims, "prev")
    period = claims.get("period")
    if type(period) is not dict:
        raise LicenseError("malformed", "Claim 'period' must be an object of start and end.")
    start, end = claim_time(period, "start"), claim_time(period, "end")
    if start % DAY or end % DAY or end < start:
        raise LicenseError("malformed", "The report's period must run from a UTC day's start to a later one.")
    peak = claim_count(claims, "peak_users", 0)
    daily = claims.get("daily")
    if type(daily) is not list:
        raise LicenseError("malformed", f"{_DAILY_SHAPE}.")
    if not daily:
        if peak != 0:
            raise LicenseError("malformed", "Claim 'peak_users' must be 0 when 'daily' is empty.")
        return
    # Written for speed (a year is 365 pairs): whole-column checks run in C.
    if set(map(type, daily)) != {list}:
        raise LicenseError("malformed", f"{_DAILY_SHAPE}.")
    try:
        columns = list(zip(*daily, strict=True))
    except ValueError:
        columns = []
    if len(columns) != 2:
        raise LicenseError("malformed", f"{_DAILY_SHAPE}.")
    days, counts = columns
    if set(map(type, days)) != {int} or set(map(type, counts)) != {int}:
        raise LicenseError("malformed", f"{_DAILY_SHAPE}.")
    if not all(map(lt, days, islice(days, 1, None))):
        raise LicenseError("malformed", "The days of 'daily' must be ascending, each once.")
    if any(map(mod, days, repeat(DAY))):
        raise LicenseError("malformed", "Each day of 'daily' must be the start of a UTC day (00:00:00).")
    if days[0] < start or days[-1] >= end:
        raise LicenseError("malformed", "Each day of 'daily' must lie inside the report's period.")
    if min(counts) < 0:
        raise LicenseError("malformed", "The counts of 'daily' must be 0 or more.")
    if peak != max(counts):
        raise LicenseError("malformed", "Claim 'peak_users' must be the highest count of 'daily'.")
