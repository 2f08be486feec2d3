"""Connections against real glance-api processes (issue 15, items 1, 2 and 7 and its
TLS item): idle and slowloris clients cost the others nothing, a stalled upload body
fails within client_socket_timeout, SIGTERM refuses new connections while requests in
flight finish (or are cut at graceful_shutdown_timeout, leaving nothing behind), and
glance-api and glance-registry serve HTTPS from cert_file / key_file.

Timeouts here are functional bounds far below what the defaults would take (900 s for
a stalled body, forever for a slowloris head), never performance thresholds."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from tests.service.conftest import Client
from tests.service.server import GlintServer, RegistryServer

HEADER_TIMEOUT = 2
SOCKET_TIMEOUT = 2
WAIT = 60          # seconds any step may take before the test gives up


def connect(server: GlintServer) -> socket.socket:
    return socket.create_connection(('127.0.0.1', server.port), timeout=WAIT)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    data = b''
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, head and body."""
    data = b''
    while b'\r\n\r\n' not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b'\r\n\r\n')
    length = int(head.lower().split(b'content-length:')[1].split(b'\r\n')[0])
    while len(body) < length:
        body += sock.recv(65536)
    assert len(body) == length
    return head + b'\r\n\r\n' + body


def drip(sock: socket.socket, stop: threading.Event) -> None:
    """A slowloris client: a request line, then a header line every half second."""
    try:
        sock.sendall(b'GET /v2/images HTTP/1.1\r\nHost: glint\r\n')
        while not stop.wait(0.5):
            sock.sendall(b'X-Slow: 1\r\n')
    except OSError:
        pass        # closed by the server, as it should be


def raw_upload_head(image_id: str, length: int) -> bytes:
    return (b'PUT /v2/images/%s/file HTTP/1.1\r\nHost: glint\r\n'
            b'Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n'
            % (image_id.encode(), length))


def stored_files(server: GlintServer) -> list:
    return list(server.datadir.iterdir()) if server.datadir.exists() else []


@pytest.fixture(scope='module')
def server():
    overrides = {'DEFAULT': {'client_header_timeout': HEADER_TIMEOUT,
                             'client_socket_timeout': SOCKET_TIMEOUT}}
    with GlintServer(overrides=overrides) as srv:
        yield srv


@pytest.fixture
def api(server):
    return Client(server.url)


def test_idle_and_slowloris_connections_cost_others_nothing(server, api):
    idle = [connect(server) for _ in range(200)]
    stop = threading.Event()
    slow = [connect(server) for _ in range(32)]
    drips = [threading.Thread(target=drip, args=(s, stop), daemon=True) for s in slow]
    try:
        for thread in drips:
            thread.start()
        for _ in range(20):       # gthread: every request waits behind the slow heads
            assert api.get('/v2/images', timeout=WAIT).status_code == 200
            assert api.post('/v2/images', json={'name': 'busy'},
                            timeout=WAIT).status_code == 201
        # the heads never completed: idle connections are closed without a word,
        # slowloris ones answered 408, both after the header timeout
        assert all(read_all(s) == b'' for s in idle)
        assert all(read_all(s).startswith(b'HTTP/1.1 408 ') for s in slow)
    finally:
        stop.set()
        for s in idle + slow:
            s.close()


def test_kept_alive_connection_has_the_header_timeout_too(server):
    sock = connect(server)
    with sock:
        sock.sendall(b'GET /healthcheck HTTP/1.1\r\nHost: glint\r\n\r\n')
        assert read_response(sock).startswith(b'HTTP/1.1 200 ')
        sock.sendall(b'GET /healthcheck HTTP/1.1\r\n')      # and never the rest
        assert read_all(sock).startswith(b'HTTP/1.1 408 ')


def test_request_head_too_large(server):
    sock = connect(server)
    with sock:
        sock.sendall(b'GET /v2/images HTTP/1.1\r\n')
        for _ in range(100):
            sock.sendall(b'X-Big: %s\r\n' % (b'a' * 1000))
        assert read_all(sock).startswith(b'HTTP/1.1 431 ')


def test_request_then_half_close_is_answered(server):
    """A client that sends its request and shuts its side (as `nc -N` or HTTP/1.0
    tools do) still gets the answer (found by tests/fuzz: it got none)."""
    sock = connect(server)
    with sock:
        sock.sendall(b'GET /v2/images/nope HTTP/1.1\r\nHost: glint\r\n\r\n')
        sock.shutdown(socket.SHUT_WR)
        assert read_all(sock).startswith(b'HTTP/1.1 404 ')


def test_pipelined_requests_are_all_answered(server):
    sock = connect(server)
    with sock:
        sock.sendall(b'GET /healthcheck HTTP/1.1\r\nHost: glint\r\n\r\n' * 3
                     + b'GET /healthcheck HTTP/1.1\r\nHost: glint\r\nConnection: close'
                       b'\r\n\r\n')
        assert read_all(sock).count(b'HTTP/1.1 200 ') == 4


def test_stalled_upload_body_fails_within_client_socket_timeout(server, api):
    image = api.create()
    sock = connect(server)
    with sock:
        sock.sendall(raw_upload_head(image['id'], 10 << 20) + b'x' * (1 << 20))
        answer = read_all(sock)     # the client stalls; the server must not
    assert answer.startswith(b'HTTP/1.1 400 '), answer[:200]
    assert api.get('/v2/images/' + image['id']).json()['status'] == 'queued'
    assert image['id'] not in [f.name for f in stored_files(server)]
    # and the image takes an upload again
    assert api.upload(image['id'], b'data').status_code == 204


