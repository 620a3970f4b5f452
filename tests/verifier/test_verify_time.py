"""Time rules (SPEC sections 2 and 3; the verifier's module docstring for the edges).

A license is ``valid`` from ``nbf`` until ``exp``, in ``grace`` from ``exp`` until ``exp`` plus
``grace_days``, then ``expired``. ``nbf`` gets five minutes of leeway; ``iat`` more than five minutes
ahead of ``now`` is ``clock_skew``. Perpetual licenses (no ``exp``) never expire. ``now`` is an aware
datetime or POSIX seconds from 1970 to the end of 9999; anything else is the calling program's
mistake, raised at once and never blamed on the license: TypeError for another type (a bool or a
str), ValueError for a naive datetime, NaN, an infinity, or a time out of that range.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from verifier_helpers import DAY, EXPIRES, ISSUED, NOW, OMIT, make_license

from licensing.signing.jws import Signer
from licensing.verify import CLOCK_SKEW_SECONDS, Keyring, LicenseError, verify

LEEWAY = 5 * 60


def status(text: str, keyring: Keyring, now: Any) -> str:
    """The status, or the error code."""
    try:
        return verify(text, keyring, now=now).status
    except LicenseError as exc:
        return exc.code


def test_the_leeway_is_five_minutes() -> None:
    assert CLOCK_SKEW_SECONDS == LEEWAY


def test_valid_from_issue_until_exp(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer)
    for now in (ISSUED, ISSUED + 1, NOW, EXPIRES - DAY, EXPIRES - 1):
        assert status(text, keyring, now) == "valid", now


def test_grace_from_exp_until_the_grace_period_ends(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer, grace_days=10)
    grace_end = EXPIRES + 10 * DAY
    for now in (EXPIRES, EXPIRES + 1, EXPIRES + 5 * DAY, grace_end - 1):
        lic = verify(text, keyring, now=now)
        assert lic.status == "grace", now
        assert lic.expires_at == datetime.fromtimestamp(EXPIRES, UTC)
        assert lic.grace_ends_at == datetime.fromtimestamp(grace_end, UTC) == lic.expires_at + timedelta(days=10)
    for now in (grace_end, grace_end + 1, grace_end + 3650 * DAY):
        assert status(text, keyring, now) == "expired", now


def test_expired_message_names_the_dates(signer: Signer, keyring: Keyring) -> None:
    with pytest.raises(LicenseError) as caught:
        verify(make_license(signer, grace_days=10), keyring, now=EXPIRES + 11 * DAY)
    assert caught.value.code == "expired"
    assert datetime.fromtimestamp(EXPIRES, UTC).strftime("%Y-%m-%d") in caught.value.message
    assert "10-day grace" in caught.value.message


def test_no_grace_means_expired_at_exp(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer, grace_days=0, trial=True)
    assert status(text, keyring, EXPIRES - 1) == "valid"
    assert status(text, keyring, EXPIRES) == "expired"
    assert verify(text, keyring, now=EXPIRES - 1).grace_ends_at == datetime.fromtimestamp(EXPIRES, UTC)


def test_long_grace_is_capped_at_the_last_representable_second(signer: Signer, keyring: Keyring) -> None:
    last = 253_402_300_799  # 9999-12-31T23:59:59Z
    text = make_license(signer, exp=last - DAY, grace_days=36_500)
    lic = verify(text, keyring, now=last)
    assert lic.status == "grace"
    assert lic.grace_ends_at == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_perpetual_license_never_expires(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer, exp=OMIT, tier="free", seats=None, features=[], grace_days=0)
    for now in (ISSUED, NOW, NOW + 100 * 365 * DAY, 253_402_300_799, datetime(9999, 12, 31, tzinfo=UTC)):
        lic = verify(text, keyring, now=now)
        assert lic.status == "valid"
        assert lic.expires_at is None and lic.grace_ends_at is None
    # exp: null is the same as no exp.
    assert status(make_license(signer, exp=None), keyring, NOW + 1000 * 365 * DAY) == "valid"


def test_not_yet_valid_before_nbf(signer: Signer, keyring: Keyring) -> None:
    """A license issued now that starts in 30 days (enterprise with a custom start)."""
    nbf = NOW + 30 * DAY
    text = make_license(signer, iat=NOW, nbf=nbf, exp=nbf + 365 * DAY)
    for now in (NOW, NOW + DAY, nbf - DAY, nbf - LEEWAY - 1):
        assert status(text, keyring, now) == "not_yet_valid", now
    with pytest.raises(LicenseError) as caught:
        verify(text, keyring, now=NOW)
    assert datetime.fromtimestamp(nbf, UTC).strftime("%Y-%m-%d %H:%M:%S") in caught.value.message


def test_nbf_leeway_edge(signer: Signer, keyring: Keyring) -> None:
    """Valid from exactly five minutes before nbf; one second earlier is not yet valid."""
    nbf = NOW + 30 * DAY
    text = make_license(signer, iat=NOW, nbf=nbf, exp=nbf + 365 * DAY)
    assert status(text, keyring, nbf - LEEWAY - 1) == "not_yet_valid"
    assert status(text, keyring, nbf - LEEWAY) == "valid"
    assert status(text, keyring, nbf - 1) == "valid"
    assert status(text, keyring, nbf) == "valid"
    # The same edges with aware datetimes and fractional seconds.
    edge = datetime.fromtimestamp(nbf - LEEWAY, UTC)
    assert status(text, keyring, edge) == "valid"
    assert status(text, keyring, edge - timedelta(milliseconds=1)) == "not_yet_valid"
    assert status(text, keyring, nbf - LEEWAY - 0.5) == "not_yet_valid"


def test_freshly_issued_license_works_on_a_slow_clock(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer, iat=NOW, nbf=NOW)
    assert status(text, keyring, NOW - LEEWAY) == "valid"
    assert status(text, keyring, NOW - 60) == "valid"


def test_clock_skew_when_iat_is_more_than_five_minutes_ahead(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer, iat=NOW, nbf=NOW)
    assert status(text, keyring, NOW - LEEWAY) == "valid"
    for now in (NOW - LEEWAY - 1, NOW - DAY, NOW - 365 * DAY, 0):
        assert status(text, keyring, now) == "clock_skew", now
    with pytest.raises(LicenseError) as caught:
        verify(text, keyring, now=NOW - DAY)
    assert "clock" in caught.value.message


def test_clock_skew_is_reported_before_not_yet_valid(signer: Signer, keyring: Keyring) -> None:
    """When both apply, the wrong clock is the more useful reason."""
    text = make_license(signer, iat=NOW, nbf=NOW + 30 * DAY, exp=NOW + 60 * DAY)
    assert status(text, keyring, NOW - DAY) == "clock_skew"


def test_iat_in_the_future_within_leeway_is_fine_but_nbf_still_counts(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer, iat=NOW + 200, nbf=NOW + 200)
    assert status(text, keyring, NOW) == "valid"


def test_now_forms_agree(signer: Signer, keyring: Keyring) -> None:
    text = make_license(signer)
    for now in (EXPIRES - 1, EXPIRES, EXPIRES + 10 * DAY):
        as_datetime = datetime.fromtimestamp(now, UTC)
        as_other_zone = as_datetime.astimezone(timezone(timedelta(hours=-7)))
        expected = status(text, keyring, now)
        assert status(text, keyring, float(now)) == expected
        assert status(text, keyring, as_datetime) == expected
        assert status(text, keyring, as_other_zone) == expected
    assert status(text, keyring, datetime.fromtimestamp(EXPIRES, UTC) - timedelta(microseconds=1)) == "valid"


def test_now_defaults_to_the_system_clock(signer: Signer, keyring: Keyring) -> None:
    import time

    real_now = int(time.time())
    assert verify(make_license(signer, iat=real_now - 60, nbf=real_now - 60, exp=real_now + DAY), keyring).status == (
        "valid"
    )
    with pytest.raises(LicenseError) as caught:
        verify(make_license(signer, iat=real_now - 90 * DAY, nbf=real_now - 90 * DAY, exp=real_now - 60 * DAY), keyring)
    assert caught.value.code == "expired"


def test_naive_datetime_is_a_programming_error(signer: Signer, keyring: Keyring) -> None:
    with pytest.raises(ValueError, match="aware") as caught:
        verify(make_license(signer), keyring, now=datetime(2025, 6, 15))
    assert not isinstance(caught.value, LicenseError)


def test_time_checks_come_after_signature_and_binding(signer: Signer, keyring: Keyring) -> None:
    """An expired license bound elsewhere says installation_mismatch; an expired forgery is a forgery."""
    text = make_license(signer, installation_id="inst-1")
    assert status(text, keyring, EXPIRES + 100 * DAY) == "installation_mismatch"
    other = Signer(signer.kid, Ed25519PrivateKey.generate())
    assert status(make_license(other), keyring, EXPIRES + 100 * DAY) == "bad_signature"


# --- now that is not a time: the calling program's mistake, raised at once -----------------------
@pytest.mark.parametrize("now", [float("nan"), float("inf"), float("-inf")])
def test_now_that_is_not_finite_is_a_value_error(signer: Signer, keyring: Keyring, now: float) -> None:
    with pytest.raises(ValueError, match="finite") as caught:
        verify(make_license(signer), keyring, now=now)
    assert not isinstance(caught.value, LicenseError)
    assert "now" in str(caught.value)


@pytest.mark.parametrize("now", [True, False, "2025-06-15T00:00:00Z", str(NOW), b"1", [NOW], object()])
def test_now_of_another_type_is_a_type_error(signer: Signer, keyring: Keyring, now: Any) -> None:
    with pytest.raises(TypeError, match="now"):
        verify(make_license(signer), keyring, now=now)


LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z


@pytest.mark.parametrize(
    "now",
    [
        -1,
        -0.5,
        -(10**20),
        LAST_SECOND + 1,
        float(LAST_SECOND + 1),
        10**20,
        10**400,
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),  # 10000-01-01 in UTC
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1970, 1, 1, 5, tzinfo=timezone(timedelta(hours=6))),  # 1969 in UTC
    ],
    ids=lambda now: str(now)[:32],
)
def test_now_out_of_range_is_a_value_error(signer: Signer, keyring: Keyring, now: Any) -> None:
    with pytest.raises(ValueError, match="between 1970 and 9999") as caught:
        verify(make_license(signer), keyring, now=now)
    assert not isinstance(caught.value, LicenseError)


def test_now_at_the_edges_of_the_range_is_a_time(signer: Signer, keyring: Keyring) -> None:
    perpetual = make_license(signer, iat=0, nbf=0, exp=OMIT)
    for now in (
        0,
        0.0,
        LAST_SECOND,
        LAST_SECOND + 0.999,
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime.max.replace(tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=14))),
    ):
        assert verify(perpetual, keyring, now=now).status == "valid", now


def test_bad_now_is_reported_before_the_license_is_read(keyring: Keyring) -> None:
    """A broken program learns of its mistake even when the license would also be refused."""
    with pytest.raises(ValueError):
        verify("not a license", keyring, now=float("nan"))
    with pytest.raises(TypeError):
        verify("not a license", keyring, now="now")


def test_an_int_subclass_is_a_time(signer: Signer, keyring: Keyring) -> None:
    class Seconds(int):
        pass

    assert verify(make_license(signer), keyring, now=Seconds(NOW)).status == "valid"
