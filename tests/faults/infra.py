"""A RabbitMQ node and a PostgreSQL cluster of the fault suite's own.

The suite stops its broker and restarts its database for real; doing that to the machine's
shared RabbitMQ and PostgreSQL would break whatever else runs on them. So it starts a second
RabbitMQ node (its own node name, ports and data directory) and a throwaway PostgreSQL cluster
(initdb into a temporary directory), both from the same Debian packages the machine's services
come from, and removes them afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.platform import free_port

PG_BIN = Path("/usr/lib/postgresql")


class Unavailable(RuntimeError):
    """This machine cannot run the fault suite's own broker or database."""


def _wait_for_port(port: int, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise Unavailable(f"{what} did not answer on port {port} within {timeout:.0f}s:\n{tail}")


def _owned_directory(prefix: str, user: str) -> Path:
    """A temporary directory the service's system user may write (the servers drop root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(path, user, user if user != "postgres" else None)
    return path


class FaultRabbit:
    """A RabbitMQ node of its own: ``stop_app``/``start_app`` stop and restart its broker
    (connections dropped, port closed) while the Erlang node stays up, as `rabbitmqctl
    stop_app` does to a real node in an upgrade or an outage."""

    def __init__(self) -> None:
        if shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None:
            raise Unavailable(
                "rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)"
            )
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"jinguo-faults-{uuid.uuid4().hex[:6]}@localhost"
        self.root = _owned_directory("jinguo-faults-rabbit-", "rabbitmq")
        (self.root / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.root / "enabled_plugins").write_text("[].\n")
        for path in self.root.iterdir():
            if os.geteuid() == 0:
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.root / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(self.root / "pid"),
        }

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> None:
        subprocess.run(
            ["rabbitmq-server", "-detached"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
            cwd=self.root,
        )
        self.wait()

    def wait(self, timeout: float = 90) -> None:
        _wait_for_port(self.port, timeout, f"RabbitMQ node {self.node}", self.root / "log")

    def ctl(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return done.stdout

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.wait()

    def new_vhost(self) -> str:
        """A fresh virtual host for one test; its AMQP URI."""
        vhost = f"faults_{uuid.uuid4().hex[:10]}"
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    def shutdown(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.ctl("stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


class FaultPostgres:
    """A PostgreSQL cluster of its own (trust auth on 127.0.0.1), restartable at will."""

    def __init__(self) -> None:
        versions = sorted(PG_BIN.glob("*/bin/pg_ctl")) if PG_BIN.exists() else []
        if not versions:
            raise Unavailable(
                "PostgreSQL server binaries are not installed under /usr/lib/postgresql"
            )
        self.bin = versions[-1].parent
        self.port = free_port()
        self.root = _owned_directory("jinguo-faults-pg-", "postgres")
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout, cwd=self.root)

    def _options(self) -> str:
        return f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            self._options(),
            "-w",
            "start",
        )
        _wait_for_port(self.port, 60, "PostgreSQL", self.log)

    def restart(self) -> None:
        """A fast restart: every connection is cut, the server is down until it is back."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(),
            "-m", "fast", "-w", "restart",
        )  # fmt: skip

    def shutdown(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class DatabaseLink:
    """A TCP proxy on one service's link to its database, in this (eventlet) process: ``cut()``
    makes the database unreachable as a failover or a partition would (open connections broken,
    new ones refused) until ``restore()``; ``latency`` delays every answer of the database by
    that many seconds (each chunk keeps its order; chunks are not serialised behind each
    other's delays)."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.latency = 0.0
        self._listener: Any = None
        self._server: Any = None
        self._sockets: set = set()
        self._pumps: set = set()

    def url(self, database_url: str) -> str:
        """``database_url`` with its port replaced by this proxy's."""
        return database_url.replace(f":{self.target[1]}/", f":{self.port}/", 1)

    def start(self) -> DatabaseLink:
        import eventlet

        listener = eventlet.listen(("127.0.0.1", self.port))
        self._listener = listener
        self._server = eventlet.spawn(self._accept, listener)
        return self

    restore = start

    def cut(self) -> None:
        if self._server is not None:
            self._server.kill()
            self._server = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for pump in list(self._pumps):
            pump.kill()
        self._pumps.clear()
        self._sockets.clear()

    def _accept(self, listener: Any) -> None:
        import eventlet
        from eventlet.green import socket as green_socket

        while True:
            client, _ = listener.accept()
            try:
                upstream = green_socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self._sockets.update((client, upstream))
            for source, sink, delayed in ((client, upstream, False), (upstream, client, True)):
                pump = eventlet.spawn(self._pump, source, sink, delayed)
                self._pumps.add(pump)
                pump.link(lambda gt: self._pumps.discard(gt))

    def _pump(self, source: Any, sink: Any, delayed: bool) -> None:
        import eventlet
        from eventlet.queue import LightQueue

        chunks: LightQueue = LightQueue()

        def deliver() -> None:
            while True:
                due, data = chunks.get()
                if data is None:
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    eventlet.sleep(wait)
                try:
                    sink.sendall(data)
                except (OSError, EOFError):
                    return

        writer = eventlet.spawn(deliver) if delayed else None
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if writer is not None:
                    chunks.put((time.monotonic() + self.latency, data))
                else:
                    sink.sendall(data)
        except (OSError, EOFError):  # eventlet says EOFError of a socket cut() closed
            pass
        finally:
            if writer is not None:
                chunks.put((0.0, None))
                with contextlib.suppress(Exception):
                    writer.wait()
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()
                self._sockets.discard(sock)
