"""UsageLog: recording active users per UTC day, exporting chained reports, and the file behind it."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from verifier_helpers import make_claims

from licensing.airgap import InstallationKey, UsageLog, UsageLogError, read_usage_report, report_digest
from licensing.signing.jws import Signer

INSTALLATION = "inst-1"
DAY1 = datetime(2025, 5, 1, tzinfo=UTC)


def at(day: int, hour: int = 12) -> datetime:
    return DAY1 + timedelta(days=day - 1, hours=hour)


@pytest.fixture(scope="module")
def key() -> InstallationKey:
    return InstallationKey.generate()


@pytest.fixture
def license_text(signer: Signer) -> str:
    return signer.sign_license(make_claims(jti="lic_bound", installation_id=INSTALLATION))


@pytest.fixture
def log(tmp_path: Path, key: InstallationKey, license_text: str) -> UsageLog:
    return UsageLog(tmp_path / "usage.json", key, license_text)


def test_each_day_keeps_its_highest_and_a_report_carries_them(log: UsageLog, key: InstallationKey) -> None:
    log.record(5, at(1, 9))
    log.record(12, at(1, 15))
    log.record(7, at(1, 20))
    log.record(3, at(3))
    log.record(0, at(4))
    assert log.pending == ((at(1, 0), 12), (at(3, 0), 3), (at(4, 0), 0))
    text = log.export(until=at(3, 23))
    report = read_usage_report(text, key.public_jwk)
    assert (report.seq, report.prev, report.license_id, report.installation_id) == (1, None, "lic_bound", INSTALLATION)
    assert report.daily == ((at(1, 0), 12), (at(3, 0), 3))
    assert (report.period_start, report.period_end) == (at(1, 0), at(4, 0))
    assert report.peak_users == 12
    assert log.pending == ((at(4, 0), 0),)
    assert log.last_report == text and log.last_seq == 1


def test_reports_chain_and_periods_follow_each_other(log: UsageLog, key: InstallationKey) -> None:
    log.record(4, at(2))
    first = read_usage_report(log.export(until=at(2)), key.public_jwk)
    second = read_usage_report(log.export(until=at(5)), key.public_jwk)  # nothing recorded: an empty report
    log.record(9, at(6))
    third_text = log.export(until=at(6))
    third = read_usage_report(third_text, key.public_jwk)
    assert [r.seq for r in (first, second, third)] == [1, 2, 3]
    assert second.prev == first.digest and third.prev == second.digest == report_digest(log_report(second))
    assert (second.period_start, second.period_end, second.daily, second.peak_users) == (at(3, 0), at(6, 0), (), 0)
    assert (third.period_start, third.period_end, third.daily) == (at(6, 0), at(7, 0), ((at(6, 0), 9),))
    # A second export the same UTC day has nothing new to carry (the day is closed): refused, as in Go and
    # TypeScript, and the last report is there to send again.
    with pytest.raises(ValueError, match="reported already"):
        log.export(until=at(6, 23))
    assert log.last_report == third_text and log.last_seq == 3


def log_report(report: object) -> str:
    return report.compact  # type: ignore[attr-defined,no-any-return]


def test_a_first_report_with_nothing_recorded_covers_the_until_day(log: UsageLog, key: InstallationKey) -> None:
    report = read_usage_report(log.export(until=at(9, 3)), key.public_jwk)
    assert (report.period_start, report.period_end, report.daily) == (at(9, 0), at(10, 0), ())


def test_days_after_until_wait_for_the_next_report(log: UsageLog, key: InstallationKey) -> None:
    log.record(1, at(1))
    log.record(2, at(8))
    report = read_usage_report(log.export(until=at(4)), key.public_jwk)
    assert report.daily == ((at(1, 0), 1),)
    assert log.pending == ((at(8, 0), 2),)


def test_it_never_goes_backwards(log: UsageLog) -> None:
    log.record(3, at(5))
    log.export(until=at(5))
    with pytest.raises(ValueError, match="already reported"):
        log.record(4, at(5, 23))
    with pytest.raises(ValueError, match="already reported"):
        log.record(4, at(1))
    with pytest.raises(ValueError, match="never go back"):
        log.export(until=at(3))
    log.record(4, at(6))  # the next day is fine
    with pytest.raises(ValueError, match="in the future"):
        log.export(until=datetime.now(UTC) + timedelta(days=2))


@pytest.mark.parametrize(
    ("count", "when", "error"),
    [
        (-1, None, ValueError),
        (True, None, ValueError),
        (1.5, None, TypeError),
        ("3", None, TypeError),
        (3, datetime(2025, 5, 1), ValueError),
        (3, "2025-05-01", TypeError),
    ],
)
def test_bad_arguments_are_refused_at_once(log: UsageLog, count: object, when: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        log.record(count, when)  # type: ignore[arg-type]
    assert log.pending == ()


def test_the_log_survives_a_restart(tmp_path: Path, key: InstallationKey, license_text: str) -> None:
    path = tmp_path / "usage.json"
    log = UsageLog(path, key, license_text)
    log.record(6, at(1))
    first = log.export(until=at(1))
    log.record(8, at(2))
    again = UsageLog(path, key, license_text)
    assert again.pending == ((at(2, 0), 8),)
    assert again.last_report == first and again.last_seq == 1
    second = read_usage_report(again.export(until=at(2)), key.public_jwk)
    assert second.seq == 2 and second.prev == report_digest(first)
    with pytest.raises(ValueError, match="already reported"):
        UsageLog(path, key, license_text).record(1, at(2))


def test_the_file_is_private_and_written_whole(tmp_path: Path, key: InstallationKey, license_text: str) -> None:
    path = tmp_path / "usage.json"
    log = UsageLog(path, key, license_text)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    inode = path.stat().st_ino
    log.record(1, at(1))
    assert path.stat().st_ino != inode  # replaced by a rename, never rewritten in place
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if "usage" in p.name] == ["usage.json"]  # no temporary file left
    assert key.private_pem() not in path.read_text() and "PRIVATE" not in path.read_text()


def test_a_renewed_license_continues_the_chain(tmp_path: Path, key: InstallationKey, signer: Signer) -> None:
    path = tmp_path / "usage.json"
    log = UsageLog(path, key, signer.sign_license(make_claims(jti="lic_1", installation_id=INSTALLATION)))
    first = log.export(until=at(1))
    renewed = UsageLog(path, key, signer.sign_license(make_claims(jti="lic_2", installation_id=INSTALLATION)))
    second = read_usage_report(renewed.export(until=at(2)), key.public_jwk)
    assert (second.license_id, second.seq, second.prev) == ("lic_2", 2, report_digest(first))


def test_an_unbound_license_needs_an_installation_id(tmp_path: Path, key: InstallationKey, signer: Signer) -> None:
    unbound = signer.sign_license(make_claims(jti="lic_1"))
    with pytest.raises(ValueError, match="installation_id"):
        UsageLog(tmp_path / "u.json", key, unbound)
    log = UsageLog(tmp_path / "u.json", key, unbound, installation_id="inst-9")
    assert log.installation_id == "inst-9"
    with pytest.raises(ValueError, match="not a license file"):
        UsageLog(tmp_path / "v.json", key, "hello", installation_id="inst-9")


def test_another_keys_log_is_refused(tmp_path: Path, key: InstallationKey, license_text: str) -> None:
    UsageLog(tmp_path / "usage.json", key, license_text)
    with pytest.raises(UsageLogError, match="belongs to installation key"):
        UsageLog(tmp_path / "usage.json", InstallationKey.generate(), license_text)


def _document(tmp_path: Path, key: InstallationKey, license_text: str) -> dict[str, object]:
    log = UsageLog(tmp_path / "usage.json", key, license_text)
    log.record(2, at(1))
    log.export(until=at(1))
    log.record(3, at(2))
    return json.loads((tmp_path / "usage.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: b"", "not JSON"),
        (lambda d: b"\xff\xfe{", "not JSON"),
        (lambda d: b'{"format": "licensing-usage-log"', "not JSON"),
        (lambda d: b"[]", "not a usage log"),
        (lambda d: json.dumps({**d, "format": "other"}).encode(), "not a usage log"),
        (lambda d: json.dumps({**d, "version": 2}).encode(), "version 2"),
        (lambda d: json.dumps({**d, "days": {}}).encode(), "days are missing"),
        (lambda d: json.dumps({**d, "days": [[1, 2]]}).encode(), "is not \\[day start, users\\]"),
        (
            lambda d: json.dumps({**d, "days": [[int(at(3, 0).timestamp()), -1]]}).encode(),
            "is not \\[day start, users\\]",
        ),
        (lambda d: json.dumps({**d, "days": [[int(at(1, 0).timestamp()), 1]]}).encode(), "already covered"),
        (lambda d: json.dumps({**d, "last_report": [1]}).encode(), "not an object"),
        (lambda d: json.dumps({**d, "last_report": {**d["last_report"], "seq": 0}}).encode(), "seq or digest"),
        (lambda d: json.dumps({**d, "last_report": {**d["last_report"], "period_end": 5}}).encode(), "period"),
        (lambda d: json.dumps({**d, "last_report": {**d["last_report"], "report": None}}).encode(), "missing"),
        (lambda d: json.dumps({**d, "last_report": {**d["last_report"], "digest": "A" * 43}}).encode(), "digest"),
    ],
)
def test_a_damaged_file_is_a_usage_log_error(
    tmp_path: Path, key: InstallationKey, license_text: str, damage: object, match: str
) -> None:
    document = _document(tmp_path, key, license_text)
    (tmp_path / "usage.json").write_bytes(damage(document))  # type: ignore[operator]
    with pytest.raises(UsageLogError, match=match) as caught:
        UsageLog(tmp_path / "usage.json", key, license_text)
    assert isinstance(caught.value, ValueError)
    assert "backup" in str(caught.value) or "belongs" in str(caught.value)


def test_a_directory_in_place_of_the_file_is_a_usage_log_error(
    tmp_path: Path, key: InstallationKey, license_text: str
) -> None:
    (tmp_path / "usage.json").mkdir()
    with pytest.raises(UsageLogError, match="directory"):
        UsageLog(tmp_path / "usage.json", key, license_text)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_an_os_error_not_damage(tmp_path: Path, key: InstallationKey, license_text: str) -> None:
    UsageLog(tmp_path / "usage.json", key, license_text)
    (tmp_path / "usage.json").chmod(0)
    with pytest.raises(PermissionError):
        UsageLog(tmp_path / "usage.json", key, license_text)


def test_a_failed_write_leaves_the_last_good_file(
    tmp_path: Path, key: InstallationKey, license_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "usage.json"
    log = UsageLog(path, key, license_text)
    log.record(3, at(1))
    before = path.read_bytes()

    def crash(source: object, target: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        log.record(9, at(1))
    monkeypatch.undo()
    assert path.read_bytes() == before  # the rename never happened: the old file is whole
    assert log.pending == ((at(1, 0), 3),)  # and the log in memory is as the file says
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        log.export(until=at(1))
    monkeypatch.undo()
    assert (log.last_seq, log.pending) == (0, ((at(1, 0), 3),))
    assert [p.name for p in tmp_path.iterdir() if "usage" in p.name] == ["usage.json"]  # no temporary file left
    assert UsageLog(path, key, license_text).pending == ((at(1, 0), 3),)


def test_threads_recording_at_once_keep_the_highest(tmp_path: Path, key: InstallationKey, license_text: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    log = UsageLog(tmp_path / "usage.json", key, license_text)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: log.record(n, at(1 + n % 3)), range(60)))
    assert log.pending == ((at(1, 0), 57), (at(2, 0), 58), (at(3, 0), 59))
    assert UsageLog(tmp_path / "usage.json", key, license_text).pending == log.pending
