"""What a project delivered, as its readers see it: targets against actuals (the delivery
report) and, for finance, a contract's milestones with their latest reports."""

from __future__ import annotations

from datetime import date
from typing import Any

from projects.domain.contract import Contract, MilestoneReport
from projects.domain.project import Project


def delivery_report(project: Project, contract: Contract | None, today: date) -> dict[str, Any]:
    """Targets against actuals: what the project delivered."""
    milestones = contract.milestones if contract else []
    accepted = [m for m in milestones if m.status == "accepted"]
    overdue = [m for m in milestones if m.status != "accepted" and m.due_on < today]
    scores = {s["indicator"]: s["score"] for s in (project.evaluation or {}).get("scores", [])}
    return {
        "project_id": project.id,
        "status": project.status,
        "beneficiaries": {
            "target": project.target_beneficiaries,
            "served": project.beneficiaries_served,
        },
        "indicators": [
            {
                "name": indicator["name"],
                "unit": indicator.get("unit"),
                "target": indicator["target"],
                "actual": project.indicator_actuals.get(indicator["name"], 0),
                "score": scores.get(indicator["name"]),
            }
            for indicator in project.indicators
        ],
        "volunteer_hours": round(project.volunteer_minutes / 60, 2),
        "money": {
            "budget": project.budget,
            "contracted": contract.amount if contract and contract.status != "cancelled" else 0,
            "committed": project.amount_committed,
            "disbursed": project.amount_approved,
            "paid": project.amount_paid,
        },
        "milestones": {
            "total": len(milestones),
            "accepted": len(accepted),
            "on_time": sum(1 for m in accepted if m.accepted_on_time),
            "late": sum(1 for m in accepted if m.accepted_on_time is False),
            "overdue": len(overdue),
        },
        "evaluation": project.evaluation,
    }


def contract_brief(
    contract: Contract, project: Project, reports: dict[str, list[MilestoneReport]]
) -> dict[str, Any]:
    """What finance reads beside a contract's money: its project, its contractor and, per
    milestone, the latest report (summary, people served, evidence) and how it was decided."""

    def latest(milestone_id: str) -> dict[str, Any] | None:
        found = reports.get(milestone_id) or []
        if not found:
            return None
        report = found[-1]
        return {
            "id": report.id,
            "summary": report.summary,
            "beneficiaries_served": report.beneficiaries_served,
            "evidence": list(report.evidence or []),
            "reported_at": report.reported_at,
            "decision": report.decision,
            "decided_by": report.decided_by,
        }

    return {
        "contract_id": contract.id,
        "project_id": project.id,
        "project_title": project.title,
        "contractor_id": contract.contractor_id,
        "amount": contract.amount,
        "status": contract.status,
        "milestones": [
            {
                "id": m.id,
                "seq": m.seq,
                "title": m.title,
                "amount": m.amount,
                "status": m.status,
                "report": latest(m.id),
            }
            for m in sorted(contract.milestones, key=lambda m: m.seq)
        ],
    }
