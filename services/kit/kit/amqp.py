"""AMQP plumbing below nameko, for the hot paths where its per-message machinery costs.

* ``producer_pool``: producers (each with its connection) made once per process, where a nameko
  Publisher builds a connection and looks up kombu's process-wide pool per message (~170 µs of
  CPU, measured). The pool is the caller's own, not kombu's shared one. The gateway sends RPC
  requests through one, services their replies (``kit.rpc``), projects its change notices.
* ``listen``: consuming a queue without acknowledgements in a green thread, reconnecting on
  failure — for queues whose messages matter only to this process and only now (change
  notices, RPC replies), where nameko's consumers would spawn a worker or send an
  acknowledgement per message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import amqp.exceptions
import eventlet
import kombu.exceptions
from kombu import Connection, Queue
from kombu.pools import ProducerPool
from nameko.constants import DEFAULT_TRANSPORT_OPTIONS

log = logging.getLogger(__name__)


def producer_pool(config: Any, *, confirms: bool, size: int) -> ProducerPool:
    """``size`` producers for the broker of a nameko ``config``, with publisher confirms or
    without; close with ``close_pool`` when the extension stops."""
    connection = Connection(
        config["AMQP_URI"],
        ssl=config.get("AMQP_SSL"),
        login_method=config.get("LOGIN_METHOD"),
        transport_options={**DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": confirms},
    )
    return ProducerPool(connection.Pool(limit=size), limit=size)


def close_pool(pool: ProducerPool | None) -> None:
    if pool is not None:
        pool.force_close_all()
        pool.connections.force_close_all()


def listen(
    amqp_uri: str,
    queue: Queue,
    on_message: Callable[[Any, Any], None],
    on_connected: Callable[[], None],
    *,
    stopped: Callable[[], bool],
    ssl: Any = None,
    retry_interval: float = 1.0,
    name: str = "jinguo",
) -> None:
    """Consume ``queue`` with ``no_ack`` in the calling green thread until ``stopped()``,
    reconnecting after broker errors (logged, retried every ``retry_interval`` seconds).

    For queues whose messages matter only to this process, now: change notices, RPC replies.
    ``on_connected`` runs each time consumption (re)starts.
    """
    while not stopped():
        try:
            with (
                Connection(
                    amqp_uri,
                    ssl=ssl,
                    heartbeat=0,
                    transport_options={"client_properties": {"connection_name": name}},
                ) as connection,
                connection.Consumer([queue], callbacks=[on_message], no_ack=True),
            ):
                on_connected()
                while not stopped():
                    try:
                        connection.drain_events(timeout=retry_interval)
                    except TimeoutError:
                        continue
        except (OSError, kombu.exceptions.KombuError, amqp.exceptions.AMQPError) as exc:
            if stopped():
                return
            log.warning(
                "%s: consuming %s failed (%s: %s); retrying in %.0fs",
                name,
                queue.name,
                type(exc).__name__,
                exc,
                retry_interval,
            )
            eventlet.sleep(retry_interval)
