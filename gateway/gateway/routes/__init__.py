"""The gateway's routes, one module per part of the API (mixed into GatewayService)."""

MANAGERS = ("admin", "federation_staff")
#: who reads organizations (the registry scopes each: staff their subtree, a contractor its own)
READERS = ("admin", "federation_staff", "contractor", "finance_officer", "ops")
