"""Volunteers errors: each names the field and rule, or the state that forbids the action.

None of them carries personal data: a phone or ID number is never part of a message or of
``details`` (they reach logs and clients), only the field it was in and the rule it broke.
"""

from __future__ import annotations

from kit.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound, OutOfScope

__all__ = [
    "AccountLinked",
    "ActivityEnded",
    "ActivityFull",
    "ActivityNotFound",
    "AlreadyEnrolled",
    "AlreadyMember",
    "CertificateNotFound",
    "DuplicateTeam",
    "DuplicateVolunteer",
    "EnrolmentNotFound",
    "HoursNotFound",
    "HoursOverlap",
    "InvalidTransition",
    "NotEnrolled",
    "OutOfScope",
    "RuleBroken",
    "SelfVerification",
    "TeamNotFound",
    "UnmaskingNotAllowed",
    "VolunteerNotFound",
]


class RuleBroken(InvalidInput):
    """A request that breaks a rule of the domain; ``field`` and ``rule`` say which."""

    def __init__(
        self, message: str, *, field: str, rule: str, code: str | None = None, **details: object
    ) -> None:
        super().__init__(message, field=field, rule=rule, **details)
        self.field = field
        self.rule = rule
        if code:
            self.code = code


class TeamNotFound(NotFound):
    code = "TEAM_NOT_FOUND"

    def __init__(self, team_id: str) -> None:
        super().__init__(f"no team {team_id}", team_id=team_id)


class VolunteerNotFound(NotFound):
    code = "VOLUNTEER_NOT_FOUND"

    def __init__(self, volunteer_id: str) -> None:
        super().__init__(f"no volunteer {volunteer_id}", volunteer_id=volunteer_id)


class ActivityNotFound(NotFound):
    code = "ACTIVITY_NOT_FOUND"

    def __init__(self, activity_id: str) -> None:
        super().__init__(f"no activity {activity_id}", activity_id=activity_id)


class EnrolmentNotFound(NotFound):
    code = "ENROLMENT_NOT_FOUND"

    def __init__(self, enrolment_id: str) -> None:
        super().__init__(f"no enrolment {enrolment_id}", enrolment_id=enrolment_id)


class CertificateNotFound(NotFound):
    code = "CERTIFICATE_NOT_FOUND"

    def __init__(self, certificate_id: str) -> None:
        super().__init__(f"no certificate {certificate_id}", certificate_id=certificate_id)


class AccountLinked(Conflict):
    """The volunteer's record is linked to another account already (one per volunteer)."""

    code = "VOLUNTEER_ACCOUNT_EXISTS"


class HoursNotFound(NotFound):
    code = "SERVICE_HOURS_NOT_FOUND"

    def __init__(self, entry_id: str) -> None:
        super().__init__(f"no service hours entry {entry_id}", entry_id=entry_id)


class DuplicateVolunteer(Conflict):
    """Somebody with this phone (or ID number) is registered already: found by its keyed hash.

    ``volunteer_id`` names her only for a caller who may see her (None: not named), so that a
    phone number cannot be used to find somebody's record."""

    code = "DUPLICATE_VOLUNTEER"

    def __init__(self, field: str, volunteer_id: str | None) -> None:
        named = {"volunteer_id": volunteer_id} if volunteer_id is not None else {}
        super().__init__(
            f"a volunteer with this {field.replace('_', ' ')} is registered already",
            field=field,
            rule="unique",
            **named,
        )


class ActivityFull(Conflict):
    code = "ACTIVITY_FULL"

    def __init__(self, activity_id: str, capacity: int) -> None:
        super().__init__(
            f"the activity's {capacity} places are taken (enrol with waitlist: true to queue)",
            activity_id=activity_id,
            capacity=capacity,
        )


class ActivityEnded(Conflict):
    """Enrolment (or the waitlist) closes when the activity ends: its state, not the request,
    forbids it."""

    code = "ACTIVITY_ENDED"

    def __init__(self, activity_id: str, ends_at: str) -> None:
        super().__init__(
            f"the activity ended at {ends_at}: nobody enrols in it any more",
            activity_id=activity_id,
            ends_at=ends_at,
        )


class AlreadyEnrolled(Conflict):
    code = "DUPLICATE_ENROLMENT"

    def __init__(self, activity_id: str, volunteer_id: str, enrolment_id: str, status: str) -> None:
        super().__init__(
            f"the volunteer is {status} for this activity already",
            activity_id=activity_id,
            volunteer_id=volunteer_id,
            enrolment_id=enrolment_id,
            status=status,
        )


class NotEnrolled(Conflict):
    code = "NOT_ENROLLED"

    def __init__(self, activity_id: str, volunteer_id: str, status: str | None) -> None:
        state = f"is {status}" if status else "has not enrolled"
        super().__init__(
            f"the volunteer {state} for this activity; hours are logged for enrolled volunteers",
            activity_id=activity_id,
            volunteer_id=volunteer_id,
            enrolment_status=status,
        )


class HoursOverlap(Conflict):
    code = "HOURS_OVERLAP"

    def __init__(self, entry_id: str) -> None:
        super().__init__(
            "the volunteer already has service hours logged for part of this time",
            field="started_at",
            rule="no_overlap",
            overlapping_entry_id=entry_id,
        )


class SelfVerification(Forbidden):
    """Maker-checker: nobody verifies hours they logged, or their own as a volunteer."""

    code = "SELF_VERIFICATION"

    def __init__(self, entry_id: str, reason: str) -> None:
        super().__init__(
            f"you cannot decide on these hours: {reason}", entry_id=entry_id, reason=reason
        )


# kit's OutOfScope and InvalidTransition are re-exported: the service raises them as they are
_ = (OutOfScope, InvalidTransition)


class DuplicateTeam(Conflict):
    code = "DUPLICATE_TEAM"

    def __init__(self, host_id: str, team_id: str) -> None:
        super().__init__(
            "the host already has a team of this name",
            field="name",
            rule="unique_per_host",
            host_id=host_id,
            team_id=team_id,
        )


class AlreadyMember(Conflict):
    code = "ALREADY_MEMBER"

    def __init__(self, team_id: str, volunteer_id: str) -> None:
        super().__init__(
            "the volunteer is in this team already", team_id=team_id, volunteer_id=volunteer_id
        )


class UnmaskingNotAllowed(Forbidden):
    code = "UNMASKING_NOT_ALLOWED"

    def __init__(self, role: str) -> None:
        super().__init__(
            "only an admin reads personal data unmasked (and every such read is audited)",
            role=role,
        )
