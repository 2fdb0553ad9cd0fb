"""Notifications over HTTP: an event published on the platform's broker becomes a notice for
the right user, who lists it (paged, unread only), counts the unread, marks one or all read —
and reaches nobody else's."""

import uuid

import pytest

from tests.support.events import publish_event
from tests.support.waiting import eventually

PASSWORD = "notices-pass-2027"


@pytest.fixture(scope="module")
def world(platform, admin):
    city = admin.create(
        "/organizations", {"name": "通知测试市妇联", "kind": "federation", "level": "city"}
    )
    providers = [
        admin.create(
            "/organizations",
            {"name": name, "kind": "service_provider", "parent_id": city["id"]},
        )
        for name in ("春晖社工服务中心", "暖阳家庭服务社")
    ]
    people = {}
    for username, organization in (("notice.a", providers[0]), ("notice.b", providers[1])):
        admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": "contractor",
                "organization_id": organization["id"],
            },
        )
        people[username] = platform.client(platform.token(username, PASSWORD))
    return {"city": city, "providers": providers, **people}


def due(platform, world, notice="due_in_7_days"):
    return publish_event(
        platform.amqp_uri,
        "projects",
        "milestone_due",
        {
            "contract_id": str(uuid.uuid4()),
            "milestone_id": str(uuid.uuid4()),
            "project_id": str(uuid.uuid4()),
            "contractor_id": world["providers"][0]["id"],
            "purchaser_id": world["city"]["id"],
            "title": "第一期：入户走访",
            "due_on": "2027-03-08",
            "notice": notice,
        },
    )


def unread(client):
    response = client.get("/notifications/unread-count")
    assert response.status_code == 200
    return response.json()["unread"]


def test_a_due_date_reminder_reaches_the_contractor_and_she_marks_it_read(platform, world):
    a, b = world["notice.a"], world["notice.b"]
    event = due(platform, world)

    def arrived():
        assert unread(a) == 1

    eventually(arrived, timeout=30)
    assert unread(b) == 0
    page = a.get("/notifications").json()
    assert page["total"] == 1
    (notice,) = page["items"]
    assert notice["kind"] == "milestone_due" and notice["title"] == "里程碑 7 天后到期"
    assert notice["link"] == f"/contracts/{event['contract_id']}"
    assert notice["read_at"] is None
    assert b.get("/notifications").json() == {"items": [], "next_cursor": None, "total": 0}

    # another's notification is not found, as one that does not exist
    refused = b.post(f"/notifications/{notice['id']}/read")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "NOTIFICATION_NOT_FOUND"
    assert b.post(f"/notifications/{uuid.uuid4()}/read").status_code == 404
    assert unread(a) == 1

    read = a.post(f"/notifications/{notice['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = a.post(f"/notifications/{notice['id']}/read").json()
    assert again["read_at"] == read.json()["read_at"]  # the first time it was read is kept
    assert unread(a) == 0
    assert a.get("/notifications", params={"unread": "true"}).json()["total"] == 0
    assert a.get("/notifications").json()["total"] == 1


def test_the_list_pages_newest_first_and_all_are_marked_read_at_once(platform, world):
    a, b = world["notice.a"], world["notice.b"]
    before = a.get("/notifications").json()["total"]
    for notice in ("due_in_7_days", "due_today", "due_today"):
        due(platform, world, notice)

    def arrived():
        assert a.get("/notifications").json()["total"] == before + 3

    eventually(arrived, timeout=30)
    assert unread(a) == 3
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = a.get("/notifications", params=params).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == before + 3 and len({n["id"] for n in seen}) == len(seen)
    stamps = [n["created_at"] for n in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert b.post("/notifications/read-all").json() == {"marked": 0}
    assert unread(a) == 3  # her neighbour's "all" is not hers
    assert a.post("/notifications/read-all").json() == {"marked": 3}
    assert unread(a) == 0
    assert a.get("/notifications", params={"limit": 0}).status_code == 422


def test_she_sets_her_own_email_for_notifications(world):
    a = world["notice.a"]
    assert a.get("/users/me/email").json() == {"email": None}
    bad = a.request("PUT", "/users/me/email", json={"email": "not an address"})
    assert bad.status_code == 422 and "email" in bad.json()["error"]["details"]["fields"]
    put = a.request("PUT", "/users/me/email", json={"email": "chunhui@example.org"})
    assert put.status_code == 200 and put.json() == {"email": "chunhui@example.org"}
    assert a.get("/users/me/email").json() == {"email": "chunhui@example.org"}
    assert world["notice.b"].get("/users/me/email").json() == {"email": None}
    assert a.request("PUT", "/users/me/email", json={"email": None}).json() == {"email": None}
