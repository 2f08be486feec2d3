"""Helpers shared by the HTTP behaviour suites (the no-5xx guard is conftest.py's
autouse ``no_server_errors``)."""
from __future__ import annotations

import time

import requests

PATCH = 'application/openstack-images-v2.1-json-patch'
PATCH_D4 = 'application/openstack-images-v2.0-json-patch'


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

