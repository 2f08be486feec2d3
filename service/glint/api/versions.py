"""The version document: 300 at the root, 200 at /versions, as Glance answers."""
from __future__ import annotations

import json

import falcon


def versions(multi_store: bool) -> list[tuple[str, str]]:
    """The v2 minor versions whose features Glint serves: up to 2.7, and 2.8 (the
    stores API) where multi-store is configured, as Glance lists them."""
    served = [('2.%d' % n, 'SUPPORTED') for n in range(8 if multi_store else 7, -1, -1)]
    served[0] = (served[0][0], 'CURRENT')
    return served


def document(req: falcon.Request, public_endpoint: str | None, multi_store: bool) -> bytes:
    base = (public_endpoint or req.prefix).rstrip('/') + '/v2/'
    return json.dumps({'versions': [
        {'id': 'v' + version, 'status': status,
         'links': [{'rel': 'self', 'href': base}]}
        for version, status in versions(multi_store)]}).encode()


class Versions:
    def __init__(self, conf, explicit: bool):
        self.conf = conf
        self.explicit = explicit

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_200 if self.explicit else falcon.HTTP_300
        resp.content_type = 'application/json'
        resp.data = document(req, self.conf.public_endpoint,
                             bool(self.conf.enabled_backends))
