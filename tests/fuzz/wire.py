"""Raw HTTP/1.1 for the fuzzer, so that headers (Content-Length, Transfer-Encoding) and
bodies go out exactly as generated, and the checks every answer must pass."""
from __future__ import annotations

import dataclasses
import http
import http.client
import json
import socket
import urllib.parse

# Longer than any answer takes on a quiet machine; a request that waits this long is
# one the server held (reported, not a timing assertion on the answer).
TIMEOUT = 60


@dataclasses.dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def __str__(self):
        return '%d %s\n%s' % (self.status, dict(self.headers), self.body[:2000])


def quote(text: str | bytes) -> str:
    """A path segment or query value as a client would escape it: UTF-8, lone
    surrogates as their (invalid) UTF-8 bytes."""
    if isinstance(text, str):
        text = text.encode('utf-8', 'surrogatepass')
    return urllib.parse.quote(text, safe='')


def query(pairs: list[tuple[str, str | bytes]]) -> str:
    return '&'.join('%s=%s' % (quote(k), quote(v)) for k, v in pairs)


def chunked(body: bytes, size: int = 5) -> bytes:
    parts = [b'%x\r\n%s\r\n' % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b''.join(parts) + b'0\r\n\r\n'


def send(port: int, method: str, target: str, headers: list[tuple[str, str]],
         body: bytes | None = None) -> Answer:
    """One request on a new connection. ``body`` goes out as given; Content-Length is
    added unless ``headers`` frame the body themselves."""
    names = {name.lower() for name, _ in headers}
    lines = ['%s %s HTTP/1.1' % (method, target), 'Host: 127.0.0.1:%d' % port,
             'Connection: close']
    if body is not None and not names & {'content-length', 'transfer-encoding'}:
        lines.append('Content-Length: %d' % len(body))
    lines += ['%s: %s' % pair for pair in headers]
    head = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
    with socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(head + (body or b''))
        except (BrokenPipeError, ConnectionResetError):
            pass        # the server answered before reading everything: read that
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        return Answer(resp.status, resp.msg, resp.read())


def assert_glance_error(answer: Answer, accept: str | None) -> None:
    """The error body webob gives Glance's errors (glint/api/errors.py): JSON when the
    client prefers it, HTML with no Accept, plain text otherwise."""
    status = '%d %s' % (answer.status, http.HTTPStatus(answer.status).phrase)
    kind = answer.headers.get('Content-Type', '').split(';')[0]
    expected = {None: 'text/html', 'application/json': 'application/json'}
    if accept in expected:
        assert kind == expected[accept], answer
    if kind == 'application/json':
        doc = json.loads(answer.body)
        assert set(doc) == {'message', 'code', 'title'}, answer
        assert doc['code'] == status and doc['title'] == status.split(' ', 1)[1], answer
        assert isinstance(doc['message'], str), answer
    elif kind == 'text/html':
        text = answer.body.decode()
        assert '<title>%s</title>' % status in text and '<h1>%s</h1>' % status in text, \
            answer
    else:
        assert kind == 'text/plain', answer
        assert answer.body.decode().startswith(status + '\n\n'), answer


def assert_registry_error(answer: Answer, accept: str | None) -> None:
    """The registry's error (glint/registry/rpc.py): the exception's class and message,
    so that the API raises the very error."""
    assert answer.headers.get('Content-Type', '').startswith('application/json'), answer
    doc = json.loads(answer.body)
    assert set(doc) == {'error'} and set(doc['error']) == {'type', 'message'}, answer
