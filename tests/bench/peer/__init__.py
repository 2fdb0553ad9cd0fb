"""A minimal peer: the shape of nameko's reference example (nameko/nameko-examples), written
afresh, to measure on this machine what Jinguo's throughput targets are set against.

* ``gateway``: ``@http`` GET /products/<id> and POST /orders, marshmallow schemas, RPC proxies;
* ``products``: products as Redis hashes; decrements stock on ``orders.order_created``;
* ``orders``: orders and their details in PostgreSQL through the SQLAlchemy ORM (a session per
  worker), dispatching ``order_created`` once committed.

Each runs as its own ``nameko run --config tests/bench/peer/config.yaml`` process with
nameko's defaults (10 workers, publisher confirms on); ``tests/bench/test_peer.py`` drives it.
"""
