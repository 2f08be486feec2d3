"""/v2/images/{id}/members: share an image, accept or reject it as a member."""
from __future__ import annotations

import falcon

from glint.api import common
from glint.api.v2.views import member_view
from glint.common import exception
from glint.domain.model import MEMBER_STATUSES


def _field(req: falcon.Request, name: str, missing: str) -> str:
    body = common.json_body(req)
    if not isinstance(body, dict):
        raise exception.BadRequest('Expected a %s in the form: {"%s": "%s"}'
                                   % (name, name, name))
    if name not in body:
        raise exception.BadRequest(missing)
    value = body[name]
    if not isinstance(value, str) or not value:
        raise exception.BadRequest("%s can't be empty" % name.capitalize())
    return value


class Members:
    def __init__(self, api: common.Api):
        self.api = api

    def on_get(self, req, resp, image_id: str) -> None:
        members = self.api.members.list(common.context(req), image_id)
        common.send_json(resp, {'members': [member_view(m) for m in members],
                                'schema': '/v2/schemas/members'})

    def on_post(self, req, resp, image_id: str) -> None:
        member_id = _field(req, 'member', 'Member to be added not specified')
        if len(member_id) > 255:
            raise exception.BadRequest('Member id is longer than 255 characters.')
        member = self.api.members.add(common.context(req), image_id, member_id)
        common.send_json(resp, member_view(member))


class Member:
    def __init__(self, api: common.Api):
        self.api = api

    def on_get(self, req, resp, image_id: str, member_id: str) -> None:
        member = self.api.members.get(common.context(req), image_id, member_id)
        common.send_json(resp, member_view(member))

    def on_put(self, req, resp, image_id: str, member_id: str) -> None:
        status = _field(req, 'status', 'Status not specified')
        if status not in MEMBER_STATUSES:
            raise exception.BadRequest('Invalid status: %s' % status)
        member = self.api.members.update(common.context(req), image_id,
                                               member_id, status)
        common.send_json(resp, member_view(member))

    def on_delete(self, req, resp, image_id: str, member_id: str) -> None:
        self.api.members.delete(common.context(req), image_id, member_id)
        resp.status = falcon.HTTP_204
