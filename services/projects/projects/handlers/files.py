"""Evidence files: the gateway keeps the bytes in its blob store; projects keeps who uploaded
each file and which reports reference it, and so who may download it."""

from __future__ import annotations

import uuid
from typing import Any

from projects.commands import ReadableFile, RegisterFile
from projects.context import Context
from projects.exceptions import ContractNotFound, FileNotFound, OutOfScope, RuleBroken


def register_file(ctx: Context, command: RegisterFile) -> dict[str, Any]:
    """The gateway stored a file's bytes in the blob store: remember who uploaded it."""
    record = {
        "id": str(uuid.uuid4()),
        "sha256": command.sha256,
        "size": command.size,
        "content_type": command.content_type,
        "name": command.name,
        "uploaded_by": ctx.actor.user_id,
        "organization_id": ctx.actor.organization_id,
        "uploaded_at": ctx.clock.now(),
    }
    ctx.repo.add_file(**record)
    return record


def readable_file(ctx: Context, command: ReadableFile) -> dict[str, Any]:
    """The file, if the actor uploaded it or may see a contract one of whose reports
    references it; anyone else is told there is no such file (as for a missing one)."""
    stored = ctx.repo.file(command.file_id)
    if stored is None:
        raise FileNotFound(command.file_id)
    if stored["uploaded_by"] == ctx.actor.user_id:
        return stored
    for contract_id in ctx.repo.contracts_referencing(command.file_id):
        try:
            ctx.visible_contract(contract_id)
        except (ContractNotFound, OutOfScope):
            continue
        return stored
    raise FileNotFound(command.file_id)


def evidence_files(
    ctx: Context, items: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """A report's evidence with each uploaded file's sha256 filled in from the file, and the
    files it references. Only files the reporter uploaded may be referenced: any other (or one
    that does not exist) is refused alike, naming the field."""
    evidence: list[dict[str, Any]] = []
    file_ids: list[str] = []
    for index, item in enumerate(items):
        file_id = item.get("file_id")
        if file_id is None:
            evidence.append(item)
            continue
        stored = ctx.repo.file(file_id)
        if stored is None or stored["uploaded_by"] != ctx.actor.user_id:
            raise RuleBroken(
                f"no file {file_id} uploaded by you",
                field=f"evidence[{index}].file_id",
                rule="file_not_available",
                file_id=file_id,
            )
        if item.get("sha256") and item["sha256"] != stored["sha256"]:
            raise RuleBroken(
                "the sha256 given is not the uploaded file's",
                field=f"evidence[{index}].sha256",
                rule="sha256_mismatch",
            )
        evidence.append({**item, "sha256": stored["sha256"], "file_id": file_id})
        if file_id not in file_ids:
            file_ids.append(file_id)
    return evidence, file_ids
