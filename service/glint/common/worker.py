"""The gunicorn worker of glance-api and glance-registry: gthread's pool of request
threads behind an event loop that owns the connections.

gunicorn's gthread worker hands every accepted connection to a thread, which then
blocks reading the request head: a few hundred idle or slow (slowloris) clients hold
every thread and freeze the service. Here the worker's poller reads request heads
without blocking, each within ``header_timeout`` and at most ``HEAD_MAX`` bytes, and
only a complete head goes to a thread (gunicorn's parser reads it from the bytes
already received). In the thread the socket's kernel timeouts (SO_RCVTIMEO /
SO_SNDTIMEO) are ``client_socket_timeout``: a body that stops arriving, or a client
that stops reading a download, fails the read or write instead of holding the thread.
Kernel timeouts keep the socket blocking, so the upload path's MSG_WAITALL reads
(glint.common.body) stay as they are.

SIGTERM: the listening sockets are closed at once (with the master's copy gone, new
connections are refused instead of waiting in the backlog), requests in flight go on,
and ``grace`` seconds later whatever still runs is cut: its socket is shut down, so an
upload fails as any upload whose client left does (image back to ``queued``) and a
download ends short of its Content-Length, which every HTTP client reports as an error.
gunicorn's own graceful_timeout (``arbiter_grace``) leaves the worker ``CUT_MARGIN``
seconds more for that clean-up before the master kills it.
"""
from __future__ import annotations

import errno
import selectors
import socket
import ssl
import struct
import time
from functools import partial

from gunicorn import http
from gunicorn import sock as gsock
from gunicorn.workers.gthread import TConn, ThreadWorker

HEAD_MAX = 64 * 1024     # request line and headers, bytes (Glance: 16 KiB per line)
CUT_MARGIN = 10          # seconds between cutting requests and the master's SIGKILL
STOP_LINGER = 2.0        # seconds a head being received may still take after SIGTERM
CLOSE_LINGER = 2.0       # seconds a closed connection's late input is read and dropped
UNLIMITED = 10 ** 8      # "no limit" for gunicorn's graceful_timeout, seconds


def arbiter_grace(grace: float) -> float:
    """gunicorn's graceful_timeout for a worker that cuts requests after ``grace``
    seconds (0: never)."""
    return grace + CUT_MARGIN if grace else UNLIMITED


def set_socket_timeouts(sock: socket.socket, seconds: float) -> None:
    """Kernel timeouts for blocking reads and writes; 0: none."""
    whole = int(seconds)
    timeval = struct.pack('ll', whole, int((seconds - whole) * 1e6))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def head_end(buf: bytes | bytearray, start: int = 0) -> int:
    """Where the request head in ``buf`` ends (after its blank line), or -1. Blank
    lines before a request line do not count (RFC 9112 section 2.2)."""
    start = max(start, len(buf) - len(buf.lstrip(b'\r\n')))
    ends = [i + len(sep) for sep in (b'\r\n\r\n', b'\n\n')
            if (i := buf.find(sep, start)) >= 0]
    return min(ends) if ends else -1


def _reply(status: str) -> bytes:
    text = status.split(' ', 1)[1].encode() + b'\n'
    return (b'HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: text/plain\r\n'
            b'Content-Length: %d\r\n\r\n%s' % (status.encode(), len(text), text))


REQUEST_TIMEOUT = _reply('408 Request Timeout')
HEAD_TOO_LARGE = _reply('431 Request Header Fields Too Large')


class ClientSocket(socket.socket):
    """A plain client socket whose sendfile (gunicorn's path for file downloads)
    gives up after ``send_timeout`` seconds without progress: Python's sendfile on a
    blocking socket waits for it to become writable with no limit, retrying past the
    kernel's SO_SNDTIMEO."""
    send_timeout: float | None = None

    @classmethod
    def of(cls, sock: socket.socket, send_timeout: float | None) -> ClientSocket:
        own = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        own.send_timeout = send_timeout
        return own

    def sendfile(self, file, offset=0, count=None):
        if not self.send_timeout:
            return super().sendfile(file, offset, count)
        self.settimeout(self.send_timeout)
        try:
            return super().sendfile(file, offset, count)
        finally:
            self.settimeout(None)


