"""HTTP in front of products and orders: JSON in and out, validated with marshmallow."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError, fields
from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Response


class ProductSchema(Schema):
    id = fields.Str(required=True)
    title = fields.Str(required=True)
    passenger_capacity = fields.Int(required=True)
    maximum_speed = fields.Int(required=True)
    in_stock = fields.Int(required=True)


class OrderDetailSchema(Schema):
    id = fields.Int()
    product_id = fields.Str(required=True)
    price = fields.Decimal(as_string=True, required=True)
    quantity = fields.Int(required=True)


class CreateOrderSchema(Schema):
    order_details = fields.Nested(OrderDetailSchema, many=True, required=True)


def answer(body: Any, status: int = 200) -> Response:
    return Response(
        body if isinstance(body, str) else json.dumps(body),
        status=status,
        mimetype="application/json",
    )


def problem(status: int, error: str, message: Any) -> Response:
    return answer({"error": error, "message": message}, status)


class GatewayService:
    name = "gateway"

    products_rpc = RpcProxy("products")
    orders_rpc = RpcProxy("orders")

    @http("GET", "/products/<string:product_id>")
    def get_product(self, request: Any, product_id: str) -> Response:
        try:
            product = self.products_rpc.get(product_id)
        except RemoteError as error:
            if error.exc_type == "NotFound":
                return problem(404, "PRODUCT_NOT_FOUND", error.value)
            raise
        return answer(ProductSchema().dumps(product))

    @http("POST", "/orders")
    def create_order(self, request: Any) -> Response:
        try:
            order = CreateOrderSchema().loads(request.get_data(as_text=True))
        except ValidationError as error:
            return problem(400, "VALIDATION_ERROR", error.messages)
        except ValueError:
            return problem(400, "BAD_REQUEST", "the body is not JSON")

        # every product must exist before the order is taken
        for detail in order["order_details"]:
            try:
                self.products_rpc.get(detail["product_id"])
            except RemoteError as error:
                if error.exc_type == "NotFound":
                    return problem(404, "PRODUCT_NOT_FOUND", error.value)
                raise

        details = CreateOrderSchema().dump(order)["order_details"]
        created = self.orders_rpc.create_order(details)
        return answer({"id": created["id"]}, 201)
