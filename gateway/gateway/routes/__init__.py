"""The gateway's routes, one module per part of the API (mixed into GatewayService)."""

MANAGERS = ("admin", "federation_staff")
