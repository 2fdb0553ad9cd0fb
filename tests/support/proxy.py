"""A TCP proxy the tests can cut: a broker outage as seen by one client, on demand."""

from __future__ import annotations

import contextlib
import socket

import eventlet
from eventlet.green import socket as green_socket


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener = None
        self._server = None
        self._sockets: set = set()
        self._pumps: set = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> CuttableProxy:
        listener = eventlet.listen(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._server = eventlet.spawn(self._accept, listener)
        return self

    def cut(self) -> None:
        """Refuse new connections and break the open ones (as a dead broker would)."""
        if self._server is not None:
            self._server.kill()
            self._server = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        # break open connections, then stop their pumping greenlets (which close the sockets);
        # a greenlet left waiting on a closed socket would haunt the fd's next user
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for pump in list(self._pumps):
            pump.kill()
        self._pumps.clear()
        self._sockets.clear()

    def restore(self) -> None:
        self.start()

    def _accept(self, listener) -> None:
        while True:
            client, _ = listener.accept()
            try:
                upstream = green_socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                pump = eventlet.spawn(self._pump, source, sink)
                self._pumps.add(pump)
                pump.link(lambda gt: self._pumps.discard(gt))

    def _pump(self, source, sink) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()
                self._sockets.discard(sock)
