"""Image members: the owner shares a shared image with a project, the member accepts
or rejects it.

As in Glance, member rules see the image's target, whose member_id is the caller's own
membership; a membership the caller may not see is not found (404).
"""
from __future__ import annotations

import datetime as dt

from glint import notifications
from glint.common import exception
from glint.domain import limits
from glint.domain.gateway import Gateway
from glint.domain.model import Image, Member, isotime


class MemberService:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.db = gateway.db

    def list(self, ctx, image_id: str) -> list[Member]:
        image = self._shared_image(ctx, image_id)
        self.gateway.enforce(ctx, 'get_members', image)
        return [Member.from_row(r) for r in self.db.member_list(image_id)
                if _may_see(ctx, image, r['member'])]

    def get(self, ctx, image_id: str, member: str) -> Member:
        try:
            image = self._shared_image(ctx, image_id)
            self.gateway.enforce(ctx, 'get_member', image)
        except exception.Forbidden as e:      # Glance's show hides it: 404
            raise exception.NotFound(e.msg)
        return Member.from_row(self._row(ctx, image, member))

    def add(self, ctx, image_id: str, member: str) -> Member:
        if not _is_member_id(member):
            raise exception.BadRequest('Member id may hold printable characters only.')
        image = self._shared_image(ctx, image_id)
        self.gateway.enforce(ctx, 'add_member', image)
        limits.check('members for this image', len(self.db.member_list(image_id)) + 1,
                     self.gateway.conf.image_member_quota)
        row = self.db.member_create(image_id, member)
        self._notify('image.member.create', row)
        return Member.from_row(row)

    def update(self, ctx, image_id: str, member: str, status: str) -> Member:
        image = self._shared_image(ctx, image_id)
        self._row(ctx, image, member)
        self.gateway.enforce(ctx, 'modify_member', image)
        row = self.db.member_update(image_id, member, status)
        self._notify('image.member.update', row)
        return Member.from_row(row)

    def delete(self, ctx, image_id: str, member: str) -> None:
        image = self._shared_image(ctx, image_id)
        row = self._row(ctx, image, member)
        self.gateway.enforce(ctx, 'delete_member', image)
        self.db.member_delete(image_id, member)
        self._notify('image.member.delete', row, deleted=True,
                     deleted_at=isotime(dt.datetime.now(dt.UTC)))

    def _shared_image(self, ctx, image_id: str) -> Image:
        image = self.gateway.get(ctx, image_id)
        if image.visibility != 'shared':
            raise exception.Forbidden('Only shared images have members.')
        return image

    def _row(self, ctx, image: Image, member: str) -> dict:
        if not _is_member_id(member) or not _may_see(ctx, image, member):
            raise exception.NotFound('%s is not a member of image %s' % (member, image.id))
        return self.db.member_get(image.id, member)

    def _notify(self, event: str, row, **extra) -> None:
        notifier = self.gateway.notifier
        if notifier.wants(event):
            notifier.info(event, notifications.member_payload(row, **extra))


def _may_see(ctx, image: Image, member: str) -> bool:
    """Admins and the owner see every membership; a member sees its own."""
    return ctx.is_admin or image.owner == ctx.project_id or member == ctx.project_id


def _is_member_id(member: str) -> bool:
    """A project id is printable text: no NUL (which PostgreSQL cannot store and SQLite
    would keep), newline, escape or other control or format character."""
    return member.isprintable()
