"""The OCDS 1.1.5 export of a contracting process: one project, its applications and contract.

Plain Python: ``release_package`` maps the domain objects to a JSON-ready release package (one
release, a snapshot of the process now); the only I/O is reading the vendored schema in
``load_schema_validator``. Core OCDS 1.1.5 only: no extensions are declared, and no field the
release schema does not define is emitted.

Mapping choices, where Jinguo and OCDS do not line up one to one:

- Money: Jinguo keeps integer fen; OCDS amounts are in currency units, so 12345 fen is the
  JSON number 123.45 (CNY). Every amount is checked to convert back to the same fen.
- Calendar dates (``starts_on``, ``ends_on``, ``due_on``) are days in China, which keeps
  China Standard Time (UTC+08:00, no daylight saving) everywhere. OCDS needs a date-time, and
  its guidance for dates without a time is "sensible defaults": a period starts at 00:00:00
  and ends, and a due date falls, at 23:59:59 of that day, in the publisher's time zone. So
  2025-03-31 due is "2025-03-31T23:59:59+08:00", not a UTC midnight that would put the
  deadline eight hours into the Chinese day (or a day early, read in UTC). Moments Jinguo
  records (aware UTC datetimes) are given in UTC, "Z", to the second.
- Party identifiers: the Unified Social Credit Code (统一社会信用代码, GB 32100-2015) under the
  org-id.guide scheme ``CN-USCI`` ("Unified Social Credit Identifier", list
  lists/cn/cn-usci.json of the org-id register: companies and social organizations). The
  older ``CN-SAIC`` list covers only business registration with the former SAIC, not the
  federations and social organizations that carry a USCC, so it is not used. The party ``id``
  is Jinguo's organization id, which exists even where the USCC is unknown.
- Milestone tranches: OCDS 1.1.5 ``Milestone`` has no value (adding one is an open proposal,
  open-contracting/standard#438), so planned tranches are not exported; the contract value is
  their sum, and every payment of a tranche appears as an implementation transaction.
- A Jinguo contract is in force from its award (``dateSigned`` is the award moment), so a
  cancelled contract is OCDS "terminated" (signed, then closed early; "cancelled" means never
  signed): its award is "cancelled", which keeps the distinction from a completed contract.
- A project cancelled after its award leaves the tender "complete" (the award happened) and
  cancels the award; cancelled before the award, the tender itself is "cancelled".
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from importlib import resources
from typing import Any

from jsonschema import FormatChecker
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource

from projects.domain.application import Application
from projects.domain.contract import Contract, Milestone
from projects.domain.project import Project

OCDS_VERSION = "1.1"
CURRENCY = "CNY"
LANGUAGE = "zh"
#: org-id.guide list code for China's Unified Social Credit Code (统一社会信用代码)
USCC_SCHEME = "CN-USCI"
#: the zone calendar dates are meant in: China Standard Time, UTC+08:00 all year
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")

TENDER_STATUS = {
    "draft": "planning",
    "published": "active",
    "awarded": "complete",
    "evaluated": "complete",
    "closed": "complete",
    "cancelled": "cancelled",
}
PROCUREMENT_METHOD = {"commissioned": "open", "self_run": "direct"}
PROCUREMENT_METHOD_DETAILS = {
    "commissioned": "委托：政府委托妇联实施，公开征集服务提供方承接",
    "self_run": "替代：妇联自行设计并组织实施，直接确定承接方",
}
#: contractStatus (closed codelist: pending, active, cancelled, terminated) has no
#: "suspended": a suspended contract is still in force
CONTRACT_STATUS = {
    "active": "active",
    "suspended": "active",
    "completed": "terminated",
    "cancelled": "terminated",
    "terminated": "terminated",  # ended early: its provider was deregistered
}
MILESTONE_STATUS = {
    "pending": "scheduled",
    "reported": "scheduled",
    "accepted": "met",
    "rejected": "notMet",
}

SCHEMA_DIR = "ocds_schema"
PACKAGE_SCHEMA = "release-package-schema.json"
RELEASE_SCHEMA = "release-schema.json"


def release_package(
    project: Project,
    contract: Contract | None,
    applications: list[Application] | None,
    parties: dict[str, dict],
    *,
    ocid_prefix: str,
    publisher_name: str,
    published_at: datetime,
    uri: str | None = None,
) -> dict[str, Any]:
    """The OCDS release package of ``project``'s contracting process, as JSON-ready data.

    ``parties`` maps organization ids to directory entries (``name``, ``uscc``); an id it
    lacks is named by the id itself. Without ``uri`` the package gets a ``urn:uuid:`` derived
    from its release, as the schema requires one. ``applications`` None withholds the
    tenderers (a tender not yet awarded, exported to someone who may not know the bidders):
    no tenderers, no count, no tenderer parties, and no application moves the release date.
    """
    release = _release(project, contract, applications, parties, ocid_prefix)
    return {
        "uri": uri or _package_uri(release),
        "version": OCDS_VERSION,
        "publishedDate": _moment(published_at),
        "publisher": {"name": publisher_name},
        "releases": [release],
    }


def release(
    project: Project,
    contract: Contract | None,
    applications: list[Application] | None,
    parties: dict[str, dict],
    *,
    ocid_prefix: str,
) -> dict[str, Any]:
    """One release of ``project``'s contracting process (as in ``release_package``), for a
    package of several (``package``)."""
    return _release(project, contract, applications, parties, ocid_prefix)


def package(
    releases: list[dict[str, Any]],
    *,
    publisher_name: str,
    uri: str | None = None,
    published_at: datetime | None = None,
) -> dict[str, Any]:
    """A release package of several processes' releases. Its ``publishedDate`` is the latest
    release's date (the same releases make the same package, so it can be cached and
    compared), ``published_at`` when there is none; without ``uri`` a ``urn:uuid:`` derived
    from the releases' ids."""
    dates = [r["date"] for r in releases]
    published = max(dates) if dates else _moment(published_at or datetime.now(UTC))
    if uri is None:
        name = ",".join(r["id"] for r in releases) or published
        uri = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": published,
        "publisher": {"name": publisher_name},
        "releases": releases,
    }


