"""Products kept as Redis hashes (``products:<id>``); stock goes down as orders are created."""

from __future__ import annotations

from typing import Any

import redis
from nameko.events import event_handler
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

FIELDS = {"title": str, "passenger_capacity": int, "maximum_speed": int, "in_stock": int}


class NotFound(Exception):
    pass


class Store:
    """What a worker sees of Redis: one product's hash, or its stock moved."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @staticmethod
    def key(product_id: str) -> str:
        return f"products:{product_id}"

    def get(self, product_id: str) -> dict[str, Any]:
        stored = self.client.hgetall(self.key(product_id))
        if not stored:
            raise NotFound(f"Product ID {product_id} does not exist")
        product: dict[str, Any] = {"id": product_id}
        for name, kind in FIELDS.items():
            product[name] = kind(stored[name])
        return product

    def create(self, product: dict[str, Any]) -> None:
        self.client.hset(self.key(product["id"]), mapping={name: product[name] for name in FIELDS})

    def decrement_stock(self, product_id: str, amount: int) -> int:
        return self.client.hincrby(self.key(product_id), "in_stock", -amount)


class RedisStore(DependencyProvider):
    """One client (and its connection pool) per container, from ``REDIS_URIS.REDIS_URI_1``."""

    def setup(self) -> None:
        uri = self.container.config["REDIS_URIS"]["REDIS_URI_1"]
        self.client = redis.Redis.from_url(uri, decode_responses=True)

    def stop(self) -> None:
        self.client.close()

    def get_dependency(self, worker_ctx: Any) -> Store:
        return Store(self.client)


class ProductsService:
    name = "products"

    store = RedisStore()

    @rpc
    def get(self, product_id: str) -> dict[str, Any]:
        return self.store.get(product_id)

    @rpc
    def create(self, product: dict[str, Any]) -> None:
        self.store.create(product)

    @event_handler("orders", "order_created")
    def handle_order_created(self, payload: dict[str, Any]) -> None:
        for detail in payload["order"]["order_details"]:
            self.store.decrement_stock(detail["product_id"], detail["quantity"])
