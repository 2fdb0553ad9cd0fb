"""Evidence files in the gateway: which bytes pass as which type, and the blob store (a
directory, and S3 through botocore's Stubber: no S3 server runs here)."""

import hashlib
import io

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from gateway import filetypes
from gateway.blobstore import BlobCorrupt, DirectoryBlobStore, S3BlobStore, open_store
from gateway.errors import UnsupportedMediaType
from gateway.routes.files import content_disposition

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24
DOCX = b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"
OOXML = "application/vnd.openxmlformats-officedocument"


@pytest.mark.parametrize(
    ("media_type", "head"),
    [
        ("application/pdf", PDF),
        ("image/png", PNG),
        ("image/jpeg", JPEG),
        ("application/msword", DOC),
        ("application/vnd.ms-excel", DOC),
        ("application/vnd.ms-powerpoint", DOC),
        (f"{OOXML}.wordprocessingml.document", DOCX),
        (f"{OOXML}.spreadsheetml.sheet", DOCX),
        (f"{OOXML}.presentationml.presentation", DOCX),
    ],
)
def test_each_allowed_type_passes_with_its_own_signature(media_type, head):
    filetypes.check(media_type, head[: filetypes.HEAD_BYTES])


@pytest.mark.parametrize(
    ("media_type", "head"),
    [
        ("application/pdf", EXE),  # a program renamed to .pdf
        (f"{OOXML}.wordprocessingml.document", EXE),
        ("image/png", JPEG),  # a real image, but not the type it claims
        ("application/msword", DOCX),
        ("application/pdf", b""),  # empty
        ("application/pdf", b"%PD"),  # cut short
    ],
)
def test_bytes_that_are_not_the_declared_type_are_refused(media_type, head):
    with pytest.raises(UnsupportedMediaType) as refused:
        filetypes.check(media_type, head)
    assert refused.value.status == 415 and refused.value.details["rule"] == "signature_mismatch"


@pytest.mark.parametrize(
    "media_type",
    ["application/x-msdownload", "text/html", "image/svg+xml", "application/zip", ""],
)
def test_types_outside_the_list_are_refused(media_type):
    with pytest.raises(UnsupportedMediaType) as refused:
        filetypes.check(media_type, PDF)
    assert refused.value.code == "UNSUPPORTED_MEDIA_TYPE"


def test_the_download_name_is_utf8_encoded_for_content_disposition():
    assert content_disposition("验收报告 第1期.pdf") == (
        "attachment; filename*=UTF-8''"
        "%E9%AA%8C%E6%94%B6%E6%8A%A5%E5%91%8A%20%E7%AC%AC1%E6%9C%9F.pdf"
    )
    assert content_disposition('a";b.pdf') == "attachment; filename*=UTF-8''a%22%3Bb.pdf"


def chunks(data, size=7):
    return (data[i : i + size] for i in range(0, len(data), size))


def test_the_directory_store_keeps_bytes_under_their_hash_and_serves_them_back(tmp_path):
    store = DirectoryBlobStore(tmp_path / "blobs")
    data = PDF * 1000
    blob = store.put(chunks(data))
    assert blob.sha256 == hashlib.sha256(data).hexdigest() and blob.size == len(data)
    assert store.path(blob.sha256).read_bytes() == data
    assert store.put(chunks(data)) == blob  # the same bytes twice: one blob
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []  # no temporary file left
    with store.open_verified(blob.sha256, blob.size) as handle:
        assert handle.read() == data


def test_the_directory_store_refuses_a_tampered_or_missing_blob(tmp_path):
    store = DirectoryBlobStore(tmp_path)
    blob = store.put([PDF])
    store.path(blob.sha256).write_bytes(PDF.replace(b"obj", b"jbo"))  # same size, other bytes
    with pytest.raises(BlobCorrupt):
        store.open_verified(blob.sha256, blob.size)
    store.path(blob.sha256).write_bytes(PDF + b"x")
    with pytest.raises(BlobCorrupt):
        store.open_verified(blob.sha256, blob.size)
    store.path(blob.sha256).unlink()
    with pytest.raises(BlobCorrupt, match="missing"):
        store.open_verified(blob.sha256, blob.size)


def test_a_failed_upload_leaves_no_temporary_file(tmp_path):
    store = DirectoryBlobStore(tmp_path)

    def broken():
        yield PDF
        raise OSError("the client went away")

    with pytest.raises(OSError):
        store.put(broken())
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_store_is_chosen_by_url(tmp_path):
    assert isinstance(open_store(str(tmp_path / "a")), DirectoryBlobStore)
    assert isinstance(open_store(f"file://{tmp_path}/b"), DirectoryBlobStore)
    s3 = open_store("s3://evidence/jinguo", s3_endpoint="http://127.0.0.1:9000")
    assert isinstance(s3, S3BlobStore) and (s3.bucket, s3.prefix) == ("evidence", "jinguo/")
    with pytest.raises(ValueError, match="scheme"):
        open_store("ftp://x/y")


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client = boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with Stubber(client) as stubber:
        yield S3BlobStore(client, "evidence", "files/"), stubber
        stubber.assert_no_pending_responses()


def test_s3_put_sends_the_bytes_under_their_hash(s3):
    store, stubber = s3
    digest = hashlib.sha256(PDF).hexdigest()
    stubber.add_response(
        "put_object",
        {},
        {
            "Bucket": "evidence",
            "Key": f"files/{digest}",
            "Body": ANY,
            "ContentLength": len(PDF),
            "ContentType": "application/octet-stream",
        },
    )
    assert store.put(chunks(PDF)).sha256 == digest


def body(data):
    return StreamingBody(io.BytesIO(data), len(data))


def test_s3_get_serves_intact_bytes_and_refuses_tampered_or_missing_ones(s3):
    store, stubber = s3
    digest = hashlib.sha256(PDF).hexdigest()
    where = {"Bucket": "evidence", "Key": f"files/{digest}"}
    stubber.add_response("get_object", {"Body": body(PDF)}, where)
    with store.open_verified(digest, len(PDF)) as handle:
        assert handle.read() == PDF
    stubber.add_response("get_object", {"Body": body(PDF.upper())}, where)
    with pytest.raises(BlobCorrupt):
        store.open_verified(digest, len(PDF))
    stubber.add_client_error("get_object", "NoSuchKey", http_status_code=404)
    with pytest.raises(BlobCorrupt, match="missing"):
        store.open_verified(digest, len(PDF))
