"""A download's body on its way out (glint.common.outgoing), on real loopback sockets:
the close reports the bytes sent, a file stays sendfile-able, and a corked socket is
uncorked by the body's close."""
from __future__ import annotations

import socket

import pytest

from glint.common import outgoing


@pytest.fixture
def tcp_pair():
    with socket.create_server(('127.0.0.1', 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
    client.settimeout(5)
    yield conn, client
    conn.close()
    client.close()


@pytest.fixture
def image(tmp_path):
    path = tmp_path / 'image'
    path.write_bytes(bytes(range(256)) * 64)        # 16 KiB
    return path


def corked(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK)


def receive(client: socket.socket, n: int) -> bytes:
    got = b''
    while len(got) < n:
        got += client.recv(65536)
    return got


def test_a_sendfile_range_is_counted_on_close(tcp_pair, image):
    conn, client = tcp_pair
    sent = []
    f = open(image, 'rb')
    f.seek(100)
    body = outgoing.on_close(f, sent.append)
    conn.sendfile(body, 100, 500)                  # as gunicorn sends a file body
    body.close()
    assert sent == [500]
    assert receive(client, 500) == image.read_bytes()[100:600]
    assert f.closed


def test_an_iterator_is_counted_and_closed():
    closed, sent = [], []

    def chunks():
        try:
            yield b'ab'
            yield b'cde'
            yield b'never sent'
        finally:
            closed.append(True)
    body = outgoing.on_close(chunks(), sent.append)
    assert next(body) + next(body) == b'abcde'
    body.close()                                   # the client left early
    assert sent == [5] and closed == [True]


def test_the_body_is_sent_corked_and_its_close_uncorks(tcp_pair, image):
    conn, client = tcp_pair
    body = outgoing.corked({'gunicorn.socket': conn}, open(image, 'rb'))
    assert corked(conn) == 1
    conn.sendall(b'HTTP/1.1 200 OK\r\n\r\n')
    conn.sendfile(body)
    body.close()
    assert corked(conn) == 0
    assert receive(client, 19 + 16384)[19:] == image.read_bytes()


def test_no_cork_without_gunicorn_or_tcp(image):
    f = open(image, 'rb')
    assert outgoing.corked({}, f) is f                       # another WSGI server
    a, b = socket.socketpair()                               # a Unix socket
    with a, b:
        assert outgoing.corked({'gunicorn.socket': a}, f) is f
    f.close()


def test_uncork_after_the_client_left(tcp_pair, image):
    conn, _ = tcp_pair
    body = outgoing.corked({'gunicorn.socket': conn}, open(image, 'rb'))
    conn.close()
    body.close()                                   # no error from a closed socket
