"""Projects errors: each names the field and rule, or the state that forbids the action."""

from __future__ import annotations

from kit.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    OutOfScope,
)

__all__ = [
    "ApplicationNotFound",
    "ContractNotFound",
    "DuplicateApplication",
    "FileNotFound",
    "InvalidTransition",
    "MilestoneNotFound",
    "OutOfScope",
    "ProjectNotFound",
    "ProviderNotEligible",
    "RuleBroken",
    "SelfAcceptance",
]


class ProjectNotFound(NotFound):
    code = "PROJECT_NOT_FOUND"

    def __init__(self, project_id: str) -> None:
        super().__init__(f"no project {project_id}", project_id=project_id)


class ContractNotFound(NotFound):
    code = "CONTRACT_NOT_FOUND"

    def __init__(self, contract_id: str) -> None:
        super().__init__(f"no contract {contract_id}", contract_id=contract_id)


class FileNotFound(NotFound):
    code = "FILE_NOT_FOUND"

    def __init__(self, file_id: str) -> None:
        super().__init__(f"no file {file_id}", file_id=file_id)


class MilestoneNotFound(NotFound):
    code = "MILESTONE_NOT_FOUND"

    def __init__(self, contract_id: str, milestone_id: str) -> None:
        super().__init__(
            f"contract {contract_id} has no milestone {milestone_id}",
            contract_id=contract_id,
            milestone_id=milestone_id,
        )


class ApplicationNotFound(NotFound):
    code = "APPLICATION_NOT_FOUND"

    def __init__(self, application_id: str) -> None:
        super().__init__(
            f"no application {application_id} for this project", application_id=application_id
        )


class RuleBroken(InvalidInput):
    """A request that breaks a rule of the domain; ``field`` and ``rule`` say which."""

    def __init__(
        self, message: str, *, field: str, rule: str, code: str | None = None, **details: object
    ) -> None:
        super().__init__(message, field=field, rule=rule, **details)
        if code:
            self.code = code


class ProviderNotEligible(Conflict):
    code = "PROVIDER_NOT_ELIGIBLE"

    def __init__(self, provider_id: str, status: str | None, kind: str | None) -> None:
        if kind is None:
            reason = "is not known here yet (registry changes take a moment to arrive)"
        elif kind != "service_provider":
            reason = f"is a {kind.replace('_', ' ')}, not a service provider"
        else:
            reason = f"is {status}; only verified providers may apply or be awarded"
        super().__init__(
            f"organization {provider_id} {reason}",
            provider_id=provider_id,
            provider_status=status,
            provider_kind=kind,
        )


class DuplicateApplication(Conflict):
    code = "DUPLICATE_APPLICATION"

    def __init__(self, project_id: str, provider_id: str, existing_id: str) -> None:
        super().__init__(
            "this provider has already applied for this project",
            project_id=project_id,
            provider_id=provider_id,
            application_id=existing_id,
        )


class SelfAcceptance(Forbidden):
    """Maker-checker: whoever reported a milestone does not accept or reject that report."""

    code = "SELF_ACCEPTANCE"

    def __init__(self, milestone_id: str, action: str) -> None:
        super().__init__(
            f"you reported this milestone: another person must {action} the report",
            milestone_id=milestone_id,
            action=action,
        )
