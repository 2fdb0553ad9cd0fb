"""Proof of origin of RPC requests (kit.trust): what it covers, what refuses it, what it costs."""

import time
import timeit

import pytest

from kit import trust
from kit.trust import Untrusted, rpc_keys, sign, signed_request, verify

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
ADMIN = {"user_id": "u-1", "username": "admin", "role": "admin", "organization_id": None}
STAFF = {"user_id": "u-2", "username": "staff", "role": "federation_staff", "organization_id": "o"}


def request(actor, method="register_organization", expires=None, key=KEY):
    expires = time.time() + 10 if expires is None else expires
    return signed_request(key, "registry", method, [{"name": "x"}], {"actor": actor}, expires)


def check(signed, routing_key="registry.register_organization", body=None, keys=(KEY,)):
    verify(
        keys,
        routing_key,
        signed.body if body is None else body,
        signed.headers["nameko.rpc_proof"],
        content_type=signed.content_type,
        encoding=signed.content_encoding,
    )


def test_a_signed_request_verifies():
    check(request(ADMIN))


def test_the_body_is_what_nameko_would_send():
    import json

    assert json.loads(request(ADMIN).body) == {"args": [{"name": "x"}], "kwargs": {"actor": ADMIN}}


def reason(call):
    with pytest.raises(Untrusted) as refused:
        call()
    return refused.value.reason


def test_a_proof_for_another_actor_is_refused():
    signed_for_staff = request(STAFF)
    forged = request(ADMIN)
    assert reason(lambda: check(signed_for_staff, body=forged.body)) == "invalid"


def test_a_proof_for_another_method_is_refused():
    signed = request(ADMIN, method="get_organization")
    assert reason(lambda: check(signed)) == "invalid"


def test_an_expired_proof_is_refused():
    assert reason(lambda: check(request(ADMIN, expires=time.time() - 1))) == "expired"


def test_a_proof_made_with_another_key_is_refused():
    assert reason(lambda: check(request(ADMIN, key=OTHER_KEY))) == "invalid"


def test_the_previous_key_is_still_accepted_during_a_rotation():
    check(request(ADMIN, key=OTHER_KEY), keys=(KEY, OTHER_KEY))


@pytest.mark.parametrize(
    "proof, why",
    [(None, "missing"), ("", "missing"), ("nonsense", "malformed"), ("v0:1:ab", "malformed")],
)
def test_no_proof_or_a_malformed_one_is_refused(proof, why):
    assert reason(lambda: verify((KEY,), "registry.x", b"{}", proof)) == why


def test_a_proof_extended_by_hand_is_refused():
    signed = request(ADMIN)
    version, stamp, digest = signed.headers["nameko.rpc_proof"].split(":")
    later = f"{version}:{float(stamp) + 3600:.3f}:{digest}"
    assert reason(lambda: verify((KEY,), "registry.register_organization", signed.body, later)) == (
        "invalid"
    )


def test_the_key_is_required_outside_dev_and_test(monkeypatch):
    monkeypatch.delenv("JINGUO_RPC_KEY", raising=False)
    with pytest.raises(RuntimeError, match="JINGUO_RPC_KEY is unset"):
        rpc_keys({"JINGUO_ENV": "production"})
    assert rpc_keys({"JINGUO_ENV": "dev"}) == (trust.DEV_KEY.encode(),)


@pytest.mark.parametrize("environment", ["production", "dev"])
def test_a_short_key_is_refused(environment):
    with pytest.raises(RuntimeError, match="shorter than 32 bytes"):
        rpc_keys({"JINGUO_ENV": environment, "RPC_KEY": "too-short"})


def test_the_development_key_is_refused_outside_dev():
    with pytest.raises(RuntimeError, match="development key"):
        rpc_keys({"JINGUO_ENV": "production", "RPC_KEY": trust.DEV_KEY})


def test_the_config_key_comes_before_the_environment(monkeypatch):
    monkeypatch.setenv("JINGUO_RPC_KEY", "e" * 40)
    assert rpc_keys({"JINGUO_ENV": "production", "RPC_KEY": "c" * 40}) == (b"c" * 40,)
    assert rpc_keys({"JINGUO_ENV": "production"}) == (b"e" * 40,)


def test_what_a_proof_costs():
    """Not an assertion on time: the figure is printed (``pytest -s``) for the README."""
    body = request(ADMIN).body
    expires = time.time() + 10
    proof = sign(KEY, "registry.register_organization", body, expires)
    rounds = 20_000
    signing = timeit.timeit(
        lambda: sign(KEY, "registry.register_organization", body, expires), number=rounds
    )
    checking = timeit.timeit(
        lambda: verify((KEY,), "registry.register_organization", body, proof), number=rounds
    )
    print(
        f"\nproof of a {len(body)}-byte request: sign {signing / rounds * 1e6:.1f} µs, "
        f"verify {checking / rounds * 1e6:.1f} µs"
    )
