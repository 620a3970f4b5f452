"""Comparing two verified licenses: what installing NEW in place of OLD changes, and what looks wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from licensing.verify import License

# The fields compared, in the order their changes are listed.
_FIELDS = ("tier", "trial", "seats", "features", "not_before", "expires_at", "grace_days", "installation_id", "cnf_jkt")
_CLAIMS = {"not_before": "nbf", "expires_at": "exp"}
_LABELS = {
    "tier": "tier",
    "trial": "trial",
    "seats": "seats",
    "not_before": "valid from",
    "expires_at": "expires",
    "grace_days": "grace days",
    "installation_id": "installation",
    "cnf_jkt": "installation key",
}
_NULLS = {"seats": "unlimited", "expires_at": "never", "installation_id": "none", "cnf_jkt": "none"}


def cnf_jkt(lic: License) -> str | None:
    """The thumbprint of the installation key a license is bound to (its ``cnf.jkt``), or None."""
    cnf = lic.claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) and jkt else None


def _value(lic: License, field: str) -> Any:
    if field == "cnf_jkt":
        return cnf_jkt(lic)
    return lic.claims.get(_CLAIMS.get(field, field))


class Comparison:
    """What installing ``new`` in place of ``old`` changes (``changes``) and what looks wrong (``warnings``).

    Each change is ``{"field", "old", "new"}`` (``features``: ``{"field", "added", "removed"}``), with
    values as the licenses' claims hold them (times as POSIX seconds, None for unlimited seats, no
    expiry or no binding); each warning is ``{"code"}``: ``issued_before``, ``other_customer``,
    ``other_line`` or ``same_license``. ``str()`` gives one line each, warnings first, or ``no changes``.
    """

    __slots__ = ("_new_sub", "_old_sub", "changes", "warnings")

    def __init__(
        self, changes: list[dict[str, Any]], warnings: list[dict[str, str]], old_sub: str, new_sub: str
    ) -> None:
        self.changes = changes
        self.warnings = warnings
        self._old_sub = old_sub
        self._new_sub = new_sub

    @property
    def lines(self) -> list[str]:
        lines = [self._warning_line(warning["code"]) for warning in self.warnings]
        for change in self.changes:
            field = change["field"]
            if field == "features":
                if change["added"]:
                    lines.append(f"features added: {', '.join(change['added'])}")
                if change["removed"]:
                    lines.append(f"features removed: {', '.join(change['removed'])}")
            else:
                lines.append(f"{_LABELS[field]}: {_text(field, change['old'])} -> {_text(field, change['new'])}")
        return lines or ["no changes"]

    def _warning_line(self, code: str) -> str:
        if code == "issued_before":
            return "warning: NEW was issued before OLD"
        if code == "other_customer":
            return f"warning: NEW belongs to another customer ({self._new_sub}, not {self._old_sub})"
        if code == "other_line":
            return "warning: NEW does not supersede OLD: it may belong to another line"
        return "warning: NEW is the same license as OLD"

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def __repr__(self) -> str:
        return f"<Comparison {len(self.changes)} changes, {len(self.warnings)} warnings>"


def _text(field: str, value: Any) -> str:
    if value is None:
        return _NULLS.get(field, "none")
    if isinstance(value, bool):
        return "true" if value else "false"
    if field in _CLAIMS:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def compare(old: License, new: License) -> Comparison:
    """What installing ``new`` in place of ``old`` changes; both must be verified licenses
    (:func:`licensing.verify.verify`'s results). TypeError otherwise."""
    if not isinstance(old, License) or not isinstance(new, License):
        raise TypeError("compare takes two verified licenses (licensing.verify.License)")
    changes: list[dict[str, Any]] = []
    for field in _FIELDS:
        if field == "features":
            before, after = set(old.features), set(new.features)
            if before != after:
                changes.append(
                    {"field": "features", "added": sorted(after - before), "removed": sorted(before - after)}
                )
            continue
        was, now = _value(old, field), _value(new, field)
        if was != now:
            changes.append({"field": field, "old": was, "new": now})
    warnings: list[dict[str, str]] = []
    if new.id == old.id:
        warnings.append({"code": "same_license"})
    else:
        if new.claims["iat"] < old.claims["iat"]:
            warnings.append({"code": "issued_before"})
        if new.subject != old.subject:
            warnings.append({"code": "other_customer"})
        if new.supersedes != old.id:
            warnings.append({"code": "other_line"})
    return Comparison(changes, warnings, old.subject, new.subject)
