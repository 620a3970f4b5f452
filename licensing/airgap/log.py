"""The local usage log: the highest count of active users of each UTC day, kept until a report carries it.

    log = UsageLog("/var/lib/product/usage.json", key, license_text)
    log.record(active_users)          # as often as the product likes; keeps each UTC day's highest
    text = log.export()               # the next usage report (seq, prev chained), armored

The log is one JSON file, written atomically (a temporary file, fsync, then rename) with mode 0600,
so a crash leaves the old or the new file, never half of one. It is for one process at a time.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from licensing.airgap._envelope import DAY, is_digest, is_installation_id, utc
from licensing.airgap.activation import license_id_of
from licensing.airgap.keys import InstallationKey
from licensing.airgap.usage import report_digest, usage_report
from licensing.verify import (
    CLOCK_SKEW_SECONDS,
    LICENSE_LABEL,
    MAX_TIME,
    LicenseError,
    b64url_decode,
    compact_parts,
    json_object,
    now_seconds,
)

LOG_FORMAT: Final = "licensing-usage-log"
LOG_VERSION: Final = 1


class UsageLogError(ValueError):
    """The usage log file is damaged or belongs to another installation key. The message says which;
    restore the file from a backup, or move it away to start a new chain (the vendor then sees a gap)."""


class UsageLog:
    """An installation's record of active users, exported as chained, signed usage reports.

    ``license_text`` names the license reported on (its id is read without verifying it);
    ``installation_id`` defaults to the license's own ``installation_id`` (a bound license has one).
    Opening a damaged file raises :class:`UsageLogError`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: InstallationKey,
        license_text: str | bytes,
        *,
        installation_id: str | None = None,
    ) -> None:
        if not isinstance(key, InstallationKey):
            raise TypeError(f"key must be an InstallationKey, not {type(key).__name__}")
        self.path = Path(path)
        self.key = key
        self.license_id = license_id_of(license_text)
        if installation_id is None:
            installation_id = _installation_id_of(license_text)
        if not isinstance(installation_id, str) or not is_installation_id(installation_id):
            raise ValueError(
                "installation_id must be 1 to 200 printable characters; give it when the license is not bound to one"
            )
        self.installation_id = installation_id
        self._lock = threading.Lock()
        self._days: dict[int, int] = {}
        self._last: dict[str, Any] | None = None
        if self.path.exists():
            self._load()
        else:
            self._save(self._days, self._last)

    # --- the product's calls ---------------------------------------------------------------------

    def record(self, active_users: int, at: datetime | None = None) -> None:
        """Record ``active_users`` at ``at`` (an aware datetime; default now); each UTC day keeps its highest.

        ValueError for a negative count or a bool, or for a day a report already covered (or older).
        """
        if isinstance(active_users, bool):
            raise ValueError(f"active_users must be a whole number, not {active_users!r}")
        if not isinstance(active_users, int):
            raise TypeError(f"active_users must be a whole number (int), not {type(active_users).__name__}")
        if active_users < 0:
            raise ValueError(f"active_users must be 0 or more, not {active_users}")
        if at is not None and not isinstance(at, datetime):
            raise TypeError(f"at must be an aware datetime, not {type(at).__name__}")
        day = _day(now_seconds(at))
        with self._lock:
            reported_until = self._reported_until()
            if reported_until is not None and day < reported_until:
                raise ValueError(
                    f"{utc(day):%Y-%m-%d} was already reported (the last report covers days before "
                    f"{utc(reported_until):%Y-%m-%d}): the clock went back, or the day is too old to record"
                )
            if self._days.get(day, -1) >= active_users:
                return
            days = {**self._days, day: active_users}
            self._save(days, self._last)  # the file first: a failed write changes nothing
            self._days = days

    def export(self, until: datetime | None = None) -> str:
        """The next usage report, armored: the recorded days not yet reported up to and including the
        UTC day of ``until`` (an aware datetime; default now), chained to the last report. The days it
        carries are then reported: recording them again is a ValueError."""
        if until is not None and not isinstance(until, datetime):
            raise TypeError(f"until must be an aware datetime, not {type(until).__name__}")
        now = now_seconds(None)
        until_s = now_seconds(until)
        if until_s > now + CLOCK_SKEW_SECONDS:
            raise ValueError(f"until ({until}) is in the future: a report covers days that have begun")
        end = _day(until_s) + DAY
        with self._lock:
            last = self._last
            days = sorted((day, users) for day, users in self._days.items() if day < end)
            if last is None:
                seq, prev, start = 1, None, days[0][0] if days else end - DAY
            else:
                seq, prev, start = last["seq"] + 1, last["digest"], last["period_end"]
                if end < start:
                    raise ValueError(
                        f"until ({utc(end - DAY):%Y-%m-%d}) is before the last report's period, which ends "
                        f"{utc(start):%Y-%m-%d}: reports never go back"
                    )
                if end == start:
                    raise ValueError(
                        f"{utc(end - DAY):%Y-%m-%d} is reported already (report {last['seq']}): nothing new to "
                        "report until the next UTC day; last_report gives that report again"
                    )
            text = usage_report(
                self.key,
                license_id=self.license_id,
                installation_id=self.installation_id,
                seq=seq,
                prev=prev,
                period_start=start,
                period_end=end,
                daily=days,
                now=now,
            )
            reported = {"seq": seq, "digest": report_digest(text), "period_end": end, "report": text}
            pending = {day: users for day, users in self._days.items() if day >= end}
            self._save(pending, reported)  # the file first: a failed write changes nothing
            self._days, self._last = pending, reported
            return text

    @property
    def last_report(self) -> str | None:
        """The last report exported (armored), to send again if it was lost; None before the first."""
        return None if self._last is None else str(self._last["report"])

    @property
    def last_seq(self) -> int:
        """The last report's ``seq``; 0 before the first."""
        return 0 if self._last is None else int(self._last["seq"])

    @property
    def pending(self) -> tuple[tuple[datetime, int], ...]:
        """The days recorded and not yet reported, ascending, with each day's highest count."""
        with self._lock:
            return tuple((utc(day), users) for day, users in sorted(self._days.items()))

    def __repr__(self) -> str:
        return f"<UsageLog {str(self.path)!r} seq {self.last_seq}, {len(self._days)} days pending>"

    # --- the file --------------------------------------------------------------------------------

    def _reported_until(self) -> int | None:
        return None if self._last is None else int(self._last["period_end"])

    def _save(self, days: dict[int, int], last: dict[str, Any] | None) -> None:
        document = {
            "format": LOG_FORMAT,
            "version": LOG_VERSION,
            "key": self.key.thumbprint,
            "days": [[day, users] for day, users in sorted(days.items())],
            "last_report": last,
        }
        data = json.dumps(document, separators=(",", ":")).encode("utf-8")
        directory = self.path.parent
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        try:  # the rename itself survives a crash once the directory is on disk
            directory_fd = os.open(directory, os.O_RDONLY)
        except OSError:  # pragma: no cover - a platform without directory handles
            return
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except IsADirectoryError:
            raise UsageLogError(f"The usage log {self.path} is a directory, not a file.") from None
        self._days, self._last = _parse(raw, self.path, self.key.thumbprint)


