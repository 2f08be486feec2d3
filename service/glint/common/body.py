"""Request bodies read into the caller's buffers.

An upload is CPU-bound on this path: gunicorn's ``wsgi.input.read`` assembles every
chunk from smaller reads through BytesIO copies and returns fresh ``bytes`` (fresh
pages, a page fault each 4 KiB), all while holding the GIL that the digest threads
need. For a body with a Content-Length, ``SocketBody`` instead ``recv_into``s the
connection's socket directly, keeping gunicorn's own count of what is left in step so
that keep-alive and its draining of an unread rest still work. Anything else (chunked
transfer-encoding, another server) goes through ``StreamBody`` and ``wsgi.input``.
"""
from __future__ import annotations

import io
import socket
import ssl

from glint.common import exception

try:    # gunicorn's body readers: the fast path only applies to them
    from gunicorn.http.body import Body, LengthReader
    from gunicorn.http.unreader import SocketUnreader
except ImportError:     # pragma: no cover - another WSGI server
    Body = LengthReader = SocketUnreader = None


class StreamBody:
    """Any ``wsgi.input``: ``read`` then copy into the caller's buffer."""

    def __init__(self, stream, length: int | None):
        self._stream = stream
        self._left = length

    def readinto(self, view: memoryview) -> int:
        """Fill ``view``; fewer bytes only at the end of the body, 0 after it."""
        filled = 0
        while filled < len(view) and self._left != 0:
            want = len(view) - filled
            if self._left is not None:
                want = min(want, self._left)
            try:
                data = self._stream.read(want)
            except Exception:     # the server's reader fails in its own ways on a dead peer
                raise exception.ClientDisconnected()
            if not data:
                if self._left:
                    raise exception.ClientDisconnected()
                self._left = 0
                break
            view[filled:filled + len(data)] = data
            filled += len(data)
            if self._left is not None:
                self._left -= len(data)
        return filled


class SocketBody:
    """A gunicorn Content-Length body, received straight into the caller's buffer."""

    def __init__(self, body, sock):
        self._body = body
        self._reader = body.reader
        self._sock = sock
        # what gunicorn already holds of this body: its Body's buffer, then what the
        # header parser read past the headers (only up to the body's end)
        self._held = body.buf.getvalue()
        body.buf = io.BytesIO()
        unreader = self._reader.unreader
        ahead = unreader.buf.getvalue()
        unreader.buf = io.BytesIO()
        mine = ahead[:self._reader.length]
        if len(ahead) > len(mine):
            unreader.buf.write(ahead[len(mine):])
        self._reader.length -= len(mine)
        self._held = memoryview(self._held + mine)
        # one recv for the whole buffer instead of one per socket-buffer's worth: fewer
        # system calls and GIL hand-offs (TLS sockets take no flags)
        self._flags = 0 if isinstance(sock, ssl.SSLSocket) else socket.MSG_WAITALL

    @classmethod
    def of(cls, env: dict) -> SocketBody | None:
        """The fast reader for this request, if gunicorn reads it from a socket by length."""
        body, sock = env.get('wsgi.input'), env.get('gunicorn.socket')
        if Body is None or sock is None or type(body) is not Body:
            return None
        reader = body.reader
        if type(reader) is not LengthReader or not isinstance(reader.unreader, SocketUnreader):
            return None
        if reader.unreader.sock is not sock or not hasattr(sock, 'recv_into'):
            return None
        return cls(body, sock)

    def readinto(self, view: memoryview) -> int:
        """Fill ``view``; fewer bytes only at the end of the body, 0 after it."""
        filled = 0
        if self._held:
            filled = min(len(self._held), len(view))
            view[:filled] = self._held[:filled]
            self._held = self._held[filled:]
        reader = self._reader
        while filled < len(view) and reader.length:
            try:
                got = self._sock.recv_into(view[filled:], min(len(view) - filled,
                                                             reader.length), self._flags)
            except OSError:
                got = 0
            if not got:      # the client left: the connection must not be reused
                self._body.failed = True
                raise exception.ClientDisconnected()
            reader.length -= got
            filled += got
        return filled


def request_body(env: dict, length: int | None):
    """The fastest reader for this request's body."""
    return SocketBody.of(env) or StreamBody(env['wsgi.input'], length)
