"""The peer to beat, measured here and now: a minimal nameko-examples-shaped system.

``tests/bench/peer`` is a gateway, a products service (Redis) and an orders service
(PostgreSQL through the SQLAlchemy ORM, ``order_created`` dispatched with publisher confirms
and handled by products to take the stock down), each a real ``nameko run`` process with
nameko's defaults, on a fresh vhost, a scratch PostgreSQL database and a Redis database of
its own (flushed before and after). Jinguo's throughput targets are ratios to these figures,
so run this beside Jinguo's benchmarks in the same ``make bench`` run:

1. ``test_peer_get_product``: GET /products/<id> by C green threads for D seconds (ids at
   random over P products), as ``test_read_projects_through_the_gateway`` reads projects.
2. ``test_peer_create_order``: POST /orders (one item of an existing product, stock enough for
   every order) by C green threads for D seconds; the gateway validates the body, asks products
   for each item, then orders creates the order. Then every ``order_created`` has taken its
   stock down once.

Environment (see tests/bench/common.py for BENCH_SCALE):
    BENCH_CONCURRENCY     green threads, one requests.Session each (default 16)
    BENCH_GET_SECONDS     seconds of GET /products/<id> (default 20 × BENCH_SCALE, at least 5)
    BENCH_PEER_SECONDS    seconds of POST /orders (default 20 × BENCH_SCALE, at least 5)
    BENCH_PEER_PRODUCTS   products in Redis (default 100)
    BENCH_PEER_REDIS_DB   the Redis database number the peer owns (default 11; flushed)
"""

from __future__ import annotations

import collections
import os
import random
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import sqlalchemy as sa

from tests.bench.common import (
    CpuMeter,
    describe_load,
    latency_figures,
    load_figures,
    note,
    pids_named,
    report,
    scaled,
    setting,
)
from tests.bench.flows import in_green_threads
from tests.bench.peer import orders as peer_orders
from tests.support.infra import scratch_postgres_database
from tests.support.platform import NAMEKO, Process, free_port, new_vhost, vhost_uri
from tests.support.waiting import wait_until

GET_BENCH = "peer.get_product"
POST_BENCH = "peer.create_order"

CONFIG = "tests/bench/peer/config.yaml"
SERVICES = {
    "products": "tests.bench.peer.products:ProductsService",
    "orders": "tests.bench.peer.orders:OrdersService",
    "gateway": "tests.bench.peer.gateway:GatewayService",
}
EVENT_QUEUE = "evt-orders-order_created--products.handle_order_created"
STOCK = 1_000_000_000
PRICE = "100000.99"


@dataclass
class Peer:
    base_url: str
    processes: dict[str, Process]
    store: redis.Redis
    orders_db: sa.Engine
    product_ids: list[str]

    def cpu_meter(self) -> CpuMeter:
        def pid(name: str) -> Callable[[], list[int]]:
            return lambda: [self.processes[name].popen.pid]  # type: ignore[union-attr]

        return CpuMeter(
            {
                **{name: pid(name) for name in ("gateway", "products", "orders")},
                "rabbitmq": lambda: pids_named("beam.smp"),
                "postgres": lambda: pids_named("postgres"),
                "redis": lambda: pids_named("redis-server"),
            }
        )

    def session(self) -> requests.Session:
        return requests.Session()

    def orders(self) -> int:
        with self.orders_db.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(peer_orders.Order.__table__)
            ).scalar_one()

    def stock_taken(self) -> int:
        return sum(
            STOCK - int(self.store.hget(f"products:{product_id}", "in_stock"))
            for product_id in self.product_ids
        )


def load_avg() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


