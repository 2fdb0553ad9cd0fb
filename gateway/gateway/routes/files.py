"""Evidence files: upload (streamed into the blob store) and download (checked on the way out).

The bytes never travel through RabbitMQ: the gateway writes them to the blob store, chunk by
chunk, and tells the projects service who uploaded what (``register_file``). Who may download
a file is the projects service's answer (``readable_file``: its uploader, or whoever may see a
contract one of whose reports references it); anyone else gets the 404 of a missing file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import chain
from typing import IO, Any
from urllib.parse import quote

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from gateway import filetypes
from gateway.blobstore import CHUNK, BlobCorrupt
from gateway.errors import HttpError, ValidationFailed
from gateway.http import BodyStream, Call, StreamedBody, api
from projects import schemas as projects_schemas

log = logging.getLogger(__name__)

#: who uploads evidence (contractors report; staff and admins may attach documents too)
UPLOADERS = ("contractor", "federation_staff", "admin")
#: who may ask for a file: every role that can see contracts (the service decides which)
READERS = ("admin", "federation_staff", "contractor", "finance_officer")
DEFAULT_FILE_MAX_BYTES = 20 * 1024 * 1024


class FileIntegrityError(HttpError):
    status, code = 500, "FILE_INTEGRITY_ERROR"


class UploadQuery(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=255),
            validate.Regexp(r"^[^\x00-\x1f\x7f/\\]+$", error="No control characters or slashes."),
        ],
        metadata={"description": "the file's name (URL-encoded), shown when it is downloaded"},
    )


def _upload_name(query: dict[str, Any]) -> str:
    try:
        return str(UploadQuery().load(query)["name"]).strip()
    except ValidationError as exc:
        raise ValidationFailed("the query does not match the schema", fields=exc.messages) from None


def _head(stream: BodyStream, size: int) -> bytes:
    """The first ``size`` bytes (fewer only if the body is shorter)."""
    head = b""
    while len(head) < size:
        data = stream.read(size - len(head))
        if not data:
            break
        head += data
    return head


def _chunks(stream: BodyStream) -> Iterator[bytes]:
    return iter(lambda: stream.read(CHUNK), b"")


def content_disposition(name: str) -> str:
    return f"attachment; filename*=UTF-8''{quote(name, safe='')}"


class FilesRoutes:
    @api(
        "POST",
        "/files",
        summary="Upload an evidence file",
        tag="Files",
        roles=UPLOADERS,
        query=UploadQuery,
        response=projects_schemas.FileOut,
        status=201,
        stream=StreamedBody(filetypes.MEDIA_TYPES, "FILE_MAX_BYTES", DEFAULT_FILE_MAX_BYTES),
        statuses={415: "Not a PDF, JPEG, PNG or Office document, or its bytes are not the type"},
    )
    def upload_file(self, call: Call) -> Any:
        """The body is the file's bytes, `Content-Type` its type: PDF, JPEG, PNG, Word, Excel
        or PowerPoint (its first bytes must match the type). `?name=` is its file name. Up to
        `GATEWAY_FILE_MAX_BYTES` (20 MB by default), else 413. Reference the answer's
        `file_id` in a milestone report's evidence."""
        name = _upload_name(call.query)
        assert call.stream is not None
        media_type = call.request.mimetype
        head = _head(call.stream, filetypes.HEAD_BYTES)
        filetypes.check(media_type, head)
        blob = self.blobs.put(chain([head], _chunks(call.stream)))
        payload = {
            "sha256": blob.sha256,
            "size": blob.size,
            "content_type": media_type,
            "name": name,
        }
        return 201, self.projects.call("register_file", payload, call.actor.to_dict())

    @api(
        "GET",
        "/files/{file_id}",
        summary="Download an evidence file",
        tag="Files",
        roles=READERS,
        statuses={500: "The stored file does not match its hash: it is not served"},
    )
    def download_file(self, call: Call) -> Any:
        """The file's bytes, to its uploader and to whoever may see a contract one of whose
        reports references it; anyone else gets a 404. The bytes are checked against the file's
        SHA-256 before any is sent."""
        meta = self.projects.call("readable_file", call.path["file_id"], call.actor.to_dict())
        try:
            handle: IO[bytes] = self.blobs.open_verified(meta["sha256"], meta["size"])
        except BlobCorrupt as exc:
            log.error(
                "refused to serve file %s: blob %s %s", meta["file_id"], exc.sha256, exc.reason
            )
            raise FileIntegrityError(
                "the stored file does not match its hash; it has been logged",
                file_id=meta["file_id"],
            ) from None
        return Response(
            wrap_file(call.request.environ, handle, CHUNK),
            status=200,
            content_type=meta["content_type"],
            direct_passthrough=True,
            headers={
                "Content-Length": str(meta["size"]),
                "Content-Disposition": content_disposition(meta["name"]),
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )
