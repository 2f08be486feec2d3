"""Shared checks for the HTTP behaviour suites.

``no_server_errors`` (import it into a test module to use it) fails any test in which
the server answered a request with a 5xx: a client mistake must always be a 4xx.
"""
from __future__ import annotations

import time

import pytest
import requests

from tests.service.conftest import Client

PATCH = 'application/openstack-images-v2.1-json-patch'
PATCH_D4 = 'application/openstack-images-v2.0-json-patch'


SERVER_FIXTURES = ('server', 'limited', 'small_pages')


@pytest.fixture(autouse=True)
def no_server_errors(request, monkeypatch):
    """Every response of every Client in the test must be below 500, and the servers
    the test used must have logged no ERROR meanwhile (this also covers raw sockets
    and failures after the response)."""
    original = Client.request
    seen: list[str] = []

    def record(self, method, url, *args, **kwargs):
        resp = original(self, method, url, *args, **kwargs)
        if resp.status_code >= 500:
            seen.append('%s %s -> %d %s' % (method, url, resp.status_code, resp.text))
        return resp

    monkeypatch.setattr(Client, 'request', record)
    servers = [request.getfixturevalue(name) for name in SERVER_FIXTURES
               if name in request.fixturenames]
    logged = [len(srv.log) for srv in servers]
    yield
    assert not seen, 'server errors:\n' + '\n'.join(seen)
    for srv, start in zip(servers, logged, strict=True):
        errors = [line for line in srv.log[start:].splitlines() if ' ERROR ' in line]
        assert not errors, 'the server logged errors:\n' + '\n'.join(errors)


def patch(client: requests.Session, image_id: str, ops, content_type: str = PATCH):
    """PATCH /v2/images/{id} with a JSON-patch document (a list of operations)."""
    return client.patch('/v2/images/' + image_id, json=ops,
                        headers={'Content-Type': content_type})


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def image_files(server, image_id: str) -> list[str]:
    """Files in the server's store directory whose name mentions the image."""
    if not server.datadir.exists():
        return []
    return [p.name for p in server.datadir.rglob('*') if image_id in p.name]

