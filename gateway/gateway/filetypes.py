"""Which documents may be uploaded as evidence, and whether the bytes are what they claim.

The declared type (the request's ``Content-Type``) must be one of ``MEDIA_TYPES``, and the
file's first bytes must carry that type's signature (its magic number): a program renamed to
``.pdf`` and sent as ``application/pdf`` is refused. Office documents come in two containers:
the legacy formats (doc, xls, ppt) are OLE2 compound files, the current ones (docx, xlsx,
pptx) ZIP archives.
"""

from __future__ import annotations

from gateway.errors import UnsupportedMediaType

PDF = b"%PDF-"
JPEG = b"\xff\xd8\xff"
PNG = b"\x89PNG\r\n\x1a\n"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"

_OOXML = "application/vnd.openxmlformats-officedocument"
#: declared media type → the signature its bytes start with
SIGNATURES: dict[str, bytes] = {
    "application/pdf": PDF,
    "image/jpeg": JPEG,
    "image/png": PNG,
    "application/msword": OLE2,
    "application/vnd.ms-excel": OLE2,
    "application/vnd.ms-powerpoint": OLE2,
    f"{_OOXML}.wordprocessingml.document": ZIP,
    f"{_OOXML}.spreadsheetml.sheet": ZIP,
    f"{_OOXML}.presentationml.presentation": ZIP,
}
MEDIA_TYPES = tuple(SIGNATURES)
#: bytes to read before deciding
HEAD_BYTES = max(len(signature) for signature in SIGNATURES.values())


def check(media_type: str, head: bytes) -> None:
    """Refuse (415) a type that is not allowed, or bytes that do not start as it says."""
    signature = SIGNATURES.get(media_type)
    if signature is None:
        raise UnsupportedMediaType(
            f"{media_type or 'no content type'} is not a document type accepted as evidence",
            content_type=media_type,
            allowed=list(MEDIA_TYPES),
        )
    if not head.startswith(signature):
        raise UnsupportedMediaType(
            f"the file's content is not {media_type}",
            content_type=media_type,
            rule="signature_mismatch",
        )
