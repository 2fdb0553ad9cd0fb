"""Volunteer service certificates (志愿服务证明): issued, listed, read, downloaded as PDF and
revoked by the volunteer's line; verified by anyone with the number and code; and the
volunteer's own account.

The volunteers service decides who may do what to which certificate (its line, the leader who
issued it, the volunteer herself); these routes name the roles and render the PDF from the
certificate's frozen content (``volunteers.certificate_pdf``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from gateway import accounts
from gateway.http import PUBLIC, Call, api
from gateway.routes import MANAGERS
from gateway.routes.files import content_disposition
from gateway.schemas import UserOut
from kit.clock import utcnow
from kit.fields import Text
from volunteers import certificate_pdf, schemas

TAG = "Certificates"
CERTIFICATE = "/certificates/{certificate_id}"
#: who issues and revokes (the service narrows each to her line)
ISSUERS = ("admin", "federation_staff", "team_leader")
#: who reads certificates: the issuers, and the volunteer her own
READERS = (*ISSUERS, "volunteer")
#: the console's public page a certificate's QR code opens
VERIFY_PAGE = "/public/certificates/verify"
USER = UserOut()


class VolunteerAccountCreate(Schema):
    username = Text(required=True, validate=validate.Length(min=3, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


def verify_url(call: Call, number: str, code: str) -> str:
    query = urlencode({"number": number, "code": code})
    return f"{call.request.host_url.rstrip('/')}{VERIFY_PAGE}?{query}"


class CertificatesRoutes:
    @api(
        "POST",
        "/certificates/preview",
        summary="Preview a volunteer service certificate",
        tag=TAG,
        roles=ISSUERS,
        body=schemas.CertificateRequest,
        response=schemas.CertificateFigures,
    )
    def preview_certificate(self, call: Call) -> Any:
        """The verified hours, activities, themes and places a certificate for this volunteer
        and period would carry; nothing is issued."""
        return self.volunteers.call("preview_certificate", call.body, call.actor.to_dict())

    @api(
        "POST",
        "/certificates",
        summary="Issue a volunteer service certificate",
        tag=TAG,
        roles=ISSUERS,
        body=schemas.CertificateRequest,
        response=schemas.CertificateOut,
        status=201,
        idempotent=True,
    )
    def issue_certificate(self, call: Call) -> Any:
        """From the volunteer's **verified** hours in the period: staff for a federation of
        their subtree (their own by default), a leader for her team's host. Its content is
        frozen and signed (Ed25519); a period without verified hours is a 422
        `NO_VERIFIED_HOURS`."""
        return 201, self.volunteers.call("issue_certificate", call.body, call.actor.to_dict())

    @api(
        "GET",
        "/certificates",
        summary="List volunteer service certificates",
        tag=TAG,
        roles=READERS,
        query=schemas.CertificateFilters,
        response=schemas.CertificatePage,
    )
    def list_certificates(self, call: Call) -> Any:
        """Those of the volunteers you see; a volunteer her own."""
        return self.volunteers.call("list_certificates", call.query, call.actor.to_dict())

    @api(
        "GET",
        CERTIFICATE,
        summary="Read a volunteer service certificate",
        tag=TAG,
        roles=READERS,
        response=schemas.CertificateOut,
    )
    def get_certificate(self, call: Call) -> Any:
        """With its frozen content and whether it still matches its signature (`genuine`)."""
        return self.volunteers.call(
            "get_certificate", call.path["certificate_id"], call.actor.to_dict()
        )

    @api(
        "GET",
        CERTIFICATE + "/pdf",
        summary="Download a volunteer service certificate (PDF)",
        tag=TAG,
        roles=READERS,
    )
    def certificate_pdf(self, call: Call) -> Any:
        """One A4 page in Chinese (font embedded) with the number, the verification code and
        a QR code to the public verification page. A revoked one is marked 已撤销."""
        certificate = self.volunteers.call(
            "get_certificate", call.path["certificate_id"], call.actor.to_dict()
        )
        number, code = certificate["number"], certificate["verification_code"]
        pdf = certificate_pdf.render(
            certificate["content"],
            code,
            verify_url(call, number, code),
            revoked=certificate["status"] == "revoked",
        )
        return Response(
            pdf,
            status=200,
            content_type="application/pdf",
            headers={
                "Content-Disposition": content_disposition(f"志愿服务证明-{number}.pdf"),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @api(
        "POST",
        CERTIFICATE + "/revoke",
        summary="Revoke a volunteer service certificate",
        tag=TAG,
        roles=ISSUERS,
        body=schemas.CertificateRevocation,
        response=schemas.CertificateOut,
    )
    def revoke_certificate(self, call: Call) -> Any:
        """With a reason, by an admin, staff above the issuing organization or the leader who
        issued it; verification answers `revoked` from then on. Revoking twice is a 409."""
        return self.volunteers.call(
            "revoke_certificate", call.path["certificate_id"], call.body, call.actor.to_dict()
        )

    @api(
        "GET",
        "/public/certificates/{number}",
        summary="Verify a volunteer service certificate (public)",
        tag=TAG,
        roles=PUBLIC,
        query=schemas.CertificateCheck,
        response=schemas.CertificateVerification,
        statuses={
            429: "Too many requests from this client address (TOO_MANY_REQUESTS); "
            "`Retry-After` says how many seconds to wait"
        },
    )
    def verify_certificate(self, call: Call) -> Any:
        """No login. `result`: `genuine`, `revoked`, `invalid` (the stored certificate no
        longer matches its signature) or `not_found` (no such number, or the wrong code).
        Besides the result: the hours, the period, the issuer and the masked name — never a
        phone, an ID number or the full name."""
        self._admit_visitor(call)
        query = schemas.CertificateCheck().load(call.query)
        return self.volunteers.call("verify_certificate", call.path["number"], query["code"])

    @api(
        "POST",
        "/volunteers/{volunteer_id}/account",
        summary="Create a volunteer's own account",
        tag=TAG,
        roles=MANAGERS,
        body=VolunteerAccountCreate,
        response=UserOut,
        status=201,
        validate_body=True,
    )
    def create_volunteer_account(self, call: Call) -> Any:
        """A `volunteer` account linked to her record, by an admin or staff who see her (404
        otherwise): she signs in to see her own record, her hours and her certificates, and
        nothing else. One account per volunteer (409 `VOLUNTEER_ACCOUNT_EXISTS`)."""
        volunteer_id = call.path["volunteer_id"]
        actor = call.actor.to_dict()
        user = accounts.create_volunteer_account(
            self.db,
            volunteer_id,
            call.body,
            call.actor,
            utcnow(),
            lambda user_id: self.volunteers.call("link_account", volunteer_id, user_id, actor),
        )
        return 201, USER.dump(user)