# --- the release ------------------------------------------------------------------------------


def _release(
    project: Project,
    contract: Contract | None,
    given: list[Application] | None,
    directory: dict[str, dict],
    ocid_prefix: str,
) -> dict[str, Any]:
    applications = given or []
    _check_belongs(project, contract, applications)
    ocid = f"{ocid_prefix}-{project.id}"
    milestones = contract.milestones if contract is not None else []
    implementing = any(m.reported_at is not None or m.paid_at is not None for m in milestones)

    parties = _Parties(directory)
    buyer = parties.add(project.purchaser_id, "buyer", "procuringEntity", "payer")
    applicants = sorted(applications, key=lambda a: (a.submitted_at, a.id))
    tenderers = (
        _unique(parties.add(a.provider_id, "tenderer") for a in applicants)
        if given is not None
        else None
    )
    supplier = (
        parties.add(contract.contractor_id, "supplier", "payee") if contract is not None else None
    )

    release: dict[str, Any] = {
        "ocid": ocid,
        "id": None,  # set below, from the content
        "date": _moment(_last_change(project, contract, applications)),
        "tag": _tags(project, contract, implementing),
        "initiationType": "tender",
        "language": LANGUAGE,
        "parties": parties.all(),
        "buyer": buyer,
        "planning": _planning(project),
        "tender": _tender(project, contract, buyer, tenderers),
    }
    if contract is not None and supplier is not None:
        release["awards"] = [_award(project, contract, supplier)]
        release["contracts"] = [_contract(project, contract, buyer, supplier, implementing)]
    release["id"] = f"{ocid}-{project.version}-{_digest(release)}"
    return release


def _check_belongs(
    project: Project, contract: Contract | None, applications: list[Application]
) -> None:
    if contract is not None and contract.project_id != project.id:
        raise ValueError(f"contract {contract.id} is not the contract of project {project.id}")
    strangers = [a.id for a in applications if a.project_id != project.id]
    if strangers:
        raise ValueError(f"applications {strangers} are not for project {project.id}")


def _tags(project: Project, contract: Contract | None, implementing: bool) -> list[str]:
    tags = ["planning"]
    if project.published_at is not None:
        tags.append("tender")
        if project.status == "cancelled" and contract is None:
            tags.append("tenderCancellation")
    if contract is not None:
        tags += ["award", "contract"]
        if contract.status == "cancelled":
            tags.append("awardCancellation")
    if implementing:
        tags.append("implementation")
    if contract is not None and contract.status in ("completed", "cancelled", "terminated"):
        tags.append("contractTermination")
    return tags


