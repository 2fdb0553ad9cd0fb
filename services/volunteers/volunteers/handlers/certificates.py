"""Volunteer service certificates (志愿服务证明): previewed, issued, listed, read, revoked, and
verified by anyone with the number and code; and the volunteer's account linked to her record.

Who issues: staff for a federation of their subtree (their own by default), whose subtree
hosts the teams she served in; a team leader for the host of the teams she leads, counting
those teams only; an admin for any federation or host unit. Counted: the volunteer's
**verified** hours started within the period (China days) in those teams. Who revokes: an
admin, staff above the issuing organization, or the leader who issued it. Who reads: those who
may see the volunteer on the roster, and the volunteer herself (her account linked).
"""

from __future__ import annotations

from typing import Any

from kit.clock import local_date
from kit.paging import fetched_page
from volunteers.commands import (
    GetCertificate,
    IssueCertificate,
    LinkAccount,
    ListCertificates,
    PreviewCertificate,
    RevokeCertificate,
    VerifyCertificate,
)
from volunteers.context import Context
from volunteers.domain import certificates as rules
from volunteers.domain.certificates import Certificate
from volunteers.domain.identity import mask_id_number
from volunteers.domain.scope import ROSTER_ROLES
from volunteers.exceptions import (
    AccountLinked,
    CertificateNotFound,
    OutOfScope,
    RuleBroken,
    VolunteerNotFound,
)
from volunteers.handlers.volunteers import visible_volunteer

#: who issues certificates (the service narrows each to her line)
ISSUERS = ("admin", "federation_staff", "team_leader")
ISSUER_KINDS = ("federation", "host_unit")


def _issuer(ctx: Context, issuer_id: str | None) -> tuple[dict[str, Any], Any]:
    """The issuing organization's directory entry and the teams whose hours it certifies."""
    actor = ctx.actor
    leader = actor.user_id if actor.role == "team_leader" else None
    if issuer_id is None and actor.role == "federation_staff":
        issuer_id = actor.organization_id
    if issuer_id is None and leader is not None:
        hosts = ctx.repo.hosts_led_by(leader)
        issuer_id = hosts[0] if len(hosts) == 1 else None
    entry = ctx.entry(issuer_id) if issuer_id else None
    if entry is None or entry.get("kind") not in ISSUER_KINDS:
        raise RuleBroken(
            "name the issuing federation or host unit", field="issuer_id", rule="exists"
        )
    allowed = (
        actor.is_admin
        or (leader is not None and issuer_id in ctx.repo.hosts_led_by(leader))
        or (entry["kind"] == "federation" and ctx.scope.covers(entry["path"]))
    )
    if not allowed:
        raise OutOfScope(
            "certificates are issued by staff for a federation of their subtree, or by a "
            "leader for her team's host",
            field="issuer_id",
            role=actor.role,
        )
    return entry, ctx.repo.issuer_teams(entry["path"], leader)


def _figures(ctx: Context, command: PreviewCertificate | IssueCertificate) -> dict[str, Any]:
    if ctx.actor.role not in ISSUERS:
        raise OutOfScope(f"a {ctx.actor.role} does not issue certificates", role=ctx.actor.role)
    rules.check_period(command.period_from, command.period_to, ctx.clock.today())
    volunteer = ctx.named_volunteer(command.volunteer_id)
    entry, team_ids = _issuer(ctx, command.issuer_id)
    served = ctx.repo.served_entries(volunteer.id, command.period_from, command.period_to, team_ids)
    figures = rules.summarise(served)
    return {
        "volunteer_id": volunteer.id,
        "volunteer_name": volunteer.name,
        "period_from": command.period_from.isoformat(),
        "period_to": command.period_to.isoformat(),
        "issuer_id": entry["id"],
        "issuer_name": entry.get("name") or "",
        **figures,
    }


def preview_certificate(ctx: Context, command: PreviewCertificate) -> dict[str, Any]:
    """What a certificate for this volunteer and period would say (the console shows it
    before issuing)."""
    return _figures(ctx, command)


def issue_certificate(ctx: Context, command: IssueCertificate) -> dict[str, Any]:
    """The certificate issued: its content frozen and signed, a number of the year."""
    figures = _figures(ctx, command)
    rules.ensure_some_hours(figures)
    volunteer = ctx.repo.volunteer(command.volunteer_id)
    at = ctx.clock.now()
    issued_on = local_date(at)
    sequence = ctx.repo.next_certificate_sequence(issued_on.year)
    number = rules.certificate_number(issued_on.year, sequence)
    id_number = (
        ctx.personal_data.open(volunteer.id_number_cipher, "id_number", volunteer.id)
        if volunteer.id_number_cipher
        else None
    )
    content = {
        **figures,
        "number": number,
        "masked_id_number": mask_id_number(id_number) if id_number else None,
        "issued_on": issued_on.isoformat(),
        "issued_by": ctx.actor.user_id,
    }
    certificate = Certificate(
        number=number,
        year=issued_on.year,
        sequence=sequence,
        volunteer_id=volunteer.id,
        issuer_id=figures["issuer_id"],
        content=content,
        signer=ctx.signer,
        issued_by=ctx.actor.user_id,
        issued_at=at,
    )
    ctx.repo.add(certificate)
    return certificate_view(certificate)