class Conn(TConn):
    """A client connection; ``head`` holds what arrived of its next request."""

    def __init__(self, cfg, sock, client, server):
        super().__init__(cfg, sock, client, server)
        self.head = bytearray()
        self.head_complete = False
        self.deadline = 0.0
        self.handshaken = not isinstance(sock, ssl.SSLSocket)

    def init(self):
        """In the request thread: the parser, reading the received head first. TLS
        is already set up by the event loop (no HTTP/2: glance speaks HTTP/1.1)."""
        self.initialized = True
        if self.parser is None:
            self.parser = http.get_parser(self.cfg, self.sock, self.client)
        if self.head:
            self.parser.unreader.unread(bytes(self.head))
            self.head = bytearray()


class GlintWorker(ThreadWorker):
    """See the module's docstring; ``configured`` gives the settings."""
    header_timeout = 20.0
    socket_timeout = 900.0
    grace = 60.0

    @classmethod
    def configured(cls, header_timeout: float, socket_timeout: float, grace: float):
        return type(cls.__name__, (cls,), {'header_timeout': header_timeout,
                                            'socket_timeout': socket_timeout,
                                            'grace': grace})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading: dict[Conn, None] = {}   # heads being received, oldest first
        self.closing: dict[Conn, None] = {}   # half-closed, draining, oldest first
        self.busy: set[Conn] = set()          # connections a thread is serving
        self.cut_at: float | None = None
        self.tls: ssl.SSLContext | None = None

    def init_process(self):
        if self.cfg.is_ssl:     # one context for all connections, not one each
            self.tls = gsock.ssl_context(self.cfg)
        super().init_process()

    # -- connections ---------------------------------------------------------------
    def accept(self, listener):
        try:
            client, addr = listener.accept()
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        if not self.tls:
            set_socket_timeouts(client, self.socket_timeout)
            client = ClientSocket.of(client, self.socket_timeout)
        else:
            client = self.tls.wrap_socket(
                client, server_side=True, do_handshake_on_connect=False,
                suppress_ragged_eofs=self.cfg.suppress_ragged_eofs)
        self.enqueue_req(Conn(self.cfg, client, addr, listener.getsockname()))

    def enqueue_req(self, conn: Conn):
        """gthread's way to a thread, for new, kept-alive and pipelining connections
        alike: through the event loop until the request head is complete."""
        if not conn.head_complete:
            self.read_head(conn)
            return
        conn.head_complete = False
        self.busy.add(conn)
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.busy.discard(conn)
        if not fs.cancelled() and fs.exception() is None and fs.result():
            super().finish_request(conn, fs)      # kept alive
        else:
            self.nr_conns -= 1
            self.close_gracefully(conn)

    def close_gracefully(self, conn: Conn) -> None:
        """gthread's graceful close (FIN, then read until the client closes, so that
        unread input does not make the kernel reset the connection before the client
        has read the response) without blocking the event loop: gthread lingers up to
        2 s in the loop itself for a client that does not close."""
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            conn.close()
            return
        conn.deadline = time.monotonic() + CLOSE_LINGER
        self.closing[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self.on_closing_readable, conn))

    def on_closing_readable(self, conn: Conn, _sock) -> None:
        try:
            if conn.sock.recv(HEAD_MAX):
                return          # more later, until the client closes or CLOSE_LINGER
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:
            pass
        self.closed(conn)

    def closed(self, conn: Conn) -> None:
        self.poller.unregister(conn.sock)
        del self.closing[conn]
        conn.close()

    def read_head(self, conn: Conn) -> None:
        conn.sock.setblocking(False)
        if conn.parser is not None:     # bytes read ahead past the previous request
            conn.head += conn.parser.unreader.take_buffered()
        conn.deadline = time.monotonic() + self.header_timeout
        if not self.alive:
            conn.deadline = min(conn.deadline, time.monotonic() + STOP_LINGER)
        self.reading[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self.on_head_readable, conn))
        if head_end(conn.head) >= 0:
            self.head_received(conn)

    def on_head_readable(self, conn: Conn, _sock) -> None:
        seen = max(len(conn.head) - 3, 0)
        ended = False        # the client shut its side: a complete head is still served
        try:
            if not conn.handshaken:
                conn.sock.do_handshake()
                conn.handshaken = True
            while len(conn.head) <= HEAD_MAX:
                data = conn.sock.recv(HEAD_MAX + 1 - len(conn.head))
                if not data:
                    ended = True
                    break
                conn.head += data
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        except OSError:      # reset, or a failed TLS handshake
            self.drop(conn)
            return
        if head_end(conn.head, seen) >= 0:
            self.head_received(conn)
        elif ended:
            self.drop(conn)
        elif len(conn.head) > HEAD_MAX:
            self.drop(conn, HEAD_TOO_LARGE)

    def head_received(self, conn: Conn) -> None:
        self.poller.unregister(conn.sock)
        del self.reading[conn]
        conn.head_complete = conn.data_ready = True
        self.enqueue_req(conn)

    def drop(self, conn: Conn, reply: bytes = b'') -> None:
        """Close a connection whose request head did not come."""
        self.poller.unregister(conn.sock)
        del self.reading[conn]
        self.nr_conns -= 1
        if not reply:
            conn.close()
            return
        try:
            conn.sock.send(reply)
        except OSError:
            pass
        self.close_gracefully(conn)     # so that the client reads the reply

    def murder_pending(self):
        """Every turn of the loop: heads past their deadline; after SIGTERM, requests
        past the grace."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading:
            conn = next(iter(self.reading))
            if conn.deadline > now:
                break
            self.drop(conn, REQUEST_TIMEOUT if conn.head.strip() else b'')
        while self.closing and next(iter(self.closing)).deadline <= now:
            self.closed(next(iter(self.closing)))
        if self.cut_at is not None and now >= self.cut_at:
            self.cut_busy()

    # -- shutdown ----------------------------------------------------------------------
    def handle_exit(self, sig, frame):
        if self.alive:
            if self.grace:
                self.cut_at = time.monotonic() + self.grace
            self.method_queue.defer(self.stop_listening)
        super().handle_exit(sig, frame)

    def stop_listening(self) -> None:
        """Close the listeners, so that new connections are refused rather than left
        waiting in the backlog while in-flight requests finish."""
        self.set_accept_enabled(False)
        for listener in self.sockets:
            listener.close()
        linger = time.monotonic() + STOP_LINGER
        for conn in self.reading:     # in deadline order still
            conn.deadline = min(conn.deadline, linger)

    def cut_busy(self) -> None:
        self.cut_at = None
        if self.busy:
            self.log.warning('graceful_shutdown_timeout (%ss) reached: cutting %d '
                             'request(s) still running', self.grace, len(self.busy))
        for conn in list(self.busy):
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- in a request thread -----------------------------------------------------------
    def block(self, sock) -> None:
        """Blocking, with client_socket_timeout: the kernel's (see accept) for plain
        sockets; Python's for TLS, whose blocking reads would retry a kernel timeout
        forever."""
        if isinstance(sock, ssl.SSLSocket):
            sock.settimeout(self.socket_timeout or None)
        else:
            sock.setblocking(True)

    def handle(self, conn: Conn):
        """One request whose head has arrived (gthread's, without HTTP/2). A client
        that stalls past client_socket_timeout is only logged at info level."""
        req = None
        try:
            self.block(conn.sock)
            conn.init()
            req = next(conn.parser)
            if not req:
                return False
            return self._keepalive_after(conn, self.handle_request(req, conn))
        except (http.errors.NoMoreData, StopIteration):
            pass
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ETIMEDOUT) or \
                    isinstance(e, (TimeoutError, ssl.SSLWantReadError,
                                   ssl.SSLWantWriteError)):
                self.log.info('Closing %s: idle past client_socket_timeout', conn.client)
            elif isinstance(e, ssl.SSLError) or e.errno in (
                    errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.debug('Client connection failed: %s', e)
            else:
                self.log.exception('Socket error processing request.')
        except Exception as e:
            self.handle_error(req, conn.sock, conn.client, e)
        return False
