"""The gateway's answers: headers on every answer, the health report kept a few seconds, an
idempotent retry waiting for the first attempt's outcome."""

import eventlet
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from gateway.healthcache import CachedReport
from gateway.http import Route, serve
from language.actor import Actor

# --- Cache-Control --------------------------------------------------------------------------


class FakeAuth:
    def authenticate(self, header):
        return Actor(user_id="u1", username="chen.li", role="admin")


class FakeService:
    def __init__(self):
        self.auth = FakeAuth()
        self.config = {"RPC_TIMEOUT": 1}
        self.max_body_bytes = 1024


def route(**overrides):
    values = {
        "name": "read_x",
        "method": "GET",
        "path": "/x",
        "summary": "Read x",
        "tag": "Test",
        "roles": ("admin",),
        "body": None,
        "query": None,
        "response": None,
        "status": 200,
        "idempotent": False,
        "validate_body": False,
    }
    values.update(overrides)
    return Route(**values)


def get(handler, **overrides):
    request = Request(
        EnvironBuilder(path="/api/v1/x", headers={"Authorization": "Bearer t"}).get_environ()
    )
    return serve(FakeService(), route(**overrides), handler, request, {})


def test_an_api_answer_is_not_stored_by_any_cache():
    assert get(lambda service, call: {"money": 1}).headers["Cache-Control"] == "no-store"


def test_an_error_answer_is_not_stored_either():
    response = get(lambda service, call: {}, roles=("finance_officer",))
    assert response.status_code == 403
    assert response.headers["Cache-Control"] == "no-store"


def test_a_route_that_allows_revalidation_keeps_its_own_cache_control():
    def handler(service, call):
        return Response("{}", headers={"ETag": '"3"', "Cache-Control": "private, no-cache"})

    assert get(handler).headers["Cache-Control"] == "private, no-cache"


# --- the health report ----------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_health_report_is_computed_once_per_ttl():
    clock = Clock()
    cached = CachedReport(5, clock=clock)
    made = []

    def compute():
        made.append(1)
        return 200, {"report": len(made)}

    first = cached.get(compute)
    assert [cached.get(compute) for _ in range(100)] == [first] * 100
    assert cached.computed == 1 and cached.get(compute) is first
    clock.now += 5
    assert cached.get(compute) == (200, {"report": 2}) and cached.computed == 2


def test_a_degraded_report_is_kept_a_second_at_most():
    clock = Clock()
    cached = CachedReport(5, clock=clock)
    cached.get(lambda: (503, {}))
    clock.now += 0.5
    cached.get(lambda: (200, {}))
    assert cached.computed == 1
    clock.now += 0.6
    assert cached.get(lambda: (200, {})) == (200, {}) and cached.computed == 2


def test_a_flood_of_health_requests_computes_one_report():
    cached = CachedReport(5)

    def slow():
        eventlet.sleep(0.05)
        return 200, {}

    pool = eventlet.GreenPool(50)
    answers = list(pool.imap(lambda _: cached.get(slow), range(50)))
    assert cached.computed == 1 and all(answer is answers[0] for answer in answers)


def test_a_ttl_of_zero_computes_every_time():
    cached = CachedReport(0)
    for _ in range(3):
        cached.get(lambda: (200, {}))
    assert cached.computed == 3
