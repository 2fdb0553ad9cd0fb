"""Orders and their details in PostgreSQL (SQLAlchemy ORM, a session per worker); each new
order is announced as ``order_created``."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from nameko.events import EventDispatcher
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from sqlalchemy import orm


class Base(orm.DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=True)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=lambda: datetime.datetime.now(datetime.UTC)
    )
    order_details: orm.Mapped[list[OrderDetail]] = orm.relationship(
        back_populates="order", cascade="all, delete-orphan"
    )


class OrderDetail(Base):
    __tablename__ = "order_details"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=True)
    order_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    product_id: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    price: orm.Mapped[Decimal] = orm.mapped_column(sa.Numeric(18, 2))
    quantity: orm.Mapped[int] = orm.mapped_column(sa.Integer)

    order: orm.Mapped[Order] = orm.relationship(back_populates="order_details")


class DatabaseSession(DependencyProvider):
    """An engine per container (from ``DB_URIS["<service>:Base"]``) and a new session for
    each worker, closed when the worker ends."""

    def __init__(self, declarative_base: type[orm.DeclarativeBase]) -> None:
        self.declarative_base = declarative_base
        self.sessions: dict[Any, orm.Session] = {}

    def setup(self) -> None:
        key = f"{self.container.service_name}:{self.declarative_base.__name__}"
        self.engine = sa.create_engine(self.container.config["DB_URIS"][key])
        self.make_session = orm.sessionmaker(bind=self.engine)

    def stop(self) -> None:
        self.engine.dispose()

    def get_dependency(self, worker_ctx: Any) -> orm.Session:
        session = self.make_session()
        self.sessions[worker_ctx] = session
        return session

    def worker_teardown(self, worker_ctx: Any) -> None:
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()


def serialize(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "order_details": [
            {
                "id": detail.id,
                "product_id": detail.product_id,
                "price": str(detail.price),
                "quantity": detail.quantity,
            }
            for detail in order.order_details
        ],
    }


class OrdersService:
    name = "orders"

    db = DatabaseSession(Base)
    dispatch = EventDispatcher()

    @rpc
    def get_order(self, order_id: int) -> dict[str, Any]:
        order = self.db.get(Order, order_id)
        if order is None:
            raise LookupError(f"Order with id {order_id} not found")
        return serialize(order)

    @rpc
    def create_order(self, order_details: list[dict[str, Any]]) -> dict[str, Any]:
        order = Order(
            order_details=[
                OrderDetail(
                    product_id=detail["product_id"],
                    price=Decimal(str(detail["price"])),
                    quantity=detail["quantity"],
                )
                for detail in order_details
            ]
        )
        self.db.add(order)
        self.db.commit()
        created = serialize(order)
        self.dispatch("order_created", {"order": created})
        return created
