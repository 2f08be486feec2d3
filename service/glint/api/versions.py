"""The version document: 300 at the root, 200 at /versions, as Glance answers."""
from __future__ import annotations

import json

import falcon

# The v2 minor versions whose features Glint serves (2.6+ add import and multi-store).
VERSIONS = [('2.7', 'CURRENT')] + [('2.%d' % n, 'SUPPORTED') for n in range(6, -1, -1)]


def document(req: falcon.Request, public_endpoint: str | None) -> bytes:
    base = (public_endpoint or req.prefix).rstrip('/') + '/v2/'
    return json.dumps({'versions': [
        {'id': 'v' + version, 'status': status,
         'links': [{'rel': 'self', 'href': base}]}
        for version, status in VERSIONS]}).encode()


class Versions:
    def __init__(self, conf, explicit: bool):
        self.conf = conf
        self.explicit = explicit

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_200 if self.explicit else falcon.HTTP_300
        resp.content_type = 'application/json'
        resp.data = document(req, self.conf.public_endpoint)