def _readable(ctx: Context, certificate_id: str, *, for_update: bool = False) -> Certificate:
    """The certificate, if the actor may see its volunteer (or is her); else a 404."""
    certificate = ctx.repo.certificate(certificate_id, for_update=for_update)
    try:
        visible_volunteer(ctx, certificate.volunteer_id)
    except (VolunteerNotFound, OutOfScope):
        raise CertificateNotFound(certificate.id) from None
    return certificate


def get_certificate(ctx: Context, command: GetCertificate) -> dict[str, Any]:
    certificate = _readable(ctx, command.certificate_id)
    view = certificate_view(certificate)
    view["genuine"] = certificate.genuine(ctx.signer)
    return view


def list_certificates(ctx: Context, command: ListCertificates) -> dict[str, Any]:
    """A volunteer lists her own; the roster roles those of the volunteers they see."""
    if ctx.actor.role == "volunteer":
        visible = ctx.repo.own_record(ctx.actor.user_id)
    elif ctx.actor.role in ROSTER_ROLES:
        visible = ctx.roster_scope()
    else:
        raise OutOfScope(f"a {ctx.actor.role} reads no certificates", role=ctx.actor.role)
    fetched = ctx.repo.list_certificates(
        command.page, volunteer_id=command.volunteer_id, status=command.status, visible=visible
    )
    page = fetched_page(fetched, command.page)
    page["items"] = [certificate_view(c) for c in page["items"]]
    return page


def revoke_certificate(ctx: Context, command: RevokeCertificate) -> dict[str, Any]:
    """Revoked with a reason, by an admin, staff above the issuer, or the leader who issued
    it; verification says revoked from then on."""
    certificate = _readable(ctx, command.certificate_id, for_update=True)
    actor = ctx.actor
    issuer_path = ctx.path_of(certificate.issuer_id)
    if not (
        actor.is_admin
        or (actor.role == "federation_staff" and ctx.scope.covers(issuer_path))
        or (actor.role == "team_leader" and certificate.issued_by == actor.user_id)
    ):
        raise OutOfScope(
            "a certificate is revoked by staff above its issuer or the leader who issued it",
            certificate_id=certificate.id,
            role=actor.role,
        )
    certificate.revoke(command.reason, actor.user_id, ctx.clock.now())
    return certificate_view(certificate)


def verify_certificate(ctx: Context, command: VerifyCertificate) -> dict[str, Any]:
    """Anyone's check: genuine, revoked, invalid (altered since it was signed) or not found
    (an unknown number, or the wrong code)."""
    certificate = ctx.repo.certificate_by_number(command.number.strip().upper())
    return rules.public_answer(certificate, command.code, ctx.signer)


def link_account(ctx: Context, command: LinkAccount) -> dict[str, Any]:
    """The volunteer's record linked to her new account: by an admin or staff who see her."""
    if ctx.actor.role not in ("admin", "federation_staff"):
        raise OutOfScope("volunteer accounts are made by staff or an admin", role=ctx.actor.role)
    volunteer = visible_volunteer(ctx, command.volunteer_id)
    volunteer = ctx.repo.volunteer(volunteer.id, for_update=True)
    if volunteer.user_id is not None and volunteer.user_id != command.user_id:
        raise AccountLinked("the volunteer has an account already", volunteer_id=volunteer.id)
    volunteer.user_id = command.user_id
    return {"volunteer_id": volunteer.id, "user_id": command.user_id, "name": volunteer.name}


def certificate_view(certificate: Certificate) -> dict[str, Any]:
    content = certificate.content
    return {
        "id": certificate.id,
        "number": certificate.number,
        "verification_code": certificate.code,
        "volunteer_id": certificate.volunteer_id,
        "volunteer_name": content.get("volunteer_name"),
        "issuer_id": certificate.issuer_id,
        "issuer_name": content.get("issuer_name"),
        "period_from": certificate.period_from,
        "period_to": certificate.period_to,
        "total_minutes": certificate.total_minutes,
        "total_hours": content.get("total_hours"),
        "status": certificate.status,
        "issued_by": certificate.issued_by,
        "issued_at": certificate.issued_at,
        "revoked_by": certificate.revoked_by,
        "revoked_at": certificate.revoked_at,
        "revoke_reason": certificate.revoke_reason,
        "content": content,
    }
