"""What every API resource shares: the service handles, the caller, JSON in and out."""
from __future__ import annotations

import json
import re

import falcon
import jsonschema
from oslo_context import context as oslo_context

from glint.api.v2 import schemas
from glint.api.v2.views import image_view
from glint.common import exception, server
from glint.context import CONTEXT_KEY
from glint.domain.data import ImageDataService
from glint.domain.images import ImageService
from glint.domain.members import MemberService

MAX_JSON_BODY = 1024 * 1024
LONE_SURROGATE = re.compile(r'[\ud800-\udfff]')
ECMA_END = re.compile(r'(?<!\\)\$')     # an unescaped '$' in a schema's pattern
# Interoperable import methods Glint serves; configured ones beyond these are not offered.
SUPPORTED_IMPORT_METHODS: frozenset[str] = frozenset()


def _ecma_pattern(validator, pattern: str, instance, schema):
    """JSON Schema patterns are ECMA-262 regular expressions, whose '$' is the end of
    the string; Python's '$' also matches before a final newline, which let
    '<uuid>\\n' through as an image id. The served schema keeps Glance's '$'."""
    if validator.is_type(instance, 'string') and not re.search(
            ECMA_END.sub(r'\\Z', pattern), instance):
        yield jsonschema.ValidationError('%r does not match %r' % (instance, pattern))


StrictValidator = jsonschema.validators.extend(jsonschema.Draft4Validator,
                                               {'pattern': _ecma_pattern})


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
        self.image_validator = StrictValidator(self.image_schema)
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
        server.close_after_response()      # the unread body cannot be skipped
        raise exception.RequestEntityTooLarge('Request body too large.')
    # falcon's bounded_stream is empty without a Content-Length; a chunked body (which
    # Glance accepts) is read from wsgi.input, which the server de-chunks
    chunked = length is None and req.get_header('Transfer-Encoding') is not None
    raw = _read_at_most(req.stream if chunked else req.bounded_stream, MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        server.close_after_response()
        raise exception.RequestEntityTooLarge('Request body too large.')
    if not raw.strip():
        raise exception.BadRequest('Body expected in request.')
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):   # RecursionError: too deep
        raise exception.BadRequest('Malformed JSON in request body.')
    if _has_lone_surrogate(doc):
        raise exception.BadRequest('Malformed JSON in request body: a string holds a '
                                   'lone surrogate (\\ud800-\\udfff), which is not text.')
    return doc


def _read_at_most(stream, limit: int) -> bytes:
    """Up to ``limit`` bytes: a read may return fewer than asked before the end."""
    parts, size = [], 0
    while size < limit:
        data = stream.read(limit - size)
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b''.join(parts)


def _has_lone_surrogate(doc) -> bool:
    """JSON's "\\ud800" escape (or its UTF-8 bytes, which json.loads lets through) is
    no character: no database can encode it, nor can a response. Iterative: the
    document may be nested as deep as json.loads allows."""
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def send_json(resp: falcon.Response, body) -> None:
    resp.content_type = 'application/json; charset=UTF-8'
    resp.data = json.dumps(body, ensure_ascii=False).encode()