def _damaged(path: Path, what: str) -> UsageLogError:
    return UsageLogError(
        f"The usage log {path} is damaged ({what}). Restore it from a backup, or move it away to start "
        "a new chain of reports (the vendor will see a gap)."
    )


def _parse(raw: bytes, path: Path, thumbprint: str) -> tuple[dict[int, int], dict[str, Any] | None]:
    """The pending days and the last report of a log file; UsageLogError for anything else."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _damaged(path, "it is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != LOG_FORMAT:
        raise _damaged(path, "it is not a usage log")
    if document.get("version") != LOG_VERSION:
        raise _damaged(path, f"version {document.get('version')!r} is not one this library reads")
    if document.get("key") != thumbprint:
        raise UsageLogError(
            f"The usage log {path} belongs to installation key {document.get('key')!r}, not to this one "
            f"({thumbprint}). Use that key, or another file for this one."
        )
    entries = document.get("days")
    if not isinstance(entries, list):
        raise _damaged(path, "its days are missing")
    days: dict[int, int] = {}
    for index, entry in enumerate(entries):
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not all(type(value) is int for value in entry)
            or entry[0] % DAY
            or not 0 <= entry[0] <= MAX_TIME
            or entry[1] < 0
            or entry[0] in days
        ):
            raise _damaged(path, f"day {index + 1} of its days is not [day start, users]")
        days[entry[0]] = entry[1]
    last = document.get("last_report")
    if last is not None:
        if not isinstance(last, dict):
            raise _damaged(path, "its last report is not an object")
        seq, digest, end, report = (last.get(k) for k in ("seq", "digest", "period_end", "report"))
        if type(seq) is not int or seq < 1 or not isinstance(digest, str) or not is_digest(digest):
            raise _damaged(path, "its last report's seq or digest is wrong")
        if type(end) is not int or end % DAY or not 0 <= end <= MAX_TIME + 1:
            raise _damaged(path, "its last report's period is wrong")
        if not isinstance(report, str):
            raise _damaged(path, "its last report is missing")
        try:
            matches = report_digest(report) == digest
        except LicenseError:
            matches = False
        if not matches:
            raise _damaged(path, "its last report does not match its digest")
        if days and min(days) < end:
            raise _damaged(path, "it holds days the last report already covered")
    return days, last


def _day(seconds: int) -> int:
    return seconds - seconds % DAY


def _installation_id_of(license_text: str | bytes) -> str | None:
    try:
        _compact, parts = compact_parts(license_text, LICENSE_LABEL)
        value = json_object(b64url_decode(parts[1], "payload"), "payload").get("installation_id")
    except LicenseError:
        return None
    return value if isinstance(value, str) else None
