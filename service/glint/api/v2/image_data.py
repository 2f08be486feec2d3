"""/v2/images/{id}/file: streamed upload and download (with Range)."""
from __future__ import annotations

import re

import falcon

from glint.api import common
from glint.common import body, exception, outgoing, server

RANGE = re.compile(r'^bytes=(\d*)-(\d*)$')


def _declared_size(req: falcon.Request) -> int | None:
    size = req.get_header('x-openstack-image-size')
    if size is None:
        return req.content_length or None
    try:
        return int(size) or None      # as in glance_store, 0 means "unknown"
    except ValueError:
        raise exception.BadRequest('Invalid or missing image size in request headers.')


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(offset, length) for a single-range Range header; None for the whole image."""
    if header is None:
        return None
    if ',' in header:
        raise exception.BadRequest('Requests with multiple ranges are not supported in '
                                   'Glance. You may make multiple single-range requests '
                                   'instead.')
    match = RANGE.match(header.strip().replace(' ', ''))
    if not match or match.groups() == ('', ''):
        raise exception.RangeNotSatisfiable('Requested range not satisfiable')
    start, last = (_position(n) for n in match.groups())
    if start is None:                    # suffix: the last N bytes
        length = min(last, size)
        if length == 0:
            raise exception.RangeNotSatisfiable('Requested range not satisfiable')
        return size - length, length
    end = size - 1 if last is None else min(last, size - 1)
    if start >= size or end < start:
        raise exception.RangeNotSatisfiable('Requested range not satisfiable')
    return start, end - start + 1


def _position(digits: str) -> int | None:
    """A byte position; past every image's end when too long for int() (which refuses
    more than 4300 digits): the end clamps, a start is unsatisfiable (as in Glance)."""
    if digits == '':
        return None
    digits = digits.lstrip('0') or '0'
    return int(digits) if len(digits) <= 20 else 10 ** 20


class ImageFile:
    def __init__(self, api: common.Api):
        self.api = api

    def on_put(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        try:
            self._upload(req, image_id)
        except BaseException:
            server.close_after_response()     # the body's unread rest cannot be skipped
            raise
        resp.status = falcon.HTTP_204

    def _upload(self, req: falcon.Request, image_id: str) -> None:
        media = (req.content_type or '').split(';')[0].strip().lower()
        if media != 'application/octet-stream':
            raise common.UnsupportedMediaType('Content type %s is not supported; use '
                                              'application/octet-stream.' % (media or
                                                                             'none'))
        size = _declared_size(req)
        data = body.request_body(req.env, req.content_length)
        self.api.data.upload(common.context(req), image_id, data, size,
                             req.get_header('x-image-meta-store'))

    def on_get(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        ctx = common.context(req)
        image, open_data = self.api.data.download(ctx, image_id)
        if open_data is None:
            resp.status = falcon.HTTP_204
            return
        wanted = parse_range(req.get_header('Range'), image.size or 0)
        try:
            reader = open_data(*wanted) if wanted else open_data()
        except exception.NotFound:      # the store lost the data: Glance answers 204
            resp.status = falcon.HTTP_204
            return
        resp.content_type = 'application/octet-stream'
        if image.checksum:
            resp.set_header('Content-MD5', image.checksum)
        if wanted:
            resp.status = falcon.HTTP_206
            resp.set_header('Content-Range', 'bytes %d-%d/%d' % (
                wanted[0], wanted[0] + wanted[1] - 1, image.size))
        # image.send goes out when the server closes the body (it stays a file: sendfile)
        reader = self.api.data.sending(ctx, image, reader, req.remote_addr)
        resp.set_stream(outgoing.corked(req.env, reader.data), reader.length)