def _last_change(
    project: Project, contract: Contract | None, applications: list[Application]
) -> datetime:
    """The latest moment anything in the process changed (payments do not touch the
    contract's ``updated_at``, so the milestones' own moments count too)."""
    moments: list[datetime | None] = [
        project.created_at,
        project.updated_at,
        project.published_at,
        project.closed_at,
    ]
    moments += [a.submitted_at for a in applications]
    if contract is not None:
        moments += [contract.awarded_at, contract.updated_at]
        for m in contract.milestones:
            moments += [m.reported_at, m.accepted_at, m.payment_updated_at, m.paid_at]
    return max(moment for moment in moments if moment is not None)


def _planning(project: Project) -> dict[str, Any]:
    planning: dict[str, Any] = {}
    if project.description:
        planning["rationale"] = project.description
    planning["budget"] = {
        "id": project.funding_source_id,
        "description": f"政府购买服务项目预算，资金来源 {project.funding_source_id}",
        "amount": _value(project.budget),
    }
    return planning


def _tender(
    project: Project,
    contract: Contract | None,
    buyer: dict[str, str],
    tenderers: list[dict[str, str]] | None,
) -> dict[str, Any]:
    status = TENDER_STATUS[project.status]
    if project.status == "cancelled" and contract is not None:
        status = "complete"  # the award was made; it is the award that is cancelled
    tender: dict[str, Any] = {"id": project.id, "title": project.title}
    if project.description:
        tender["description"] = project.description
    tender |= {
        "status": status,
        "procuringEntity": buyer,
        "value": _value(project.budget),
        "procurementMethod": PROCUREMENT_METHOD[project.model],
        "procurementMethodDetails": PROCUREMENT_METHOD_DETAILS[project.model],
        "mainProcurementCategory": "services",
        "contractPeriod": _period(project),
    }
    if project.published_at is not None:
        tender["tenderPeriod"] = {"startDate": _moment(project.published_at)}
        if project.model == "commissioned" and tenderers is not None:
            tender["tenderers"] = tenderers
            tender["numberOfTenderers"] = len(tenderers)
    return tender


def _award(project: Project, contract: Contract, supplier: dict[str, str]) -> dict[str, Any]:
    return {
        "id": contract.id,
        "status": "cancelled" if contract.status == "cancelled" else "active",
        "date": _moment(contract.awarded_at),
        "value": _value(contract.amount),
        "suppliers": [supplier],
        "contractPeriod": _period(project),
    }


def _contract(
    project: Project,
    contract: Contract,
    buyer: dict[str, str],
    supplier: dict[str, str],
    implementing: bool,
) -> dict[str, Any]:
    """The award and the contract share Jinguo's contract id: one award, one contract."""
    result: dict[str, Any] = {
        "id": contract.id,
        "awardID": contract.id,
        "title": project.title,
        "status": CONTRACT_STATUS[contract.status],
        "period": _period(project),
        "value": _value(contract.amount),
        "dateSigned": _moment(contract.awarded_at),
        "milestones": [_milestone(m) for m in contract.milestones],
    }
    if implementing:
        result["implementation"] = {
            "transactions": _transactions(contract.milestones, buyer, supplier),
            "milestones": [_milestone(m) for m in contract.milestones],
        }
    return result


def _milestone(milestone: Milestone) -> dict[str, Any]:
    """A contract milestone. Its tranche has no place in OCDS 1.1.5 (see the module notes);
    the moment a report was rejected is kept on the report, not the milestone, so a "notMet"
    milestone carries no ``dateModified``."""
    result: dict[str, Any] = {"id": milestone.id, "title": milestone.title, "type": "delivery"}
    if milestone.deliverables:
        result["description"] = milestone.deliverables
    result["dueDate"] = _day_end(milestone.due_on)
    if milestone.status == "accepted" and milestone.accepted_at is not None:
        result["dateMet"] = _moment(milestone.accepted_at)
        result["dateModified"] = _moment(milestone.accepted_at)
    elif milestone.status == "reported" and milestone.reported_at is not None:
        result["dateModified"] = _moment(milestone.reported_at)
    result["status"] = MILESTONE_STATUS[milestone.status]
    return result


