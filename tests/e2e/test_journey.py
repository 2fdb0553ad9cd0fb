"""A federation's first day on Jinguo, over HTTP with every process running.

The admin creates the city federation and its staff; the staff build the real hierarchy of a
city report — districts, streets and towns, 1,348 non-public enterprises of which 1,281 have a
women's organization, 6 social organizations of which 3 do, 46 communities and 68 villages that
all do — and read coverage. The figures are the ones the city published.
"""

import itertools

import eventlet
import sqlalchemy as sa

from kit.db import connect
from tests.support.probe import applied


def test_city_builds_its_hierarchy_and_reads_published_coverage(platform, admin):
    city = admin.create(
        "/organizations",
        {
            "name": "某市妇女联合会",
            "kind": "federation",
            "level": "city",
            "region_code": "330100",
            "uscc": "91350100M000100Y43",
        },
    )
    staff_user = admin.create(
        "/users",
        {
            "username": "city.staff",
            "password": "correct horse 1",
            "role": "federation_staff",
            "organization_id": city["id"],
        },
    )
    assert staff_user["role"] == "federation_staff" and "password" not in staff_user
    staff = platform.client(platform.token("city.staff", "correct horse 1"))
    assert staff.get("/users/me").json()["organization_id"] == city["id"]

    districts = [
        staff.create(
            "/organizations",
            {"name": name, "kind": "federation", "level": "county", "parent_id": city["id"]},
        )
        for name in ("上城区妇联", "西湖區婦聯", "滨江区妇联")
    ]
    townships = [
        staff.create(
            "/organizations",
            {
                "name": f"{'镇' if i >= 10 else '街道'}{i:02d}妇联",
                "kind": "federation",
                "level": "township",
                "parent_id": districts[i % 3]["id"],
            },
        )
        for i in range(12)  # 10 streets and 2 towns
    ]
    cycle = itertools.cycle(townships)
    plan = (
        [("non_public_enterprise", i < 1281) for i in range(1348)]
        + [("social_organization", i < 3) for i in range(6)]
        + [("community", True) for _ in range(46)]
        + [("village", True) for _ in range(68)]
    )
    placed = [(sector, covered, next(cycle)) for sector, covered in plan]

    def register(job):
        index, (sector, covered, township) = job
        client = platform.client(staff.session.headers["Authorization"].split()[1])
        unit = client.create(
            "/organizations",
            {
                "name": f"{sector}-{index:04d}",
                "kind": "host_unit",
                "sector": sector,
                "parent_id": township["id"],
            },
        )
        if covered:
            client.create(
                "/organizations",
                {
                    "name": f"{sector}-{index:04d} 妇委会",
                    "kind": "womens_organization",
                    "parent_id": unit["id"],
                },
            )
        return unit["id"]

    pool = eventlet.GreenPool(8)
    unit_ids = list(pool.imap(register, enumerate(placed)))
    assert len(set(unit_ids)) == 1468

    report = staff.get(f"/organizations/{city['id']}/coverage").json()
    by_sector = {line["sector"]: line for line in report["sectors"]}
    assert by_sector["non_public_enterprise"] == {
        "sector": "non_public_enterprise",
        "host_units": 1348,
        "covered": 1281,
        "rate": 95.0,
    }
    assert by_sector["social_organization"] == {
        "sector": "social_organization",
        "host_units": 6,
        "covered": 3,
        "rate": 50.0,
    }
    assert by_sector["community"] == {
        "sector": "community",
        "host_units": 46,
        "covered": 46,
        "rate": 100.0,
    }
    assert by_sector["village"] == {
        "sector": "village",
        "host_units": 68,
        "covered": 68,
        "rate": 100.0,
    }
    assert by_sector["government_agency"] == {
        "sector": "government_agency",
        "host_units": 0,
        "covered": 0,
        "rate": None,
    }
    assert report["total"] == {"host_units": 1468, "covered": 1398, "rate": 95.2}

    # a district's report covers its own subtree only: its share, counted by hand from the plan
    first = districts[0]["id"]
    mine = [
        (s, c) for s, c, t in placed if t["parent_id"] == first and s == "non_public_enterprise"
    ]
    district_line = {
        line["sector"]: line
        for line in staff.get(f"/organizations/{first}/coverage").json()["sectors"]
    }
    assert (
        district_line["non_public_enterprise"]["host_units"],
        district_line["non_public_enterprise"]["covered"],
    ) == (len(mine), sum(c for _, c in mine))

    # providers join; a district's staff see their own subtree only
    provider = staff.create(
        "/organizations",
        {"name": "阳光社工事务所", "kind": "service_provider", "parent_id": city["id"]},
    )
    assert staff.post(f"/organizations/{provider['id']}/verify").json()["status"] == "verified"
    children = staff.get("/organizations", params={"parent_id": city["id"], "limit": 500}).json()[
        "items"
    ]
    assert {o["id"] for o in children} == {d["id"] for d in districts} | {provider["id"]}
    assert (
        staff.get("/organizations", params={"q": "西湖区妇联"}).json()["items"][0]["id"]
        == districts[1]["id"]
    )

    # every registration reached the consumer in the other process, exactly once
    expected = 1 + 3 + 12 + 1468 + 1281 + 3 + 46 + 68 + 1
    with connect(platform.database_urls["probe"]) as probe:

        def consumed():
            with probe.begin(write=False) as connection:
                return connection.execute(
                    sa.select(
                        sa.func.count(), sa.func.count(sa.distinct(applied.c.event_id))
                    ).where(applied.c.event_type == "organization_registered")
                ).one()

        for _ in range(100):
            if consumed()[0] >= expected:
                break
            eventlet.sleep(0.2)
        assert tuple(consumed()) == (expected, expected)
