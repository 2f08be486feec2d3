"""/v2/schemas/* and /v2/info/*: what clients read to learn about this cloud."""
from __future__ import annotations

from glint.api import common
from glint.api.v2 import schemas

MIB = 1024 * 1024


class Schema:
    def __init__(self, document: dict):
        self.document = document

    def on_get(self, req, resp) -> None:
        common.send_json(resp, self.document)


def schema_resources(conf) -> dict[str, Schema]:
    formats = conf.image_format
    args = (formats.disk_formats, formats.container_formats)
    return {'image': Schema(schemas.image_schema(*args)),
            'images': Schema(schemas.images_schema(*args)),
            'member': Schema(schemas.member_schema()),
            'members': Schema(schemas.members_schema())}


class ImportInfo:
    def __init__(self, api: common.Api):
        self.api = api

    def on_get(self, req, resp) -> None:
        common.send_json(resp, {'import-methods': {
            'description': 'Import methods available.', 'type': 'array',
            'value': self.api.import_methods}})


class UsageInfo:
    """The caller's project: stored bytes (MiB, as Glance counts) and image count."""

    def __init__(self, api: common.Api):
        self.api = api

    def on_get(self, req, resp) -> None:
        usage = self.api.images.usage(common.context(req))
        quota = usage.storage_quota
        common.send_json(resp, {'usage': {
            'image_size_total': {'limit': quota // MIB if quota else -1,
                                 'usage': usage.storage_used // MIB},
            'image_count_total': {'limit': -1, 'usage': usage.image_count}}})


class StoresInfo:
    """/v2/info/stores: the backends (multi-store), ``detail`` adds type, settings and
    weight (admin)."""

    def __init__(self, api: common.Api, detail: bool):
        self.api = api
        self.detail = detail

    def on_get(self, req, resp) -> None:
        backends = self.api.data.backends(common.context(req), self.detail)
        common.send_json(resp, {'stores': [self._view(b) for b in backends]})

    def _view(self, backend) -> dict:
        view = {'id': backend.id}
        if backend.description:
            view['description'] = backend.description
        if backend.id == self.api.data.default_backend:
            view['default'] = 'true'
        if backend.store.read_only:
            view['read-only'] = 'true'
        if self.detail:
            view.update(type=backend.type, properties=backend.store.details(),
                        weight=backend.weight)
        return view