def test_download_nobody_reads_is_cut_after_client_socket_timeout(server, api):
    image_id, data = upload_image(api, 32 << 20)
    sock = connect(server)
    with sock:
        sock.sendall(b'GET /v2/images/%s/file HTTP/1.1\r\nHost: glint\r\n\r\n'
                     % image_id.encode())
        time.sleep(3 * SOCKET_TIMEOUT)       # a client that stopped reading
        received = read_all(sock)
    assert received.startswith(b'HTTP/1.1 200 ')
    assert len(received) < len(data)      # the server gave up and closed


def upload_image(api: Client, size: int) -> tuple[str, bytes]:
    image, data = api.create(), os.urandom(size)
    assert api.upload(image['id'], data).status_code == 204
    return image['id'], data


def refused(server: GlintServer) -> bool:
    try:
        socket.create_connection(('127.0.0.1', server.port), timeout=WAIT).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize('grace', [60, 0])
def test_sigterm_refuses_new_connections_and_finishes_downloads(grace):
    overrides = {'DEFAULT': {'graceful_shutdown_timeout': grace}}
    with GlintServer(overrides=overrides) as srv:
        api = Client(srv.url)
        image_id, data = upload_image(api, 32 << 20)
        resp = api.get('/v2/images/%s/file' % image_id, stream=True, timeout=WAIT)
        chunks = resp.iter_content(1 << 16)
        got = [next(chunks)]
        srv.signal(signal.SIGTERM)
        # the listeners are closed: refused at once, not left waiting for the workers
        deadline = time.monotonic() + WAIT
        while not refused(srv) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert refused(srv)
        got += chunks           # the download in flight still ends whole
        assert b''.join(got) == data
        assert srv.process.wait(WAIT) == 0


def test_sigterm_cuts_what_runs_past_the_grace():
    overrides = {'DEFAULT': {'graceful_shutdown_timeout': 1,
                             'client_socket_timeout': 600}}
    with GlintServer(overrides=overrides) as srv:
        api = Client(srv.url)
        image_id, data = upload_image(api, 32 << 20)
        download = api.get('/v2/images/%s/file' % image_id, stream=True, timeout=WAIT)
        next(download.iter_content(1 << 16))
        saving = api.create()
        upload = connect(srv)
        upload.sendall(raw_upload_head(saving['id'], 10 << 20) + b'x' * (1 << 20))
        while api.get('/v2/images/' + saving['id']).json()['status'] != 'saving':
            time.sleep(0.1)
        srv.signal(signal.SIGTERM)
        assert srv.process.wait(WAIT) == 0      # well before the master's SIGKILL
        # the download ends short of its Content-Length, which the client reports
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for _ in download.iter_content(1 << 16):
                pass
        assert read_all(upload) == b''      # cut: no answer, the connection closed
        upload.close()
        srv.start()
        assert api.get('/v2/images/' + saving['id']).json()['status'] == 'queued'
        assert [f.name for f in stored_files(srv)] == [image_id]


# -- HTTPS from cert_file / key_file ------------------------------------------------------
@pytest.fixture(scope='module')
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: (cert_file, key_file)."""
    where = tmp_path_factory.mktemp('tls')
    cert, key = where / 'cert.pem', where / 'key.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days',
                    '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
                    '-keyout', str(key), '-out', str(cert)], check=True,
                   capture_output=True)
    return str(cert), str(key)


def https(service):
    """``service``, not started yet, to be reached over HTTPS."""
    service.url = service.url.replace('http://', 'https://')
    return service


def test_api_and_registry_serve_https(certificate, monkeypatch):
    cert, key = certificate
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', cert)     # the harness's own requests too
    tls = {'cert_file': cert, 'key_file': key}
    registry = https(RegistryServer(overrides={'DEFAULT': tls}))
    api_server = https(GlintServer(registry=registry, overrides={'DEFAULT': {
        **tls, 'client_header_timeout': HEADER_TIMEOUT,
        'registry_client_protocol': 'https', 'registry_client_ca_file': cert}}))
    with api_server as srv:
        api = Client(srv.url)
        image_id, data = upload_image(api, 3 << 20)
        assert api.get('/v2/images/%s/file' % image_id).content == data
        with pytest.raises(requests.exceptions.SSLError):      # really TLS, self-signed
            requests.get(srv.url + '/v2/images', verify=requests.certs.where(),
                         timeout=WAIT)
        # plain HTTP to the HTTPS port: dropped, nothing served
        with connect(srv) as plain:
            plain.sendall(b'GET /v2/images HTTP/1.1\r\nHost: glint\r\n\r\n')
            assert not read_all(plain).startswith(b'HTTP/1.1 200')
        # a TLS client that never finishes its handshake costs a header timeout
        with connect(srv) as idle:
            assert read_all(idle) == b''
        assert registry.url.startswith('https://')


def test_tls_settings_must_be_usable(certificate):
    cert, key = certificate
    for tls, option in [({'cert_file': cert}, 'key_file'),
                        ({'cert_file': key, 'key_file': key}, 'cert_file'),
                        ({'ca_file': cert}, 'ca_file')]:
        srv = GlintServer(overrides={'DEFAULT': tls})
        try:
            result = subprocess.run(srv.argv(), capture_output=True, text=True,
                                    timeout=WAIT)
        finally:
            srv.cleanup()
        assert result.returncode != 0
        assert '[DEFAULT] %s' % option in result.stdout + result.stderr