def _transactions(
    milestones: list[Milestone], payer: dict[str, str], payee: dict[str, str]
) -> list[dict[str, Any]]:
    """One transaction per paid milestone, identified by the payment reference (else the
    disbursement, else the milestone). The funding source id is not a URI, so no ``source``."""
    transactions: list[dict[str, Any]] = []
    seen: set[str] = set()
    for milestone in sorted(milestones, key=lambda m: m.seq):
        if milestone.paid_at is None:
            continue
        ident = milestone.payment_reference or milestone.disbursement_id or milestone.id
        if ident in seen:
            ident = f"{ident}-{milestone.seq}"
        seen.add(ident)
        transactions.append(
            {
                "id": ident,
                "date": _moment(milestone.paid_at),
                "value": _value(milestone.paid_amount),
                "payer": payer,
                "payee": payee,
            }
        )
    return transactions


# --- parties ----------------------------------------------------------------------------------


class _Parties:
    """The release's parties, one per organization, its roles merged in order of mention."""

    def __init__(self, directory: dict[str, dict]) -> None:
        self._directory = directory
        self._parties: dict[str, dict[str, Any]] = {}

    def add(self, organization_id: str, *roles: str) -> dict[str, str]:
        """Add ``roles`` to the organization's party; returns its OrganizationReference."""
        organization_id = str(organization_id)
        party = self._parties.get(organization_id)
        if party is None:
            entry = self._directory.get(organization_id) or {}
            name = entry.get("name") or organization_id
            party = {"id": organization_id, "name": name}
            if entry.get("uscc"):
                party["identifier"] = {
                    "scheme": USCC_SCHEME,
                    "id": str(entry["uscc"]),
                    "legalName": name,
                }
            party["roles"] = []
            self._parties[organization_id] = party
        party["roles"] += [role for role in roles if role not in party["roles"]]
        return {"id": party["id"], "name": party["name"]}

    def all(self) -> list[dict[str, Any]]:
        return list(self._parties.values())


def _unique(references: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """References in order, each organization once (a provider may apply more than once)."""
    result: dict[str, dict[str, str]] = {}
    for reference in references:
        result.setdefault(reference["id"], reference)
    return list(result.values())


# --- values and dates -------------------------------------------------------------------------


def _yuan(fen: int) -> float:
    """``fen`` as a JSON number of yuan: 12345 -> 123.45, checked to lose no fen."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"an amount in fen is an int, not {fen!r}")
    amount = float(Decimal(fen) / 100)
    if round(amount * 100) != fen:
        raise ValueError(f"{fen} fen cannot be written exactly as a number of yuan")
    return amount


def _value(fen: int) -> dict[str, Any]:
    return {"amount": _yuan(fen), "currency": CURRENCY}


def _moment(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"moments are aware datetimes, not {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _day_start(day: date) -> str:
    return datetime.combine(day, time(0, 0, 0), CHINA_STANDARD_TIME).isoformat()


def _day_end(day: date) -> str:
    return datetime.combine(day, time(23, 59, 59), CHINA_STANDARD_TIME).isoformat()


def _period(project: Project) -> dict[str, str]:
    return {"startDate": _day_start(project.starts_on), "endDate": _day_end(project.ends_on)}


def _digest(release: dict[str, Any]) -> str:
    """12 hex digits of the release's content (without its id): the same state of the process
    always gets the same release id, and any change a new one, even where ``project.version``
    does not move (applications, milestones and payments do not bump it)."""
    content = {key: value for key, value in release.items() if key != "id"}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _package_uri(release: dict[str, Any]) -> str:
    name = f"{release['ocid']}/{release['id']}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


# --- the schema -------------------------------------------------------------------------------


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    path = resources.files("projects").joinpath(SCHEMA_DIR, name)
    return json.loads(path.read_text(encoding="utf-8"))


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


def _format_checker() -> FormatChecker:
    """jsonschema's format checks, with RFC 3339 ``date-time`` (a time and an offset are
    required, as OCDS says) and absolute ``uri`` checked without optional packages."""
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.fullmatch(value):
            return False
        datetime.fromisoformat(value.upper())  # raises on impossible dates and times
        return True

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        return not isinstance(value, str) or bool(_URI.fullmatch(value))

    return checker


@functools.cache
def load_schema_validator() -> Validator:
    """A validator for release-package-schema.json whose ``$ref`` to the release schema's
    published URL resolves to the vendored copy (no network), with format checks on."""
    package_schema = _schema(PACKAGE_SCHEMA)
    release_schema = _schema(RELEASE_SCHEMA)
    registry: Registry = Registry().with_resources(
        (schema["id"], Resource.from_contents(schema))
        for schema in (release_schema, package_schema)
    )
    validator_class = validator_for(package_schema)
    return validator_class(package_schema, registry=registry, format_checker=_format_checker())
