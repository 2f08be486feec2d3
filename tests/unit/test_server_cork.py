"""Responses are corked once the answer is known and uncorked by gunicorn's post_request
hook (glint.common.server): checked on real loopback TCP sockets."""
from __future__ import annotations

import socket

import pytest
from gunicorn.config import Config
from oslo_config import cfg

from glint.common import config, server


@pytest.fixture
def tcp_pair():
    with socket.create_server(('127.0.0.1', 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
    yield conn, client
    conn.close()
    client.close()


def corked(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK)


def test_cork_then_post_request_uncorks_and_the_data_arrives(tcp_pair):
    conn, client = tcp_pair
    environ = {'gunicorn.socket': conn}
    server.cork(environ)
    assert corked(conn) == 1
    conn.sendall(b'x' * 1000)          # a short segment: held back while corked
    server.uncork(None, None, environ, None)
    assert corked(conn) == 0
    client.settimeout(5)
    got = b''
    while len(got) < 1000:
        got += client.recv(4096)
    assert got == b'x' * 1000


def test_nothing_to_cork_without_a_tcp_socket():
    server.cork({})                                   # not served by gunicorn
    a, b = socket.socketpair()                        # a unix socket: no TCP options
    with a, b:
        environ = {'gunicorn.socket': a}
        server.cork(environ)
        assert server.CORKED not in environ
        server.uncork(None, None, environ, None)


def test_uncork_after_the_client_left(tcp_pair):
    conn, _ = tcp_pair
    environ = {'gunicorn.socket': conn}
    server.cork(environ)
    conn.close()
    server.uncork(None, None, environ, None)          # no error from a closed socket


def test_gunicorn_calls_uncork_after_each_request():
    conf = cfg.ConfigOpts()
    conf.register_opts(config.server_opts)
    conf.register_cli_opt(cfg.BoolOpt('debug', default=False))
    conf([], default_config_files=[])
    gunicorn_conf = Config()
    for key, value in server.gunicorn_settings(conf, 'glance-api').items():
        gunicorn_conf.set(key, value)
    assert gunicorn_conf.post_request is server.uncork
