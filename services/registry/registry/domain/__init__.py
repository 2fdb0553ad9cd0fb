"""Registry rules, one concept a module; plain Python, no framework, no I/O.

- ``hierarchy``: kinds, federation levels, host-unit sectors, materialised paths and where each
  kind may sit (placement);
- ``lifecycle``: statuses, the transitions between them and the record each one leaves;
- ``organization``: the ``Organization`` aggregate and ``register``, which makes one;
- ``scope``: who may read and change which organizations;
- ``coverage``: coverage (组建率) of host units by women's organizations, per sector.

Entities record the events they cause; the unit of work writes them to the outbox in the same
transaction as the change.
"""
