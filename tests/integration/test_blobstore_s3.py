"""The S3 blob store against a real S3-compatible HTTP server: moto's, in a subprocess
(MinIO in production speaks the same protocol; boto3 does not know the difference)."""

import hashlib
import subprocess
import sys

import boto3
import pytest
import requests

from gateway.blobstore import BlobCorrupt, S3BlobStore, open_store
from tests.conftest import free_port
from tests.support.waiting import wait_until

PDF = b"%PDF-1.4\n" + b"evidence " * 20000 + b"\n%%EOF\n"


@pytest.fixture(scope="module")
def endpoint():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(url, timeout=1).status_code < 500
        except requests.RequestException:
            return False

    try:
        wait_until(answers, timeout=60)
        yield url
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def store(endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "jinguo")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "jinguo-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="evidence")
    store = open_store("s3://evidence/jinguo", s3_endpoint=endpoint)
    assert isinstance(store, S3BlobStore)
    return store


def test_bytes_go_in_under_their_hash_and_come_back_checked(store):
    blob = store.put(PDF[i : i + 4096] for i in range(0, len(PDF), 4096))
    assert (blob.sha256, blob.size) == (hashlib.sha256(PDF).hexdigest(), len(PDF))
    listed = store.client.list_objects_v2(Bucket="evidence")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [(f"jinguo/{blob.sha256}", len(PDF))]
    with store.open_verified(blob.sha256, blob.size) as handle:
        assert handle.read() == PDF


def test_a_tampered_or_missing_object_is_refused(store):
    blob = store.put([PDF])
    store.client.put_object(
        Bucket="evidence", Key=store.key(blob.sha256), Body=PDF.replace(b"evidence", b"tampered")
    )
    with pytest.raises(BlobCorrupt):
        store.open_verified(blob.sha256, blob.size)
    store.client.delete_object(Bucket="evidence", Key=store.key(blob.sha256))
    with pytest.raises(BlobCorrupt, match="missing"):
        store.open_verified(blob.sha256, blob.size)