@pytest.fixture(scope="module")
def peer(request, rabbit_manager, infra, tmp_path_factory):
    workdir: Path = tmp_path_factory.mktemp("peer")
    admin_url = request.getfixturevalue("postgres_admin_url")
    redis_db = setting("BENCH_PEER_REDIS_DB", 11)
    products = setting("BENCH_PEER_PRODUCTS", 100)
    with ExitStack() as stack:
        db_url = stack.enter_context(scratch_postgres_database(admin_url, "jinguo_bench_peer"))
        orders_db = sa.create_engine(db_url)
        stack.callback(orders_db.dispose)
        peer_orders.Base.metadata.create_all(orders_db)

        redis_uri = f"redis://127.0.0.1:6379/{redis_db}"
        store = redis.Redis.from_url(redis_uri, decode_responses=True)
        store.flushdb()
        stack.callback(store.close)
        stack.callback(store.flushdb)
        product_ids = [f"peer-{number:04d}" for number in range(products)]
        for number, product_id in enumerate(product_ids):
            store.hset(
                f"products:{product_id}",
                mapping={
                    "title": f"LZ{number:04d}",
                    "passenger_capacity": 100 + number,
                    "maximum_speed": 5 + number % 10,
                    "in_stock": STOCK,
                },
            )

        vhost = new_vhost(rabbit_manager)
        stack.callback(rabbit_manager.delete_vhost, vhost)
        port = free_port()
        env = {
            **os.environ,
            "AMQP_URI": vhost_uri(infra.amqp_uri, vhost),
            "PEER_GATEWAY_ADDRESS": f"127.0.0.1:{port}",
            "PEER_REDIS_URI": redis_uri,
            "PEER_ORDERS_DB_URI": db_url,
            "LOG_LEVEL": "WARNING",
            "PYTHONWARNINGS": "ignore",
        }
        processes: dict[str, Process] = {}
        for name, target in SERVICES.items():
            process = Process(
                name, [NAMEKO, "run", "--config", CONFIG, target], env, workdir / f"{name}.log"
            )
            processes[name] = process.start()
            stack.callback(process.stop)

        peer = Peer(f"http://127.0.0.1:{port}", processes, store, orders_db, product_ids)

        def ready() -> bool:
            for process in processes.values():
                if process.popen is not None and process.popen.poll() is not None:
                    raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
            queues = {q["name"]: q.get("consumers", 0) for q in rabbit_manager.get_queues(vhost)}
            if not (queues.get(EVENT_QUEUE) and queues.get("rpc-orders")):
                return False
            try:
                return requests.get(f"{peer.base_url}/products/{product_ids[0]}", timeout=5).ok
            except requests.RequestException:
                return False

        wait_until(ready, timeout=40, interval=0.2, what="the peer answers")

        # warm-up: every process has served a few of each before anything is timed
        concurrency = setting("BENCH_CONCURRENCY", 16)
        warm_get = run_for(peer, 2.0, concurrency, get_product)
        warm_post = run_for(peer, 2.0, concurrency, create_order)
        assert not warm_get.failures and not warm_post.failures, (
            warm_get.failures,
            warm_post.failures,
        )
        yield peer


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Run:
    latencies: list[float]
    statuses: collections.Counter[int]
    failures: list[str]
    seconds: float = 0.0


def get_product(peer: Peer, session: requests.Session, pick: random.Random) -> str | None:
    product_id = peer.product_ids[pick.randrange(len(peer.product_ids))]
    response = session.get(f"{peer.base_url}/products/{product_id}", timeout=30)
    if response.status_code != 200 or response.json()["id"] != product_id:
        return f"{product_id}: {response.status_code} {response.text[:300]}"
    return None


def create_order(peer: Peer, session: requests.Session, pick: random.Random) -> str | None:
    product_id = peer.product_ids[pick.randrange(len(peer.product_ids))]
    body = {"order_details": [{"product_id": product_id, "price": PRICE, "quantity": 1}]}
    response = session.post(f"{peer.base_url}/orders", json=body, timeout=30)
    if response.status_code != 201 or not isinstance(response.json().get("id"), int):
        return f"{product_id}: {response.status_code} {response.text[:300]}"
    return None


def run_for(
    peer: Peer,
    seconds: float,
    concurrency: int,
    send: Callable[[Peer, requests.Session, random.Random], str | None],
) -> Run:
    """``send`` from ``concurrency`` green threads (closed loop, a session each) for
    ``seconds``."""
    run = Run([], collections.Counter(), [])
    deadline = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        session = peer.session()  # its own keep-alive socket
        pick = random.Random(seed)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            failure = send(peer, session, pick)
            run.latencies.append(time.perf_counter() - started)
            run.statuses[200 if failure is None else 0] += 1
            if failure is not None and len(run.failures) < 5:
                run.failures.append(failure)

    run.seconds = in_green_threads(concurrency, worker)
    return run


def measure(peer: Peer, bench: str, send: Any, seconds: float, unit: str) -> Run:
    concurrency = setting("BENCH_CONCURRENCY", 16)
    before = load_avg()
    cpu = peer.cpu_meter().start()
    run = run_for(peer, seconds, concurrency, send)
    cpu.stop()
    assert not run.failures, run.failures
    requests_done = len(run.latencies)
    figures = latency_figures(run.latencies)
    load = load_figures(cpu, run.seconds, requests_done, "request")
    report(
        bench,
        None,
        f"{requests_done} {unit} in {run.seconds:.1f}s, {requests_done / run.seconds:.1f} "
        f"req/s, p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms (concurrency "
        f"{concurrency}, {len(peer.product_ids)} products; load avg {load_avg()}, before "
        f"{before})",
        requests=requests_done,
        concurrency=concurrency,
        products=len(peer.product_ids),
        seconds=round(run.seconds, 2),
        req_per_s=round(requests_done / run.seconds, 1),
        **figures,
        **load,
        load_avg=list(os.getloadavg()),
    )
    note(f"{bench}: {describe_load(cpu, load, requests_done, 'request')}")
    return run


def test_peer_get_product(peer):
    seconds = scaled("BENCH_GET_SECONDS", 20, minimum=5)
    measure(peer, GET_BENCH, get_product, seconds, "GET /products/<id>")


def test_peer_create_order(peer):
    seconds = scaled("BENCH_PEER_SECONDS", 20, minimum=5)
    measure(peer, POST_BENCH, create_order, seconds, "POST /orders")

    # every order stored, and its order_created took the stock down once
    orders = peer.orders()
    wait_until(
        lambda: peer.stock_taken() >= orders,
        timeout=60,
        interval=0.2,
        what="products handled every order_created",
    )
    time.sleep(1.0)
    assert peer.stock_taken() == orders, (peer.stock_taken(), orders)
