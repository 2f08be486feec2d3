"""A TCP proxy on loopback between a Glint process and a real back end (database,
Keystone, RabbitMQ), to fail the link the way a dead or hung server does:

- ``up``: forward both ways;
- ``down``: the port is closed, connecting is refused (the server is gone);
- ``stalled``: connections are accepted and nothing is ever answered (a hung server
  or a black-holed network);
- ``cut()``: every open connection is reset (the server restarted, or killed its
  clients' sessions), whatever the mode.
"""
from __future__ import annotations

import socket
import struct
import threading

_RESET = struct.pack('ii', 1, 0)          # SO_LINGER on, 0 s: close() sends RST


def _reset(sock: socket.socket) -> None:
    """Abort the connection. shutdown() first: close() alone neither wakes a thread
    blocked in recv() on it nor releases it while that thread waits."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = '127.0.0.1'):
        self.target = (target_host, target_port)
        self.port = 0
        self.mode = 'down'
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> FaultProxy:
        return self.up()

    def __exit__(self, *exc_info) -> None:
        self.down()
        self.cut()

    # -- modes ----------------------------------------------------------------------
    def up(self) -> FaultProxy:
        self.mode = 'up'
        self._listen()
        return self

    def stall(self) -> None:
        self.mode = 'stalled'
        self._listen()

    def down(self) -> None:
        self.mode = 'down'
        if self._listener is not None:
            # close() alone would not wake the thread blocked in accept(): it would go
            # on accepting on the closed port.
            self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None

    def cut(self) -> None:
        with self._lock:
            victims, self._open = self._open, set()
        for sock in victims:
            _reset(sock)

    # -- plumbing -------------------------------------------------------------------
    def _listen(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(('127.0.0.1', self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.update(socks)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:              # closed by down()
                return
            self._track(client)
            if self.mode == 'stalled':
                continue                 # held open, never answered, until cut()
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            self._track(server)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            _reset(source)
            _reset(sink)
