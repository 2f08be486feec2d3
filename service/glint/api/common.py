"""What every API resource shares: the service handles, the caller, JSON in and out."""
from __future__ import annotations

import json

import falcon
import jsonschema
from oslo_context import context as oslo_context

from glint.api.v2 import schemas
from glint.api.v2.views import image_view
from glint.common import exception
from glint.context import CONTEXT_KEY
from glint.domain.data import ImageDataService
from glint.domain.images import ImageService
from glint.domain.members import MemberService

MAX_JSON_BODY = 1024 * 1024
# Interoperable import methods Glint serves; configured ones beyond these are not offered.
SUPPORTED_IMPORT_METHODS: frozenset[str] = frozenset()


class UnsupportedMediaType(exception.GlintError):
    status = 415

    def __init__(self, message: str, headers: dict | None = None):
        super().__init__(message)
        self.headers = headers or {}


class Api:
    """Handles shared by the resources of one application."""

    def __init__(self, conf, images: ImageService, data: ImageDataService,
                 members: MemberService):
        self.conf = conf
        self.images = images
        self.data = data
        self.members = members
        formats = conf.image_format
        self.image_schema = schemas.image_schema(formats.disk_formats,
                                                 formats.container_formats)
        self.image_validator = jsonschema.Draft4Validator(self.image_schema)
        self.import_methods = [m for m in conf.enabled_import_methods
                               if m in SUPPORTED_IMPORT_METHODS]

    def view(self, image) -> dict:
        return image_view(image, self.conf.show_multiple_locations,
                          self.conf.show_image_direct_url, self.data.multi_store)


def context(req: falcon.Request) -> oslo_context.RequestContext:
    return req.env[CONTEXT_KEY]


def json_body(req: falcon.Request):
    length = req.content_length
    if length is not None and length > MAX_JSON_BODY:
        raise exception.RequestEntityTooLarge('Request body too large.')
    raw = req.bounded_stream.read(MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        raise exception.RequestEntityTooLarge('Request body too large.')
    if not raw.strip():
        raise exception.BadRequest('Body expected in request.')
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):   # RecursionError: too deep
        raise exception.BadRequest('Malformed JSON in request body.')


def send_json(resp: falcon.Response, body) -> None:
    resp.content_type = 'application/json; charset=UTF-8'
    resp.data = json.dumps(body, ensure_ascii=False).encode()
