"""kit.schedule's small rules: who runs the checks by hand, and the moment they are run as of."""

from datetime import UTC, datetime

import pytest

from kit.errors import Forbidden, InvalidInput
from kit.schedule import ensure_may_run_checks, moment_of


def test_only_admins_and_the_system_run_the_checks():
    ensure_may_run_checks("admin")
    for role in ("federation_staff", "finance_officer", "ops", None):
        with pytest.raises(Forbidden):
            ensure_may_run_checks(role)


def test_as_of_is_an_aware_moment_kept_in_utc():
    assert moment_of("2027-03-31T12:00:00+08:00") == datetime(2027, 3, 31, 4, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput) as naive:
        moment_of("2027-03-31T12:00:00")
    assert naive.value.details["rule"] == "aware"
    with pytest.raises(InvalidInput):
        moment_of("next tuesday")
