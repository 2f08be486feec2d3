"""The upload data path below the API: request bodies read into reused buffers
(glint.common.body, against gunicorn's real body classes on a socket pair) and the
pipeline that hashes them and writes them from its own thread (glint.common.hashing)."""
from __future__ import annotations

import hashlib
import io
import os
import socket
import threading
import time

import pytest
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.unreader import SocketUnreader

from glint.common import body, exception, hashing


class Source:
    """A body of ``data`` handed out in pieces of at most ``step`` bytes per readinto;
    ``fail_at``: raise ClientDisconnected once that many bytes were given."""

    def __init__(self, data: bytes, step: int = 1 << 20, fail_at: int | None = None):
        self.data, self.step, self.fail_at, self.pos = data, step, fail_at, 0

    def readinto(self, view: memoryview) -> int:
        if self.fail_at is not None and self.pos >= self.fail_at:
            raise exception.ClientDisconnected()
        n = min(len(view), self.step, len(self.data) - self.pos)
        view[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


class Store:
    """Collects what add() is given (copied: the buffers are reused) and whether add
    saw the upload abort."""

    def __init__(self, fail_after: int | None = None):
        self.written = bytearray()
        self.aborted = False
        self.fail_after = fail_after

    def add(self, chunks):
        try:
            for chunk in chunks:
                self.written += chunk
                if self.fail_after is not None and len(self.written) > self.fail_after:
                    raise exception.StorageFull()
        except hashing.Aborted:
            self.aborted = True
            raise
        return 'stored'


@pytest.fixture
def small_ring(monkeypatch):
    """A ring of 3 buffers of 64 KiB: a few MiB go round it many times."""
    monkeypatch.setattr(hashing, 'BUFFER_SIZE', 64 * 1024)
    monkeypatch.setattr(hashing, 'RING', 3)


@pytest.mark.parametrize('size', [0, 1, 64 * 1024, 5 * 1024 * 1024 + 7])
def test_digests_and_data_are_exact(small_ring, size):
    data = os.urandom(size)
    store = Store()
    result, hashed = hashing.store_hashed(Source(data, step=50_000), store.add, 'sha512',
                                          limit=size, too_large='too large')
    assert result == 'stored'
    assert bytes(store.written) == data
    assert hashed.size == size
    assert hashed.checksum == hashlib.md5(data).hexdigest()
    assert hashed.os_hash_value == hashlib.sha512(data).hexdigest()
    assert hashed.algorithm == 'sha512'


def test_over_the_limit_is_413_and_the_store_sees_the_abort(small_ring):
    store = Store()
    with pytest.raises(exception.RequestEntityTooLarge, match='quota'):
        hashing.store_hashed(Source(os.urandom(1_000_001)), store.add, 'sha256',
                             limit=1_000_000, too_large='quota')
    assert store.aborted


def test_client_leaving_aborts_the_store(small_ring):
    store = Store()
    with pytest.raises(exception.ClientDisconnected):
        hashing.store_hashed(Source(os.urandom(2_000_000), fail_at=700_000), store.add,
                             'sha512', limit=10**9, too_large='')
    assert store.aborted
    assert not _pipeline_threads()


def test_store_failure_is_raised_and_nothing_hangs(small_ring):
    store = Store(fail_after=300_000)
    with pytest.raises(exception.StorageFull):
        hashing.store_hashed(Source(os.urandom(3_000_000), step=10_000), store.add,
                             'sha512', limit=10**9, too_large='')
    assert not store.aborted
    assert not _pipeline_threads()


def test_store_refusing_before_any_data_reads_nothing(small_ring):
    """A store that fails before asking for a chunk (a declared size the disk cannot
    hold) ends the upload without reading the body, whose client may send no more."""
    source = Source(os.urandom(1000))

    def refuse(chunks):
        time.sleep(0.1)         # as a look at the disk may take
        raise exception.StorageFull()
    with pytest.raises(exception.StorageFull):
        hashing.store_hashed(source, refuse, 'sha512', limit=10**9, too_large='')
    assert source.pos == 0
    assert not _pipeline_threads()


def _pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(('store-write', 'hash-'))]


# -- request bodies on a real socket, as gunicorn hands them over ------------------------
def _pair():
    a, b = socket.socketpair()
    a.settimeout(10)
    b.settimeout(10)
    return a, b


def _drain(reader, size: int) -> bytes:
    out = bytearray()
    buf = memoryview(bytearray(size))
    while n := reader.readinto(buf):
        out += buf[:n]
    return bytes(out)


def test_socket_body_takes_what_gunicorn_holds_then_the_socket():
    server, client = _pair()
    data = os.urandom(300_000)
    unreader = SocketUnreader(server)
    unreader.buf.write(data[:1000])     # what the header parser read past the headers
    wsgi_input = Body(LengthReader(unreader, len(data)))
    fast = body.SocketBody.of({'wsgi.input': wsgi_input, 'gunicorn.socket': server})
    assert isinstance(fast, body.SocketBody)
    sender = threading.Thread(target=client.sendall, args=(data[1000:] + b'NEXT',))
    sender.start()
    assert _drain(fast, 64 * 1024) == data
    sender.join()
    # gunicorn's own state says the body is read; the next request is still unread
    assert wsgi_input.reader.length == 0
    assert wsgi_input.read(10) == b''
    assert unreader.read() == b'NEXT'
    server.close()
    client.close()


def test_socket_body_leaves_a_pipelined_request_to_gunicorn():
    server, client = _pair()
    unreader = SocketUnreader(server)
    unreader.buf.write(b'0123456789GET / HTTP/1.1\r\n\r\n')
    wsgi_input = Body(LengthReader(unreader, 10))
    fast = body.SocketBody.of({'wsgi.input': wsgi_input, 'gunicorn.socket': server})
    assert _drain(fast, 4) == b'0123456789'
    assert wsgi_input.reader.length == 0
    assert unreader.read() == b'GET / HTTP/1.1\r\n\r\n'
    server.close()
    client.close()


def test_socket_body_client_leaving_is_a_disconnect():
    server, client = _pair()
    wsgi_input = Body(LengthReader(SocketUnreader(server), 100_000))
    fast = body.SocketBody.of({'wsgi.input': wsgi_input, 'gunicorn.socket': server})
    client.sendall(os.urandom(40_000))
    client.close()
    with pytest.raises(exception.ClientDisconnected):
        _drain(fast, 64 * 1024)
    assert wsgi_input.failed        # gunicorn closes the connection instead of reusing it
    server.close()


def test_chunked_bodies_take_the_stream_path():
    server, client = _pair()
    data = os.urandom(150_000)
    wsgi_input = Body(ChunkedReader(object(), SocketUnreader(server)))
    env = {'wsgi.input': wsgi_input, 'gunicorn.socket': server}
    assert body.SocketBody.of(env) is None
    reader = body.request_body(env, None)
    assert isinstance(reader, body.StreamBody)
    sender = threading.Thread(target=client.sendall, args=(
        b'%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n' % (100_000, data[:100_000], 50_000,
                                                     data[100_000:]),))
    sender.start()
    assert _drain(reader, 64 * 1024) == data
    sender.join()
    server.close()
    client.close()


def test_stream_body_short_of_its_length_is_a_disconnect():
    reader = body.StreamBody(io.BytesIO(b'x' * 10), 20)
    with pytest.raises(exception.ClientDisconnected):
        _drain(reader, 8)
